// The syncer's functional core: what a copy in a remote cluster should look like (compare.ts says
// whether the copy that is there needs a write). No I/O here; controller.ts assembles the shell.
//
// Decisions (documented in src/syncer/README.md as well):
// - Copies are built from a whitelist of metadata (name, labels, annotations), never by deleting
//   fields from the local object, so runtime metadata we have not heard of yet cannot leak.
// - The replication stamp `kube-offload.io/replicate` is dropped from copies: a copy is not a
//   source, and a remote that runs kube-offload itself must not replicate it again.
// - Tracking keys of other tools are dropped, so e.g. Argo CD or Helm in the remote cluster never
//   believe they own (and prune) our copies; see TRACKING_* below.
// - Services: clusterIP/clusterIPs are dropped unless "None" (headless), as are nodePorts,
//   healthCheckNodePort, ipFamilies (the remote picks its own families following
//   ipFamilyPolicy, which is kept) and loadBalancerIP (an address of the local environment).
//   The type is kept.
import type { KubeObject } from '../../webhooks/types.ts';
import {
  ENDPOINTSLICE_MANAGED_BY_LABEL,
  ENDPOINTSLICE_MANAGED_BY_VALUE,
  isOwnedByUs,
  managedByAnotherSliceController,
  originOf,
  ownershipMarks,
} from '../common/ownership.ts';
import type { CopyContext } from '../common/ownership.ts';
import { deepClone } from '../../webhooks/json.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, ORIGIN_CLUSTER_LABEL, REPLICATE_KEY } from '../../webhooks/keys.ts';

export type { KubeObject, CopyContext };
export { ENDPOINTSLICE_MANAGED_BY_LABEL, ENDPOINTSLICE_MANAGED_BY_VALUE, isOwnedByUs };

/** Kubernetes' own keys (not ours; webhooks/keys.ts holds kube-offload's keys only). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The kinds the syncer copies. EndpointSlices are derived from replicated Services. */
export const KINDS = ['Service', 'Secret', 'ConfigMap', 'EndpointSlice'] as const;
export type Kind = (typeof KINDS)[number];
/** Kinds that carry the replication stamp themselves. */
export const STAMPED_KINDS = ['Service', 'Secret', 'ConfigMap'] as const;
export type StampedKind = (typeof STAMPED_KINDS)[number];

export interface KindInfo {
  apiVersion: string;
  group: string;
  version: string;
  resource: string;
}
const core = (resource: string): KindInfo => ({ apiVersion: 'v1', group: '', version: 'v1', resource });
export const KIND_INFO: Record<Kind | 'Namespace', KindInfo> = {
  Service: core('services'),
  Secret: core('secrets'),
  ConfigMap: core('configmaps'),
  EndpointSlice: {
    apiVersion: 'discovery.k8s.io/v1',
    group: 'discovery.k8s.io',
    version: 'v1',
    resource: 'endpointslices',
  },
  Namespace: core('namespaces'),
};

/** Label keys dropped from copies (exact match). */
export const DROPPED_LABELS: readonly string[] = [REPLICATE_KEY, 'helm.sh/chart'];
/** Label key prefixes dropped from copies: Argo CD and Flux tracking labels. */
export const DROPPED_LABEL_PREFIXES: readonly string[] = [
  'argocd.argoproj.io/',
  'kustomize.toolkit.fluxcd.io/',
  'helm.toolkit.fluxcd.io/',
];
/** Annotation keys dropped from copies (exact match). */
export const DROPPED_ANNOTATIONS: readonly string[] = [REPLICATE_KEY, LAST_APPLIED_ANNOTATION];
/** Annotation key prefixes dropped: Helm (meta.helm.sh/release-*, helm.sh/hook...), Argo CD, Flux. */
export const DROPPED_ANNOTATION_PREFIXES: readonly string[] = [
  'meta.helm.sh/',
  'helm.sh/',
  'argocd.argoproj.io/',
  'kustomize.toolkit.fluxcd.io/',
  'helm.toolkit.fluxcd.io/',
];

function keep(key: string, exact: readonly string[], prefixes: readonly string[]): boolean {
  return !exact.includes(key) && !prefixes.some((prefix) => key.startsWith(prefix));
}

function filtered(
  map: Record<string, string> | undefined,
  exact: readonly string[],
  prefixes: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(map ?? {})) if (keep(key, exact, prefixes)) out[key] = value;
  return out;
}

