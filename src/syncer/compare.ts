// Whether the copy a remote holds agrees with the desired one (copy.ts), and the body of the write
// that makes it agree. Pure.
//
// Only what we manage is compared: labels and annotations exactly (the copy is ours), the payload
// (data / spec / endpoints) exactly, except fields the remote apiserver assigns or defaults, so a
// resync of an in-sync state writes nothing.
import { deepClone, jsonEqual } from '../../webhooks/json.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { PAYLOAD_DIGEST, PAYLOAD_FIELDS, hasPayloadDigest, payloadDigest } from './digest.ts';

type Fields = Record<string, unknown>;

const specOf = (object: KubeObject): Fields => (object.spec as Fields | undefined) ?? {};

/** An empty map, empty array or absent value are the same to the apiserver (omitempty). */
function emptyish(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

function sameField(a: unknown, b: unknown): boolean {
  return (emptyish(a) && emptyish(b)) || jsonEqual(a, b);
}

/**
 * Service spec fields the apiserver defaults when absent. When the desired spec lacks one (the
 * local apiserver normally defaulted it already) a value in the remote is a default, not drift.
 */
const SERVICE_DEFAULTED = [
  'type',
  'sessionAffinity',
  'ipFamilyPolicy',
  'internalTrafficPolicy',
  'externalTrafficPolicy',
  'allocateLoadBalancerNodePorts',
  'publishNotReadyAddresses',
];
/** Service spec fields the remote apiserver allocates; never compared (unless headless). */
const SERVICE_ALLOCATED = ['clusterIP', 'clusterIPs', 'ipFamilies', 'healthCheckNodePort', 'loadBalancerIP'];

/** One port of a Service: nodePort is the remote's; protocol and targetPort default (TCP, = port). */
function servicePortEqual(wanted: Fields, live: Fields): boolean {
  const want = { ...wanted };
  const have = { ...live };
  delete want.nodePort;
  delete have.nodePort;
  if (want.protocol === undefined) delete have.protocol;
  if (want.targetPort === undefined) delete have.targetPort;
  return jsonEqual(want, have);
}

function servicePortsEqual(wanted: unknown, live: unknown): boolean {
  const wantedPorts = (wanted as Fields[] | undefined) ?? [];
  const livePorts = (live as Fields[] | undefined) ?? [];
  return (
    wantedPorts.length === livePorts.length && wantedPorts.every((p, i) => servicePortEqual(p, livePorts[i] ?? {}))
  );
}

function serviceFieldEqual(field: string, desired: Fields, actual: Fields): boolean {
  if (SERVICE_ALLOCATED.includes(field)) {
    // A headless Service must stay headless; other allocated values are the remote's.
    return !(field === 'clusterIP' && desired.clusterIP === 'None' && actual.clusterIP !== 'None');
  }
  const absent = !(field in desired);
  if (absent && SERVICE_DEFAULTED.includes(field)) return true;
  if (field === 'ports') return servicePortsEqual(desired.ports, actual.ports);
  const defaultedAffinityConfig = field === 'sessionAffinityConfig' && absent && desired.sessionAffinity === undefined;
  if (defaultedAffinityConfig && actual.sessionAffinity === 'ClientIP') return true;
  return sameField(desired[field], actual[field]);
}

function serviceSpecEqual(desired: Fields, actual: Fields): boolean {
  const fields = new Set([...Object.keys(desired), ...Object.keys(actual)]);
  for (const field of fields) if (!serviceFieldEqual(field, desired, actual)) return false;
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
  return PAYLOAD_FIELDS.every((field) => sameField(desired[field], actual[field]));
}

const isPayloadField = (field: string): boolean => (PAYLOAD_FIELDS as readonly string[]).includes(field);

/** EndpointSlice endpoints/ports with defaults applied (port protocol TCP; immutable order kept). */
function normalizeSliceList(list: unknown): unknown {
  if (!Array.isArray(list)) return list;
  return list.map((item: Fields) => {
    const normalized: Fields = { ...item };
    if ('port' in normalized || 'name' in normalized) normalized.protocol ??= 'TCP';
    if (normalized.conditions && typeof normalized.conditions === 'object') {
      const set = Object.entries(normalized.conditions as Fields).filter(
        ([, value]) => value !== null && value !== undefined,
      );
      normalized.conditions = Object.fromEntries(set);
    }
    return normalized;
  });
}

/** One top-level field of a copy (not metadata, not the payload of a ConfigMap or Secret). */
function fieldEqual(kind: string | undefined, field: string, desired: KubeObject, actual: KubeObject): boolean {
  if (kind === 'Service' && field === 'spec') return serviceSpecEqual(specOf(desired), specOf(actual));
  // Secret type defaults to Opaque.
  if (kind === 'Secret' && field === 'type') return (desired.type ?? 'Opaque') === (actual.type ?? 'Opaque');
  if (kind === 'EndpointSlice' && (field === 'endpoints' || field === 'ports')) {
    return sameField(normalizeSliceList(desired[field]), normalizeSliceList(actual[field]));
  }
  return sameField(desired[field], actual[field]);
}

/**
 * True when the remote copy differs from the desired one in anything we manage. Labels and
 * annotations are compared exactly; the payload (data, binaryData, type, immutable, spec,
 * endpoints, ports, addressType) exactly, except Service fields the remote allocates or defaults.
 * Fields only the server sets (uid, resourceVersion, finalizers, managedFields, status) are ignored.
 */
export function needsUpdate(desired: KubeObject, actual: KubeObject): boolean {
  const desiredMeta = desired.metadata ?? {};
  const actualMeta = actual.metadata ?? {};
  if (!sameField(desiredMeta.labels, actualMeta.labels)) return true;
  if (!sameField(desiredMeta.annotations, actualMeta.annotations)) return true;
  const kind = desired.kind ?? actual.kind;
  const hasPayload = kind === 'ConfigMap' || kind === 'Secret';
  if (hasPayload && !payloadEqual(desired, actual)) return true;
  const fields = new Set([...Object.keys(desired), ...Object.keys(actual)]);
  for (const field of fields) {
    if (NOT_COMPARED.has(field) || (hasPayload && isPayloadField(field))) continue;
    if (!fieldEqual(kind, field, desired, actual)) return true;
  }
  return false;
}

/** Twin namespaces: only our marks are compared; remote admins may add their own labels. */
export function twinNeedsUpdate(desired: KubeObject, actual: KubeObject): boolean {
  const actualLabels = actual.metadata?.labels ?? {};
  const actualAnnotations = actual.metadata?.annotations ?? {};
  for (const [key, value] of Object.entries(desired.metadata?.labels ?? {}))
    if (actualLabels[key] !== value) return true;
  for (const [key, value] of Object.entries(desired.metadata?.annotations ?? {})) {
    if (actualAnnotations[key] !== value) return true;
  }
  return false;
}

/** The update body for a twin namespace: the actual one with our marks (re)applied. */
export function twinUpdateBody(desired: KubeObject, actual: KubeObject): KubeObject {
  const actualMeta = actual.metadata ?? {};
  return {
    ...actual,
    metadata: {
      ...actualMeta,
      labels: { ...(actualMeta.labels ?? {}), ...(desired.metadata?.labels ?? {}) },
      annotations: { ...(actualMeta.annotations ?? {}), ...(desired.metadata?.annotations ?? {}) },
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
    const desiredSpec = specOf(desired);
    const actualSpec = specOf(actual);
    const externalName = desiredSpec.type === 'ExternalName' || actualSpec.type === 'ExternalName';
    return (desiredSpec.clusterIP === 'None') !== (actualSpec.clusterIP === 'None') && !externalName;
  }
  return false;
}

/** The ports we want, with the nodePorts the remote allocated to the same port and protocol. */
function withNodePorts(ports: Fields[], allocated: Fields[]): Fields[] {
  return ports.map((port) => {
    const protocol = port.protocol ?? 'TCP';
    const match = allocated.find((a) => a.port === port.port && (a.protocol ?? 'TCP') === protocol);
    return match?.nodePort !== undefined ? { ...port, nodePort: match.nodePort } : port;
  });
}

/** Writes into `spec` the values the remote allocated (`allocated` is the live spec). */
function keepAllocatedValues(spec: Fields, allocated: Fields): Fields {
  if (spec.type !== 'ExternalName' && spec.clusterIP !== 'None') {
    if (allocated.clusterIP !== undefined && allocated.clusterIP !== 'None') spec.clusterIP = allocated.clusterIP;
    if (Array.isArray(allocated.clusterIPs) && allocated.clusterIPs[0] !== 'None')
      spec.clusterIPs = allocated.clusterIPs;
    if (allocated.ipFamilies !== undefined) spec.ipFamilies = allocated.ipFamilies;
  }
  const needsNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  if (needsNodePorts && Array.isArray(spec.ports) && Array.isArray(allocated.ports)) {
    spec.ports = withNodePorts(spec.ports as Fields[], allocated.ports as Fields[]);
  }
  const localTraffic = spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
  if (localTraffic && allocated.healthCheckNodePort !== undefined)
    spec.healthCheckNodePort = allocated.healthCheckNodePort;
  return spec;
}

/**
 * The body of a PUT that turns `actual` into `desired`: desired, with the resourceVersion of
 * actual (optimistic concurrency), the finalizers others put there (a PUT without them would
 * remove them), and for Services the values the remote allocated (clusterIP(s), ipFamilies,
 * nodePorts of ports that still exist, healthCheckNodePort) so the PUT does not try to change them.
 */
export function updateBody(desired: KubeObject, actual: KubeObject): KubeObject {
  const body = deepClone(desired);
  const actualMeta = actual.metadata ?? {};
  body.metadata = { ...(body.metadata ?? {}), resourceVersion: actualMeta.resourceVersion as string | undefined };
  const finalizers = actualMeta.finalizers;
  if (Array.isArray(finalizers) && finalizers.length) body.metadata.finalizers = [...(finalizers as string[])];
  if ((desired.kind ?? actual.kind) === 'Service') body.spec = keepAllocatedValues(specOf(body), specOf(actual));
  return body;
}
