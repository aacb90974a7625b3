// The syncer's functional core: what a copy in a remote cluster should look like, and whether the
// copy that is there needs a write. No I/O here; src/syncer/controller.ts is the shell.
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
// - needsUpdate compares only what we manage: labels and annotations exactly (the copy is ours),
//   the payload (data / spec / endpoints) exactly, except fields the remote apiserver assigns or
//   defaults, so a resync of an in-sync state writes nothing.
import type { KubeObject } from '../../webhooks/types.ts';
import { originOf, ownershipMarks } from '../shared/ownership.ts';
import type { CopyContext } from '../shared/ownership.ts';
import { PAYLOAD_DIGEST, PAYLOAD_FIELDS, hasPayloadDigest, payloadDigest } from './digest.ts';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_ANNOTATION,
  ORIGIN_CLUSTER_LABEL,
  ORIGIN_UID_ANNOTATION,
  REPLICATE_KEY,
} from '../../webhooks/keys.ts';

export type { KubeObject, CopyContext };

/** Kubernetes' own keys (not ours; webhooks/keys.ts holds kube-offload's keys only). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const ENDPOINTSLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** The remote endpointslice controller only touches slices whose managed-by is its own. */
export const ENDPOINTSLICE_MANAGED_BY_VALUE = 'kube-offload.io';
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
export const KIND_INFO: Record<Kind | 'Namespace', KindInfo> = {
  Service: { apiVersion: 'v1', group: '', version: 'v1', resource: 'services' },
  Secret: { apiVersion: 'v1', group: '', version: 'v1', resource: 'secrets' },
  ConfigMap: { apiVersion: 'v1', group: '', version: 'v1', resource: 'configmaps' },
  EndpointSlice: { apiVersion: 'discovery.k8s.io/v1', group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices' },
  Namespace: { apiVersion: 'v1', group: '', version: 'v1', resource: 'namespaces' },
};

/** Label keys dropped from copies (exact match). */
export const DROPPED_LABELS: readonly string[] = [REPLICATE_KEY, 'helm.sh/chart'];
/** Label key prefixes dropped from copies: Argo CD and Flux tracking labels. */
export const DROPPED_LABEL_PREFIXES: readonly string[] = ['argocd.argoproj.io/', 'kustomize.toolkit.fluxcd.io/', 'helm.toolkit.fluxcd.io/'];
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
  return !exact.includes(key) && !prefixes.some((p) => key.startsWith(p));
}

function filtered(map: Record<string, string> | undefined, exact: readonly string[], prefixes: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map ?? {})) if (keep(k, exact, prefixes)) out[k] = v;
  return out;
}


/**
 * Kubernetes' EndpointSlice controller copies a Service's labels onto the slices it manages, so the
 * slices the remote controller publishes for one of our Service copies (its selector matches the
 * offloaded pods) carry our ownership labels too. They are the controller's, not ours: a slice is
 * ours only when its own managed-by says so. Without this the syncer deleted them as orphans and
 * the controller recreated them, forever.
 */
function managedByAnotherSliceController(labels: Record<string, string>): boolean {
  const by = labels[ENDPOINTSLICE_MANAGED_BY_LABEL];
  return by !== undefined && by !== ENDPOINTSLICE_MANAGED_BY_VALUE;
}

/** True when a remote object carries our ownership labels for this local cluster. */
export function isOwnedByUs(remote: KubeObject | undefined, localCluster: string): boolean {
  const labels = remote?.metadata?.labels;
  return labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && labels[ORIGIN_CLUSTER_LABEL] === localCluster && !managedByAnotherSliceController(labels);
}

/** True when an object is a copy made by kube-offload (from any cluster): never a source. */
export function isCopy(object: KubeObject): boolean {
  const labels = object.metadata?.labels;
  return labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && labels[ORIGIN_CLUSTER_LABEL] !== undefined && !managedByAnotherSliceController(labels);
}

