// JSON logs via pino to stdout. The admission path logs one line per request, so the default
// destination is asynchronous and buffered (a write per line would cost a syscall on the hot
// path); pino flushes it on exit. Callers log identifiers and decisions only, never objects: an AdmissionReview can carry
// a Secret's data.
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    // pino's default epoch-millis "time" (formatting an ISO date per line costs measurably on
    // the admission path); the level as a name, which log tools and humans read more easily.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // Lines are batched up to 4 KiB and flushed at least every 200 ms (and on exit), so a burst of
  // admissions costs a few writes rather than one per line.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 200 }));
}

/** Flushes buffered lines (async destination); resolves even if flushing fails. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
