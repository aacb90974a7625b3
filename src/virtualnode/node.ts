// Pure construction of the virtual Node and its Lease: one virtual node per remote cluster.
//
// - Labels: the virtual-node convention label (Liqo's `liqo.io/type=virtual-node` by default),
//   `kube-offload.io/remote-cluster=<remote>`, `kubernetes.io/hostname`, `type=virtual-kubelet`
//   (Liqo's; not the label KWOK selects its fake nodes by), and the remote cluster's topology
//   labels: each key of REMOTE_DERIVED_LABELS whose value all counted remote nodes share.
// - Taint: the convention's (`virtual-node.liqo.io/not-allowed=true:NoExecute`).
// - Capacity / allocatable: the sums over the remote nodes that are Ready, schedulable and not
//   themselves virtual nodes.
// - Conditions: Ready True while the remote apiserver answers, False (RemoteClusterUnreachable)
//   when it does not; the kubelet's pressure conditions are always False.
// - Address: only an InternalIP (the provider's pod IP in-cluster, 127.0.0.1 otherwise; see the
//   --node-ip flag), and daemonEndpoints.kubeletEndpoint.Port, the kubelet API's bound port:
//   the apiserver dials the first address of its preferred types, and a Hostname (the node
//   name) would come first and resolve nowhere. The InternalIP is also every pod's hostIP.
//
// Update functions merge into the live object rather than replace it: taints and labels that
// other controllers add (the node lifecycle controller's not-ready taints, users' labels) are kept.
import type { VirtualNodeConvention } from '../../webhooks/keys.ts';
import { REMOTE_CLUSTER_LABEL } from '../../webhooks/keys.ts';
import { jsonEqual } from '../../webhooks/json.ts';
import { sumResources } from './quantity.ts';
import type { Condition, Lease, Node, NodeStatus, Taint } from './types.ts';

export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
/** Liqo's virtual nodes carry it too; KWOK selects its fake nodes by a different label. */
export const TYPE_LABEL = 'type';
export const TYPE_LABEL_VALUE = 'virtual-kubelet';

/** Remote node labels copied onto the virtual node when every counted remote node agrees. */
export const REMOTE_DERIVED_LABELS = [
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'node.kubernetes.io/instance-type',
] as const;

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const DEFAULT_LEASE_DURATION_SECONDS = 40;

export interface VirtualNodeConfig {
  nodeName: string;
  remoteCluster: string;
  /** InternalIP of the node and hostIP of its pods. */
  nodeIP: string;
  /** Where the kubelet API listens (published as daemonEndpoints); 0 or absent: none. */
  kubeletPort?: number;
  convention: VirtualNodeConvention;
  /** Extra labels (--label); they win over derived ones. */
  extraLabels?: Record<string, string>;
  /** Shown as the container runtime version. */
  providerVersion?: string;
}

/** What the remote cluster offers, computed from its nodes. */
export interface RemoteSummary {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  /** Labels derived from the remote nodes (REMOTE_DERIVED_LABELS with a unanimous value). */
  derivedLabels: Record<string, string>;
  /** How many remote nodes were counted. */
  nodes: number;
  /** The remote apiserver's gitVersion, shown as the kubelet version. */
  version?: string;
}

export const EMPTY_SUMMARY: RemoteSummary = { capacity: {}, allocatable: {}, derivedLabels: {}, nodes: 0 };

