// The syncer's imperative shell: informers feed a keyed work queue (wiring.ts); a reconcile reads
// the caches, asks the pure core (copy.ts, plan.ts) what the remote should look like and writes
// only when it differs (namespace-reconciler.ts, object-reconciler.ts). Reconcile, don't script:
// every decision is re-derived from both clusters' current state, so restarts, lost events and
// outages converge by the next resync. The backfill of replication stamps is a controller of its
// own (backfill.ts). This class assembles them and owns the lifecycle.
//
// Safety rules:
// - nothing is processed before every cache has synced (a half-filled local cache would look
//   like deleted objects);
// - we only ever update or delete objects that carry our ownership labels for this cluster, and
//   deletes carry the uid we saw as a precondition;
// - a foreign object or namespace with our name is reported (Event + metric), never written.
import { WorkQueue, realClock } from '../kube/workqueue.ts';
import type { Clock } from '../kube/workqueue.ts';
import type { EventSink, SyncerClient, SyncerLogger } from './api.ts';
import { BackfillController } from './backfill.ts';
import type { LocalCaches, NamedCache, RemoteCaches } from './caches.ts';
import { ConflictTracker } from './conflicts.ts';
import { FailureReporter } from './failures.ts';
import { parseKey } from './keys.ts';
import type { QueueKey } from './keys.ts';
import type { SyncerMetrics } from './metrics.ts';
import { MUTATION_TTL_MS, MutationCache } from './mutation-cache.ts';
import { NamespaceReconciler } from './namespace-reconciler.ts';
import { ObjectReconciler } from './object-reconciler.ts';
import type { RemoteInfo } from './plan.ts';
import type { RemoteCluster } from './remote.ts';
import type { SyncResult } from './result.ts';
import { RemoteSelector } from './selection.ts';
import { EventWiring } from './wiring.ts';

export interface SyncerRemote {
  name: string;
  /** Labels the namespaces' `kube-offload.io/clusters` selector is matched against. */
  labels: Record<string, string>;
  client: SyncerClient;
  caches: RemoteCaches;
  /** Called when the remote is removed or the syncer stopped: close its connections. */
  close?: () => void;
}

export interface SyncerOptions {
  clusterName: string;
  local: { client: SyncerClient; caches: LocalCaches };
  remotes: SyncerRemote[];
  events: EventSink;
  metrics: SyncerMetrics;
  logger: SyncerLogger;
  /** Parallel reconciles; default 16. */
  workers?: number;
  /** Every period, every key is reconciled again (writes only on difference); default 5 min. */
  resyncPeriodMs?: number;
  /** How often opted-in namespaces are scanned for unstamped objects; default 1 min. */
  backfillPeriodMs?: number;
  clock?: Clock;
  /** Called by stop() after the caches stopped and the remotes closed: close connections, flush Events. */
  onStop?: () => void;
}

const DEFAULT_WORKERS = 16;
const DEFAULT_RESYNC_PERIOD_MS = 300_000;

