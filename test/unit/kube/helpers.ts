// Test helpers: a fake clock (for the work queue and token bucket) and deadline polling.
import type { Clock } from '../../../src/kube/workqueue.ts';

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

/** A manual clock. `advance` fires due timers in order, letting promise continuations run between them. */
export class FakeClock implements Clock {
  #now = 1_000_000;
  #timers: Timer[] = [];
  #next = 1;

  now = (): number => this.#now;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const t = { id: this.#next++, due: this.#now + Math.max(0, ms), fn };
    this.#timers.push(t);
    return t.id;
  };

  clearTimeout = (handle: unknown): void => {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  };

  pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await flush();
      this.#timers.sort((a, b) => a.due - b.due || a.id - b.id);
      const t = this.#timers[0];
      if (!t || t.due > end) break;
      this.#timers.shift();
      this.#now = t.due;
      t.fn();
    }
    this.#now = end;
    await flush();
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Polls `cond` until true or the deadline passes (then throws with `what`). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
