// What /stats/summary and /metrics/resource answer when the backend has no numbers: valid
// documents without samples, so metrics-server and `kubectl get --raw` see an empty node
// rather than an error.

export function emptyStatsSummary(nodeName: string, startedAt: Date): unknown {
  return { node: { nodeName, startTime: startedAt.toISOString(), systemContainers: [] }, pods: [] };
}

const RESOURCE_METRICS: Array<[string, string, string]> = [
  ['container_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed by the container in core-seconds'],
  ['container_memory_working_set_bytes', 'gauge', 'Current working set of the container in bytes'],
  ['node_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed by the node in core-seconds'],
  ['node_memory_working_set_bytes', 'gauge', 'Current working set of the node in bytes'],
  ['pod_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed by the pod in core-seconds'],
  ['pod_memory_working_set_bytes', 'gauge', 'Current working set of the pod in bytes'],
];

/** The metric descriptions and scrape_error 0 (the kubelet's "nothing failed"). */
export function emptyResourceMetrics(): string {
  const described = RESOURCE_METRICS.map(
    ([name, type, help]) => `# HELP ${name} [STABLE] ${help}\n# TYPE ${name} ${type}\n`,
  );
  const scrapeError =
    '# HELP scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n' +
    '# TYPE scrape_error gauge\nscrape_error 0\n';
  return described.join('') + scrapeError;
}
