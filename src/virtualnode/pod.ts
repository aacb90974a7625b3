// Pure core of the virtual kubelet: what the remote pod looks like, what must exist before it
// can be created, how its status is mirrored back, and what to do for one local pod given both
// caches. No I/O here; src/virtualnode/provider.ts executes the plans.
//
// Service-account tokens (documented choice): the remote pod gets
// `automountServiceAccountToken: false`, no serviceAccountName (so the twin namespace's
// `default`), and loses the admission-injected projected volume `kube-api-access-*` and its
// mounts. A token of the local service account would not authenticate to the remote apiserver,
// and a remote token would not authenticate to the local one, so mounting either would only
// mislead the workload; without the volume the remote admission has nothing to reject and the
// pod starts. Workloads that call the Kubernetes API are not a fit for offloading (use placement
// `Local`), as with Liqo.
import type {
  V1NodeSelector,
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1PreferredSchedulingTerm,
  V1Volume,
} from '@kubernetes/client-node';
import type { VirtualNodeConvention } from '../../webhooks/keys.ts';
import { ORIGIN_ANNOTATION, ORIGIN_UID_ANNOTATION } from '../../webhooks/keys.ts';
import { originOf, ownershipMarks, parseOrigin } from '../common/ownership.ts';
import { deepClone, jsonEqual } from '../../webhooks/json.ts';
import type { Condition, ContainerStatus, Pod, PodSpec, PodStatus } from './types.ts';

/** Annotations that describe how the local object was written, not the pod; not copied. */
const DROPPED_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration'];
/** The projected token volume the ServiceAccount admission plugin injects. */
const KUBE_API_ACCESS_PREFIX = 'kube-api-access-';
/** Every namespace has its own; never replicated, never waited for. */
const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
/**
 * Pod conditions the kubelet owns; mirrored from the remote pod. Others (PodScheduled, readiness
 * gates, DisruptionTarget) stay local.
 */
export const MIRRORED_CONDITIONS: ReadonlySet<string> = new Set([
  'PodReadyToStartContainers',
  'Initialized',
  'ContainersReady',
  'Ready',
]);
/** Status fields copied from the remote pod as they are. */
const MIRRORED_FIELDS = [
  'phase',
  'reason',
  'message',
  'podIP',
  'podIPs',
  'startTime',
  'containerStatuses',
  'initContainerStatuses',
] as const;

export const REASON_REMOTE_POD_LOST = 'RemotePodLost';

export interface RemotePodContext {
  localCluster: string;
  remoteCluster: string;
  /** The twin namespace of the local pod's namespace in the remote cluster. */
  twinNamespace: string;
  convention: VirtualNodeConvention;
  /** The virtual node: its name and labels decide which affinity terms steered the pod here. */
  nodeName: string;
  nodeLabels: Record<string, string>;
  /** Label keys only the virtual node has (see virtualOnlyLabelKeys in node.ts). */
  virtualOnlyKeys: ReadonlySet<string>;
}

// ---------------------------------------------------------------------------------------------
// Node selector evaluation (the scheduler's semantics, for one node)

function requirementMatches(req: V1NodeSelectorRequirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || values.length !== 1 || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(values[0] ?? ''))
        return false;
      const a = BigInt(value);
      const b = BigInt(values[0] ?? '0');
      return req.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** Whether a node selector term selects the node (an empty term selects nothing). */
export function termMatches(term: V1NodeSelectorTerm, labels: Record<string, string>, nodeName: string): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  return (
    exprs.every((r) => requirementMatches(r, labels[r.key])) &&
    fields.every((r) => requirementMatches(r, r.key === 'metadata.name' ? nodeName : undefined))
  );
}

// ---------------------------------------------------------------------------------------------
// Remote pod

function mentionsVirtualNode(term: V1NodeSelectorTerm, ctx: RemotePodContext): boolean {
  return (
    (term.matchExpressions ?? []).some((r) => ctx.virtualOnlyKeys.has(r.key)) ||
    (term.matchFields ?? []).some((r) => r.key === 'metadata.name')
  );
}