export function conditionOf(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isNodeReady(node: Node): boolean {
  return conditionOf(node.status?.conditions, 'Ready')?.status === 'True';
}

/** Remote nodes that lend capacity: Ready, schedulable, and not a virtual node themselves. */
export function countedRemoteNodes(nodes: Node[], convention: VirtualNodeConvention): Node[] {
  return nodes.filter(
    (node) =>
      isNodeReady(node) &&
      !node.spec?.unschedulable &&
      node.metadata?.labels?.[convention.labelKey] !== convention.labelValue &&
      node.metadata?.labels?.[REMOTE_CLUSTER_LABEL] === undefined,
  );
}

export function summarizeRemote(nodes: Node[], convention: VirtualNodeConvention, version?: string): RemoteSummary {
  const counted = countedRemoteNodes(nodes, convention);
  const derivedLabels: Record<string, string> = {};
  if (counted.length > 0) {
    for (const key of REMOTE_DERIVED_LABELS) {
      const values = new Set(counted.map((n) => n.metadata?.labels?.[key]));
      const [only] = values;
      if (values.size === 1 && only !== undefined) derivedLabels[key] = only;
    }
  }
  return {
    capacity: sumResources(counted.map((n) => n.status?.capacity)),
    allocatable: sumResources(counted.map((n) => n.status?.allocatable ?? n.status?.capacity)),
    derivedLabels,
    nodes: counted.length,
    ...(version ? { version } : {}),
  };
}

/** The labels the provider owns on the virtual node. */
export function virtualNodeLabels(cfg: VirtualNodeConfig, summary: RemoteSummary): Record<string, string> {
  return {
    ...summary.derivedLabels,
    [HOSTNAME_LABEL]: cfg.nodeName,
    [TYPE_LABEL]: TYPE_LABEL_VALUE,
    ...(cfg.extraLabels ?? {}),
    [cfg.convention.labelKey]: cfg.convention.labelValue,
    [REMOTE_CLUSTER_LABEL]: cfg.remoteCluster,
  };
}

/**
 * Label keys of the virtual node that remote nodes do not carry: expressions on them are what
 * steered a pod here and are meaningless (or unsatisfiable) remotely.
 */
export function virtualOnlyLabelKeys(cfg: VirtualNodeConfig, summary: RemoteSummary): Set<string> {
  const keys = new Set(Object.keys(virtualNodeLabels(cfg, summary)));
  for (const key of Object.keys(summary.derivedLabels)) if (!(key in (cfg.extraLabels ?? {}))) keys.delete(key);
  keys.add(cfg.convention.labelKey);
  keys.add(REMOTE_CLUSTER_LABEL);
  keys.add(HOSTNAME_LABEL);
  return keys;
}

export function virtualNodeTaint(convention: VirtualNodeConvention): Taint {
  return { key: convention.taintKey, value: convention.taintValue, effect: convention.taintEffect };
}

/**
 * Builds conditions observed at `now`; each keeps its lastTransitionTime from `previous` while
 * its status stays the same.
 */
function conditionsAt(now: string, previous: Condition[] | undefined) {
  return (type: string, status: string, reason: string, message: string): Condition => {
    const prev = conditionOf(previous, type);
    const lastTransitionTime =
      prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
    return { type, status, lastHeartbeatTime: now, lastTransitionTime, reason, message };
  };
}

export interface Reachability {
  reachable: boolean;
  /** Why the remote is unreachable (the last error). */
  error?: string;
}

/** The node status the provider reports; condition transition times carry over from `previous`. */
export function desiredNodeStatus(
  cfg: VirtualNodeConfig,
  summary: RemoteSummary,
  reach: Reachability,
  now: string,
  previous?: NodeStatus,
): NodeStatus {
  const condition = conditionsAt(now, previous?.conditions);
  const remote = `remote cluster ${cfg.remoteCluster}`;
  const ready = reach.reachable
    ? condition('Ready', 'True', 'KubeletReady', `${remote} is reachable (${summary.nodes} ready nodes)`)
    : condition(
        'Ready',
        'False',
        'RemoteClusterUnreachable',
        `${remote} is unreachable${reach.error ? `: ${reach.error}` : ''}`,
      );
  return {
    capacity: { ...summary.capacity },
    allocatable: { ...summary.allocatable },
    conditions: [
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'virtual node'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'virtual node'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'virtual node'),
      ready,
    ],
    addresses: [{ type: 'InternalIP', address: cfg.nodeIP }],
    daemonEndpoints: { kubeletEndpoint: { Port: cfg.kubeletPort ?? 0 } },
    nodeInfo: {
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: '',
      osImage: `kube-offload virtual node for ${cfg.remoteCluster}`,
      containerRuntimeVersion: `kube-offload://${cfg.providerVersion ?? '0.1.0'}`,
      kubeletVersion: summary.version ?? 'v0.0.0-kube-offload',
      operatingSystem: summary.derivedLabels['kubernetes.io/os'] ?? 'linux',
      architecture: summary.derivedLabels['kubernetes.io/arch'] ?? 'amd64',
    },
  };
}

/** The Node object to register (POST /api/v1/nodes), status included, as a kubelet does. */
export function buildVirtualNode(
  cfg: VirtualNodeConfig,
  summary: RemoteSummary,
  reach: Reachability,
  now: string,
): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: cfg.nodeName,
      labels: virtualNodeLabels(cfg, summary),
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: { taints: [virtualNodeTaint(cfg.convention)] },
    status: desiredNodeStatus(cfg, summary, reach, now),
  };
}

/**
 * The live node with our labels and taint merged in, or undefined when it already agrees.
 * Derived topology labels that are no longer unanimous are removed; everything else that others
 * put on the node stays.
 */
