// JSON logs via pino. The admission path logs one line per request, so the default destination
// is asynchronous (a write per line would cost a syscall on the hot path); pino flushes it on
// exit. Callers log identifiers and decisions only, never objects: an AdmissionReview can carry
// a Secret's data.
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    // ISO time reads better than epoch millis in `kubectl logs`.
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
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
