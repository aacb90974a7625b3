// Process management for the sandbox: every binary runs in its own process group
// (`detached: true`), logs to a file, is recorded (pid + exact argv + start time) so a later
// run can recognise it, and is killed when this Node process exits unless it was released
// to outlive us (`sandbox up`).
//
// We only ever signal a pid after checking /proc/<pid>/cmdline and /proc/<pid>/stat still
// describe the process we started: pids are reused, and a stale pidfile must never make us
// kill someone else's process.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from '../common/async.ts';

export interface ProcessRecord {
  /** e.g. "local/kube-apiserver" */
  name: string;
  pid: number;
  /** The full argv as spawned; argv[0] is an absolute executable path. */
  argv: string[];
  logFile: string;
  /** /proc/<pid>/stat starttime (clock ticks after boot): guards against pid reuse. */
  startTicks?: number;
  startedAt: string;
}

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  startTicks: number;
}

export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) S ppid pgrp session tty tpgid flags ... starttime(22nd field) ..."
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: rest[0] ?? '?',
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    startTicks: Number(rest[19]),
  };
}

export function readCmdline(pid: number): string[] | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return undefined; // zombie or kernel thread
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** The pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const st = readStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** The pid is alive and is still the very process described by `rec`. */
export function isOurs(rec: ProcessRecord): boolean {
  const st = readStat(rec.pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  if (rec.startTicks !== undefined && st.startTicks !== rec.startTicks) return false;
  const cmd = readCmdline(rec.pid);
  if (!cmd || cmd.length !== rec.argv.length) return false;
  return cmd.every((arg, i) => arg === rec.argv[i]);
}

function signal(pid: number, sig: NodeJS.Signals, group: boolean): void {
  if (group) {
    try {
      process.kill(-pid, sig);
      return;
    } catch {
      // fall through: not a group leader (any more), try the pid itself
    }
  }
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Stops a recorded process that may belong to another (dead or live) Node process, e.g. from
 * a pidfile or `.sandbox/state.json`. Does nothing unless `isOurs(rec)`. SIGTERM to the
 * group, then SIGKILL after `graceMs` (0: SIGKILL at once). Resolves to true when it is gone.
 */
export async function terminateRecord(rec: ProcessRecord, graceMs = 5000): Promise<boolean> {
  if (!isOurs(rec)) return true; // gone, or the pid now belongs to someone else: hands off
  const group = readStat(rec.pid)?.pgrp === rec.pid;
  if (graceMs > 0) {
    signal(rec.pid, 'SIGTERM', group);
    const deadline = Date.now() + graceMs;
    while (isOurs(rec) && Date.now() < deadline) await sleep(50);
  }
  if (isOurs(rec)) {
    signal(rec.pid, 'SIGKILL', group);
    const killDeadline = Date.now() + 5000;
    while (isOurs(rec) && Date.now() < killDeadline) await sleep(50);
  }
  if (group) signal(rec.pid, 'SIGKILL', true); // stragglers left in the group
  return !isOurs(rec);
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  name: string;
  argv: string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  logFile: string;
}

export interface ManagedProcess {
  readonly record: ProcessRecord;
  readonly child: ChildProcess;
  /** Resolves when the process exits (never rejects). */
  readonly exited: Promise<ExitStatus>;
  exitStatus(): ExitStatus | undefined;
  /** SIGTERM the group, SIGKILL after graceMs (0: SIGKILL at once); resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Let the process outlive this Node process (no kill on exit; no event-loop ref). */
  release(): void;
  /** Last lines of its log file (for error messages). */
  logTail(lines?: number): string;
}

// Processes to kill if this Node process exits or is interrupted.
const live = new Set<ManagedProcess>();
// Extra synchronous clean-ups at exit (e.g. removing temporary cluster directories).
const exitCleanups = new Set<() => void>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const p of live) {
    signal(p.record.pid, 'SIGKILL', true);
  }
  live.clear();
}

function runExitCleanups(): void {
  for (const fn of exitCleanups) {
    try {
      fn();
    } catch {
      // best effort at exit
    }
  }
  exitCleanups.clear();
}

function onExit(): void {
  killAllSync();
  runExitCleanups();
}

function onSignal(sig: NodeJS.Signals): void {
  killAllSync();
  runExitCleanups();
  // If nobody else handles the signal, restore the default behaviour (terminate).
  if (process.listenerCount(sig) <= 1) {
    process.removeListener(sig, onSignal);
    process.kill(process.pid, sig);
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

/** Registers a synchronous clean-up to run if the process exits before `remove()` is called. */
export function onExitCleanup(fn: () => void): { remove: () => void } {
  installHooks();
  exitCleanups.add(fn);
  return { remove: () => exitCleanups.delete(fn) };
}

function tailFile(file: string, lines: number): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf
        .toString('utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** Spawns `argv` in its own process group with stdout+stderr appended to `logFile`. */
export async function spawnManaged(opts: SpawnOptions): Promise<ManagedProcess> {
  installHooks();
  const [exe, ...args] = opts.argv;
  if (!exe || !path.isAbsolute(exe)) throw new Error(`${opts.name}: executable must be an absolute path, got ${exe}`);
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const fd = fs.openSync(opts.logFile, 'a');
  fs.writeSync(fd, `--- ${new Date().toISOString()} starting ${opts.name}: ${opts.argv.join(' ')}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.KUBECONFIG; // every component gets its kubeconfig by flag, never by accident
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  let child: ChildProcess;
  try {
    child = spawn(exe, args, {
      detached: true, // own process group (setsid): we can kill the whole group
      stdio: ['ignore', fd, fd],
      env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
  } finally {
    fs.closeSync(fd);
  }
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, sig) => {
      status = { code, signal: sig };
      resolve(status);
    });
  });
  try {
    await once(child, 'spawn');
  } catch (err) {
    throw new Error(`${opts.name}: cannot start ${exe}: ${(err as Error).message}`);
  }
  const pid = child.pid!;
  const stat = readStat(pid);
  const record: ProcessRecord = {
    name: opts.name,
    pid,
    argv: opts.argv,
    logFile: opts.logFile,
    ...(stat ? { startTicks: stat.startTicks } : {}),
    startedAt: new Date().toISOString(),
  };
  const managed: ManagedProcess = {
    record,
    child,
    exited,
    exitStatus: () => status,
    async stop(graceMs = 5000) {
      live.delete(managed);
      if (status) return;
      if (graceMs <= 0) {
        signal(pid, 'SIGKILL', true);
        await exited;
        return;
      }
      signal(pid, 'SIGTERM', true);
      const timer = sleep(graceMs).then(() => 'timeout' as const);
      if ((await Promise.race([exited, timer])) === 'timeout') {
        signal(pid, 'SIGKILL', true);
        await exited;
      }
      signal(pid, 'SIGKILL', true);
    },
    release() {
      live.delete(managed);
      child.unref();
    },
    logTail: (lines = 30) => tailFile(opts.logFile, lines),
  };
  live.add(managed);
  return managed;
}
