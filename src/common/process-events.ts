// What the long-running commands (webhook, syncer, virtual-node) do about process-wide events
// before they start anything. Not a command itself: cli.ts only runs the names it lists.
import type { Logger } from './log.ts';

/** A stray rejected promise is logged as an error instead of killing a process that still serves. */
export function logUnhandledRejections(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection');
  });
}

export interface ShutdownRequest<Reason extends string> {
  /** Resolves with the first SIGTERM or SIGINT, or with the reason given to `request`. */
  requested: Promise<NodeJS.Signals | Reason>;
  /** Asks for the shutdown from inside the process (the virtual node provider on lost leadership). */
  request: (reason: Reason) => void;
}

/**
 * Listens for SIGTERM and SIGINT. Call it before starting anything, so that a signal during
 * start-up is not lost. `once`: a second signal gets the default behaviour and kills the
 * process, should draining hang.
 */
export function listenForShutdown<Reason extends string = never>(): ShutdownRequest<Reason> {
  let resolve: (reason: NodeJS.Signals | Reason) => void = () => undefined;
  const requested = new Promise<NodeJS.Signals | Reason>((settle) => (resolve = settle));
  process.once('SIGTERM', () => resolve('SIGTERM'));
  process.once('SIGINT', () => resolve('SIGINT'));
  return { requested, request: (reason) => resolve(reason) };
}
