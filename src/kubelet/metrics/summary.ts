// The kubelet's Summary API (stats/v1alpha1, `/stats/summary`) for a virtual node: the node and
// its pods with CPU and memory only (what the remote's PodMetrics tells). Without numbers it is
// a valid document without pods, so `kubectl get --raw` and old metrics-servers see an empty node.
import type { NodeUsage, Usage } from './usage.ts';

export function emptyStatsSummary(nodeName: string, startedAt: Date): unknown {
  return { node: { nodeName, startTime: startedAt.toISOString(), systemContainers: [] }, pods: [] };
}

function cpuAndMemory(usage: Usage, time: string): Record<string, unknown> {
  return {
    cpu: {
      time,
      usageNanoCores: Number(usage.nanoCores),
      usageCoreNanoSeconds: Number(usage.coreNanoSeconds),
    },
    memory: { time, workingSetBytes: Number(usage.workingSetBytes) },
  };
}

export function renderStatsSummary(nodeName: string, startedAt: Date, usage: NodeUsage): unknown {
  const time = usage.time.toISOString();
  const pods = usage.pods.map((pod) => ({
    podRef: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
    startTime: pod.startTime,
    containers: pod.containers.map((c) => ({ name: c.name, startTime: c.startTime, ...cpuAndMemory(c, time) })),
    ...cpuAndMemory(pod, time),
  }));
  const node = {
    nodeName,
    startTime: startedAt.toISOString(),
    systemContainers: [],
    ...cpuAndMemory(usage.node, time),
  };
  return { node, pods };
}
