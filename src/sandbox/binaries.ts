// Locating the control-plane binaries built by controlplane/build.sh (a cache outside the
// repository, keyed by version).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REQUIRED_BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
] as const;

/** The repository root: the nearest ancestor of this module that holds controlplane/build.sh. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'controlplane', 'build.sh'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find controlplane/build.sh above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export function missingBinaries(binDir: string): string[] {
  return REQUIRED_BINARIES.filter((b) => {
    try {
      fs.accessSync(path.join(binDir, b), fs.constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

/** The bin dir build.sh would use (built or not). `KUBE_OFFLOAD_BIN_DIR` overrides. */
export function expectedBinDir(): string {
  const override = process.env.KUBE_OFFLOAD_BIN_DIR;
  if (override) return path.resolve(override);
  const res = spawnSync('bash', [path.join(repoRoot(), 'controlplane', 'build.sh'), '--print-bin-dir'], {
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`controlplane/build.sh --print-bin-dir failed: ${res.stderr}`);
  const dir = res.stdout.trim().split('\n').pop();
  if (!dir) throw new Error('controlplane/build.sh --print-bin-dir printed nothing');
  return dir;
}

export interface EnsureOptions {
  /** Where build.sh progress goes (default: our stderr). */
  progress?: NodeJS.WritableStream | null;
}

/**
 * Returns a bin dir holding every binary, building them with controlplane/build.sh when
 * needed (the first cold build takes a long while; a cached one returns at once).
 */
/** Runs controlplane/build.sh (progress on stderr unless silenced); resolves with the bin dir it prints. */
async function runBuildScript(opts: EnsureOptions): Promise<string> {
  const progress = opts.progress === undefined ? process.stderr : opts.progress;
  const child = spawn('bash', [path.join(repoRoot(), 'controlplane', 'build.sh')], {
    stdio: ['ignore', 'pipe', progress ? 'pipe' : 'ignore'],
  });
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  if (progress) child.stderr?.on('data', (c: Buffer) => progress.write(c));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`controlplane/build.sh failed with exit code ${code}`);
  return stdout.trim().split('\n').pop() ?? '';
}

export async function ensureBinaries(opts: EnsureOptions = {}): Promise<string> {
  const override = process.env.KUBE_OFFLOAD_BIN_DIR;
  if (override) {
    const missing = missingBinaries(override);
    if (missing.length) throw new Error(`KUBE_OFFLOAD_BIN_DIR=${override} lacks ${missing.join(', ')}`);
    return path.resolve(override);
  }
  const expected = expectedBinDir();
  if (missingBinaries(expected).length === 0) return expected;
  const dir = await runBuildScript(opts);
  const missing = missingBinaries(dir);
  if (!dir || missing.length)
    throw new Error(`controlplane/build.sh finished but ${dir || '(no dir)'} lacks ${missing.join(', ')}`);
  return dir;
}

/**
 * Kubernetes' e2e admission webhook (agnhost's `webhook` command, same k8s.io/kubernetes as the
 * control plane), which controlplane/build.sh puts in the same bin dir. Only the benchmark uses
 * it, so it is not in REQUIRED_BINARIES: the sandbox, the tests and a KUBE_OFFLOAD_BIN_DIR need
 * not have it, and a cache built before it existed stays complete for them.
 */
export const AGNHOST_WEBHOOK_BINARY = 'agnhost-webhook';

/**
 * The path of agnhost-webhook. Runs controlplane/build.sh, which returns at once when the binary
 * is there and built from the current controlplane/agnhost sources, and otherwise builds only it
 * (~1.5 min cold, seconds with a warm Go cache) when the rest of the control plane is cached.
 * With KUBE_OFFLOAD_BIN_DIR the binary must already be in that directory.
 */
export async function ensureAgnhostWebhook(opts: EnsureOptions = {}): Promise<string> {
  const override = process.env.KUBE_OFFLOAD_BIN_DIR;
  const check = (dir: string): string => {
    const file = path.resolve(dir, AGNHOST_WEBHOOK_BINARY);
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      throw new Error(`${file} is missing or not executable (controlplane/build.sh builds it)`);
    }
    return file;
  };
  if (override) return check(override);
  return check(await runBuildScript(opts));
}
