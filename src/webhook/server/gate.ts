// Bounds the request bytes the admission routes hold at once. Deciding a review is synchronous
// (parse, handler, answer in one event-loop turn), so what piles up under concurrency is bodies
// being received: 64 concurrent 3 MiB reviews buffered ~200 MiB (plus their copies) before this
// gate. Each admission reserves its declared Content-Length (the 3 MiB limit when it declares
// none) before its body is read; what does not fit waits, first come first served, with its
// socket paused so TCP holds the rest of the body at the client. Waiting beats refusing: the API
// server treats a 429 from a webhook as a failed call, which failurePolicy Fail turns into a
// rejected object. Only past a hard cap on waiting admissions is one refused.

export interface GateLimits {
  /** Request bytes admitted at once; one admission always fits when nothing else is in. */
  maxBytes: number;
  /** Admissions that may wait for room; beyond, enter() refuses. */
  maxWaiting: number;
}

interface Waiter {
  bytes: number;
  /** Dropped once admitted or cancelled: it holds the whole admission (request, parsed body). */
  admit: (() => void) | undefined;
  /** 'cancelled' when the wait was given up (deadline, client gone): skipped at its turn. */
  state: 'waiting' | 'admitted' | 'cancelled';
}

export interface GateStats {
  admittedBytes: number;
  admitted: number;
  waiting: number;
}

export class AdmissionGate {
  readonly limits: GateLimits;
  #admittedBytes = 0;
  #admitted = 0;
  /** FIFO of waiters; cancelled ones stay until they reach the head; consumed slots are cleared. */
  #waiters: Array<Waiter | undefined> = [];
  #head = 0;
  #waiting = 0;

  constructor(limits: GateLimits) {
    this.limits = limits;
  }

  /**
   * Calls `admit` now, or later when there is room for `bytes` (then after every earlier waiter).
   * Returns a function that gives up the wait (a no-op once admitted), or undefined when the
   * waiting room is full and `admit` will never be called. Every admission must be matched by
   * one leave(bytes).
   */
  enter(bytes: number, admit: () => void): (() => void) | undefined {
    if (this.#waiting === 0 && this.#fits(bytes)) {
      this.#take(bytes);
      admit();
      return NOOP;
    }
    if (this.#waiting >= this.limits.maxWaiting) return undefined;
    const waiter: Waiter = { bytes, admit, state: 'waiting' };
    this.#waiters.push(waiter);
    this.#waiting++;
    return () => {
      if (waiter.state !== 'waiting') return;
      waiter.state = 'cancelled';
      waiter.admit = undefined;
      this.#waiting--;
      // The head may have been the one holding the others back.
      this.#admitWaiters();
    };
  }

  /** Returns what an admission reserved, and lets waiters in. */
  leave(bytes: number): void {
    this.#admittedBytes -= bytes;
    this.#admitted--;
    if (this.#waiting > 0) this.#admitWaiters();
  }

  stats(): GateStats {
    return { admittedBytes: this.#admittedBytes, admitted: this.#admitted, waiting: this.#waiting };
  }

  #fits(bytes: number): boolean {
    return this.#admitted === 0 || this.#admittedBytes + bytes <= this.limits.maxBytes;
  }

  #take(bytes: number): void {
    this.#admittedBytes += bytes;
    this.#admitted++;
  }

  #admitWaiters(): void {
    while (this.#head < this.#waiters.length) {
      const waiter = this.#waiters[this.#head] as Waiter;
      if (waiter.state === 'waiting' && !this.#fits(waiter.bytes)) break;
      // Cleared and advanced before admit(), which may leave() at once and so come back here.
      this.#waiters[this.#head] = undefined;
      this.#head++;
      const admit = waiter.admit;
      waiter.admit = undefined;
      if (waiter.state !== 'waiting' || !admit) continue;
      this.#take(waiter.bytes);
      this.#waiting--;
      waiter.state = 'admitted';
      admit();
    }
    // Drop the consumed prefix now and then, not on every admission.
    if (this.#head === this.#waiters.length) {
      this.#waiters = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#head = 0;
    }
  }
}

const NOOP = (): void => undefined;
