// Every user-facing key of kube-offload lives here, so code, docs and tests agree on spelling.
// The README's "Keys" section documents each of them.

export const DOMAIN = 'kube-offload.io';

/** Namespace label that opts a namespace in; value must be "true". */
export const ENABLED_LABEL = `${DOMAIN}/enabled`;

/** Placement policy annotation: Namespace, workload metadata or pod template, Pod. */
export const PLACEMENT_ANNOTATION = `${DOMAIN}/placement`;
/** Label selector (Kubernetes syntax) matched against virtual nodes' labels. */
export const CLUSTERS_ANNOTATION = `${DOMAIN}/clusters`;
/**
 * Limits of a kube-offload.io/clusters selector, far above real use (a handful of requirements).
 * Every pod of the selector's scope carries its requirements once per required-affinity term it
 * has, so the limits bound what one pod can cost to admit and how much it can grow. The
 * validating webhook rejects larger selectors; placement ignores them, with a warning.
 */
export const MAX_CLUSTER_SELECTOR_LENGTH = 4096;
export const MAX_CLUSTER_SELECTOR_REQUIREMENTS = 64;
/** Soft preference: Local or Remote (preferred node affinity). */
export const PREFER_ANNOTATION = `${DOMAIN}/prefer`;

/** The three policy annotations, in the order they are documented. */
export const POLICY_ANNOTATIONS = [PLACEMENT_ANNOTATION, CLUSTERS_ANNOTATION, PREFER_ANNOTATION] as const;

/**
 * Namespace annotation: how its twin namespaces in the remotes are named (Liqo's
 * NamespaceMappingStrategy). `ClusterSuffix` (default) names the twin `<namespace>-<local cluster>`
 * and cannot collide with the remote's own namespaces; `SameName` names it `<namespace>`, so
 * `svc.<namespace>` and `svc.<namespace>.svc.cluster.local` resolve in the remote too, but a
 * namespace of that name that kube-offload does not own there is a conflict (reported, never
 * adopted). It may not change while the namespace is opted in.
 */
export const TWIN_NAME_ANNOTATION = `${DOMAIN}/twin-name`;
export const TWIN_NAMINGS = ['ClusterSuffix', 'SameName'] as const;
export type TwinNaming = (typeof TWIN_NAMINGS)[number];
export const DEFAULT_TWIN_NAMING: TwinNaming = 'ClusterSuffix';

/** Replication stamp: annotation, mirrored as a label so the syncer can watch by label selector. */
export const REPLICATE_KEY = `${DOMAIN}/replicate`;

/** Ownership marks on copies and twin namespaces in remote clusters (set by the syncer only). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'kube-offload';
export const ORIGIN_CLUSTER_LABEL = `${DOMAIN}/origin-cluster`;
export const ORIGIN_ANNOTATION = `${DOMAIN}/origin`;
export const ORIGIN_UID_ANNOTATION = `${DOMAIN}/origin-uid`;
/** Keys users may not set themselves on objects in the local cluster. */
export const OWNERSHIP_KEYS = [ORIGIN_CLUSTER_LABEL, ORIGIN_ANNOTATION, ORIGIN_UID_ANNOTATION] as const;

/** Virtual nodes follow Liqo's conventions so Liqo's nodes and manifests work too (configurable). */
export const VIRTUAL_NODE_LABEL = 'liqo.io/type';
export const VIRTUAL_NODE_LABEL_VALUE = 'virtual-node';
export const VIRTUAL_NODE_TAINT_KEY = 'virtual-node.liqo.io/not-allowed';
export const VIRTUAL_NODE_TAINT_VALUE = 'true';
export const VIRTUAL_NODE_TAINT_EFFECT = 'NoExecute';
/** Our virtual nodes carry the remote cluster's name. */
export const REMOTE_CLUSTER_LABEL = `${DOMAIN}/remote-cluster`;

export const PLACEMENTS = ['Local', 'Remote', 'LocalAndRemote'] as const;
export type Placement = (typeof PLACEMENTS)[number];
export const DEFAULT_PLACEMENT: Placement = 'LocalAndRemote';

export const PREFERENCES = ['Local', 'Remote'] as const;
export type Preference = (typeof PREFERENCES)[number];

/** Identifies the virtual nodes: label key/value and taint; Liqo's by default. */
export interface VirtualNodeConvention {
  labelKey: string;
  labelValue: string;
  taintKey: string;
  taintValue: string;
  taintEffect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export const LIQO_CONVENTION: VirtualNodeConvention = {
  labelKey: VIRTUAL_NODE_LABEL,
  labelValue: VIRTUAL_NODE_LABEL_VALUE,
  taintKey: VIRTUAL_NODE_TAINT_KEY,
  taintValue: VIRTUAL_NODE_TAINT_VALUE,
  taintEffect: VIRTUAL_NODE_TAINT_EFFECT,
};
