// Child processes for the benchmark servers: spawned with stdout/stderr to a log file (as a
// container runtime would collect them, without this process paying to read them), found by a
// JSON "listening" line carrying the port, stopped by their own pid only.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { sleep } from './stats.ts';

export interface ServerProcess {
  name: string;
  pid: number;
  port: number;
  logFile: string;
  /** VmRSS in MiB, or NaN when the process is gone. */
  rssMiB(): number;
  /** VmHWM (peak RSS) in MiB. */
  peakRssMiB(): number;
  /** CPU time (user + system, all threads) consumed so far, in seconds. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** /proc/PID/status, or '' when the process is gone. */
function statusText(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

/** A "kB" field of a status text in MiB, NaN when absent. */
function kbField(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

function statusField(pid: number, field: string): number {
  return kbField(statusText(pid), field);
}

/** VmRSS of any process in MiB, or NaN when it is gone. */
export function processRssMiB(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** utime + stime of /proc/<pid>/stat, in seconds (USER_HZ is 100 on Linux). */
export function cpuSeconds(pid: number): number {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the 3rd field (state); utime and stime are the 14th and 15th.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

/** A process whose stdout and stderr go to logFile, with its exit status and a stop(). */
export interface LoggedProcess {
  child: ChildProcess;
  pid: number | undefined;
  exited(): ExitStatus | undefined;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
  stop(): Promise<void>;
}

export function spawnLogged(
  argv: string[],
  logFile: string,
  options: { cwd?: string; env: Record<string, string> },
): LoggedProcess {
  const out = fs.openSync(logFile, 'w');
  const [command, ...args] = argv as [string, ...string[]];
  const child: ChildProcess = spawn(command, args, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdio: ['ignore', out, out],
    env: { ...process.env, ...options.env },
  });
  fs.closeSync(out);
  let status: ExitStatus | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      status ??= { code: null, signal: null, error };
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (status || child.pid === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!status) child.kill('SIGKILL');
    }, 5000);
    await exit;
    clearTimeout(timer);
  };
  return { child, pid: child.pid, exited: () => status, stop };
}

/**
 * Spawns argv, waits until its log holds a JSON line with event "listening" and a port.
 * Fails with the log tail if the process exits or the deadline passes.
 */
export async function startServer(
  name: string,
  argv: string[],
  logFile: string,
  options: { cwd: string; timeoutMs?: number; env?: Record<string, string> },
): Promise<ServerProcess> {
  const spawned = spawnLogged(argv, logFile, { cwd: options.cwd, env: options.env ?? {} });
  const { pid, stop } = spawned;
  const exited = (): ExitStatus | undefined => spawned.exited();
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exited() || pid === undefined) {
      throw new Error(
        `${name} exited before listening (code ${exited()?.code}, signal ${exited()?.signal}); ` +
          `${logFile}:\n${tail(logFile)}`,
      );
    }
    const port = findPort(logFile);
    if (port) {
      return {
        name,
        pid,
        port,
        logFile,
        rssMiB: () => statusField(pid, 'VmRSS'),
        peakRssMiB: () => statusField(pid, 'VmHWM'),
        cpuSeconds: () => cpuSeconds(pid),
        stop,
      };
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${name} did not report a listening port within ${options.timeoutMs ?? 60_000} ms; ` +
          `${logFile}:\n${tail(logFile)}`,
      );
    }
    await sleep(50);
  }
}

function findPort(logFile: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('listening')) continue;
    try {
      const entry = JSON.parse(line) as { event?: string; port?: number };
      if (entry.event === 'listening' && typeof entry.port === 'number') return entry.port;
    } catch {
      // not JSON
    }
  }
  return undefined;
}

/** VmHWM (the highest VmRSS since the process started) of any process in MiB, or NaN. */
export function processPeakRssMiB(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/**
 * Resets a process's VmHWM to its current VmRSS (Linux >= 4.0: "5" to /proc/PID/clear_refs), so
 * that VmHWM is the peak of what follows. False when the kernel or permissions refuse.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Where resident memory lies: mapped from files (the executable's code and read-only data) or anonymous. */
export interface RssSplit {
  /** RssFile (MiB): pages of mapped files, the runtime's own executable first; shared, reclaimable. */
  fileMiB: number;
  /** RssAnon (MiB): heap, stacks, buffers; what only this process holds. */
  anonMiB: number;
}

export interface MemorySamples {
  /** VmRSS samples (MiB). */
  rss: number[];
  /** VmHWM at the last sample (MiB): the peak since the process started, between samples too. */
  hwm: number;
  /** RssFile and RssAnon at the highest VmRSS sample; undefined without samples. */
  peakSplit?: RssSplit;
}

/** VmRSS, VmHWM, RssFile and RssAnon (MiB) from one read of /proc/PID/status; NaN for those missing. */
function memoryStatus(pid: number): { rss: number; hwm: number; split: RssSplit } {
  const status = statusText(pid);
  const field = (name: string) => kbField(status, name);
  return { rss: field('VmRSS'), hwm: field('VmHWM'), split: { fileMiB: field('RssFile'), anonMiB: field('RssAnon') } };
}

/** Samples a process's VmRSS and VmHWM every intervalMs until stopped (a last sample on stop). */
export function sampleMemory(pid: number, intervalMs = 250): { stop(): MemorySamples } {
  const result: MemorySamples = { rss: [], hwm: Number.NaN };
  let highest = -Infinity;
  const sample = () => {
    const { rss, hwm, split } = memoryStatus(pid);
    if (Number.isFinite(rss)) {
      result.rss.push(rss);
      if (rss > highest) {
        highest = rss;
        result.peakSplit = split;
      }
    }
    if (Number.isFinite(hwm)) result.hwm = hwm;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  let stopped = false;
  return {
    /** Stops sampling (once: later calls return the same samples). */
    stop() {
      if (!stopped) {
        stopped = true;
        clearInterval(timer);
        sample();
      }
      return result;
    },
  };
}
