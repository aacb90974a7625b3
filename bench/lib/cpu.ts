// Core pinning for the admission rows: the server under test on one core, the load generator (this
// process, autocannon) on another, so the two never compete for a core and every server gets the
// same one. With `taskset -a -p` every thread of a process is moved; threads created later inherit
// the mask of the thread that creates them.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface Pinning {
  /** The core of the servers, or undefined when pinning is off. */
  server?: number;
  /** The core of this process (the load generator). */
  client?: number;
  /** Why pinning is off, or which cores are used: for the row notes. */
  describe: string;
  /** Moves every thread of pid onto the server core (no-op when off). */
  pinServer(pid: number): void;
  /** Gives this process its original mask back. */
  release(): void;
}

function taskset(args: string[]): string {
  return execFileSync('taskset', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** The current CPU list of a process, e.g. "0,1" or "0-1". */
function cpuList(pid: number): string {
  const out = taskset(['-c', '-p', String(pid)]);
  return out.slice(out.lastIndexOf(':') + 1).trim();
}

function availableCores(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism();
  }
}

const OFF = (why: string): Pinning => ({ describe: why, pinServer: () => undefined, release: () => undefined });

/**
 * Pins this process to the last core; servers go to core 0 with pinServer(). Call it before the
 * servers are spawned: they then start with a one-core mask (Go sizes GOMAXPROCS from it).
 */
export function pinCores(): Pinning {
  const cores = availableCores();
  if (cores < 2) return OFF(`not pinned (${cores} core)`);
  let original: string;
  try {
    original = cpuList(process.pid);
  } catch (error) {
    return OFF(`not pinned (taskset: ${(error as Error).message.split('\n')[0]})`);
  }
  const client = cores - 1;
  const server = 0;
  taskset(['-a', '-c', '-p', String(client), String(process.pid)]);
  return {
    server,
    client,
    describe: `server pinned to core ${server}, load generator to core ${client}`,
    pinServer: (pid) => void taskset(['-a', '-c', '-p', String(server), String(pid)]),
    release: () => void taskset(['-a', '-c', '-p', original, String(process.pid)]),
  };
}
