// Shared builders and an independent node-affinity evaluator (deliberately not the code under
// test) for the webhook tests.
import jsonpatch from 'fast-json-patch';
import { LIQO_CONVENTION } from '../../../webhooks/keys.ts';
import type { Placement } from '../../../webhooks/keys.ts';
import type {
  AdmissionContext,
  AdmissionRequest,
  AdmissionResponse,
  KubeObject,
  NamespacePolicy,
  VirtualNodeInfo,
} from '../../../webhooks/types.ts';

export const VN_KEY = LIQO_CONVENTION.labelKey;
export const VN_VALUE = LIQO_CONVENTION.labelValue;
export const VN_TOLERATION = {
  key: LIQO_CONVENTION.taintKey,
  operator: 'Equal',
  value: LIQO_CONVENTION.taintValue,
  effect: LIQO_CONVENTION.taintEffect,
};
export const NOT_VIRTUAL = { key: VN_KEY, operator: 'NotIn', values: [VN_VALUE] };
export const VIRTUAL = { key: VN_KEY, operator: 'In', values: [VN_VALUE] };

export interface ContextOptions {
  defaultPlacement?: Placement;
  defaultPrefer?: 'Local' | 'Remote';
  namespaces?: Record<string, NamespacePolicy>;
  virtualNodes?: VirtualNodeInfo[];
}

export function context(options: ContextOptions = {}): AdmissionContext {
  const ctx: AdmissionContext = {
    defaultPlacement: options.defaultPlacement ?? 'LocalAndRemote',
    convention: LIQO_CONVENTION,
  };
  if (options.defaultPrefer) ctx.defaultPrefer = options.defaultPrefer;
  const namespaces = options.namespaces;
  if (namespaces) ctx.namespacePolicy = (ns) => namespaces[ns];
  const nodes = options.virtualNodes;
  if (nodes) ctx.virtualNodes = () => nodes;
  return ctx;
}

const GROUPS: Record<string, string> = {
  Pod: '',
  Namespace: '',
  Service: '',
  Secret: '',
  ConfigMap: '',
  Deployment: 'apps',
  StatefulSet: 'apps',
  ReplicaSet: 'apps',
  DaemonSet: 'apps',
  Job: 'batch',
  CronJob: 'batch',
};

export function review(kind: string, object: unknown, extra: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: 'uid-1234',
    kind: { group: GROUPS[kind] ?? '', version: 'v1', kind },
    operation: 'CREATE',
    namespace: 'shop',
    object: object as KubeObject,
    ...extra,
  };
}

export interface PodOptions {
  annotations?: Record<string, string>;
  spec?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

export function pod(options: PodOptions = {}): KubeObject {
  const metadata: Record<string, unknown> = { name: 'web-1', namespace: 'shop', ...options.metadata };
  if (options.annotations) metadata.annotations = options.annotations;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: { containers: [{ name: 'app', image: 'nginx' }], ...options.spec },
  };
}

/**
 * Deep-freezes a value and returns it. Handlers copy only the fields they write (see
 * cloneForWrites) and share the rest with the request: on frozen input, a write anywhere else
 * throws (ES modules are strict) instead of silently changing the request.
 */
export function frozen<T>(value: T): T {
  // Iterative, so that it copes with the deeply nested values of the nesting tests.
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null || Object.isFrozen(node)) continue;
    Object.freeze(node);
    for (const child of Object.values(node)) pending.push(child);
  }
  return value;
}

/** Applies a response's patch to a copy of the object, validating every operation. */
export function patched<T>(object: T, response: AdmissionResponse): T {
  if (!response.patch) return structuredClone(object);
  return jsonpatch.applyPatch(structuredClone(object), response.patch as jsonpatch.Operation[], true, false)
    .newDocument as T;
}

type Requirement = { key: string; operator: string; values?: string[] };
type Term = { matchExpressions?: Requirement[]; matchFields?: Requirement[] };

function requirementMatches(r: Requirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    default:
      throw new Error(`operator ${r.operator} not supported by the test evaluator`);
  }
}

export interface TestNode {
  name: string;
  labels: Record<string, string>;
}

/** Kubernetes semantics: terms ORed, an empty term matches nothing, no terms given = any node. */
export function requiredMatches(terms: Term[] | undefined, node: TestNode): boolean {
  if (terms === undefined) return true;
  return terms.some((t) => {
    const exprs = t.matchExpressions ?? [];
    const fields = t.matchFields ?? [];
    if (exprs.length === 0 && fields.length === 0) return false;
    return (
      exprs.every((r) => requirementMatches(r, node.labels[r.key])) &&
      fields.every((r) => requirementMatches(r, r.key === 'metadata.name' ? node.name : undefined))
    );
  });
}

export function nodeSelectorMatches(selector: Record<string, string> | undefined, node: TestNode): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => node.labels[k] === v);
}

export function requiredTerms(object: any): Term[] | undefined {
  return object?.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
}
export function preferredTerms(object: any): unknown[] | undefined {
  return object?.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
}
