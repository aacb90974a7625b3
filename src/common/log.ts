// JSON logs via pino to stdout. Callers log identifiers and decisions only, never objects: an
// AdmissionReview can carry a Secret's data. Strings a client controls (a review's uid, name,
// namespace; values quoted in error messages) go through clipText first: one review may carry
// megabytes in any of them, and a log line must stay a line.
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';

export type { Logger };

/** How much of a client-supplied string a log line keeps. */
export const CLIENT_TEXT_MAX = 256;

/** `text` itself when short enough, else its first `max` characters and "…(N more)". */
export function clipText(text: string, max = CLIENT_TEXT_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(${text.length - max} more)`;
}

/** A client-supplied field for a log line: strings clipped, anything else left out. */
export function clientText(value: unknown, max = CLIENT_TEXT_MAX): string | undefined {
  return typeof value === 'string' ? clipText(value, max) : undefined;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    // pino's default epoch-millis "time" (formatting an ISO date per line costs measurably on
    // the admission path); the level as a name, which log tools and humans read more easily.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // Asynchronous, batched up to 4 KiB and flushed at least every 200 ms (and on exit): a burst
  // of admissions costs a few writes rather than a syscall per line.
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

/**
 * A line writer for the admission hot path, producing exactly what `logger[level](fields,
 * message)` would (same level label, time, bindings), but serialized with JSON.stringify and
 * handed to pino's destination once per event-loop turn. Under load that is several times
 * cheaper than pino's per-field serializer plus one stream write per line. Fields must be flat
 * JSON values (strings, numbers, booleans); undefined ones are dropped.
 */
export function createLineWriter(
  logger: Logger,
  message: string,
  level: 'debug' | 'info' = 'info',
): (fields: Record<string, unknown>) => void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    DestinationStream | undefined;
  const bindings = (logger as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym];
  if (!stream || typeof bindings !== 'string') return (fields) => logger[level](fields, message);
  const head = `{"level":"${level}","time":`;
  const tail = `,"msg":${JSON.stringify(message)}}\n`;
  let batch = '';
  const flush = (): void => {
    const lines = batch;
    batch = '';
    stream.write(lines);
  };
  return (fields) => {
    if (!logger.isLevelEnabled(level)) return;
    const json = JSON.stringify(fields);
    if (batch === '') setImmediate(flush);
    batch += `${head}${Date.now()}${bindings}${json.length > 2 ? `,${json.slice(1, -1)}` : ''}${tail}`;
  };
}
