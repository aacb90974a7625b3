// The Go peer of the admission rows: Kubernetes' own e2e admission webhook, agnhost's `webhook`
// command (k8s.io/kubernetes/test/images/agnhost/webhook, the control plane's k8s.io/kubernetes
// version), built by controlplane/build.sh into the control-plane bin dir as agnhost-webhook
// (sources: controlplane/agnhost/). Started like the floors (bench/lib/process.ts): output to a
// log file, stopped by its own pid, the same ServerProcess shape, so it drops into a Contender.
//
//   const agnhost = await startAgnhost({ certDir, logDir, cpu: 0 });
//   // POST the AdmissionReview (Content-Type exactly "application/json") to
//   // `${agnhost.url}${AGNHOST_REVIEW_PATH}`: an allowed review with a JSONPatch adding a sidecar.
//   await agnhost.stop();
//
// agnhost prints no "listening" line, so readiness is found differently: with port 0 (the
// default) the port is read from the kernel's table of the process's listening sockets, then
// GET /readyz is polled over TLS until it answers 200, within a deadline.
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { AGNHOST_WEBHOOK_BINARY, ensureAgnhostWebhook, repoRoot } from '../../src/sandbox/binaries.ts';
import type { ServerProcess } from './process.ts';
import { cpuSeconds, processPeakRssMiB, processRssMiB, spawnLogged } from './process.ts';
import { sleep } from './stats.ts';

/** The handler the peer rows use: decodes the Pod, answers allowed + a JSONPatch (one op). */
export const AGNHOST_REVIEW_PATH = '/mutating-pods-sidecar';
/** The image /mutating-pods-sidecar puts in its patch (it answers "not allowed" without one). */
export const AGNHOST_SIDECAR_IMAGE = 'registry.k8s.io/e2e-test-images/agnhost:2.63.0';

export interface AgnhostOptions {
  /** A directory with tls.crt and tls.key (the bench's cert dirs), unless certFile/keyFile. */
  certDir?: string;
  certFile?: string;
  keyFile?: string;
  /** Where agnhost.log goes: logFile, else logDir/agnhost.log, else certDir or the temp dir. */
  logDir?: string;
  logFile?: string;
  /** The TCP port; 0 (default) lets the kernel pick one. agnhost listens on every address. */
  port?: number;
  /** Pins the process to this CPU from its start (`taskset -c N`); default: not pinned. */
  cpu?: number;
  /** GOMAXPROCS for the process; default 1 (one core, as the servers it is compared with). */
  gomaxprocs?: number;
  sidecarImage?: string;
  /** The bin dir holding agnhost-webhook; default: ensureAgnhostWebhook() (builds it if needed). */
  binDir?: string;
  /** Where build.sh progress goes when it has to build (default: our stderr; null: nowhere). */
  progress?: NodeJS.WritableStream | null;
  /** Deadline for listening and answering /readyz, in ms; default 15000. */
  timeoutMs?: number;
}

export interface AgnhostServer extends ServerProcess {
  /** https://127.0.0.1:<port>: POST reviews to url + AGNHOST_REVIEW_PATH. */
  url: string;
  /** url + AGNHOST_REVIEW_PATH. */
  reviewUrl: string;
  /** For row notes, e.g. "agnhost webhook (k8s.io/kubernetes v1.36.3), GOMAXPROCS=1, core 0". */
  describe: string;
  /** ms from spawn until /readyz answered. */
  startMs: number;
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** TCP ports pid listens on, from /proc/<pid>/fd (socket inodes) and /proc/<pid>/net/tcp{,6}. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    // sl local_address rem_address st ... inode (10th field); st 0A is LISTEN.
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9] as string)) continue;
      ports.add(Number.parseInt((f[1] as string).split(':').pop() as string, 16));
    }
  }
  return [...ports];
}

