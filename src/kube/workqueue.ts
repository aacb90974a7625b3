// A keyed work queue à la client-go's workqueue.RateLimitingInterface, with the workers built in.
//
// Guarantees (the reasons controllers use this shape):
// - dedup: a key added while it waits is queued once;
// - a key is never processed by two workers at once; one re-added while processing is processed
//   again after the current run (so no change is lost and none is handled concurrently);
// - failures retry with per-key exponential backoff + jitter; success forgets the key's history;
// - an optional token bucket caps the overall processing rate;
// - shutdown() stops intake and (by default) drains what is queued.
// Time is injected (`clock`) so tests run on a fake clock.
import { TokenBucket, backoffDelay } from './ratelimit.ts';
import type { BackoffOptions } from './ratelimit.ts';
import type { QueueMetrics, WorkQueueMetrics } from './workqueue-metrics.ts';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * What a reconcile asks of the queue when it succeeds, as controller-runtime's reconcile.Result:
 * nothing (the key is done until something changes), or another look after `requeueAfter` ms
 * (a condition that only time resolves: a cache that lags, a reference not there yet).
 */
export interface ReconcileResult {
  requeueAfter?: number;
}

/**
 * Thrown by a reconcile for a failure that retrying cannot fix (invalid input, a rejected
 * object): the key is dropped with its history instead of retried with backoff. Any other throw
 * retries with per-key exponential backoff. The queue runner is the only place that decides.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export interface WorkQueueOptions {
  /** The `name` and `controller` label of its metrics. */
  name: string;
  /**
   * Reconciles one key. Resolving forgets the key's failures and, with `requeueAfter`, looks at it
   * again after that delay; a TerminalError drops it (onDrop); any other rejection requeues it with
   * backoff (addRateLimited).
   */
  process: (key: string) => Promise<ReconcileResult | void>;
  /** Parallel workers; default 1. */
  concurrency?: number;
  /** Overall dispatch limit (token bucket); default unlimited. */
  rateLimit?: { qps: number; burst?: number };
  /** Per-key retry backoff; default 50 ms doubling to 5 min, 20% jitter. */
  backoff?: BackoffOptions;
  /** Drop a key after this many consecutive failures (onDrop is called); default: retry forever. */
  maxRetries?: number;
  onError?: (key: string, error: unknown, failures: number) => void;
  onDrop?: (key: string, error: unknown) => void;
  /** Called whenever the number of keys ready to process changes. */
  onDepth?: (depth: number) => void;
  /** When given: workqueue_* and controller_runtime_reconcile_* of this queue (see workqueue-metrics.ts). */
  metrics?: WorkQueueMetrics;
  clock?: Clock;
  random?: () => number;
}

export class WorkQueue {
  readonly name: string;
  readonly #o: WorkQueueOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #concurrency: number;
  readonly #bucket: TokenBucket | undefined;
  readonly #backoff: BackoffOptions;

