// Paces admission decisions (parse, handler, answer: synchronous work) so that I/O gets in
// between long ones. When sixteen large reviews finish arriving in one event-loop turn, running
// their decisions back to back blocks the loop for all of them together (a second for the worst
// admissible pods), and a kubelet probe, whose TLS handshake needs several turns, times out.
//
// Decisions run inline, as before, until those of the current turn have taken `sliceMs`; later
// ones wait in a FIFO that is worked off a slice per turn. Small reviews (tens of microseconds)
// never wait: a turn's worth of them stays far below the slice.

export class DecisionPacer {
  readonly #sliceMs: number;
  readonly #onError: (error: unknown) => void;
  /** Time spent on decisions in the current turn; reset at the turn's check phase. */
  #spentMs = 0;
  #resetScheduled = false;
  #queue: Array<(() => void) | undefined> = [];
  #head = 0;
  #drainScheduled = false;

  /** `onError` hears of a decision that threw (they are expected to answer their own errors). */
  constructor(sliceMs: number, onError: (error: unknown) => void) {
    this.#sliceMs = sliceMs;
    this.#onError = onError;
  }

  run(decision: () => void): void {
    if (this.#head === this.#queue.length && this.#spentMs < this.#sliceMs) {
      const started = performance.now();
      this.#call(decision);
      this.#spentMs += performance.now() - started;
      if (!this.#resetScheduled) {
        this.#resetScheduled = true;
        setImmediate(this.#reset);
      }
      return;
    }
    this.#queue.push(decision);
    if (!this.#drainScheduled) {
      this.#drainScheduled = true;
      setImmediate(this.#drain);
    }
  }

  /** Decisions waiting for a later turn. */
  waiting(): number {
    return this.#queue.length - this.#head;
  }

  #call(decision: () => void): void {
    try {
      decision();
    } catch (error) {
      this.#onError(error);
    }
  }

  readonly #reset = (): void => {
    this.#spentMs = 0;
    this.#resetScheduled = false;
  };

  /** One slice of waiting decisions; then the loop polls I/O before the next. */
  readonly #drain = (): void => {
    this.#drainScheduled = false;
    const started = performance.now();
    while (this.#head < this.#queue.length && performance.now() - started < this.#sliceMs) {
      const decision = this.#queue[this.#head] as () => void;
      this.#queue[this.#head] = undefined;
      this.#head++;
      this.#call(decision);
    }
    if (this.#head < this.#queue.length) {
      this.#drainScheduled = true;
      setImmediate(this.#drain);
    } else {
      this.#queue = [];
      this.#head = 0;
    }
  };
}
