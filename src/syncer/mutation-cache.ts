// Read-your-writes over an informer cache, as client-go's MutationCache: the answer to our own
// write (create, update) or the uid we deleted is remembered for a while, so a reconcile that runs
// before the watch delivered the change does not act on stale state (create again, update with an
// old resourceVersion). The cache wins as soon as it has caught up; entries expire after a TTL in
// any case, so a lost echo cannot pin an old view.
import type { KubeObject } from '../../webhooks/types.ts';

export interface MutationCacheOptions {
  /** How long a write is trusted over the cache; default 30 s. */
  ttlMs?: number;
  now?: () => number;
}

interface Mutation {
  /** What our create or update returned. */
  written?: KubeObject;
  /** The uid of the object we deleted. */
  deletedUid?: string;
  at: number;
}

export const MUTATION_TTL_MS = 30_000;

/** Numeric resourceVersion comparison (etcd); undefined when either is not a plain integer. */
function newerVersion(a: string | undefined, b: string | undefined): boolean | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  return BigInt(a) > BigInt(b);
}

const versionOf = (o: KubeObject): string | undefined => o.metadata?.resourceVersion as string | undefined;

export class MutationCache {
  readonly #entries = new Map<string, Mutation>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: MutationCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? MUTATION_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Remembers what a create or update returned. */
  recordWrite(key: string, written: KubeObject): void {
    this.#entries.set(key, { written, at: this.#now() });
  }

  /** Remembers that we deleted the object with this uid. */
  recordDelete(key: string, uid: string): void {
    this.#entries.set(key, { deletedUid: uid, at: this.#now() });
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** What is under `key`: the cached object, unless our own more recent write says otherwise. */
  newest(key: string, cached: KubeObject | undefined): KubeObject | undefined {
    const mutation = this.#entries.get(key);
    if (!mutation) return cached;
    if (this.#expired(mutation)) return this.#fallBack(key, cached);
    if (mutation.deletedUid !== undefined) {
      if (cached && cached.metadata?.uid === mutation.deletedUid) return undefined; // cache lags our delete
      return this.#fallBack(key, cached);
    }
    const written = mutation.written;
    if (!written) return cached;
    if (!cached) return written; // cache lags our create
    const sameObject = cached.metadata?.uid === written.metadata?.uid;
    if (sameObject && newerVersion(versionOf(written), versionOf(cached)) === true) return written;
    return this.#fallBack(key, cached);
  }

  /**
   * True when `observed` is the cache's echo of our own write (same uid and resourceVersion as
   * what the write returned): the cache has caught up and there is nothing new to compare. The
   * entry is dropped then.
   */
  consumeEcho(key: string, observed: KubeObject): boolean {
    const written = this.#entries.get(key)?.written;
    if (!written) return false;
    const echo = versionOf(written) === versionOf(observed) && written.metadata?.uid === observed.metadata?.uid;
    if (echo) this.#entries.delete(key);
    return echo;
  }

  /** Drops expired entries. */
  sweep(): void {
    for (const [key, mutation] of this.#entries) if (this.#expired(mutation)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  #expired(mutation: Mutation): boolean {
    return this.#now() - mutation.at > this.#ttlMs;
  }

  #fallBack(key: string, cached: KubeObject | undefined): KubeObject | undefined {
    this.#entries.delete(key);
    return cached;
  }
}