export function mergeNodeMetadata(current: Node, cfg: VirtualNodeConfig, summary: RemoteSummary): Node | undefined {
  const ours = virtualNodeLabels(cfg, summary);
  const labels: Record<string, string> = { ...(current.metadata?.labels ?? {}) };
  for (const key of REMOTE_DERIVED_LABELS) if (!(key in ours)) delete labels[key];
  Object.assign(labels, ours);
  const taint = virtualNodeTaint(cfg.convention);
  const taints = [...(current.spec?.taints ?? [])];
  const index = taints.findIndex((t) => t.key === taint.key && t.effect === taint.effect);
  if (index < 0) taints.push(taint);
  else if ((taints[index]?.value ?? '') !== (taint.value ?? '')) taints[index] = { ...taints[index], ...taint };
  if (jsonEqual(labels, current.metadata?.labels ?? {}) && jsonEqual(taints, current.spec?.taints ?? []))
    return undefined;
  return { ...current, metadata: { ...current.metadata, labels }, spec: { ...current.spec, taints } };
}

/**
 * The status to PUT (the live status with our fields and conditions; conditions of other types,
 * e.g. a CNI's NetworkUnavailable, are kept), or undefined when the live one agrees and its
 * heartbeat is younger than `heartbeatMs` (the Lease is the frequent heartbeat; the status only
 * needs writing on change and now and then).
 */
export function nodeStatusUpdate(
  current: Node,
  desired: NodeStatus,
  nowMs: number,
  heartbeatMs: number,
): NodeStatus | undefined {
  const live = current.status ?? {};
  const strip = (conds: Condition[] | undefined): unknown =>
    (conds ?? []).map(({ lastHeartbeatTime: _h, ...rest }) => rest);
  const ours = new Set((desired.conditions ?? []).map((c) => c.type));
  const liveOurs = (desired.conditions ?? [])
    .map((d) => conditionOf(live.conditions, d.type))
    .filter((c): c is Condition => c !== undefined);
  const same =
    jsonEqual(live.capacity ?? {}, desired.capacity ?? {}) &&
    jsonEqual(live.allocatable ?? {}, desired.allocatable ?? {}) &&
    jsonEqual(live.addresses ?? [], desired.addresses ?? []) &&
    // A restarted provider on an ephemeral kubelet port must publish the new one at once.
    jsonEqual(live.daemonEndpoints ?? {}, desired.daemonEndpoints ?? {}) &&
    // Compared on our keys only: the apiserver fills in fields we leave out (kubeProxyVersion).
    Object.entries(desired.nodeInfo ?? {}).every(([key, value]) => live.nodeInfo?.[key] === value) &&
    jsonEqual(strip(liveOurs), strip(desired.conditions));
  const beat = conditionOf(live.conditions, 'Ready')?.lastHeartbeatTime;
  const fresh = beat ? nowMs - Date.parse(beat) < heartbeatMs : false;
  if (same && fresh) return undefined;
  return {
    ...live,
    ...desired,
    conditions: [...(live.conditions ?? []).filter((c) => !ours.has(c.type)), ...(desired.conditions ?? [])],
  };
}

/** RFC 3339 in whole seconds, the format of Time fields (condition times, timestamps). */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with microseconds, the MicroTime format of Lease times. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The node Lease (kube-node-lease/<node>), owned by the Node as the kubelet's is. */
export function buildNodeLease(
  nodeName: string,
  nodeUid: string | undefined,
  nowMs: number,
  durationSeconds = DEFAULT_LEASE_DURATION_SECONDS,
): Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: nodeName,
      namespace: NODE_LEASE_NAMESPACE,
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] } : {}),
    },
    spec: { holderIdentity: nodeName, leaseDurationSeconds: durationSeconds, renewTime: microTime(nowMs) },
  };
}

/** The live lease renewed now (ownership fixed if the node was re-created). */
export function renewNodeLease(
  current: Lease,
  nodeName: string,
  nodeUid: string | undefined,
  nowMs: number,
  durationSeconds = DEFAULT_LEASE_DURATION_SECONDS,
): Lease {
  const fresh = buildNodeLease(nodeName, nodeUid, nowMs, durationSeconds);
  return {
    ...current,
    metadata: {
      ...current.metadata,
      ...(fresh.metadata?.ownerReferences ? { ownerReferences: fresh.metadata.ownerReferences } : {}),
    },
    spec: { ...current.spec, ...fresh.spec },
  };
}
