// A small bounded cache of settled decisions with per-entry lifetimes. Concurrent lookups of
// the same key share one pending promise, so a burst of identical requests costs one review.

interface Entry<V> {
  value: Promise<V>;
  expiresAt: number;
}

export class DecisionCache<V> {
  readonly #maxEntries: number;
  readonly #ttlMs: (value: V) => number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry<V>>();

  /** `ttlMs` picks each settled value's lifetime (say, longer for "allowed" than for "denied"). */
  constructor(maxEntries: number, ttlMs: (value: V) => number, now: () => number = Date.now) {
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached value for `key`, else `compute()`'s (failures are not cached). */
  get(key: string, compute: () => Promise<V>): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit && hit.expiresAt > this.#now()) {
      // Map order is insertion order: re-inserting makes it the most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.value;
    }
    const entry: Entry<V> = { value: compute(), expiresAt: Infinity };
    this.#store(key, entry);
    entry.value.then(
      (value) => {
        entry.expiresAt = this.#now() + this.#ttlMs(value);
      },
      () => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    );
    return entry.value;
  }

  #store(key: string, entry: Entry<V>): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}