/** One GET /readyz; true on HTTP 200. The certificate is not checked here (checkAnswers does). */
function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false, agent: false, timeout: 1000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function kubernetesVersion(): string {
  try {
    const text = fs.readFileSync(path.join(repoRoot(), 'controlplane', 'agnhost', 'go.mod'), 'utf8');
    return /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\S+)/m.exec(text)?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/**
 * Starts agnhost-webhook with GOMAXPROCS=1 (default), optionally pinned with `taskset -c N`, and
 * resolves once it answers GET /readyz over TLS. Fails with the log tail if it exits first or the
 * deadline passes (and then stops it).
 */
export async function startAgnhost(options: AgnhostOptions = {}): Promise<AgnhostServer> {
  const certFile = options.certFile ?? (options.certDir ? path.join(options.certDir, 'tls.crt') : undefined);
  const keyFile = options.keyFile ?? (options.certDir ? path.join(options.certDir, 'tls.key') : undefined);
  if (!certFile || !keyFile) throw new Error('startAgnhost: give certDir (tls.crt, tls.key) or certFile and keyFile');
  for (const file of [certFile, keyFile]) fs.accessSync(file, fs.constants.R_OK);
  const binary = options.binDir
    ? path.join(options.binDir, AGNHOST_WEBHOOK_BINARY)
    : await ensureAgnhostWebhook({ progress: options.progress === undefined ? process.stderr : options.progress });
  fs.accessSync(binary, fs.constants.X_OK);
  const logFile = options.logFile ?? path.join(options.logDir ?? options.certDir ?? os.tmpdir(), 'agnhost.log');
  const gomaxprocs = options.gomaxprocs ?? 1;
  const args = ['--tls-cert-file', certFile, '--tls-private-key-file', keyFile, '--port', String(options.port ?? 0)];
  args.push('--sidecar-image', options.sidecarImage ?? AGNHOST_SIDECAR_IMAGE);
  // taskset execs the binary: the pid is agnhost's, and every thread it starts has the mask.
  const argv = options.cpu === undefined ? [binary, ...args] : ['taskset', '-c', String(options.cpu), binary, ...args];

  const started = performance.now();
  const spawned = spawnLogged(argv, logFile, { env: { GOMAXPROCS: String(gomaxprocs) } });
  const { pid, stop } = spawned;

  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  // Its own listening socket first (so a port already taken by another server is never mistaken
  // for agnhost's: agnhost then exits), then an answer on it.
  const ready = async (): Promise<number | undefined> => {
    if (pid === undefined) return undefined;
    const ports = listeningPorts(pid);
    const port = options.port ? ports.find((p) => p === options.port) : ports[0];
    return port !== undefined && (await readyz(port)) ? port : undefined;
  };
  let port: number | undefined;
  while ((port = await ready()) === undefined) {
    const exited = spawned.exited();
    if (exited || pid === undefined) {
      const why = exited?.error ? exited.error.message : `code ${exited?.code}, signal ${exited?.signal}`;
      throw new Error(`agnhost-webhook exited before answering /readyz (${why}); ${logFile}:\n${tail(logFile)}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`agnhost-webhook did not answer /readyz within ${timeoutMs} ms; ${logFile}:\n${tail(logFile)}`);
    }
    await sleep(20);
  }
  if (pid === undefined) throw new Error('agnhost-webhook: no pid');
  const startMs = performance.now() - started;
  const url = `https://127.0.0.1:${port}`;
  const pinned = options.cpu === undefined ? '' : `, core ${options.cpu}`;
  return {
    name: 'agnhost',
    pid,
    port,
    logFile,
    url,
    reviewUrl: url + AGNHOST_REVIEW_PATH,
    describe: `agnhost webhook (k8s.io/kubernetes ${kubernetesVersion()} test/images/agnhost/webhook), GOMAXPROCS=${gomaxprocs}${pinned}`,
    startMs,
    rssMiB: () => processRssMiB(pid),
    peakRssMiB: () => processPeakRssMiB(pid),
    cpuSeconds: () => cpuSeconds(pid),
    stop,
  };
}
