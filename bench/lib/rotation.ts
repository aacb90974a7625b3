// Measured runs of several HTTPS servers under the same load, rotated so that drift (other work on a
// shared machine) hits all of them: in run i, server (i + j) mod n goes j-th. Each run records
// the latencies and throughput (load.ts), the server's CPU per request and its VmRSS every 250 ms.
import type { LoadRun } from './load.ts';
import { runLoad } from './load.ts';
import type { ServerProcess } from './process.ts';
import type { RssSplit } from './process.ts';
import { sampleMemory } from './process.ts';

export interface Contender {
  /** Key in the results: ours, floor, parsing, agnhost ... */
  id: string;
  server: ServerProcess;
  /** The URL path its reviews go to. */
  path: string;
}

export interface Series {
  runs: LoadRun[];
  /** Server CPU (user + system) per request served, per run, in microseconds. */
  cpuPerRequestUs: number[];
  /** Highest VmRSS sampled during the runs (MiB). */
  rssPeakMiB: number;
  /** RssFile and RssAnon at that sample. */
  rssPeakSplit?: RssSplit;
}

export interface RunSettings {
  runs: number;
  seconds: number;
  /** Seconds at the start of each run left out of the figures (connections opening). */
  settle: number;
}

export interface OneRun {
  run: LoadRun;
  cpuPerRequestUs: number;
  rssPeakMiB: number;
  rssPeakSplit?: RssSplit;
  hwmMiB: number;
}

/** One load run against one server, with its CPU and memory. */
export async function loadServer(
  contender: Contender,
  body: string,
  connections: number,
  seconds: number,
  settle: number,
): Promise<OneRun> {
  const { server } = contender;
  const cpuBefore = server.cpuSeconds();
  const memory = sampleMemory(server.pid, 250);
  const url = `https://127.0.0.1:${server.port}${contender.path}`;
  const load = runLoad({ url, body, connections, durationSeconds: seconds, settleSeconds: settle });
  // Stopped on failure too: the sampler's timer would keep the process alive.
  const run = await load.finally(() => memory.stop());
  const samples = memory.stop();
  const cpuPerRequestUs = ((server.cpuSeconds() - cpuBefore) / run.total) * 1e6;
  const rssPeakMiB = Math.max(...samples.rss);
  return {
    run,
    cpuPerRequestUs,
    rssPeakMiB,
    hwmMiB: samples.hwm,
    ...(samples.peakSplit ? { rssPeakSplit: samples.peakSplit } : {}),
  };
}

/** A short unmeasured run of every server (JIT, connection pools, caches). */
export async function warmUp(
  contenders: Contender[],
  body: string,
  connections: number,
  seconds: number,
): Promise<void> {
  for (const contender of contenders) await loadServer(contender, body, connections, seconds, 0);
}

/** `settings.runs` measured runs of every contender at one concurrency, rotated every run. */
export async function rotate(
  contenders: Contender[],
  body: string,
  connections: number,
  settings: RunSettings,
  afterRun?: (i: number, results: Map<string, Series>) => void,
): Promise<Map<string, Series>> {
  const results = new Map<string, Series>(
    contenders.map((c) => [c.id, { runs: [], cpuPerRequestUs: [], rssPeakMiB: 0 }]),
  );
  for (let i = 0; i < settings.runs; i++) {
    for (let j = 0; j < contenders.length; j++) {
      const contender = contenders[(i + j) % contenders.length] as Contender;
      const one = await loadServer(contender, body, connections, settings.seconds, settings.settle);
      const series = results.get(contender.id) as Series;
      series.runs.push(one.run);
      series.cpuPerRequestUs.push(one.cpuPerRequestUs);
      if (one.rssPeakMiB > series.rssPeakMiB) {
        series.rssPeakMiB = one.rssPeakMiB;
        if (one.rssPeakSplit) series.rssPeakSplit = one.rssPeakSplit;
      }
    }
    afterRun?.(i, results);
  }
  return results;
}
