// Prometheus metrics of the syncer (prom-client), all on one registry served at /metrics: its
// own under kube_offload_syncer_, its work queues' under controller-runtime's names
// (workqueue_*, controller_runtime_reconcile_*, see src/kube/workqueue-metrics.ts), and
// prom-client's process and Node.js metrics unprefixed (process_*, nodejs_*), as stock Node.js
// dashboards expect; the scrape's job and pod labels tell the components apart.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createWorkQueueMetrics } from '../kube/workqueue-metrics.ts';
import type { WorkQueueMetrics } from '../kube/workqueue-metrics.ts';

export interface SyncerMetrics {
  registry: Registry;
  /** For the work queues (copies: "syncer", backfill: "syncer-backfill"). */
  workqueues: WorkQueueMetrics;
  /** Time spent in one reconcile, by key kind and result (error, or an Outcome of result.ts: ok, wait, conflict...). */
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

const PREFIX = 'kube_offload_syncer_';

export function createMetrics(registry = new Registry(), options: { defaultMetrics?: boolean } = {}): SyncerMetrics {
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> =>
    new Counter({ name: PREFIX + name, help, labelNames, registers });
  const gauge = (name: string, help: string): Gauge => new Gauge({ name: PREFIX + name, help, registers });
  let cacheSizes: (() => Record<string, number>) | undefined;
  return {
    setCacheSizes: (source) => {
      cacheSizes = source;
    },
    registry,
    workqueues: createWorkQueueMetrics(registry),
    reconcileDuration: new Histogram({
      name: `${PREFIX}reconcile_duration_seconds`,
      help: 'Duration of one reconcile of a queue key',
      labelNames: ['kind', 'result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    writes: counter('writes_total', 'Write requests sent by the syncer', ['verb', 'kind', 'remote']),
    writeFailures: counter('write_failures_total', 'Write requests of the syncer that failed', [
      'verb',
      'kind',
      'remote',
      'code',
    ]),
    conflicts: counter(
      'conflicts_total',
      'Remote objects or namespaces with our name that kube-offload does not own (left untouched)',
      ['kind', 'remote'],
    ),
    watchRestarts: counter('watch_restarts_total', 'Watch restarts of the syncer informers', ['informer', 'reason']),
    leader: gauge('leader', '1 while this replica is the active syncer'),
    cacheObjects: new Gauge({
      name: `${PREFIX}cache_objects`,
      help: 'Objects held in each informer cache',
      labelNames: ['informer'],
      registers,
      collect() {
        this.reset(); // a removed remote's informers are gone, not frozen at their last size
        for (const [informer, count] of Object.entries(cacheSizes?.() ?? {})) this.set({ informer }, count);
      },
    }),
    eventsDropped: counter('events_dropped_total', 'Kubernetes Events dropped because the event queue was full'),
  };
}
