// Prometheus metrics of the virtual node provider (prom-client), on a registry of its own: its
// own under kube_offload_virtual_node_, its pod queues' under controller-runtime's names
// (workqueue_*, controller_runtime_reconcile_*, see src/kube/workqueue-metrics.ts), and
// prom-client's process and Node.js metrics unprefixed (process_*, nodejs_*), as stock Node.js
// dashboards expect; the scrape's job and pod labels tell the components apart.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { statusCodeOf } from '../kube/client.ts';
import { createWorkQueueMetrics } from '../kube/workqueue-metrics.ts';
import type { WorkQueueMetrics } from '../kube/workqueue-metrics.ts';

export interface ProviderMetrics {
  registry: Registry;
  /** Local pods bound to the virtual node, per remote. */
  pods: Gauge<'remote'>;
  /** 1 while the remote apiserver answers. */
  remoteReachable: Gauge<'remote'>;
  /** API writes, by side (local/remote), verb and result (ok or the HTTP status / "network"). */
  writes: Counter<'remote' | 'side' | 'verb' | 'result'>;
  /** Duration of one pod reconcile. */
  reconcileDuration: Histogram<'remote' | 'result'>;
  /** For the pod queue of each remote ("virtual-node-REMOTE"). */
  workqueues: WorkQueueMetrics;
  /** Time from the remote pod's change being observed to the local status write completing. */
  mirrorLatency: Histogram<'remote'>;
  /** Pods waiting for ConfigMaps/Secrets to appear in the twin namespace. */
  waitingForReferences: Gauge<'remote'>;
}

export function createProviderMetrics(
  options: { registry?: Registry; processMetrics?: boolean } = {},
): ProviderMetrics {
  const registry = options.registry ?? new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    pods: new Gauge({
      name: 'kube_offload_virtual_node_pods',
      help: 'Local pods bound to the virtual node',
      labelNames: ['remote'],
      registers,
    }),
    remoteReachable: new Gauge({
      name: 'kube_offload_virtual_node_remote_reachable',
      help: '1 while the remote apiserver answers',
      labelNames: ['remote'],
      registers,
    }),
    writes: new Counter({
      name: 'kube_offload_virtual_node_writes_total',
      help: 'API writes of the provider by side, verb and result',
      labelNames: ['remote', 'side', 'verb', 'result'],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'kube_offload_virtual_node_reconcile_duration_seconds',
      help: 'Duration of one pod reconcile',
      labelNames: ['remote', 'result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    workqueues: createWorkQueueMetrics(registry),
    mirrorLatency: new Histogram({
      name: 'kube_offload_virtual_node_status_mirror_seconds',
      help: 'From observing a remote pod change to the local pod status written',
      labelNames: ['remote'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    waitingForReferences: new Gauge({
      name: 'kube_offload_virtual_node_pods_waiting_for_references',
      help: 'Pods whose ConfigMaps/Secrets are not yet in the twin namespace',
      labelNames: ['remote'],
      registers,
    }),
  };
}

export type Side = 'local' | 'remote';

/** Counts the provider's API writes by side, verb and result (writes_total). */
export class WriteCounter {
  readonly #metrics: ProviderMetrics | undefined;
  readonly #remote: string;

  constructor(metrics: ProviderMetrics | undefined, remoteCluster: string) {
    this.#metrics = metrics;
    this.#remote = remoteCluster;
  }

  count(side: Side, verb: string, result: string): void {
    this.#metrics?.writes.inc({ remote: this.#remote, side, verb, result });
  }

  /** Runs `write` and counts it: ok, or the HTTP status of its failure ("network" without one). */
  async call<T>(side: Side, verb: string, write: () => Promise<T>): Promise<T> {
    try {
      const out = await write();
      this.count(side, verb, 'ok');
      return out;
    } catch (err) {
      this.count(side, verb, String(statusCodeOf(err) ?? 'network'));
      throw err;
    }
  }
}
