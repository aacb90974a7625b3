// Waiting, the one way: a sleep that a signal can cut short, and polling with a deadline.

/** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  description: string;
  /** Called on every round; throwing aborts the wait (e.g. "the process exited"). */
  abortIf?: () => void;
}

/**
 * Polls `fn` until it returns a value other than undefined/false, or the deadline passes.
 * Errors thrown by `fn` count as "not yet" (the last one is reported on timeout).
 */
export async function poll<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  opts: PollOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 200;
  let lastError: unknown;
  for (;;) {
    opts.abortIf?.();
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${opts.timeoutMs}ms waiting for ${opts.description}${why}`);
    }
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}
