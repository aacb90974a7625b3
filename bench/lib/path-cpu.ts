// The CPU cost of a data path: the CPU time (utime + stime) that each process on the path spends
// while transfers run, read from /proc before and after each one. When a transfer keeps every
// core busy, its throughput is at most cores / (CPU seconds per MiB of the whole path), so the
// CPU per MiB of two paths bounds the ratio of their throughputs, however cheap one part is.
import fs from 'node:fs';
import { cpuSeconds } from './process.ts';

/** The processes on one path, by a name for the notes, e.g. { kubectl: 123, provider: 456 }. */
export type PathProcesses = Record<string, number>;

export interface PathCpu {
  /** Runs one transfer of `mib` MiB and adds what each process spent meanwhile. */
  measure<T>(mib: number, transfer: () => Promise<T>): Promise<T>;
  /** CPU milliseconds per MiB moved, per process. */
  perProcess(): Record<string, number>;
  /** CPU milliseconds per MiB moved, the whole path. */
  total(): number;
  /** Cores the path kept busy during the transfers, and the whole machine meanwhile. */
  busyCores(): { path: number; machine: number };
}

/** Seconds every core together spent busy since boot (/proc/stat: all but idle and iowait). */
function machineBusySeconds(): number {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

export function pathCpu(processes: PathProcesses): PathCpu {
  const spent: Record<string, number> = Object.fromEntries(Object.keys(processes).map((name) => [name, 0]));
  let mibMoved = 0;
  let wallSeconds = 0;
  let machineSeconds = 0;
  const read = () => Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const sum = () => Object.values(spent).reduce((a, b) => a + b, 0);
  return {
    async measure(mib, transfer) {
      const [before, machineBefore, startedAt] = [read(), machineBusySeconds(), performance.now()];
      const result = await transfer();
      const [after, machineAfter] = [read(), machineBusySeconds()];
      wallSeconds += (performance.now() - startedAt) / 1000;
      machineSeconds += machineAfter - machineBefore;
      for (const name of Object.keys(spent)) spent[name]! += after[name]! - before[name]!;
      mibMoved += mib;
      return result;
    },
    perProcess: () => Object.fromEntries(Object.entries(spent).map(([name, s]) => [name, (s * 1000) / mibMoved])),
    total: () => (sum() * 1000) / mibMoved,
    busyCores: () => ({ path: sum() / wallSeconds, machine: machineSeconds / wallSeconds }),
  };
}

/** "kubectl 3.1, provider 5.2, ... ms/MiB" */
export function describePerProcess(cpu: PathCpu): string {
  const parts = Object.entries(cpu.perProcess()).map(([name, ms]) => `${name} ${ms.toFixed(1)}`);
  return `${parts.join(', ')} ms/MiB`;
}