/** Calls `fn` every `ms` on the clock until the returned function is called. */
function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: unknown;
  const tick = (): void => {
    handle = clock.setTimeout(tick, ms);
    fn();
  };
  handle = clock.setTimeout(tick, ms);
  return () => clock.clearTimeout(handle);
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export class Syncer {
  readonly #options: SyncerOptions;
  readonly #log: SyncerLogger;
  readonly #metrics: SyncerMetrics;
  readonly #clock: Clock;
  readonly #local: LocalCaches;
  /** Every remote, by name: those of the options, then those added at run time. */
  readonly #remotes = new Map<string, RemoteCluster>();
  readonly #closers = new Map<string, () => void>();
  /** The remotes of the options: start-up and readiness wait for their caches. */
  readonly #initialRemotes: RemoteCluster[];
  readonly #selector: RemoteSelector;
  readonly #conflicts: ConflictTracker;
  readonly #wiring: EventWiring;
  readonly #namespaceReconciler: NamespaceReconciler;
  readonly #objectReconciler: ObjectReconciler;
  readonly #backfill: BackfillController;
  readonly #failures: FailureReporter;
  #queue: WorkQueue | undefined;
  #running = false;
  #cancelTimers: Array<() => void> = [];

  constructor(options: SyncerOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#metrics = options.metrics;
    this.#clock = options.clock ?? realClock;
    this.#local = options.local.caches;
    this.#initialRemotes = options.remotes.map((remote) => this.#register(remote));
    const { metrics, logger, events } = options;
    const localCluster = options.clusterName;
    const selector = new RemoteSelector({
      remotes: () => this.#remotes.values(),
      virtualNodes: this.#local.virtualNodes,
      localNamespaces: this.#local.namespaces,
    });
    this.#selector = selector;
    const conflicts = new ConflictTracker({ metrics, logger, events });
    this.#conflicts = conflicts;
    this.#backfill = this.#newBackfill();
    this.#wiring = this.#newWiring();
    for (const remote of this.#initialRemotes) this.#wiring.wireRemote(remote);
    const shared = { localCluster, selector, conflicts, events, metrics, logger };
    this.#namespaceReconciler = new NamespaceReconciler({
      ...shared,
      localNamespaces: this.#local.namespaces,
      onTwinCreated: (remote, namespace) => this.#wiring.enqueueNamespaceContents(remote, namespace),
    });
    this.#objectReconciler = new ObjectReconciler({
      ...shared,
      local: this.#local,
      enqueue: (key) => this.#enqueue(key),
    });
    this.#failures = new FailureReporter({ local: this.#local, events, logger });
  }

  #newBackfill(): BackfillController {
    const { local, metrics, logger, backfillPeriodMs } = this.#options;
    return new BackfillController({
      client: local.client,
      namespaces: local.caches.namespaces,
      metrics,
      logger,
      periodMs: backfillPeriodMs,
      concurrency: Math.min(this.#workers(), 4),
      clock: this.#clock,
    });
  }

  /** A remote as the reconcilers see it; it takes keys once its caches have synced. */
  #register(spec: SyncerRemote): RemoteCluster {
    const now = (): number => this.#clock.now();
    const { name, labels, client, caches } = spec;
    const mutations = new MutationCache({ now });
    const remote: RemoteCluster = { name, flagLabels: labels, client, caches, mutations, synced: false };
    this.#remotes.set(name, remote);
    if (spec.close) this.#closers.set(name, spec.close);
    return remote;
  }

  #newWiring(): EventWiring {
    return new EventWiring({
      localCluster: this.#options.clusterName,
      local: this.#local,
      remotes: () => this.#syncedRemotes(),
      enqueue: (key) => this.#enqueue(key),
      enqueueBackfill: (namespace) => {
        if (this.#running) this.#backfill.enqueue(namespace);
      },
      active: () => this.#running,
      onVirtualNodeChange: () => {
        if (this.#selector.recompute()) this.resyncAll();
      },
      logger: this.#log,
    });
  }

  /**
   * Starts the local informers and those of the options' remotes; resolves once they are synced.
   * Safe on a standby. Remotes added at run time start their own (addRemote).
   */
  async startCaches(): Promise<void> {
    const initial = [...this.#local.all, ...this.#initialRemotes.flatMap((remote) => remote.caches.all)];
    await Promise.all(initial.map(({ cache }) => cache.start()));
    for (const remote of this.#initialRemotes) remote.synced = this.#remotes.get(remote.name) === remote;
    this.#selector.recompute();
  }

  /**
   * Ready: the local caches and those of the options' remotes have synced. A remote added at run
   * time does not count: a peer that cannot be reached must not take the syncer out of service.
   */
  hasSynced(): boolean {
    const initial = [...this.#local.all, ...this.#initialRemotes.flatMap((remote) => remote.caches.all)];
    return initial.every(({ cache }) => cache.hasSynced());
  }

  /**
   * Adds a remote while running (or before): its caches start, and once they have synced every
   * key of that remote is reconciled. Resolves then; rejects if it is removed before.
   */
  async addRemote(spec: SyncerRemote): Promise<void> {
    if (this.#remotes.has(spec.name)) throw new Error(`remote ${spec.name} already exists`);
    const remote = this.#register(spec);
    this.#wiring.wireRemote(remote);
    this.#log.info({ remote: spec.name }, 'remote added; starting its caches');
    await Promise.all(remote.caches.all.map(({ cache }) => cache.start()));
    if (this.#remotes.get(spec.name) !== remote) return;
    remote.synced = true;
    this.#selector.recompute();
    this.#log.info({ remote: spec.name, caches: this.cacheSizes() }, 'remote caches synced; replicating');
    if (!this.#running) return;
    this.#objectReconciler.markStartup([remote], { keepOthers: true });
    this.#wiring.resyncRemote(remote);
  }

  /**
   * Stops replicating to a remote: its keys are dropped from then on, its caches stop and its
   * connections close. What was copied there stays (unpeer removes it). False if unknown.
   */
  removeRemote(name: string): boolean {
    const remote = this.#remotes.get(name);
    if (!remote) return false;
    this.#remotes.delete(name);
    remote.synced = false;
    for (const { cache } of remote.caches.all) cache.stop();
    this.#conflicts.forgetRemote(name);
    this.#selector.recompute();
    this.#closers.get(name)?.();
    this.#closers.delete(name);
    this.#log.info({ remote: name }, 'remote removed; its caches stopped');
    return true;
  }

  /** The remotes, by name (including those whose caches have not synced yet). */
  remoteNames(): string[] {
    return [...this.#remotes.keys()];
  }

  #syncedRemotes(): RemoteCluster[] {
    return [...this.#remotes.values()].filter((remote) => remote.synced);
  }

  /** Every cache: local, and of every remote. */
  #allCaches(): NamedCache[] {
    return [...this.#local.all, ...[...this.#remotes.values()].flatMap((remote) => remote.caches.all)];
  }

  /** Per informer health; `ok` false when a watch stalled. */
  health(): { ok: boolean; informers: Array<{ name: string; ok: boolean; reason?: string }> } {
    const informers = this.#allCaches().map(({ name, cache }) => ({ name, ...cache.health() }));
    // A stalled stream is our problem (the informer restarts it; if it keeps stalling, a restart
    // of the process may help); an unreachable remote apiserver is not, and restarting us would
    // only throw the caches away. So only stalls make /healthz fail.
    const ok = informers.every((i) => i.ok || !(i.reason ?? '').includes('stalled'));
    return { ok, informers };
  }

  cacheSizes(): Record<string, number> {
    return Object.fromEntries(this.#allCaches().map(({ name, cache }) => [name, cache.list().length]));
  }

  /**
   * Runs the reconcilers until `signal` aborts (leadership lost or shutdown). Waits for caches
   * first. Resolves after the workers stopped.
   */
  async run(signal: AbortSignal): Promise<void> {
    await this.startCaches();
    if (signal.aborted) return;
    const queue = this.#newQueue();
    this.#queue = queue;
    this.#backfill.start();
    this.#running = true;
    this.#metrics.leader.set(1);
    this.#log.info({ remotes: [...this.#remotes.keys()], caches: this.cacheSizes() }, 'syncer running');
    this.#objectReconciler.markStartup(this.#syncedRemotes());
    this.resyncAll();
    this.#cancelTimers.push(
      every(this.#clock, this.#options.resyncPeriodMs ?? DEFAULT_RESYNC_PERIOD_MS, () => this.resyncAll()),
    );
    this.#cancelTimers.push(every(this.#clock, MUTATION_TTL_MS, () => this.#sweepMutations()));
    await aborted(signal);
    this.#running = false;
    this.#metrics.leader.set(0);
    this.#stopTimers();
    await Promise.all([queue.shutdown({ drain: false }), this.#backfill.stop()]);
    this.#queue = undefined;
  }

  /** Stops informers, closes the remotes, then calls onStop (call after run() resolved). */
  stop(): void {
    this.#stopTimers();
    for (const { cache } of this.#allCaches()) cache.stop();
    for (const close of this.#closers.values()) close();
    this.#closers.clear();
    this.#options.onStop?.();
  }

  /** Resolves when the copy queue has nothing queued, running or waiting (the backfill is not waited for). */
  async whenIdle(): Promise<void> {
    await this.#queue?.whenIdle();
  }

  /** Enqueues every key we know of: all local objects and namespaces, all remote copies and twins. */
  resyncAll(): void {
    if (this.#running) this.#wiring.resyncAll();
  }

  /** Conflicts currently known, for status and tests: "remote/Kind/twin/name". */
  conflicts(): string[] {
    return this.#conflicts.list();
  }

  remoteInfo(): RemoteInfo[] {
    return this.#selector.info();
  }

  #workers(): number {
    return this.#options.workers ?? DEFAULT_WORKERS;
  }

  #newQueue(): WorkQueue {
    return new WorkQueue({
      name: 'syncer',
      concurrency: this.#workers(),
      process: (key) => this.#reconcile(key),
      metrics: this.#metrics.workqueues,
      onError: (key, err, failures) => this.#failures.failed(key, err, failures),
      backoff: { baseMs: 200, maxMs: 60_000, jitter: 0.3 },
      clock: this.#clock,
    });
  }

  #enqueue(key: string): void {
    if (this.#running) this.#queue?.add(key);
  }

  #stopTimers(): void {
    for (const cancel of this.#cancelTimers.splice(0)) cancel();
  }

  #sweepMutations(): void {
    for (const remote of this.#remotes.values()) remote.mutations.sweep();
  }

  async #reconcile(key: string): Promise<SyncResult | void> {
    const parsed = parseKey(key);
    if (!parsed) return;
    const end = this.#metrics.reconcileDuration.startTimer({ kind: parsed.kind });
    let result = 'error';
    try {
      const outcome = await this.#dispatch(parsed);
      result = outcome?.outcome ?? 'ok';
      return outcome;
    } finally {
      end({ result });
    }
  }

  #dispatch(key: QueueKey): Promise<SyncResult> | undefined {
    const remote = this.#remotes.get(key.remote);
    // A removed remote's keys are dropped; one still syncing is reconciled in full once synced.
    if (!remote?.synced || key.kind === 'Backfill') return undefined;
    if (key.kind === 'Namespace') return this.#namespaceReconciler.reconcile(remote, key.name);
    return this.#objectReconciler.reconcile(remote, key.kind, key.namespace, key.name);
  }
}
