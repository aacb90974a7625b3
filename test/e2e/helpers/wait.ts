// Polling with a deadline: e2e tests never sleep a fixed time, they wait for a condition.

export interface WaitForOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  /** Default 250 ms. */
  intervalMs?: number;
  /** What we are waiting for, for the timeout message ("pods of web to be Running"). */
  description: string;
}

/**
 * Calls `fn` until it returns a truthy value, which is returned. A thrown error counts as
 * "not yet"; on timeout the error names the description and the last error or value seen.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitForOptions): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = `last value: ${JSON.stringify(value)}`;
    } catch (err) {
      last = `last error: ${(err as Error).message}`;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.description} (${last})`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)));
  }
}