/** The term without the requirements that concern the virtual node (its own labels, node names). */
function stripTerm(term: V1NodeSelectorTerm, ctx: RemotePodContext): V1NodeSelectorTerm {
  const out: V1NodeSelectorTerm = {};
  const exprs = (term.matchExpressions ?? []).filter((r) => !ctx.virtualOnlyKeys.has(r.key));
  const fields = (term.matchFields ?? []).filter((r) => r.key !== 'metadata.name');
  if (exprs.length) out.matchExpressions = exprs;
  if (fields.length) out.matchFields = fields;
  return out;
}

const isEmptyTerm = (t: V1NodeSelectorTerm): boolean => !t.matchExpressions?.length && !t.matchFields?.length;

/**
 * Required node affinity for the remote cluster. Terms are ORed; the ones that brought the pod to
 * the virtual node (they match it) lose their virtual-node requirements, terms that do not match
 * it and mention virtual-node keys (e.g. the "not a virtual node" branch of LocalAndRemote) are
 * dropped, and the user's own terms that never mention the virtual node stay as they are. If a
 * matching term is left empty the pod is unconstrained remotely (undefined).
 */
export function remoteRequiredAffinity(
  selector: V1NodeSelector | undefined,
  ctx: RemotePodContext,
): V1NodeSelector | undefined {
  if (!selector) return undefined;
  const terms: V1NodeSelectorTerm[] = [];
  for (const term of selector.nodeSelectorTerms ?? []) {
    if (termMatches(term, ctx.nodeLabels, ctx.nodeName)) {
      const stripped = stripTerm(term, ctx);
      if (isEmptyTerm(stripped)) return undefined;
      terms.push(stripped);
    } else if (!mentionsVirtualNode(term, ctx)) {
      terms.push(term);
    }
  }
  return terms.length ? { nodeSelectorTerms: terms } : undefined;
}

/** Preferred terms without virtual-node requirements; terms left empty are dropped. */
export function remotePreferredAffinity(
  terms: V1PreferredSchedulingTerm[] | undefined,
  ctx: RemotePodContext,
): V1PreferredSchedulingTerm[] | undefined {
  const out = (terms ?? [])
    .map((t) => ({ ...t, preference: stripTerm(t.preference ?? {}, ctx) }))
    .filter((t) => !isEmptyTerm(t.preference));
  return out.length ? out : undefined;
}

function isKubeApiAccessVolume(v: V1Volume): boolean {
  return v.name.startsWith(KUBE_API_ACCESS_PREFIX) && !!v.projected?.sources?.some((s) => s.serviceAccountToken);
}

