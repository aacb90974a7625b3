// Periodic tasks on an injectable clock (tests run them on a fake one).
import type { Clock } from '../kube/workqueue.ts';

export class Periodic {
  readonly #clock: Clock;
  readonly #onError: (err: unknown) => void;
  readonly #timers = new Set<unknown>();
  #stopped = false;

  /** `onError` hears of every failed run; the task runs again at its next period regardless. */
  constructor(clock: Clock, onError: (err: unknown) => void) {
    this.#clock = clock;
    this.#onError = onError;
  }

  /** Runs `task` every `ms`, measured from the end of the previous run; the first run after `ms`. */
  every(ms: number, task: () => Promise<void> | void): void {
    if (this.#stopped) return;
    const tick = async (): Promise<void> => {
      if (this.#stopped) return;
      try {
        await task();
      } catch (err) {
        this.#onError(err);
      }
      if (!this.#stopped) this.#after(ms, () => void tick());
    };
    this.#after(ms, () => void tick());
  }

  stop(): void {
    this.#stopped = true;
    for (const handle of this.#timers) this.#clock.clearTimeout(handle);
    this.#timers.clear();
  }

  #after(ms: number, fn: () => void): void {
    const handle = this.#clock.setTimeout(() => {
      this.#timers.delete(handle);
      fn();
    }, ms);
    this.#timers.add(handle);
  }
}
