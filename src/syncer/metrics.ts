// Prometheus metrics of the syncer (prom-client), all on one registry served at /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface SyncerMetrics {
  registry: Registry;
  /** Keys ready to be processed in the work queue. */
  queueDepth: Gauge;
  /** Time spent in one reconcile, by key kind and result (ok, error, conflict). */
  reconcileDuration: Histogram<'kind' | 'result'>;
  /** Write requests sent, by verb (create, update, delete, patch), kind and remote ("local" for backfill stamps). */
  writes: Counter<'verb' | 'kind' | 'remote'>;
  /** Write requests that failed, by verb, kind, remote and HTTP status ("network" when none). */
  writeFailures: Counter<'verb' | 'kind' | 'remote' | 'code'>;
  /** Objects or twin namespaces found taken by someone else (counted once per discovery). */
  conflicts: Counter<'kind' | 'remote'>;
  /** Watch restarts of the syncer's informers, by informer and reason. */
  watchRestarts: Counter<'informer' | 'reason'>;
  /** 1 while this replica leads (or runs without leader election). */
  leader: Gauge;
  /** Objects in each informer cache, read at scrape time from the source given here. */
  cacheObjects: Gauge<'informer'>;
  setCacheSizes: (source: () => Record<string, number>) => void;
  /** Kubernetes Events not written because the event queue was full. */
  eventsDropped: Counter;
}

export function createMetrics(registry = new Registry(), options: { defaultMetrics?: boolean } = {}): SyncerMetrics {
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'kube_offload_syncer_' });
  const registers = [registry];
  let cacheSizes: (() => Record<string, number>) | undefined;
  return {
    setCacheSizes: (source) => {
      cacheSizes = source;
    },
    registry,
    queueDepth: new Gauge({
      name: 'kube_offload_syncer_queue_depth',
      help: 'Keys waiting in the syncer work queue',
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'kube_offload_syncer_reconcile_duration_seconds',
      help: 'Duration of one reconcile of a queue key',
      labelNames: ['kind', 'result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    writes: new Counter({
      name: 'kube_offload_syncer_writes_total',
      help: 'Write requests sent by the syncer',
      labelNames: ['verb', 'kind', 'remote'],
      registers,
    }),
    writeFailures: new Counter({
      name: 'kube_offload_syncer_write_failures_total',
      help: 'Write requests of the syncer that failed',
      labelNames: ['verb', 'kind', 'remote', 'code'],
      registers,
    }),
    conflicts: new Counter({
      name: 'kube_offload_syncer_conflicts_total',
      help: 'Remote objects or namespaces with our name that kube-offload does not own (left untouched)',
      labelNames: ['kind', 'remote'],
      registers,
    }),
    watchRestarts: new Counter({
      name: 'kube_offload_syncer_watch_restarts_total',
      help: 'Watch restarts of the syncer informers',
      labelNames: ['informer', 'reason'],
      registers,
    }),
    leader: new Gauge({
      name: 'kube_offload_syncer_leader',
      help: '1 while this replica is the active syncer',
      registers,
    }),
    cacheObjects: new Gauge({
      name: 'kube_offload_syncer_cache_objects',
      help: 'Objects held in each informer cache',
      labelNames: ['informer'],
      registers,
      collect() {
        for (const [informer, n] of Object.entries(cacheSizes?.() ?? {})) this.set({ informer }, n);
      },
    }),
    eventsDropped: new Counter({
      name: 'kube_offload_syncer_events_dropped_total',
      help: 'Kubernetes Events dropped because the event queue was full',
      registers,
    }),
  };
}