/** The pod spec for the remote cluster (see the file comment for what changes and why). */
export function remotePodSpec(spec: PodSpec, ctx: RemotePodContext): PodSpec {
  const out = deepClone(spec);
  // Scheduling happens again remotely.
  delete out.nodeName;
  delete out.schedulerName; // the remote default scheduler; a local custom one need not exist there
  // Priority: the remote cluster's classes are unknown, and a preset `priority` is rejected.
  delete out.priority;
  delete out.priorityClassName;
  delete out.preemptionPolicy;
  // Set by admission from the RuntimeClass; a preset value is rejected.
  delete out.overhead;
  // Ephemeral containers cannot be set at creation; readiness gates are set by local controllers.
  delete out.ephemeralContainers;
  delete out.readinessGates;

  // The virtual-node toleration (every toleration of the taint key); the user's others stay.
  const tolerations = (out.tolerations ?? []).filter((t) => t.key !== ctx.convention.taintKey);
  if (tolerations.length) out.tolerations = tolerations;
  else delete out.tolerations;

  if (out.nodeSelector) {
    for (const key of Object.keys(out.nodeSelector)) if (ctx.virtualOnlyKeys.has(key)) delete out.nodeSelector[key];
    if (Object.keys(out.nodeSelector).length === 0) delete out.nodeSelector;
  }

  const na = out.affinity?.nodeAffinity;
  if (out.affinity && na) {
    const required = remoteRequiredAffinity(na.requiredDuringSchedulingIgnoredDuringExecution, ctx);
    const preferred = remotePreferredAffinity(na.preferredDuringSchedulingIgnoredDuringExecution, ctx);
    if (required) na.requiredDuringSchedulingIgnoredDuringExecution = required;
    else delete na.requiredDuringSchedulingIgnoredDuringExecution;
    if (preferred) na.preferredDuringSchedulingIgnoredDuringExecution = preferred;
    else delete na.preferredDuringSchedulingIgnoredDuringExecution;
    if (Object.keys(na).length === 0) delete out.affinity.nodeAffinity;
    if (Object.keys(out.affinity).length === 0) delete out.affinity;
  }

  // Service account: no token, the twin namespace's default account.
  out.automountServiceAccountToken = false;
  delete out.serviceAccountName;
  delete out.serviceAccount;
  const dropped = new Set((out.volumes ?? []).filter(isKubeApiAccessVolume).map((v) => v.name));
  if (dropped.size) {
    out.volumes = (out.volumes ?? []).filter((v) => !dropped.has(v.name));
    if (out.volumes.length === 0) delete out.volumes;
    for (const container of [...out.containers, ...(out.initContainers ?? [])]) {
      if (!container.volumeMounts) continue;
      container.volumeMounts = container.volumeMounts.filter((mount) => !dropped.has(mount.name));
      if (container.volumeMounts.length === 0) delete container.volumeMounts;
    }
  }
  return out;
}

/** Labels of the remote pod: the local pod's (so twin Services select it) plus ownership marks. */
export function remotePodLabels(local: Pod, localCluster: string): Record<string, string> {
  return { ...(local.metadata?.labels ?? {}), ...ownershipMarks(localCluster, '', undefined).labels };
}

/** "namespace/name" of the local pod a remote pod stands for, from its origin annotation. */
export function localKeyOfRemote(remote: Pod, localCluster: string): string | undefined {
  const origin = parseOrigin(remote.metadata?.annotations?.[ORIGIN_ANNOTATION]);
  if (!origin || origin.cluster !== localCluster || !origin.namespace) return undefined;
  return `${origin.namespace}/${origin.name}`;
}

/** The pod to create in the twin namespace: same name and labels, ownership marks, adapted spec. */
export function remotePodFor(local: Pod, ctx: RemotePodContext): Pod {
  const meta = local.metadata ?? {};
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta.annotations ?? {})) {
    if (!DROPPED_ANNOTATIONS.includes(key)) annotations[key] = value;
  }
  Object.assign(
    annotations,
    ownershipMarks(ctx.localCluster, originOf(ctx.localCluster, meta.namespace, meta.name ?? ''), meta.uid).annotations,
  );
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: meta.name ?? '',
      namespace: ctx.twinNamespace,
      labels: remotePodLabels(local, ctx.localCluster),
      annotations,
    },
    spec: remotePodSpec(local.spec ?? { containers: [] }, ctx),
  };
}

// ---------------------------------------------------------------------------------------------
// References that must exist in the twin namespace before the remote pod is created

export interface References {
  configMaps: string[];
  secrets: string[];
}

interface ReferenceSets {
  configMaps: Set<string>;
  secrets: Set<string>;
}

/** Adds a reference unless it is optional (the pod starts without it). */
function need(set: Set<string>, name: string | undefined, optional: boolean | undefined): void {
  if (name && !optional) set.add(name);
}

function containerReferences(container: PodSpec['containers'][number], refs: ReferenceSets): void {
  for (const env of container.env ?? []) {
    const configMap = env.valueFrom?.configMapKeyRef;
    need(refs.configMaps, configMap?.name, configMap?.optional);
    const secret = env.valueFrom?.secretKeyRef;
    need(refs.secrets, secret?.name, secret?.optional);
  }
  for (const source of container.envFrom ?? []) {
    need(refs.configMaps, source.configMapRef?.name, source.configMapRef?.optional);
    need(refs.secrets, source.secretRef?.name, source.secretRef?.optional);
  }
}

