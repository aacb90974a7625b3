// Running the system tools the real nodes are made with (ip, mount, ctr, tar, apt-get): one
// command at a time, its output captured, a failure thrown with the command and its stderr.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Resolve with a non-zero code instead of throwing. */
  allowFailure?: boolean;
}

function describeCommand(argv: string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
}

/** Runs argv[0] with the rest as arguments; throws (with stderr) on a non-zero exit unless allowed. */
export function runCommand(argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
  const [exe, ...args] = argv;
  if (!exe) throw new Error('runCommand: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${describeCommand(argv)}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? 128, stdout, stderr };
      if (result.code === 0 || opts.allowFailure) resolve(result);
      else reject(new Error(`${describeCommand(argv)} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a command inside a network namespace (nsenter keeps the host's mount namespace). */
export function runInNetns(netns: string, argv: string[], opts: RunOptions = {}): Promise<CommandResult> {
  return runCommand(['nsenter', `--net=${netnsPath(netns)}`, '--', ...argv], opts);
}

export function netnsPath(netns: string): string {
  return `/run/netns/${netns}`;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The first directory of PATH (plus the sbin directories) holding an executable `name`. */
export function findExecutable(name: string): string | undefined {
  if (name.startsWith('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir && isExecutable(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The absolute path of a tool the real nodes need (packages.ts made sure it is there). */
export function executable(name: string): string {
  const found = findExecutable(name);
  if (!found) throw new Error(`${name} not found on PATH`);
  return found;
}

/** True when `url` (plain HTTP) answers 2xx inside the namespace (busybox wget: always there, see packages.ts). */
export async function httpOkInNetns(netns: string, url: string): Promise<boolean> {
  const probe = ['/bin/busybox', 'wget', '-q', '-O', '/dev/null', url];
  return (await runInNetns(netns, probe, { allowFailure: true, timeoutMs: 5000 })).code === 0;
}
