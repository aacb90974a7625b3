// Minimal shapes of the Kubernetes fields the admission logic reads or writes, plus guards.
// Requests come from the API server as JSON, so every read is defensive: a value of the wrong
// shape must never make a handler throw (a throw becomes HTTP 500 in the shell).

export type NodeSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';

/** core/v1 NodeSelectorRequirement (also the shape of a parsed label-selector requirement). */
export interface NodeSelectorRequirement {
  key: string;
  operator: NodeSelectorOperator;
  /** Absent for Exists / DoesNotExist, as the API server stores it. */
  values?: string[];
}

/** core/v1 NodeSelectorTerm. An empty term matches no node (Kubernetes' rule). */
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
  [field: string]: unknown;
}

export interface PreferredSchedulingTerm {
  weight: number;
  preference: NodeSelectorTerm;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string value of a labels/annotations map, or undefined (missing, wrong type, map not an object). */
export function stringAt(map: unknown, key: string): string | undefined {
  if (!isRecord(map)) return undefined;
  const value = map[key];
  return typeof value === 'string' ? value : undefined;
}

/** The raw value of a labels/annotations map entry (for validation messages about bad types). */
export function rawAt(map: unknown, key: string): unknown {
  return isRecord(map) && Object.hasOwn(map, key) ? map[key] : undefined;
}

/** Follows a path of object keys; undefined as soon as a step is not an object. */
export function getPath(root: unknown, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const step of path) {
    if (!isRecord(node)) return undefined;
    node = node[step];
  }
  return node;
}

const OPERATORS: ReadonlySet<string> = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']);

function isRequirement(value: unknown): boolean {
  if (!isRecord(value) || typeof value.key !== 'string' || typeof value.operator !== 'string') return false;
  if (!OPERATORS.has(value.operator)) return false;
  const values = value.values;
  return values == null || (Array.isArray(values) && values.every((v) => typeof v === 'string'));
}

function isListOf(value: unknown, item: (v: unknown) => boolean): boolean {
  return value == null || (Array.isArray(value) && value.every(item));
}

/**
 * Why a pod spec cannot be handled safely, or undefined when every field placement reads or
 * writes has the expected shape. Fields placement does not touch are not inspected.
 */
export function podSpecProblem(spec: unknown): string | undefined {
  if (!isRecord(spec)) return 'spec is not an object';
  if (!isListOf(spec.tolerations, isRecord)) return 'spec.tolerations is not a list of objects';
  if (!isListOf(spec.volumes, isRecord)) return 'spec.volumes is not a list of objects';
  const nodeSelector = spec.nodeSelector;
  if (
    nodeSelector != null &&
    !(isRecord(nodeSelector) && Object.values(nodeSelector).every((v) => typeof v === 'string'))
  ) {
    return 'spec.nodeSelector is not a map of strings';
  }
  const affinity = spec.affinity;
  if (affinity == null) return undefined;
  if (!isRecord(affinity)) return 'spec.affinity is not an object';
  const nodeAffinity = affinity.nodeAffinity;
  if (nodeAffinity == null) return undefined;
  if (!isRecord(nodeAffinity)) return 'spec.affinity.nodeAffinity is not an object';
  if (!isListOf(nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution, isRecord)) {
    return 'preferred node affinity is not a list of objects';
  }
  const required = nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
  if (required == null) return undefined;
  if (!isRecord(required)) return 'required node affinity is not an object';
  const terms = required.nodeSelectorTerms;
  const termOk = (term: unknown): boolean =>
    isRecord(term) && isListOf(term.matchExpressions, isRequirement) && isListOf(term.matchFields, isRequirement);
  if (!isListOf(terms, termOk)) return 'required node affinity has malformed nodeSelectorTerms';
  return undefined;
}