  readonly #queue: string[] = []; // FIFO of keys ready to process (each at most once)
  readonly #dirty = new Set<string>(); // keys that need processing (queued or re-added while processing)
  readonly #processing = new Set<string>();
  readonly #waiting = new Map<string, { due: number; handle: unknown }>();
  readonly #failures = new Map<string, number>();
  #reserved = false; // a bucket token is already reserved for the next dispatch
  #pumpTimer: unknown;
  #shuttingDown = false;
  #dropQueued = false;
  #idleWaiters: (() => void)[] = [];
  readonly #metrics: QueueMetrics | undefined;
  /** With metrics: when each dirty key was added (queue latency) and when each running key started. */
  readonly #addedAt = new Map<string, number>();
  readonly #startedAt = new Map<string, number>();

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#random = options.random ?? Math.random;
    this.#concurrency = Math.max(1, options.concurrency ?? 1);
    this.#backoff = options.backoff ?? { baseMs: 50, maxMs: 300_000, jitter: 0.2 };
    if (options.rateLimit) this.#bucket = new TokenBucket({ ...options.rateLimit, now: () => this.#clock.now() });
    this.#metrics = options.metrics?.forQueue(this.name, {
      depth: () => this.#queue.length,
      concurrency: () => this.#concurrency,
      runningSeconds: () => {
        const now = this.#clock.now();
        return [...this.#startedAt.values()].map((started) => (now - started) / 1000);
      },
    });
  }

  /** Queues a key for processing now (coalesced if already queued). Ignored after shutdown. */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#metrics) {
      this.#metrics.added();
      this.#addedAt.set(key, this.#clock.now());
    }
    if (this.#processing.has(key)) return; // requeued when the current run ends
    this.#queue.push(key);
    this.#depthChanged();
    this.#pump();
  }

  /** Queues a key after `ms`. An earlier pending deadline for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const due = this.#clock.now() + ms;
    const prev = this.#waiting.get(key);
    if (prev) {
      if (prev.due <= due) return;
      this.#clock.clearTimeout(prev.handle);
    }
    const handle = this.#clock.setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
      this.#checkIdle();
    }, ms);
    this.#waiting.set(key, { due, handle });
  }

  /** Queues a key after its backoff delay and counts a failure for it. Returns the delay. */
  addRateLimited(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    const delay = backoffDelay(n, this.#backoff, this.#random);
    this.#metrics?.retried();
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure history (done automatically after a successful run). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Consecutive failures recorded for a key. */
  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Keys ready to be processed. */
  len(): number {
    return this.#queue.length;
  }

  /** Keys queued, being processed or waiting for a delayed add. */
  pending(): number {
    return this.#queue.length + this.#processing.size + this.#waiting.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Resolves once nothing is queued, processing or waiting (e.g. "initial sync done"). */
  whenIdle(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops intake. With drain (default) resolves after every queued key has been processed once
   * more; without, queued keys are dropped and it resolves when the running ones finish. Delayed
   * adds (backoff) are dropped either way; failures during the drain are not retried.
   */
  async shutdown(options: { drain?: boolean } = {}): Promise<void> {
    this.#shuttingDown = true;
    for (const w of this.#waiting.values()) this.#clock.clearTimeout(w.handle);
    this.#waiting.clear();
    if (options.drain === false) {
      this.#dropQueued = true;
      for (const k of this.#queue.splice(0)) {
        this.#dirty.delete(k);
        this.#addedAt.delete(k);
      }
      if (this.#pumpTimer !== undefined) this.#clock.clearTimeout(this.#pumpTimer);
      this.#pumpTimer = undefined;
      this.#depthChanged();
    }
    await this.whenIdle();
    this.#metrics?.close();
  }

  #depthChanged(): void {
    this.#o.onDepth?.(this.#queue.length);
  }

  #checkIdle(): void {
    if (this.pending() === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  #pump(): void {
    while (this.#pumpTimer === undefined && this.#processing.size < this.#concurrency && this.#queue.length > 0) {
      if (this.#bucket && !this.#reserved) {
        const wait = this.#bucket.reserve();
        this.#reserved = true;
        if (wait > 0) {
          this.#pumpTimer = this.#clock.setTimeout(() => {
            this.#pumpTimer = undefined;
            this.#pump();
          }, wait);
          return;
        }
      }
      this.#reserved = false;
      const key = this.#queue.shift() as string;
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#depthChanged();
      this.#started(key);
      void this.#run(key);
    }
  }

  #started(key: string): void {
    if (!this.#metrics) return;
    const now = this.#clock.now();
    this.#metrics.started((now - (this.#addedAt.get(key) ?? now)) / 1000);
    this.#addedAt.delete(key);
    this.#startedAt.set(key, now);
  }

  #finished(key: string, result: ReconcileResult | undefined, error?: unknown): void {
    const started = this.#startedAt.get(key);
    if (!this.#metrics || started === undefined) return;
    this.#startedAt.delete(key);
    const seconds = (this.#clock.now() - started) / 1000;
    if (result === undefined) this.#metrics.finished(seconds, 'error', error instanceof TerminalError);
    else this.#metrics.finished(seconds, result.requeueAfter === undefined ? 'success' : 'requeue_after', false);
  }

  async #run(key: string): Promise<void> {
    try {
      const result = (await this.#o.process(key)) ?? {};
      this.#processing.delete(key);
      this.#finished(key, result);
      this.#succeeded(key, result);
    } catch (error) {
      this.#processing.delete(key);
      this.#finished(key, undefined, error);
      this.#failed(key, error);
    }
    this.#requeueIfReAdded(key);
    this.#pump();
    this.#checkIdle();
  }

  #succeeded(key: string, result: ReconcileResult): void {
    this.forget(key);
    if (result.requeueAfter !== undefined) this.addAfter(key, result.requeueAfter);
  }

  #failed(key: string, error: unknown): void {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    try {
      this.#o.onError?.(key, error, failures);
    } catch {
      // hooks must not break the queue
    }
    const terminal = error instanceof TerminalError;
    if (terminal || (this.#o.maxRetries !== undefined && failures > this.#o.maxRetries)) {
      this.forget(key);
      this.#o.onDrop?.(key, error);
    } else {
      this.addRateLimited(key);
    }
  }

  #requeueIfReAdded(key: string): void {
    // Re-added while we were processing: queue it again now (also while draining: the re-add
    // came before shutdown; a non-draining shutdown drops it).
    if (this.#dirty.has(key)) {
      if (this.#dropQueued) {
        this.#dirty.delete(key);
        this.#addedAt.delete(key);
      } else {
        this.#queue.push(key);
        this.#depthChanged();
      }
    }
  }
}
