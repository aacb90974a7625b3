// When objects show up: the first ADDED event of each ConfigMap and Secret of one namespace, as
// this process sees it on a watch ("visible remotely" for a copy, and the same for the floor).
import type { Cluster } from '../../../src/sandbox/cluster.ts';
import type { BenchWatch } from '../../lib/sandbox.ts';
import { watchNamespaced } from '../../lib/sandbox.ts';

interface Waiter {
  keys: string[];
  resolve: (at: number) => void;
}

/** First time each resource/name was seen ADDED, for ConfigMaps and Secrets of one namespace. */
export class Arrivals {
  readonly seen = new Map<string, number>();
  readonly #waiters: Waiter[] = [];
  readonly #watches: BenchWatch[];

  constructor(cluster: Cluster, namespace: string) {
    this.#watches = ['configmaps', 'secrets'].map((resource) =>
      watchNamespaced(cluster, namespace, resource, (type, object, at) => {
        if (type === 'ADDED') this.#record(`${resource}/${object.metadata.name}`, at);
      }),
    );
  }

  /** Resolves once both watch streams are open. */
  opened(): Promise<unknown> {
    return Promise.all(this.#watches.map((w) => w.opened));
  }

  /** Resolves with the time the last of `keys` (resource/name) was seen. */
  async all(keys: string[], timeoutMs: number, what: string): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<number>((resolve) => {
      const waiter = { keys, resolve };
      this.#waiters.push(waiter);
      this.#check(waiter);
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const missing = keys.filter((k) => !this.seen.has(k)).length;
        reject(new Error(`${what}: ${missing} of ${keys.length} objects not seen after ${timeoutMs / 1000} s`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): void {
    for (const w of this.#watches) w.stop();
  }

  #record(key: string, at: number): void {
    if (this.seen.has(key)) return;
    this.seen.set(key, at);
    for (const waiter of [...this.#waiters]) this.#check(waiter);
  }

  /** Resolves the waiter once all of its keys have been seen. */
  #check(waiter: Waiter): void {
    let last = 0;
    for (const key of waiter.keys) {
      const at = this.seen.get(key);
      if (at === undefined) return;
      last = Math.max(last, at);
    }
    this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
    waiter.resolve(last);
  }
}