function volumeReferences(volume: V1Volume, refs: ReferenceSets): void {
  need(refs.configMaps, volume.configMap?.name, volume.configMap?.optional);
  need(refs.secrets, volume.secret?.secretName, volume.secret?.optional);
  for (const source of volume.projected?.sources ?? []) {
    need(refs.configMaps, source.configMap?.name, source.configMap?.optional);
    need(refs.secrets, source.secret?.name, source.secret?.optional);
  }
}

/** ConfigMaps and Secrets the pod cannot start without (optional references excluded). */
export function requiredReferences(spec: PodSpec): References {
  const refs: ReferenceSets = { configMaps: new Set(), secrets: new Set() };
  for (const container of [...(spec.initContainers ?? []), ...spec.containers]) containerReferences(container, refs);
  for (const volume of spec.volumes ?? []) volumeReferences(volume, refs);
  for (const secret of spec.imagePullSecrets ?? []) if (secret.name) refs.secrets.add(secret.name);
  refs.configMaps.delete(ROOT_CA_CONFIGMAP);
  return { configMaps: [...refs.configMaps].sort(), secrets: [...refs.secrets].sort() };
}

/** The references not satisfied by `exists`, as "configmap/name" / "secret/name". */
export function missingReferences(
  refs: References,
  exists: (kind: 'configmap' | 'secret', name: string) => boolean,
): string[] {
  return [
    ...refs.configMaps.filter((n) => !exists('configmap', n)).map((n) => `configmap/${n}`),
    ...refs.secrets.filter((n) => !exists('secret', n)).map((n) => `secret/${n}`),
  ];
}

// ---------------------------------------------------------------------------------------------
// Status mirroring

const TERMINAL = new Set(['Succeeded', 'Failed']);
export const isTerminal = (pod: Pod | undefined): boolean => TERMINAL.has(pod?.status?.phase ?? '');
export const isTerminating = (pod: Pod | undefined): boolean => !!pod?.metadata?.deletionTimestamp;

function conditionsByType(conds: Condition[] | undefined): Record<string, Condition> {
  const out: Record<string, Condition> = {};
  for (const condition of conds ?? []) out[condition.type] = condition;
  return out;
}

/** Local conditions we do not own, followed by the remote pod's kubelet conditions. */
export function mergedConditions(local: Condition[] | undefined, remote: Condition[] | undefined): Condition[] {
  return [
    ...(local ?? []).filter((c) => !MIRRORED_CONDITIONS.has(c.type)),
    ...(remote ?? []).filter((c) => MIRRORED_CONDITIONS.has(c.type)),
  ];
}

/**
 * The status the local pod should show for this remote pod: the remote phase, reason, message,
 * kubelet conditions, pod IPs, start time and container statuses; hostIP is the virtual node's.
 */
export function mirroredStatus(local: Pod, remote: Pod, hostIP: string): PodStatus {
  const remoteStatus = remote.status ?? {};
  const out: PodStatus = { phase: remoteStatus.phase ?? 'Pending' };
  for (const field of MIRRORED_FIELDS) {
    const value = remoteStatus[field];
    if (field !== 'phase' && value !== undefined) (out as Record<string, unknown>)[field] = deepClone(value);
  }
  out.conditions = mergedConditions(local.status?.conditions, remoteStatus.conditions);
  out.hostIP = hostIP;
  out.hostIPs = [{ ip: hostIP }];
  return out;
}

/**
 * A JSON merge patch of `status` that makes the local pod show `desired`, or undefined when it
 * already does (nothing is written then). Fields absent from `desired` are cleared with null;
 * conditions compare by type, in any order.
 */
export function statusPatch(local: Pod, desired: PodStatus): Record<string, unknown> | undefined {
  const live = local.status ?? {};
  const patch: Record<string, unknown> = {};
  for (const field of [...MIRRORED_FIELDS, 'hostIP', 'hostIPs'] as const) {
    const want = desired[field];
    if (!jsonEqual(live[field], want)) patch[field] = want === undefined ? null : want;
  }
  if (!jsonEqual(conditionsByType(live.conditions), conditionsByType(desired.conditions)))
    patch.conditions = desired.conditions ?? [];
  return Object.keys(patch).length ? patch : undefined;
}

