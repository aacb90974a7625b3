// What a failed reconcile of a copy or twin tells people. Transient failures (a cache that lags
// behind a 409, a network blip) are retried quietly; a key that keeps failing, or fails in a way
// retrying cannot fix (TerminalError), is logged as a warning and reported on the local object
// with a ReplicationFailed Event.
import { statusCodeOf } from '../kube/client.ts';
import { TerminalError } from '../kube/workqueue.ts';
import { errorMessage } from '../common/errors.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { withKind } from './api.ts';
import type { EventSink, SyncerLogger } from './api.ts';
import type { LocalCaches } from './caches.ts';
import { parseKey } from './keys.ts';
import type { QueueKey } from './keys.ts';

/** Consecutive failures of a key before it is reported. */
export const PERSISTENT_FAILURES = 3;

export interface FailureReporterOptions {
  local: LocalCaches;
  events: EventSink;
  logger: SyncerLogger;
}

export class FailureReporter {
  readonly #options: FailureReporterOptions;

  constructor(options: FailureReporterOptions) {
    this.#options = options;
  }

  /** The work queue's onError: `failures` counts this one. */
  failed(key: string, err: unknown, failures: number): void {
    const terminal = err instanceof TerminalError;
    const persistent = terminal || failures >= PERSISTENT_FAILURES;
    const code = statusCodeOf(terminal ? err.cause : err);
    const message = terminal
      ? 'reconcile failed; not retried before the object changes or the next resync'
      : 'reconcile failed; retrying with backoff';
    this.#options.logger[persistent ? 'warn' : 'debug']({ key, failures, code, err: errorMessage(err) }, message);
    const parsed = parseKey(key);
    if (!parsed || !persistent) return;
    const local = this.#localObjectOf(parsed);
    const event = `copy to remote ${parsed.remote} failed: ${errorMessage(err)}`;
    if (local) this.#options.events.record(local, 'Warning', 'ReplicationFailed', event);
  }

  #localObjectOf(key: QueueKey): KubeObject | undefined {
    const { namespaces, objects, slices } = this.#options.local;
    if (key.kind === 'Backfill') return undefined;
    if (key.kind === 'Namespace') {
      const namespace = namespaces.get(key.name);
      return namespace && withKind(namespace, 'Namespace');
    }
    const cache = key.kind === 'EndpointSlice' ? slices : objects[key.kind];
    const object = cache.get(`${key.namespace}/${key.name}`);
    return object && withKind(object, key.kind);
  }
}
