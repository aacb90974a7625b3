// `/metrics/resource` in the Prometheus text format, as the kubelet writes it and metrics-server
// reads it: node, pod and container CPU counters and working sets, each sample with its
// timestamp (milliseconds). Without numbers: only the descriptions, and scrape_error.
import type { NodeUsage } from './usage.ts';

type MetricName =
  | 'container_cpu_usage_seconds_total'
  | 'container_memory_working_set_bytes'
  | 'node_cpu_usage_seconds_total'
  | 'node_memory_working_set_bytes'
  | 'pod_cpu_usage_seconds_total'
  | 'pod_memory_working_set_bytes';

const RESOURCE_METRICS: Array<[MetricName, string, string]> = [
  ['container_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed by the container in core-seconds'],
  ['container_memory_working_set_bytes', 'gauge', 'Current working set of the container in bytes'],
  ['node_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed by the node in core-seconds'],
  ['node_memory_working_set_bytes', 'gauge', 'Current working set of the node in bytes'],
  ['pod_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed by the pod in core-seconds'],
  ['pod_memory_working_set_bytes', 'gauge', 'Current working set of the pod in bytes'],
];

const NANO = 1_000_000_000n;

/** Core-nanoseconds as exact decimal seconds. */
function seconds(nanoseconds: bigint): string {
  return `${nanoseconds / NANO}.${(nanoseconds % NANO).toString().padStart(9, '0')}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Labels in name order, as the kubelet writes them. */
function labels(pairs: Record<string, string>): string {
  const sorted = Object.keys(pairs).sort();
  return sorted.length ? `{${sorted.map((k) => `${k}="${escapeLabel(pairs[k] ?? '')}"`).join(',')}}` : '';
}

function scrapeError(failed: boolean): string {
  return (
    '# HELP scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n' +
    `# TYPE scrape_error gauge\nscrape_error ${failed ? 1 : 0}\n`
  );
}

function render(samples: Map<MetricName, string[]>, failed: boolean): string {
  const families = RESOURCE_METRICS.map(
    ([name, type, help]) =>
      `# HELP ${name} [STABLE] ${help}\n# TYPE ${name} ${type}\n` + (samples.get(name) ?? []).join(''),
  );
  return families.join('') + scrapeError(failed);
}

/** The descriptions and scrape_error: 0 when there are simply no numbers, 1 when getting them failed. */
export function emptyResourceMetrics(failed = false): string {
  return render(new Map(), failed);
}

function samplesOf(usage: NodeUsage): Map<MetricName, string[]> {
  const ts = usage.time.getTime();
  const samples = new Map<MetricName, string[]>(RESOURCE_METRICS.map(([name]) => [name, []]));
  const add = (name: MetricName, pairs: Record<string, string>, value: string): void => {
    samples.get(name)?.push(`${name}${labels(pairs)} ${value} ${ts}\n`);
  };
  add('node_cpu_usage_seconds_total', {}, seconds(usage.node.coreNanoSeconds));
  add('node_memory_working_set_bytes', {}, usage.node.workingSetBytes.toString());
  for (const pod of usage.pods) {
    const podLabels = { namespace: pod.namespace, pod: pod.name };
    add('pod_cpu_usage_seconds_total', podLabels, seconds(pod.coreNanoSeconds));
    add('pod_memory_working_set_bytes', podLabels, pod.workingSetBytes.toString());
    for (const c of pod.containers) {
      const containerLabels = { ...podLabels, container: c.name };
      add('container_cpu_usage_seconds_total', containerLabels, seconds(c.coreNanoSeconds));
      add('container_memory_working_set_bytes', containerLabels, c.workingSetBytes.toString());
    }
  }
  return samples;
}

export function renderResourceMetrics(usage: NodeUsage): string {
  return render(samplesOf(usage), false);
}
