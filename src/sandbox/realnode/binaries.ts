// The real nodes' binaries: kubelet and kube-proxy (the control plane's k8s.io/kubernetes),
// CoreDNS and the demo shop's server, which `controlplane/build.sh --real-node` builds into the
// control plane's bin dir when they are missing or stale (about 3 minutes with warm Go caches).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../binaries.ts';

export const REAL_NODE_BINARIES = ['kubelet', 'kube-proxy', 'coredns', 'shop'] as const;

export type RealNodeBinaries = Record<(typeof REAL_NODE_BINARIES)[number], string>;

function missing(binDir: string): string[] {
  return REAL_NODE_BINARIES.filter((name) => {
    try {
      fs.accessSync(path.join(binDir, name), fs.constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

function located(binDir: string): RealNodeBinaries {
  return Object.fromEntries(REAL_NODE_BINARIES.map((name) => [name, path.join(binDir, name)])) as RealNodeBinaries;
}

async function runBuild(progress: NodeJS.WritableStream | null): Promise<string> {
  const child = spawn('bash', [path.join(repoRoot(), 'controlplane', 'build.sh'), '--real-node'], {
    stdio: ['ignore', 'pipe', progress ? 'pipe' : 'ignore'],
  });
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  if (progress) child.stderr?.on('data', (chunk: Buffer) => progress.write(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`controlplane/build.sh --real-node failed with exit code ${code}`);
  return stdout.trim().split('\n').pop() ?? '';
}

/**
 * The real nodes' binaries, built when needed. With KUBE_OFFLOAD_BIN_DIR they must already be in
 * that directory. `binDir` is where the control plane is (the build puts them next to it).
 */
export async function ensureRealNodeBinaries(
  binDir: string,
  progress: NodeJS.WritableStream | null = process.stderr,
): Promise<RealNodeBinaries> {
  if (process.env.KUBE_OFFLOAD_BIN_DIR) {
    const lacking = missing(binDir);
    if (lacking.length) throw new Error(`KUBE_OFFLOAD_BIN_DIR=${binDir} lacks ${lacking.join(', ')}`);
    return located(binDir);
  }
  const built = path.resolve(await runBuild(progress));
  if (built !== path.resolve(binDir)) throw new Error(`build.sh --real-node built into ${built}, not ${binDir}`);
  const lacking = missing(built);
  if (lacking.length)
    throw new Error(`controlplane/build.sh --real-node finished but ${built} lacks ${lacking.join(', ')}`);
  return located(built);
}
