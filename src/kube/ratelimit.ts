// Rate limiting primitives shared by the informer, the work queue and API writers.
//
// Time is injected (`now`) so tests can drive a fake clock instead of sleeping.

export type Now = () => number;

export interface TokenBucketOptions {
  /** Tokens added per second. Must be > 0. */
  qps: number;
  /** Bucket capacity: how many operations may run back to back. Defaults to max(1, ceil(qps)). */
  burst?: number;
  now?: Now;
}

/**
 * Classic token bucket (golang.org/x/time/rate semantics): starts full, refills continuously at
 * `qps`, holds at most `burst` tokens. `reserve()` may drive the balance negative, which is how
 * callers queue up behind each other fairly without a waiter list.
 */
export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  #tokens: number;
  #last: number;
  #now: Now;

  constructor(options: TokenBucketOptions) {
    if (!(options.qps > 0)) throw new Error(`TokenBucket: qps must be > 0, got ${options.qps}`);
    this.qps = options.qps;
    this.burst = Math.max(1, options.burst ?? Math.ceil(options.qps));
    this.#now = options.now ?? Date.now;
    this.#tokens = this.burst;
    this.#last = this.#now();
  }

  #refill(): void {
    const t = this.#now();
    const elapsed = Math.max(0, t - this.#last) / 1000;
    this.#last = t;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.qps);
  }

  /** Current (possibly fractional, possibly negative) balance; for tests and metrics. */
  tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes a token if one is available right now. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }

  /**
   * Takes a token unconditionally and returns how many ms the caller must wait before using it
   * (0 when one was available). Later reservations wait behind earlier ones.
   */
  reserve(): number {
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.qps) * 1000);
  }

  /** Waits for a token (real timers). Rejects with the signal's reason if aborted while waiting. */
  async take(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const wait = this.reserve();
    if (wait <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        this.#tokens += 1; // give the unused reservation back
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, wait);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export interface BackoffOptions {
  /** Delay after the first failure. */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per failure; default 2. */
  factor?: number;
  /**
   * Fraction of the delay that is randomised, 0..1 (default 0.2): the delay is drawn uniformly from
   * [d*(1-jitter), d] where d = min(base*factor^attempt, max). Jitter keeps many clients that
   * failed together (apiserver restart) from retrying in lockstep; drawing *below* d keeps the cap
   * a hard upper bound.
   */
  jitter?: number;
}

/** Delay before retry number `attempt` (0 = first retry). `random` is injectable for tests. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  // Clamp the exponent so huge attempt counts don't overflow to Infinity*0 = NaN.
  const exp = Math.min(Math.max(0, attempt), 64);
  const d = Math.min(options.maxMs, options.baseMs * Math.pow(factor, exp));
  return Math.max(0, Math.round(d * (1 - jitter * random())));
}

/** Stateful helper: `next()` grows the delay, `reset()` after a success. */
export class Backoff {
  #attempt = 0;
  #options: BackoffOptions;
  #random: () => number;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  get attempt(): number {
    return this.#attempt;
  }

  next(): number {
    return backoffDelay(this.#attempt++, this.#options, this.#random);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
