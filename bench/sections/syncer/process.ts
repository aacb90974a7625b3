// The syncer process of the syncer section: started as the image runs it (compiled dist/, the
// Deployment's NODE_OPTIONS, its ServiceAccounts and RBAC on both sides, one remote), and read
// through its /metrics and /proc/<pid>/status.
import { syncerComponent } from '../../../src/dev/syncer.ts';
import type { RunningComponent, Sandbox } from '../../../src/sandbox/sandbox.ts';
import { poll, sleep } from '../../../src/common/async.ts';
import { processRssMiB } from '../../lib/process.ts';
import { median } from '../../lib/stats.ts';

export interface Syncer {
  component: RunningComponent;
  metricsPort: number;
  /** performance.now() at spawn and when /readyz first answered 200 (polled every 20 ms; NaN if never). */
  spawnedAt: number;
  readyAt: number;
}

let generation = 0;

/** performance.now() when /readyz first answers 200, polled every 20 ms; NaN if it never does. */
async function timeReadyz(metricsPort: number, timeoutMs: number): Promise<number> {
  const readyAt = async (): Promise<number | undefined> => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200 ? performance.now() : undefined;
  };
  return poll(readyAt, { timeoutMs, intervalMs: 20, description: 'the syncer /readyz' }).catch(() => Number.NaN);
}

/** The syncer as the image runs it (compiled dist/, built beforehand), with extra flags `args`. */
export async function startSyncer(sandbox: Sandbox, args: string[] = []): Promise<Syncer> {
  const name = `bench-syncer-${++generation}`;
  const spec = await syncerComponent(sandbox.context, { name, args, env: { KUBE_OFFLOAD_RUN: 'dist' } });
  const before = spec.before;
  let spawnedAt = 0;
  let readyAt: Promise<number> = Promise.resolve(Number.NaN);
  spec.before = async (c) => {
    await before?.(c);
    spawnedAt = performance.now();
    // startComponent polls every 200 ms; this poll times /readyz to 20 ms.
    readyAt = timeReadyz(spec.metricsPort, 120_000);
  };
  spec.readyTimeoutMs = 120_000;
  const component = await sandbox.startComponent(spec);
  return { component, metricsPort: spec.metricsPort, spawnedAt, readyAt: await readyAt };
}

export async function metricsText(syncer: Syncer): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${syncer.metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`/metrics: HTTP ${res.status}`);
  return res.text();
}

/** Sum of every sample of a metric family (all label sets). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

/**
 * Waits until the syncer has nothing left to do: queue depth 0 and no reconcile finished for
 * `quietMs`, after at least `minReconciles` reconciles (its own count, since it started).
 * Resolves with the last /metrics text; fails at once if the process exits.
 */
export async function waitDrained(syncer: Syncer, minReconciles: number, timeoutMs: number, quietMs = 1500) {
  let lastCount = -1;
  let quietSince = Date.now();
  const drained = async (): Promise<string> => {
    const text = await metricsText(syncer);
    const depth = metricSum(text, 'workqueue_depth');
    const count = metricSum(text, 'kube_offload_syncer_reconcile_duration_seconds_count');
    if (count !== lastCount) {
      lastCount = count;
      quietSince = Date.now();
    }
    if (depth === 0 && count >= minReconciles && Date.now() - quietSince >= quietMs) return text;
    // Not yet; poll reports the last of these on timeout.
    throw new Error(`queue depth ${depth}, ${count} reconciles, wanted >= ${minReconciles}`);
  };
  const abortIf = (): void => {
    if (!syncer.component.running()) throw new Error(`syncer exited (log ${syncer.component.logFile})`);
  };
  return poll(drained, { timeoutMs, intervalMs: 200, description: 'the syncer to drain', abortIf });
}

function vmRssMiB(pid: number): number {
  const rss = processRssMiB(pid);
  if (!Number.isFinite(rss)) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return rss;
}

/** VmRSS once it has settled: median of the last ten 1 s samples that agree within 2%. */
export async function settledRss(pid: number, timeoutMs: number): Promise<{ rss: number; note: string }> {
  const started = Date.now();
  const samples: number[] = [];
  for (;;) {
    samples.push(vmRssMiB(pid));
    const last = samples.slice(-10);
    const settled = last.length === 10 && Math.max(...last) <= Math.min(...last) * 1.02;
    if (settled || Date.now() - started > timeoutMs) {
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      const peak = Math.max(...samples).toFixed(1);
      const how = settled ? `settled ${seconds} s after the queue drained` : `NOT settled after ${seconds} s`;
      const range = `first ${samples[0]?.toFixed(1)} MiB, peak ${peak} MiB`;
      return {
        rss: median(last),
        note: `median of the last 10 of ${samples.length} samples 1 s apart, ${how} (${range})`,
      };
    }
    await sleep(1000);
  }
}