function lostContainer(s: ContainerStatus, now: string): ContainerStatus {
  if (s.state && 'terminated' in s.state) return { ...s, ready: false, started: false };
  const running = s.state?.running as { startedAt?: string } | undefined;
  return {
    ...s,
    ready: false,
    started: false,
    state: {
      terminated: {
        exitCode: 137,
        reason: 'ContainerStatusUnknown',
        message: 'The container could not be located when the pod was terminated',
        ...(running?.startedAt ? { startedAt: running.startedAt } : {}),
        finishedAt: now,
      },
    },
  };
}

/**
 * The status patch that fails a local pod whose remote pod is gone, so that its controller
 * replaces it (what a kubelet reports for a pod it lost): phase Failed, not ready, containers
 * terminated with ContainerStatusUnknown.
 */
export function lostPodStatusPatch(local: Pod, remoteCluster: string, now: string): Record<string, unknown> {
  const live = local.status ?? {};
  const notReady = (type: string): Condition => ({
    type,
    status: 'False',
    reason: 'PodFailed',
    lastTransitionTime: now,
    lastProbeTime: null,
  });
  const conditions = [
    ...(live.conditions ?? []).filter((c) => c.type !== 'Ready' && c.type !== 'ContainersReady'),
    notReady('ContainersReady'),
    notReady('Ready'),
  ];
  const patch: Record<string, unknown> = {
    phase: 'Failed',
    reason: REASON_REMOTE_POD_LOST,
    message: `The pod no longer exists in remote cluster ${remoteCluster}`,
    conditions,
  };
  if (live.containerStatuses) patch.containerStatuses = live.containerStatuses.map((s) => lostContainer(s, now));
  if (live.initContainerStatuses)
    patch.initContainerStatuses = live.initContainerStatuses.map((s) => lostContainer(s, now));
  return patch;
}

/**
 * Labels the remote cluster puts on pods itself: the PodTopologyLabels admission plugin copies
 * the remote node's topology labels onto the pod when it is bound there. They are kept unless
 * the local pod has the same key (whose value then wins).
 */
export const REMOTE_OWNED_LABEL_PREFIXES: readonly string[] = ['topology.kubernetes.io/'];

/** Merge patch of remote pod labels towards `want`, or undefined when nothing differs. */
export function remoteLabelsPatch(
  want: Record<string, string>,
  have: Record<string, string>,
): Record<string, string | null> | undefined {
  const patch: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(want)) if (have[key] !== value) patch[key] = value;
  for (const key of Object.keys(have)) {
    if (!(key in want) && !REMOTE_OWNED_LABEL_PREFIXES.some((prefix) => key.startsWith(prefix))) patch[key] = null;
  }
  return Object.keys(patch).length ? patch : undefined;
}

// ---------------------------------------------------------------------------------------------
// The plan for one local pod

export type PodAction =
  /** Create the remote pod (after the references and the twin namespace exist). */
  | { kind: 'createRemote'; pod: Pod }
  /** Delete a remote pod, only that very one (UID precondition). */
  | {
      kind: 'deleteRemote';
      namespace: string;
      name: string;
      uid: string;
      gracePeriodSeconds?: number;
      why: 'local-deleted' | 'local-terminal' | 'orphan' | 'stale';
    }
  /** Make the remote pod's labels the local pod's (so Services keep selecting it). */
  | { kind: 'patchRemoteLabels'; namespace: string; name: string; labels: Record<string, string | null> }
  /** Merge-patch the local pod's status subresource. */
  | { kind: 'patchLocalStatus'; patch: Record<string, unknown> }
  /** The remote pod vanished: fail the local pod (patch), so its controller replaces it. */
  | { kind: 'failLocal'; patch: Record<string, unknown> }
  /** The remote pod is gone: finish the local graceful delete (grace period 0, UID precondition). */
  | { kind: 'finalizeLocal'; uid: string };