/** True when an object is a copy made by kube-offload (from any cluster): never a source. */
export function isCopy(object: KubeObject): boolean {
  const labels = object.metadata?.labels;
  if (labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return false;
  return labels[ORIGIN_CLUSTER_LABEL] !== undefined && !managedByAnotherSliceController(labels);
}

type CopyMetadata = {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
};

function copyMetadata(local: KubeObject, ctx: CopyContext): CopyMetadata {
  const meta = local.metadata ?? {};
  const name = meta.name ?? '';
  const marks = ownershipMarks(ctx.localCluster, originOf(ctx.localCluster, meta.namespace, name), meta.uid);
  // Ours last, so managed-by=Helm (or anything) is replaced by managed-by=kube-offload and a
  // forged origin cannot survive.
  return {
    name,
    namespace: ctx.twinNamespace,
    labels: { ...filtered(meta.labels, DROPPED_LABELS, DROPPED_LABEL_PREFIXES), ...marks.labels },
    annotations: {
      ...filtered(meta.annotations, DROPPED_ANNOTATIONS, DROPPED_ANNOTATION_PREFIXES),
      ...marks.annotations,
    },
  };
}

/** Service spec fields the remote apiserver allocates, or that only make sense locally. */
function serviceSpecCopy(spec: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = deepClone(spec ?? {});
  const headless = out.clusterIP === 'None';
  delete out.clusterIP;
  delete out.clusterIPs;
  if (headless) {
    out.clusterIP = 'None';
    out.clusterIPs = ['None'];
  }
  delete out.healthCheckNodePort;
  delete out.ipFamilies;
  delete out.loadBalancerIP;
  if (Array.isArray(out.ports)) {
    out.ports = (out.ports as Record<string, unknown>[]).map((port) => {
      const withoutNodePort = { ...port };
      delete withoutNodePort.nodePort;
      return withoutNodePort;
    });
  }
  return out;
}

/**
 * The copy of a local Service, Secret or ConfigMap in the twin namespace. Top-level fields other
 * than metadata and status are copied (data, binaryData, type, immutable, spec); metadata is
 * rebuilt from name, filtered labels and annotations, plus our ownership marks.
 */
export function desiredCopy(local: KubeObject, ctx: CopyContext): KubeObject {
  const kind = local.kind as Kind | undefined;
  const out: KubeObject = {};
  for (const [field, value] of Object.entries(local)) {
    if (field === 'metadata' || field === 'status') continue;
    out[field] = deepClone(value);
  }
  if (kind && kind in KIND_INFO) out.apiVersion = KIND_INFO[kind].apiVersion;
  out.metadata = copyMetadata(local, ctx);
  if (kind === 'Service') out.spec = serviceSpecCopy(local.spec as Record<string, unknown> | undefined);
  // stringData is write-only and never returned by the apiserver; if an object has it (not from
  // the API), it would be merged into data remotely and make the copy differ forever.
  delete out.stringData;
  return out;
}

/** What an endpoint keeps besides its addresses. */
const ENDPOINT_FIELDS = ['conditions', 'hostname', 'zone', 'hints'] as const;

export interface EndpointSliceContext extends CopyContext {
  /** Node names of virtual nodes: their endpoints already live in the remote cluster. */
  isVirtualNode?: (nodeName: string) => boolean;
}

/**
 * The copy of one local EndpointSlice of a replicated Service. Endpoints keep addresses,
 * conditions, hostname, zone and hints; nodeName and targetRef are dropped (they name local
 * nodes and pods the remote does not have). Endpoints that run on a virtual node are left out:
 * they are remote pods, which the remote endpointslice controller already publishes.
 */
export function desiredEndpointSlice(
  localSlice: KubeObject,
  service: KubeObject,
  ctx: EndpointSliceContext,
): KubeObject {
  const meta = localSlice.metadata ?? {};
  const name = meta.name ?? '';
  const serviceName = service.metadata?.name ?? '';
  const marks = ownershipMarks(ctx.localCluster, originOf(ctx.localCluster, meta.namespace, name), meta.uid);
  const onVirtualNode = (endpoint: Record<string, unknown>): boolean =>
    typeof endpoint.nodeName === 'string' && ctx.isVirtualNode?.(endpoint.nodeName) === true;
  const endpoints = ((localSlice.endpoints as Record<string, unknown>[] | undefined) ?? [])
    .filter((endpoint) => !onVirtualNode(endpoint))
    .map((endpoint) => {
      const out: Record<string, unknown> = { addresses: deepClone(endpoint.addresses ?? []) };
      for (const field of ENDPOINT_FIELDS) if (endpoint[field] !== undefined) out[field] = deepClone(endpoint[field]);
      return out;
    });
  const slice: KubeObject = {
    apiVersion: KIND_INFO.EndpointSlice.apiVersion,
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: ctx.twinNamespace,
      labels: {
        [SERVICE_NAME_LABEL]: serviceName,
        [ENDPOINTSLICE_MANAGED_BY_LABEL]: ENDPOINTSLICE_MANAGED_BY_VALUE,
        ...marks.labels,
      },
      annotations: marks.annotations,
    },
    addressType: localSlice.addressType ?? 'IPv4',
    endpoints,
    ports: deepClone(localSlice.ports ?? []),
  };
  return slice;
}
