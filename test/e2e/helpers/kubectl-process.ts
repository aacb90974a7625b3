// kubectl as a process of its own, the way users run it: with an environment of the test's
// choosing (e.g. forcing SPDY), binary stdin and stdout, and for long-running commands (logs -f,
// attach, port-forward) a handle to watch its output and to kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './wait.ts';

/** Where kubectl is and which cluster it talks to (a sandbox Cluster fits). */
export interface KubectlCluster {
  binDir: string;
  kubeconfigPath: string;
}

/** kubectl's default (WebSocket) or forced to SPDY, as users select it. */
export interface KubectlMode {
  name: string;
  env: Record<string, string>;
}

export const KUBECTL_MODES: KubectlMode[] = [
  { name: 'WebSocket (kubectl default)', env: {} },
  {
    name: 'SPDY (kubectl forced)',
    env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false', KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' },
  },
];

export interface BufferedResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

export function kubectlPath(cluster: KubectlCluster): string {
  return path.join(cluster.binDir, 'kubectl');
}

function kubectlEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.KUBECONFIG;
  return env;
}

export interface KubectlProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when kubectl has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** Waits until stdout (or stderr) matches. */
  waitForOutput(
    pattern: RegExp,
    opts?: { timeoutMs?: number; stream?: 'stdout' | 'stderr' },
  ): Promise<RegExpMatchArray>;
  /** Kills kubectl (SIGTERM by default) and waits until it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `kubectl --kubeconfig=... <args>` and returns at once. */
export function spawnKubectl(
  cluster: KubectlCluster,
  args: string[],
  opts: { env?: Record<string, string>; stdin?: 'pipe' | 'ignore' } = {},
): KubectlProcess {
  const child = spawn(kubectlPath(cluster), [`--kubeconfig=${cluster.kubeconfigPath}`, ...args], {
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
    env: kubectlEnv(opts.env),
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    running,
    waitForOutput: (pattern, waitOpts = {}) =>
      waitFor(
        () => {
          const text = waitOpts.stream === 'stderr' ? stderr : stdout;
          const match = text.match(pattern);
          if (!match && !running()) throw new Error(`kubectl exited: ${stderr.trim()}`);
          return match;
        },
        { timeoutMs: waitOpts.timeoutMs ?? 30_000, intervalMs: 50, description: `kubectl output ${pattern}` },
      ),
    async kill(signal = 'SIGTERM') {
      if (running()) child.kill(signal);
      await exited;
    },
  };
}

interface BufferedOptions {
  env?: Record<string, string>;
  input?: Buffer | string;
  /** Default 60 s; then the process is killed. */
  timeoutMs?: number;
}

/** Runs a program to the end with binary stdin and stdout. */
function runBuffered(file: string, argv: string[], opts: BufferedOptions): Promise<BufferedResult> {
  const startedAt = Date.now();
  const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: kubectlEnv(opts.env) });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.on('error', () => {});
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr, ms: Date.now() - startedAt });
    });
  });
}

/** Runs kubectl to the end with binary stdin and stdout (exec, cp). */
export function runKubectlBuffered(cluster: KubectlCluster, args: string[], opts: BufferedOptions = {}) {
  return runBuffered(kubectlPath(cluster), [`--kubeconfig=${cluster.kubeconfigPath}`, ...args], opts);
}

/** Runs kubectl under `script`, which gives it a terminal (for `exec -it`); output comes on stdout. */
export function runKubectlInTerminal(cluster: KubectlCluster, args: string[], opts: BufferedOptions = {}) {
  const argv = [kubectlPath(cluster), `--kubeconfig=${cluster.kubeconfigPath}`, ...args];
  return runBuffered('script', ['-qec', argv.map(shellQuote).join(' '), '/dev/null'], opts);
}

export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