function copyMetadata(local: KubeObject, ctx: CopyContext): { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> } {
  const meta = local.metadata ?? {};
  const name = meta.name ?? '';
  const marks = ownershipMarks(ctx.localCluster, originOf(ctx.localCluster, meta.namespace, name), meta.uid);
  // Ours last, so managed-by=Helm (or anything) is replaced by managed-by=kube-offload and a
  // forged origin cannot survive.
  return {
    name,
    namespace: ctx.twinNamespace,
    labels: { ...filtered(meta.labels, DROPPED_LABELS, DROPPED_LABEL_PREFIXES), ...marks.labels },
    annotations: { ...filtered(meta.annotations, DROPPED_ANNOTATIONS, DROPPED_ANNOTATION_PREFIXES), ...marks.annotations },
  };
}

const clone = <T>(v: T): T => (v === undefined ? v : (structuredClone(v) as T));

/** Service spec fields the remote apiserver allocates, or that only make sense locally. */
function serviceSpecCopy(spec: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = clone(spec ?? {});
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
    out.ports = (out.ports as Record<string, unknown>[]).map((p) => {
      const q = { ...p };
      delete q.nodePort;
      return q;
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
  for (const [k, v] of Object.entries(local)) {
    if (k === 'metadata' || k === 'status') continue;
    out[k] = clone(v);
  }
  if (kind && kind in KIND_INFO) out.apiVersion = KIND_INFO[kind].apiVersion;
  out.metadata = copyMetadata(local, ctx);
  if (kind === 'Service') out.spec = serviceSpecCopy(local.spec as Record<string, unknown> | undefined);
  // stringData is write-only and never returned by the apiserver; if an object has it (not from
  // the API), it would be merged into data remotely and make the copy differ forever.
  delete out.stringData;
  return out;
}

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
export function desiredEndpointSlice(localSlice: KubeObject, service: KubeObject, ctx: EndpointSliceContext): KubeObject {
  const meta = localSlice.metadata ?? {};
  const name = meta.name ?? '';
  const serviceName = service.metadata?.name ?? '';
  const marks = ownershipMarks(ctx.localCluster, originOf(ctx.localCluster, meta.namespace, name), meta.uid);
  const endpoints = ((localSlice.endpoints as Record<string, unknown>[] | undefined) ?? [])
    .filter((e) => !(typeof e.nodeName === 'string' && ctx.isVirtualNode?.(e.nodeName)))
    .map((e) => {
      const out: Record<string, unknown> = { addresses: clone(e.addresses ?? []) };
      for (const k of ['conditions', 'hostname', 'zone', 'hints'] as const) if (e[k] !== undefined) out[k] = clone(e[k]);
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
    ports: clone(localSlice.ports ?? []),
  };
  return slice;
}


// ---------------------------------------------------------------------------------------------
// Comparison

/** Deep equality of JSON values; `undefined` members equal absent ones. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!jsonEqual(ao[k], bo[k])) return false;
  return true;
}

/** An empty map, empty array or absent value are the same to the apiserver (omitempty). */
function emptyish(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);
}
function sameField(a: unknown, b: unknown): boolean {
  return (emptyish(a) && emptyish(b)) || jsonEqual(a, b);
}

/**
 * Service spec fields the apiserver defaults when absent. When the desired spec lacks one (the
 * local apiserver normally defaulted it already) a value in the remote is a default, not drift.
 */
const SERVICE_DEFAULTED = ['type', 'sessionAffinity', 'ipFamilyPolicy', 'internalTrafficPolicy', 'externalTrafficPolicy', 'allocateLoadBalancerNodePorts', 'publishNotReadyAddresses'];
/** Service spec fields the remote apiserver allocates; never compared (unless headless). */
const SERVICE_ALLOCATED = ['clusterIP', 'clusterIPs', 'ipFamilies', 'healthCheckNodePort', 'loadBalancerIP'];

function serviceSpecEqual(desired: Record<string, unknown>, actual: Record<string, unknown>): boolean {
  const headless = desired.clusterIP === 'None';
  const keys = new Set([...Object.keys(desired), ...Object.keys(actual)]);
  for (const k of keys) {
    if (SERVICE_ALLOCATED.includes(k)) {
      if (headless && k === 'clusterIP' && actual.clusterIP !== 'None') return false;
      continue;
    }
    if (!(k in desired) && SERVICE_DEFAULTED.includes(k)) continue;
    if (k === 'ports') {
      const d = (desired.ports as Record<string, unknown>[] | undefined) ?? [];
      const a = (actual.ports as Record<string, unknown>[] | undefined) ?? [];
      if (d.length !== a.length) return false;
      for (let i = 0; i < d.length; i++) {
        const dp = { ...d[i] };
        const ap = { ...a[i] };
        delete dp.nodePort;
        delete ap.nodePort;
        // protocol and targetPort are defaulted (TCP, = port) when absent.
        if (dp.protocol === undefined) delete ap.protocol;
        if (dp.targetPort === undefined) delete ap.targetPort;
        if (!jsonEqual(dp, ap)) return false;
      }
      continue;
    }
    if (k === 'sessionAffinityConfig' && !(k in desired)) {
      if (actual.sessionAffinity === 'ClientIP' && desired.sessionAffinity === undefined) continue;
    }
    if (!sameField(desired[k], actual[k])) return false;
  }
  return true;
}

/** Top-level fields of a copy that are the apiserver's or nobody's to compare. */
const NOT_COMPARED = new Set(['apiVersion', 'kind', 'metadata', 'status', PAYLOAD_DIGEST]);

/**
 * A ConfigMap's or Secret's data and binaryData are equal. `actual` may be a slimmed cache entry
 * that keeps only their digest (slim.ts).
 */
function payloadEqual(desired: KubeObject, actual: KubeObject): boolean {
  if (hasPayloadDigest(actual)) return payloadDigest(desired) === actual[PAYLOAD_DIGEST];
  return PAYLOAD_FIELDS.every((f) => sameField(desired[f], actual[f]));
}
const isPayloadField = (k: string): boolean => (PAYLOAD_FIELDS as readonly string[]).includes(k);

/**
 * True when the remote copy differs from the desired one in anything we manage. Labels and
 * annotations are compared exactly; the payload (data, binaryData, type, immutable, spec,
 * endpoints, ports, addressType) exactly, except Service fields the remote allocates or defaults.
 * Fields only the server sets (uid, resourceVersion, finalizers, managedFields, status) are ignored.
 */
export function needsUpdate(desired: KubeObject, actual: KubeObject): boolean {
  const dm = desired.metadata ?? {};
  const am = actual.metadata ?? {};
  if (!sameField(dm.labels, am.labels) || !sameField(dm.annotations, am.annotations)) return true;
  const kind = desired.kind ?? actual.kind;
  const dataKind = kind === 'ConfigMap' || kind === 'Secret';
  if (dataKind && !payloadEqual(desired, actual)) return true;
  const keys = new Set([...Object.keys(desired), ...Object.keys(actual)]);
  for (const k of keys) {
    if (NOT_COMPARED.has(k) || (dataKind && isPayloadField(k))) continue;
    if (kind === 'Service' && k === 'spec') {
      if (!serviceSpecEqual((desired.spec as Record<string, unknown>) ?? {}, (actual.spec as Record<string, unknown>) ?? {})) return true;
      continue;
    }
    // Secret type defaults to Opaque.
    if (kind === 'Secret' && k === 'type' && (desired.type ?? 'Opaque') === (actual.type ?? 'Opaque')) continue;
    if (kind === 'EndpointSlice' && (k === 'endpoints' || k === 'ports')) {
      if (!sameField(normalizeSliceList(desired[k]), normalizeSliceList(actual[k]))) return true;
      continue;
    }
    if (!sameField(desired[k], actual[k])) return true;
  }
  return false;
}

/** EndpointSlice endpoints/ports with defaults applied (port protocol TCP; immutable order kept). */
function normalizeSliceList(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  return v.map((e: Record<string, unknown>) => {
    const o: Record<string, unknown> = { ...e };
    if ('port' in o || 'name' in o) o.protocol ??= 'TCP';
    if (o.conditions && typeof o.conditions === 'object') {
      const c = Object.fromEntries(Object.entries(o.conditions as Record<string, unknown>).filter(([, x]) => x !== null && x !== undefined));
      o.conditions = c;
    }
    return o;
  });
}

/** Twin namespaces: only our marks are compared; remote admins may add their own labels. */
export function twinNeedsUpdate(desired: KubeObject, actual: KubeObject): boolean {
  const al = actual.metadata?.labels ?? {};
  const aa = actual.metadata?.annotations ?? {};
  for (const [k, v] of Object.entries(desired.metadata?.labels ?? {})) if (al[k] !== v) return true;
  for (const [k, v] of Object.entries(desired.metadata?.annotations ?? {})) if (aa[k] !== v) return true;
  return false;
}

/** The update body for a twin namespace: the actual one with our marks (re)applied. */
export function twinUpdateBody(desired: KubeObject, actual: KubeObject): KubeObject {
  const am = actual.metadata ?? {};
  return {
    ...actual,
    metadata: {
      ...am,
      labels: { ...(am.labels ?? {}), ...(desired.metadata?.labels ?? {}) },
      annotations: { ...(am.annotations ?? {}), ...(desired.metadata?.annotations ?? {}) },
    },
  };
}

/**
 * True when the copy cannot be updated in place and must be deleted and created again: an
 * immutable Secret/ConfigMap whose payload changed, a Secret type change, an EndpointSlice
 * addressType change, or a Service switching between headless and not (clusterIP is immutable).
 */
export function needsRecreate(desired: KubeObject, actual: KubeObject): boolean {
  const kind = desired.kind ?? actual.kind;
  if (kind === 'Secret' || kind === 'ConfigMap') {
    if (kind === 'Secret' && (desired.type ?? 'Opaque') !== (actual.type ?? 'Opaque')) return true;
    if (actual.immutable === true) {
      return !payloadEqual(desired, actual) || desired.immutable !== true;
    }
    return false;
  }
  if (kind === 'EndpointSlice') return desired.addressType !== actual.addressType;
  if (kind === 'Service') {
    const ds = (desired.spec as Record<string, unknown> | undefined) ?? {};
    const as = (actual.spec as Record<string, unknown> | undefined) ?? {};
    return (ds.clusterIP === 'None') !== (as.clusterIP === 'None') && ds.type !== 'ExternalName' && as.type !== 'ExternalName';
  }
  return false;
}

/**
 * The body of a PUT that turns `actual` into `desired`: desired, with the resourceVersion of
 * actual (optimistic concurrency), the finalizers others put there (a PUT without them would
 * remove them), and for Services the values the remote allocated (clusterIP(s), ipFamilies,
 * nodePorts of ports that still exist, healthCheckNodePort) so the PUT does not try to change them.
 */
export function updateBody(desired: KubeObject, actual: KubeObject): KubeObject {
  const body = clone(desired);
  const am = actual.metadata ?? {};
  body.metadata = { ...(body.metadata ?? {}), resourceVersion: am.resourceVersion as string | undefined };
  if (Array.isArray(am.finalizers) && am.finalizers.length) body.metadata.finalizers = [...(am.finalizers as string[])];
  if ((desired.kind ?? actual.kind) === 'Service') {
    const ds = (body.spec as Record<string, unknown> | undefined) ?? {};
    const as = (actual.spec as Record<string, unknown> | undefined) ?? {};
    const externalName = ds.type === 'ExternalName';
    if (!externalName && ds.clusterIP !== 'None') {
      if (as.clusterIP !== undefined && as.clusterIP !== 'None') ds.clusterIP = as.clusterIP;
      if (Array.isArray(as.clusterIPs) && as.clusterIPs[0] !== 'None') ds.clusterIPs = as.clusterIPs;
      if (as.ipFamilies !== undefined) ds.ipFamilies = as.ipFamilies;
    }
    const needsNodePorts = ds.type === 'NodePort' || ds.type === 'LoadBalancer';
    if (needsNodePorts && Array.isArray(ds.ports) && Array.isArray(as.ports)) {
      const aports = as.ports as Record<string, unknown>[];
      ds.ports = (ds.ports as Record<string, unknown>[]).map((p) => {
        const match = aports.find((a) => a.port === p.port && (a.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
        return match?.nodePort !== undefined ? { ...p, nodePort: match.nodePort } : p;
      });
    }
    if (ds.type === 'LoadBalancer' && ds.externalTrafficPolicy === 'Local' && as.healthCheckNodePort !== undefined) ds.healthCheckNodePort = as.healthCheckNodePort;
    body.spec = ds;
  }
  return body;
}
