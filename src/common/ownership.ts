// Ownership marks: how a remote object (a copy, a twin namespace, an offloaded pod) says it was
// written by kube-offload for one local cluster, and which local object it stands for. The syncer
// and the virtual node provider both write and read these marks, so they live below both.
import type { KubeObject } from '../../webhooks/types.ts';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_ANNOTATION,
  ORIGIN_CLUSTER_LABEL,
  ORIGIN_UID_ANNOTATION,
} from '../../webhooks/keys.ts';

/** Kubernetes' own label on EndpointSlices: which controller manages a slice. */
export const ENDPOINTSLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** The remote endpointslice controller only touches slices whose managed-by is its own. */
export const ENDPOINTSLICE_MANAGED_BY_VALUE = 'kube-offload.io';

/**
 * Kubernetes' EndpointSlice controller copies a Service's labels onto the slices it manages, so the
 * slices the remote controller publishes for one of our Service copies (its selector matches the
 * offloaded pods) carry our ownership labels too. They are the controller's, not ours: a slice is
 * ours only when its own managed-by says so. Without this the syncer deleted them as orphans and
 * the controller recreated them, forever.
 */
export function managedByAnotherSliceController(labels: Record<string, string>): boolean {
  const by = labels[ENDPOINTSLICE_MANAGED_BY_LABEL];
  return by !== undefined && by !== ENDPOINTSLICE_MANAGED_BY_VALUE;
}

/**
 * True when a remote object (a copy, a twin namespace, an offloaded pod) carries our ownership
 * labels for this local cluster: only such objects are ever updated or deleted.
 */
export function isOwnedByUs(remote: KubeObject | undefined, localCluster: string): boolean {
  const labels = remote?.metadata?.labels;
  if (labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return false;
  return labels[ORIGIN_CLUSTER_LABEL] === localCluster && !managedByAnotherSliceController(labels);
}

/**
 * True when a remote namespace is the twin of local namespace `namespace`: ours (isOwnedByUs) and,
 * when its origin annotation names a namespace of this cluster, that one. Two local namespaces may
 * ask for the same twin name (`shop` with ClusterSuffix and `shop-local` with SameName, both
 * `shop-local`): the twin is the first one's, and the second must neither take it over nor
 * delete it. A twin whose origin annotation was tampered with is still taken as ours, as before.
 */
export function isTwinOf(remote: KubeObject | undefined, localCluster: string, namespace: string): boolean {
  if (!isOwnedByUs(remote, localCluster)) return false;
  const origin = parseOrigin(remote?.metadata?.annotations?.[ORIGIN_ANNOTATION]);
  if (!origin || origin.cluster !== localCluster || origin.namespace !== undefined) return true;
  return origin.name === namespace;
}

/** The label selector of what we own in a remote for this local cluster (check with isOwnedByUs). */
export function ownedSelector(localCluster: string): string {
  return `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${ORIGIN_CLUSTER_LABEL}=${localCluster}`;
}

/** Where a copy goes: the local cluster it comes from and the twin namespace it lands in. */
export interface CopyContext {
  /** The local cluster's name (`--cluster-name`). */
  localCluster: string;
  /** The twin namespace in the remote cluster, from twinNamespaceOf() (src/common/twin.ts). */
  twinNamespace: string;
}

/** `cluster/namespace/name`, or `cluster/name` for a cluster-scoped object (a Namespace). */
export function originOf(localCluster: string, namespace: string | undefined, name: string): string {
  return namespace ? `${localCluster}/${namespace}/${name}` : `${localCluster}/${name}`;
}

/** Parses an origin annotation; undefined when malformed. */
export function parseOrigin(
  value: string | undefined,
): { cluster: string; namespace?: string; name: string } | undefined {
  if (!value) return undefined;
  const parts = value.split('/');
  if (parts.some((p) => p === '')) return undefined;
  if (parts.length === 3)
    return { cluster: parts[0] as string, namespace: parts[1] as string, name: parts[2] as string };
  if (parts.length === 2) return { cluster: parts[0] as string, name: parts[1] as string };
  return undefined;
}

/** Our ownership marks, added to labels/annotations of every copy and twin namespace. */
export function ownershipMarks(
  localCluster: string,
  origin: string,
  originUid: string | undefined,
): { labels: Record<string, string>; annotations: Record<string, string> } {
  const annotations: Record<string, string> = { [ORIGIN_ANNOTATION]: origin };
  if (originUid) annotations[ORIGIN_UID_ANNOTATION] = originUid;
  return {
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [ORIGIN_CLUSTER_LABEL]: localCluster },
    annotations,
  };
}

/** The twin namespace of a local namespace, with our ownership marks. */
export function desiredTwinNamespace(localNamespace: KubeObject, ctx: CopyContext): KubeObject {
  const name = localNamespace.metadata?.name ?? '';
  const marks = ownershipMarks(
    ctx.localCluster,
    originOf(ctx.localCluster, undefined, name),
    localNamespace.metadata?.uid,
  );
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ctx.twinNamespace, labels: marks.labels, annotations: marks.annotations },
  };
}
