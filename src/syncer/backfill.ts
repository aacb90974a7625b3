// The backfill controller: objects of opted-in namespaces that lack the replication stamp (they
// existed before the namespace opted in, or were written while the webhook was down) get it, with
// the webhooks' own rules (rules.ts: backfillStamp). One key per local namespace, on a queue of
// its own, looked at again every period while the namespace stays opted in.
import { isConflict, isNotFound, objectPath, statusCodeOf } from '../kube/client.ts';
import { WorkQueue, realClock } from '../kube/workqueue.ts';
import type { Clock, ReconcileResult } from '../kube/workqueue.ts';
import { errorMessage } from '../common/errors.ts';
import { REPLICATE_KEY } from '../../webhooks/keys.ts';
import { FIELD_MANAGER, collectionPath, countedWrite } from './api.ts';
import type { SyncerClient, SyncerLogger } from './api.ts';
import type { Cache } from './caches.ts';
import { STAMPED_KINDS } from './copy.ts';
import type { StampedKind } from './copy.ts';
import { backfillKey, parseKey } from './keys.ts';
import type { SyncerMetrics } from './metrics.ts';
import { namespaceOptedIn } from './plan.ts';
import { backfillStamp } from './rules.ts';

export const DEFAULT_BACKFILL_PERIOD_MS = 60_000;

export interface BackfillOptions {
  /** The local cluster. */
  client: SyncerClient;
  /** Opted-in local namespaces. */
  namespaces: Cache;
  metrics: SyncerMetrics;
  logger: SyncerLogger;
  /** How often an opted-in namespace is scanned; default 1 min. */
  periodMs?: number;
  /** Parallel scans; default 4. */
  concurrency?: number;
  clock?: Clock;
}

export class BackfillController {
  readonly #options: BackfillOptions;
  #queue: WorkQueue | undefined;

  constructor(options: BackfillOptions) {
    this.#options = options;
  }

  /** Starts taking keys (when leadership begins). */
  start(): void {
    this.#queue = new WorkQueue({
      name: 'syncer-backfill',
      concurrency: this.#options.concurrency ?? 4,
      process: (key) => this.#process(key),
      metrics: this.#options.metrics.workqueues,
      onError: (key, err, failures) => this.#onError(key, err, failures),
      backoff: { baseMs: 200, maxMs: 60_000, jitter: 0.3 },
      clock: this.#options.clock ?? realClock,
    });
  }

  /** Stops taking keys and waits for the scans under way. */
  async stop(): Promise<void> {
    const queue = this.#queue;
    this.#queue = undefined;
    await queue?.shutdown({ drain: false });
  }

  /** Queues a scan of the namespace (ignored unless started). */
  enqueue(namespace: string): void {
    this.#queue?.add(backfillKey(namespace));
  }

  /** Stamps what the namespace lacks; looks again after the period while it is opted in. */
  async reconcile(namespace: string): Promise<ReconcileResult | void> {
    if (!namespaceOptedIn(this.#options.namespaces.get(namespace))) return;
    let stamped = 0;
    for (const kind of STAMPED_KINDS) stamped += await this.#stampKind(namespace, kind);
    if (stamped) this.#options.logger.info({ namespace, stamped }, 'backfilled replication stamps');
    return { requeueAfter: this.#options.periodMs ?? DEFAULT_BACKFILL_PERIOD_MS };
  }

  async #process(key: string): Promise<ReconcileResult | void> {
    const namespace = parseKey(key)?.namespace;
    if (!namespace) return;
    const end = this.#options.metrics.reconcileDuration.startTimer({ kind: 'Backfill' });
    let result = 'error';
    try {
      const outcome = await this.reconcile(namespace);
      result = 'ok';
      return outcome;
    } finally {
      end({ result });
    }
  }

  /** Stamps the unstamped objects of one kind; returns how many. */
  async #stampKind(namespace: string, kind: StampedKind): Promise<number> {
    const { client, metrics } = this.#options;
    const path = collectionPath(kind, namespace);
    const { items } = await client.listAll(path, { labelSelector: `!${REPLICATE_KEY}` });
    let stamped = 0;
    for (const item of items) {
      const patch = backfillStamp(item, kind);
      if (!patch) continue;
      const target = objectPath(path, item.metadata?.name ?? '');
      try {
        await countedWrite(metrics, { remote: 'local', verb: 'patch', kind }, () =>
          client.patch(target, patch, 'merge', { fieldManager: FIELD_MANAGER }),
        );
        stamped++;
      } catch (err) {
        // 409: changed meanwhile (maybe stamped by the webhook); 404: gone. Next round looks again.
        if (!isConflict(err) && !isNotFound(err)) throw err;
      }
    }
    return stamped;
  }

  #onError(key: string, err: unknown, failures: number): void {
    const code = statusCodeOf(err);
    const level = failures >= 3 ? 'warn' : 'debug';
    this.#options.logger[level](
      { key, failures, code, err: errorMessage(err) },
      'reconcile failed; retrying with backoff',
    );
  }
}
