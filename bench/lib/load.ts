// One load run with autocannon over HTTPS (keep-alive, fixed concurrency, no pipelining).
//
// Latencies come from autocannon's per-response event (sub-millisecond resolution; its own HDR
// histogram records whole milliseconds, too coarse at concurrency 1). The first `settleSeconds`
// of every run are discarded: autocannon opens its connections then, and the TLS handshakes are
// not what the apiserver pays per admission (it keeps its connections to a webhook alive).
import autocannon from 'autocannon';
import { percentileSorted, sortedCopy } from './stats.ts';

export interface LoadRun {
  /** 2xx responses per second within the measured window. */
  rps: number;
  /** Latencies (ms) of the 2xx responses in the window, ascending. */
  latencies: Float64Array;
  p50: number;
  p99: number;
  windowSeconds: number;
  /** 2xx responses in the window. */
  completed: number;
  /** 2xx responses in the whole run, settle time included (for CPU per request). */
  total: number;
}

export interface LoadOptions {
  url: string;
  body: string;
  connections: number;
  durationSeconds: number;
  settleSeconds: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadRun> {
  const times: number[] = [];
  const latencies: number[] = [];
  let bad = 0;
  // Without a callback autocannon returns its instance (an EventEmitter) made thenable.
  const instance = autocannon({
    url: options.url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: options.body,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationSeconds,
    // Both servers present the same cert for localhost/127.0.0.1; SNI with an IP is not allowed.
    servername: 'localhost',
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) {
      times.push(performance.now());
      latencies.push(responseTime);
    } else bad++;
  });
  const started = performance.now();
  const result = await instance;
  const ended = performance.now();
  if (bad > 0 || result.errors > 0) {
    throw new Error(
      `${options.url} at ${options.connections} connections: ${bad} non-2xx responses, ` +
        `${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  const from = started + options.settleSeconds * 1000;
  const kept: number[] = [];
  for (let i = 0; i < times.length; i++) if ((times[i] as number) >= from) kept.push(latencies[i] as number);
  const windowSeconds = (ended - from) / 1000;
  const sorted = sortedCopy(kept);
  if (sorted.length === 0)
    throw new Error(
      `${options.url} at ${options.connections} connections: no successful response in the measured window`,
    );
  return {
    rps: sorted.length / windowSeconds,
    latencies: sorted,
    p50: percentileSorted(sorted, 50),
    p99: percentileSorted(sorted, 99),
    windowSeconds,
    completed: sorted.length,
    total: times.length,
  };
}