export interface PlanContext {
  localCluster: string;
  remoteCluster: string;
  /** Virtual node address: hostIP of its pods. */
  hostIP: string;
  /** Builds the remote pod (remotePodFor with the current node labels). */
  remotePod: (local: Pod) => Pod;
  now: string;
}

/** The remote pod a plan deletes or patches: that very one (its uid). */
interface RemoteRef {
  namespace: string;
  name: string;
  uid: string;
}

const refOf = (remote: Pod): RemoteRef => ({
  namespace: remote.metadata?.namespace ?? '',
  name: remote.metadata?.name ?? '',
  uid: remote.metadata?.uid ?? '',
});

/**
 * What to do for one local pod key, from the local pod bound to the virtual node (undefined:
 * gone) and the remote pod of the same name in the twin namespace (undefined: none). Empty when
 * both sides agree: the caller writes nothing then. Idempotent: applying a plan and planning again
 * from the result yields no further action.
 */
export function planPod(local: Pod | undefined, remote: Pod | undefined, ctx: PlanContext): PodAction[] {
  if (!local) {
    // The remote pod has no local pod any more.
    return remote && !isTerminating(remote) ? [{ kind: 'deleteRemote', ...refOf(remote), why: 'orphan' }] : [];
  }
  const localUid = local.metadata?.uid ?? '';
  const mine = remote && remote.metadata?.annotations?.[ORIGIN_UID_ANNOTATION] === localUid ? remote : undefined;
  // A remote pod of the same name made for an earlier local pod (StatefulSets reuse names).
  const stale = remote && !mine ? remote : undefined;
  const actions: PodAction[] = [];
  if (stale && !isTerminating(stale)) actions.push({ kind: 'deleteRemote', ...refOf(stale), why: 'stale' });

  if (isTerminating(local)) return [...actions, ...planLocalDeleted(local, mine)];
  if (isTerminal(local)) return [...actions, ...planLocalTerminal(mine)];
  if (!mine) {
    if (stale) return actions; // the name frees up when the stale pod is gone
    // We mirrored a remote pod before and it is gone: the pod is lost.
    if (local.status?.hostIP)
      return [{ kind: 'failLocal', patch: lostPodStatusPatch(local, ctx.remoteCluster, ctx.now) }];
    return [{ kind: 'createRemote', pod: ctx.remotePod(local) }];
  }
  return planMirror(local, mine, ctx);
}

/** The local pod is being deleted: delete the remote pod, then finish the local delete. */
function planLocalDeleted(local: Pod, mine: Pod | undefined): PodAction[] {
  if (!mine) return [{ kind: 'finalizeLocal', uid: local.metadata?.uid ?? '' }];
  if (isTerminating(mine)) return []; // wait for the remote pod to go
  const grace = local.metadata?.deletionGracePeriodSeconds;
  const gracePeriod = grace !== undefined ? { gracePeriodSeconds: grace } : {};
  return [{ kind: 'deleteRemote', ...refOf(mine), ...gracePeriod, why: 'local-deleted' }];
}

/** The local pod has finished (Succeeded/Failed): a remote pod still running goes. */
function planLocalTerminal(mine: Pod | undefined): PodAction[] {
  if (!mine || isTerminating(mine) || isTerminal(mine)) return [];
  return [{ kind: 'deleteRemote', ...refOf(mine), why: 'local-terminal' }];
}

/** Both pods exist: the remote pod's labels follow the local pod's, its status is mirrored back. */
function planMirror(local: Pod, mine: Pod, ctx: PlanContext): PodAction[] {
  const actions: PodAction[] = [];
  const labels = remoteLabelsPatch(remotePodLabels(local, ctx.localCluster), mine.metadata?.labels ?? {});
  const { namespace, name } = refOf(mine);
  if (labels) actions.push({ kind: 'patchRemoteLabels', namespace, name, labels });
  const patch = statusPatch(local, mirroredStatus(local, mine, ctx.hostIP));
  if (patch) actions.push({ kind: 'patchLocalStatus', patch });
  return actions;
}
