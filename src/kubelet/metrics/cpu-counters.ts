// Cumulative CPU time for metrics that want a counter. metrics-server computes a CPU usage as the
// rate between two scrapes of `*_cpu_usage_seconds_total`, and drops a point whose counter
// decreased or is 0; PodMetrics only carries a usage rate averaged over a window. So every
// container, pod and the node get a counter here, in memory, that integrates that rate over time:
//
// - first sight: the usage of the window PodMetrics reports (rate × window), at least 1 µs;
// - every later scrape adds the latest rate × the time since the previous scrape, so the rate a
//   consumer derives between two scrapes is the remote's latest rate;
// - a counter missing from the previous scrape (its metrics were absent for a while) resumes
//   where it stood, without integrating over the gap.
//
// Counters never decrease; they are forgotten with their pod only (a recreated pod has another
// uid, so another counter). Held in core-picoseconds (nanocores × milliseconds): exact as BigInt.

const MIN_START_PS = 1_000_000n;

interface Counter {
  ps: bigint;
  at: number;
  scrape: number;
}

/** The usage of one window, in core-picoseconds: the first value of a counter. */
export function windowUsage(nanoCores: bigint, windowMs: number): bigint {
  return nanoCores * BigInt(Math.max(0, Math.round(windowMs)));
}

export class CpuCounters {
  readonly #counters = new Map<string, Counter>();
  #scrape = 0;
  #at = 0;

  /** A scrape at `at` (milliseconds since the epoch): what `advance` integrates up to. */
  begin(at: number): void {
    this.#scrape++;
    this.#at = at;
  }

  /** Integrates `nanoCores` into the counter of `key`; its value in core-nanoseconds. */
  advance(key: string, nanoCores: bigint, firstPs: bigint): bigint {
    const counter = this.#counters.get(key);
    if (!counter) {
      const started = { ps: firstPs > MIN_START_PS ? firstPs : MIN_START_PS, at: this.#at, scrape: this.#scrape };
      this.#counters.set(key, started);
      return started.ps / 1000n;
    }
    if (counter.scrape === this.#scrape - 1) counter.ps += nanoCores * BigInt(Math.max(0, this.#at - counter.at));
    if (counter.scrape !== this.#scrape) counter.at = Math.max(counter.at, this.#at);
    counter.scrape = this.#scrape;
    return counter.ps / 1000n;
  }

  /** Forgets the counters `keep` refuses. */
  retain(keep: (key: string) => boolean): void {
    for (const key of this.#counters.keys()) if (!keep(key)) this.#counters.delete(key);
  }

  get size(): number {
    return this.#counters.size;
  }
}
