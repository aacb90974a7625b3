// `/stats/summary` and `/metrics/resource` of a virtual node, from the remote cluster's
// PodMetrics: collected on each scrape (usage.ts), rendered in either format. A remote without a
// metrics API gets the empty documents. Any other failure is a 500 for the Summary, and for the
// resource metrics what the kubelet does: the descriptions with scrape_error 1.
import type { KubeClient } from '../../kube/client.ts';
import type { KubeletBackend, RemotePodTarget } from '../backend.ts';
import { RemotePodMetrics } from './remote-pod-metrics.ts';
import { emptyResourceMetrics, renderResourceMetrics } from './resource-metrics.ts';
import { emptyStatsSummary, renderStatsSummary } from './summary.ts';
import { UsageCollector } from './usage.ts';
import type { LocalPod } from './usage.ts';

export interface RemoteStatsOptions {
  nodeName: string;
  /** The remote apiserver (needs get/list on pods in metrics.k8s.io in the twin namespaces). */
  client: Pick<KubeClient, 'request'>;
  /** The local pods bound to the node. */
  listPods(): LocalPod[];
  resolvePod(namespace: string, name: string): Promise<RemotePodTarget | undefined>;
  /** How long "the remote has no metrics API" (or that it has one) is believed; default 30 s. */
  discoveryTtlMs?: number;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** Failures the resource metrics only report as scrape_error 1. */
  onError?: (err: unknown, what: string) => void;
}

export type StatsEndpoints = Required<Pick<KubeletBackend, 'statsSummary' | 'metricsResource'>>;

export function remoteStats(options: RemoteStatsOptions): StatsEndpoints {
  const now = options.now ?? Date.now;
  const startedAt = new Date(now());
  const remote = new RemotePodMetrics({
    client: options.client,
    now,
    ...(options.discoveryTtlMs === undefined ? {} : { discoveryTtlMs: options.discoveryTtlMs }),
  });
  const collector = new UsageCollector({ listPods: options.listPods, resolvePod: options.resolvePod, remote, now });
  return {
    async statsSummary(signal) {
      const usage = await collector.collect(signal);
      return usage
        ? renderStatsSummary(options.nodeName, startedAt, usage)
        : emptyStatsSummary(options.nodeName, startedAt);
    },
    async metricsResource(signal) {
      try {
        const usage = await collector.collect(signal);
        return usage ? renderResourceMetrics(usage) : emptyResourceMetrics();
      } catch (err) {
        if (!signal.aborted) options.onError?.(err, 'GET /metrics/resource');
        return emptyResourceMetrics(true);
      }
    },
  };
}
