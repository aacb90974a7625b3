// What the pods of one virtual node use, from the remote cluster's PodMetrics: each local pod
// bound to the node is looked up under its twin (remote namespace and name) and reported under
// its own local name, namespace and uid. Pods without metrics (yet) are left out; the node's
// usage is the sum over the pods reported.
import type { RemotePodTarget } from '../backend.ts';
import { CpuCounters, windowUsage } from './cpu-counters.ts';
import { bytes, nanoCores, parseDurationMs } from './quantity.ts';
import type { PodMetricsItem, RemotePodMetrics } from './remote-pod-metrics.ts';

/** A local pod as the collector reads it (a Pod object of the local apiserver). */
export interface LocalPod {
  metadata?: { name?: string; namespace?: string; uid?: string; creationTimestamp?: string };
  status?: {
    startTime?: string;
    containerStatuses?: Array<{ name: string; state?: Record<string, unknown> }>;
  };
}

export interface Usage {
  /** The remote's latest usage rate. */
  nanoCores: bigint;
  /** The integrated counter (cpu-counters.ts). */
  coreNanoSeconds: bigint;
  workingSetBytes: bigint;
}

export interface ContainerUsage extends Usage {
  name: string;
  startTime: string;
}

export interface PodUsage extends Usage {
  namespace: string;
  name: string;
  uid: string;
  startTime: string;
  containers: ContainerUsage[];
}

export interface NodeUsage {
  time: Date;
  node: Usage;
  pods: PodUsage[];
}

export interface UsageCollectorOptions {
  /** The local pods bound to the node. */
  listPods(): LocalPod[];
  /** Where a local pod runs remotely; undefined when it is not bound to this node. */
  resolvePod(namespace: string, name: string): Promise<RemotePodTarget | undefined>;
  remote: RemotePodMetrics;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

/** One measurement before integration: rate, the counter's first value, working set. */
interface Sample {
  nanoCores: bigint;
  firstPs: bigint;
  workingSetBytes: bigint;
}

interface BoundPod {
  pod: LocalPod;
  namespace: string;
  name: string;
  uid: string;
  /** Whose counters: the uid (a recreated pod starts afresh). */
  key: string;
  target: RemotePodTarget;
}

const NODE_KEY = 'node';

const twinKey = (namespace: string, name: string): string => `${namespace}/${name}`;

function sum(samples: Sample[]): Sample {
  const total: Sample = { nanoCores: 0n, firstPs: 0n, workingSetBytes: 0n };
  for (const s of samples) {
    total.nanoCores += s.nanoCores;
    total.firstPs += s.firstPs;
    total.workingSetBytes += s.workingSetBytes;
  }
  return total;
}

function containerSamples(item: PodMetricsItem): Array<{ name: string; sample: Sample }> {
  const windowMs = parseDurationMs(item.window ?? '') ?? 0;
  return (item.containers ?? []).map(({ name, usage }) => {
    const rate = nanoCores(usage?.cpu);
    return {
      name,
      sample: { nanoCores: rate, firstPs: windowUsage(rate, windowMs), workingSetBytes: bytes(usage?.memory) },
    };
  });
}

/** state.running.startedAt of a container status, when it is running. */
function startedAt(state: Record<string, unknown> | undefined): string | undefined {
  const running = state?.running as { startedAt?: unknown } | undefined;
  return typeof running?.startedAt === 'string' ? running.startedAt : undefined;
}

/** The pod's start time, and its running containers'; what is unknown starts with the pod. */
function startTimes(pod: LocalPod, fallback: string): { pod: string; containers: Map<string, string> } {
  const podStart = pod.status?.startTime ?? pod.metadata?.creationTimestamp ?? fallback;
  const containers = new Map<string, string>();
  for (const status of pod.status?.containerStatuses ?? []) {
    containers.set(status.name, startedAt(status.state) ?? podStart);
  }
  return { pod: podStart, containers };
}

export class UsageCollector {
  readonly #options: UsageCollectorOptions;
  readonly #now: () => number;
  readonly #counters = new CpuCounters();

  constructor(options: UsageCollectorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The node's usage now; undefined when the remote has no metrics API. */
  async collect(signal: AbortSignal): Promise<NodeUsage | undefined> {
    const bound = await this.#boundPods();
    const namespaces = [...new Set(bound.map((b) => b.target.namespace))];
    const items = await this.#options.remote.list(namespaces, signal);
    if (!items) return undefined;
    const at = this.#now();
    this.#counters.begin(at);
    const byTwin = new Map(items.map((item) => [twinKey(item.metadata.namespace, item.metadata.name), item]));
    const measured = bound.flatMap((b) => {
      const item = byTwin.get(twinKey(b.target.namespace, b.target.name));
      return item ? [this.#podUsage(b, item, new Date(at).toISOString())] : [];
    });
    const keys = new Set(bound.map((b) => b.key));
    this.#counters.retain((key) => key === NODE_KEY || keys.has(key.split('/')[0] ?? ''));
    const node = this.#usage(NODE_KEY, sum(measured.map((m) => m.sample)));
    const pods = measured
      .map((m) => m.usage)
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    return { time: new Date(at), node, pods };
  }

  async #boundPods(): Promise<BoundPod[]> {
    const bound = await Promise.all(
      this.#options.listPods().map(async (pod): Promise<BoundPod | undefined> => {
        const { namespace, name } = pod.metadata ?? {};
        if (!namespace || !name) return undefined;
        const target = await this.#options.resolvePod(namespace, name);
        const uid = pod.metadata?.uid ?? '';
        return target && { pod, namespace, name, uid, key: uid || `${namespace}:${name}`, target };
      }),
    );
    return bound.filter((b) => b !== undefined);
  }

  #podUsage(bound: BoundPod, item: PodMetricsItem, now: string): { usage: PodUsage; sample: Sample } {
    const starts = startTimes(bound.pod, now);
    const samples = containerSamples(item);
    const containers = samples.map(({ name, sample }) => ({
      name,
      startTime: starts.containers.get(name) ?? starts.pod,
      ...this.#usage(`${bound.key}/${name}`, sample),
    }));
    const sample = sum(samples.map((s) => s.sample));
    const { namespace, name, uid } = bound;
    const usage = { namespace, name, uid, startTime: starts.pod, containers, ...this.#usage(bound.key, sample) };
    return { usage, sample };
  }

  #usage(key: string, sample: Sample): Usage {
    const coreNanoSeconds = this.#counters.advance(key, sample.nanoCores, sample.firstPs);
    return { nanoCores: sample.nanoCores, coreNanoSeconds, workingSetBytes: sample.workingSetBytes };
  }
}
