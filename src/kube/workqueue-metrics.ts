// Prometheus metrics of work queues and their reconciles, under the names controller-runtime
// (and client-go's workqueue) export, so dashboards and alerts written for Kubernetes
// controllers work unchanged: workqueue_* labelled {name, controller} (both the queue's name,
// as controller-runtime sets them) and controller_runtime_reconcile_* labelled {controller}.
//
// A component registers the families once on its registry (createWorkQueueMetrics) and hands
// the result to the queues it creates; a WorkQueue without it records nothing. Gauges are read
// from the live queues at scrape time (nothing runs between scrapes); counters and histograms
// are written as keys move through the queues.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/** How one run of a key ended, as controller_runtime_reconcile_total's `result` label. */
export type ReconcileResultLabel = 'success' | 'requeue_after' | 'error';

/** What a live queue shows at scrape time (see WorkQueue). */
export interface QueueProbe {
  /** Keys ready to be processed. */
  depth(): number;
  /** Workers allowed at once. */
  concurrency(): number;
  /** Seconds each key being processed now has been running. */
  runningSeconds(): number[];
}

/** What a queue reports as keys move through it. */
export interface QueueMetrics {
  /** A key entered the queue (one that was already waiting there is coalesced, not counted). */
  added(): void;
  /** A worker took a key that waited `seconds` in the queue. */
  started(waitedSeconds: number): void;
  /** A worker finished a key after `seconds`. */
  finished(seconds: number, result: ReconcileResultLabel, terminal: boolean): void;
  /** A key was requeued with backoff. */
  retried(): void;
  /** The queue has shut down: its gauges disappear from the scrape. */
  close(): void;
}

export interface WorkQueueMetrics {
  /** Metrics of the queue `name`, whose gauges are read from `probe`. A later queue of the same name replaces it. */
  forQueue(name: string, probe: QueueProbe): QueueMetrics;
}

// client-go's and controller-runtime's buckets: 10 ns to 1000 s, decades (ExponentialBuckets(10e-9, 10, 12)).
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));
// controller_runtime_reconcile_time_seconds' buckets.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75,
  2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

type QueueLabel = 'name' | 'controller';

/** Registers the workqueue_* and controller_runtime_* families on `registry`. */
export function createWorkQueueMetrics(registry: Registry): WorkQueueMetrics {
  const probes = new Map<string, QueueProbe>();
  const registers = [registry];
  // A gauge per family whose value is computed from each live queue's probe at scrape time.
  const liveGauge = <L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    value: (queue: string, probe: QueueProbe) => [Record<L, string>, number],
  ): Gauge<L> =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset(); // a closed queue is gone, not frozen at its last value
        for (const [queue, probe] of probes) this.set(...value(queue, probe));
      },
    });
  const queueGauge = (name: string, help: string, value: (probe: QueueProbe) => number): Gauge<QueueLabel> =>
    liveGauge(name, help, ['name', 'controller'], (queue, probe) => [{ name: queue, controller: queue }, value(probe)]);
  const controllerGauge = (name: string, help: string, value: (probe: QueueProbe) => number): Gauge<'controller'> =>
    liveGauge(name, help, ['controller'], (queue, probe) => [{ controller: queue }, value(probe)]);

  queueGauge('workqueue_depth', 'Current depth of workqueue: keys ready to be processed', (p) => p.depth());
  queueGauge(
    'workqueue_unfinished_work_seconds',
    'How many seconds of work has been done that is in progress and has not been observed by work_duration. ' +
      'Large values indicate stuck workers.',
    (p) => p.runningSeconds().reduce((sum, s) => sum + s, 0),
  );
  queueGauge(
    'workqueue_longest_running_processor_seconds',
    'How many seconds the longest running processor of the workqueue has been running',
    (p) => Math.max(0, ...p.runningSeconds()),
  );
  controllerGauge(
    'controller_runtime_max_concurrent_reconciles',
    'Maximum number of concurrent reconciles per controller',
    (p) => p.concurrency(),
  );
  controllerGauge(
    'controller_runtime_active_workers',
    'Number of currently used workers per controller',
    (p) => p.runningSeconds().length,
  );
  const queueCounter = (name: string, help: string): Counter<QueueLabel> =>
    new Counter({ name, help, labelNames: ['name', 'controller'], registers });
  const queueHistogram = (name: string, help: string): Histogram<QueueLabel> =>
    new Histogram({ name, help, labelNames: ['name', 'controller'], buckets: QUEUE_BUCKETS, registers });
  const adds = queueCounter('workqueue_adds_total', 'Total number of adds handled by workqueue');
  const retries = queueCounter('workqueue_retries_total', 'Total number of retries handled by workqueue');
  const latency = queueHistogram(
    'workqueue_queue_duration_seconds',
    'How long in seconds an item stays in workqueue before being requested',
  );
  const work = queueHistogram(
    'workqueue_work_duration_seconds',
    'How long in seconds processing an item from workqueue takes',
  );
  const reconciles = new Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Total number of reconciliations per controller, by result (success, requeue_after, error)',
    labelNames: ['controller', 'result'],
    registers,
  });
  const controllerCounter = (name: string, help: string): Counter<'controller'> =>
    new Counter({ name, help, labelNames: ['controller'], registers });
  const errors = controllerCounter(
    'controller_runtime_reconcile_errors_total',
    'Total number of reconciliation errors per controller',
  );
  const terminal = controllerCounter(
    'controller_runtime_terminal_reconcile_errors_total',
    'Total number of terminal reconciliation errors per controller (dropped, not retried)',
  );
  const reconcileTime = new Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Length of time per reconciliation per controller',
    labelNames: ['controller'],
    buckets: RECONCILE_BUCKETS,
    registers,
  });

  return {
    forQueue(name, probe) {
      probes.set(name, probe);
      const labels = { name, controller: name };
      const controller = { controller: name };
      return {
        added: () => adds.inc(labels),
        started: (waited) => latency.observe(labels, waited),
        finished(seconds, result, isTerminal) {
          work.observe(labels, seconds);
          reconcileTime.observe(controller, seconds);
          reconciles.inc({ controller: name, result });
          if (result === 'error') errors.inc(controller);
          if (isTerminal) terminal.inc(controller);
        },
        retried: () => retries.inc(labels),
        close() {
          if (probes.get(name) === probe) probes.delete(name);
        },
      };
    },
  };
}
