// /validate (Namespace, Pod, workloads, Service, Secret, ConfigMap; CREATE and UPDATE).
// Rejects bad values of our keys with messages naming key, value and what is allowed, and
// forged ownership keys. Anything it does not understand is allowed: it guards our keys only.
//
// On UPDATE a value equal to the old object's value at the same place is not re-checked
// ("ratcheting", as Kubernetes does): objects that predate the webhook can still be updated
// (finalizers, scaling, deletion) without first fixing an unrelated annotation.

import {
  CLUSTERS_ANNOTATION,
  ENABLED_LABEL,
  OWNERSHIP_KEYS,
  PLACEMENTS,
  PLACEMENT_ANNOTATION,
  PREFERENCES,
  PREFER_ANNOTATION,
  REPLICATE_KEY,
  TWIN_NAMINGS,
  TWIN_NAME_ANNOTATION,
} from './keys.ts';
import { jsonEqual } from './json.ts';
import { getPath, isRecord, rawAt } from './k8s.ts';
import { REPLICATED_KINDS } from './replicated.ts';
import { allow, deny } from './respond.ts';
import { SelectorLimitError, parseClusterSelector } from './selector.ts';
import { workloadKind } from './templates.ts';
import { quote } from './text.ts';
import { twinNamingChangeProblem } from './twin-naming.ts';
import type { AdmissionContext, AdmissionRequest, AdmissionResponse } from './types.ts';

/** One labels+annotations pair of the object (its metadata, or a template's), with the old one. */
interface Place {
  meta: unknown;
  oldMeta: unknown;
  policy: boolean;
}

type Checker = (value: unknown) => string | undefined;

function oneOf(allowed: readonly string[]): Checker {
  return (value) =>
    typeof value === 'string' && allowed.includes(value)
      ? undefined
      : `${quote(value)} is not one of ${allowed.join(', ')}`;
}

const checkSelector: Checker = (value) => {
  if (typeof value !== 'string') return `${quote(value)} is not a valid label selector: not a string`;
  const parsed = parseClusterSelector(value);
  if (parsed.ok) return undefined;
  if (parsed.error instanceof SelectorLimitError) return `${quote(value, 40)} is too large: ${parsed.error.message}`;
  return `${quote(value)} is not a valid label selector: ${parsed.error.message}`;
};

const POLICY_CHECKS: ReadonlyArray<[string, Checker]> = [
  [PLACEMENT_ANNOTATION, oneOf(PLACEMENTS)],
  [CLUSTERS_ANNOTATION, checkSelector],
  [PREFER_ANNOTATION, oneOf(PREFERENCES)],
];
const BOOLEAN = oneOf(['true', 'false']);
const TWIN_NAMING = oneOf(TWIN_NAMINGS);

export interface Findings {
  /** Bad values: 422 Invalid. */
  invalid: string[];
  /** Forged ownership keys: 403 Forbidden. */
  forbidden: string[];
}

/** One of our keys in labels or annotations, and how its value is checked. */
interface KeyCheck {
  field: 'labels' | 'annotations';
  key: string;
  check: Checker;
}

function checkValue(findings: Findings, place: Place, { field, key, check }: KeyCheck, updating: boolean): void {
  const map = isRecord(place.meta) ? place.meta[field] : undefined;
  if (!isRecord(map) || !Object.hasOwn(map, key)) return;
  const value = map[key];
  const oldMap = isRecord(place.oldMeta) ? place.oldMeta[field] : undefined;
  if (updating && isRecord(oldMap) && Object.hasOwn(oldMap, key) && jsonEqual(oldMap[key], value)) return;
  const problem = check(value);
  if (problem) findings.invalid.push(`${key}: ${problem}`);
}

function checkOwnership(findings: Findings, place: Place, updating: boolean): void {
  for (const field of ['labels', 'annotations'] as const) {
    const map = isRecord(place.meta) ? place.meta[field] : undefined;
    const oldMap = isRecord(place.oldMeta) ? place.oldMeta[field] : undefined;
    for (const key of OWNERSHIP_KEYS) {
      const value = rawAt(map, key);
      if (value === undefined) continue;
      // Unchanged pre-existing marks are tolerated; adding or changing one is forging it.
      if (updating && isRecord(oldMap) && Object.hasOwn(oldMap, key) && jsonEqual(oldMap[key], value)) continue;
      findings.forbidden.push(
        `${key}: ${field === 'labels' ? 'label' : 'annotation'} is reserved for kube-offload's syncer and may not be set`,
      );
    }
  }
}

/** The places of an object that carry our keys, per kind; undefined for kinds we do not guard. */
function placesOf(kind: { group?: string; kind?: string }, object: unknown, oldObject: unknown): Place[] | undefined {
  const at = (path: readonly string[], policy: boolean): Place => ({
    meta: getPath(object, path),
    oldMeta: getPath(oldObject, path),
    policy,
  });
  const core = kind.group === '';
  if (core && (kind.kind === 'Namespace' || kind.kind === 'Pod')) return [at(['metadata'], true)];
  if (core && kind.kind && REPLICATED_KINDS.includes(kind.kind)) return [at(['metadata'], false)];
  const workload = workloadKind(kind);
  if (!workload) return undefined;
  const places = [at(['metadata'], true), at([...workload.templatePath, 'metadata'], true)];
  // A CronJob's Job template has metadata of its own, which becomes the Job's metadata.
  if (kind.kind === 'CronJob') places.push(at(['spec', 'jobTemplate', 'metadata'], true));
  return places;
}

/** A Namespace's own keys: the opt-in label, and the twin naming (its value, and when it may change). */
function checkNamespace(findings: Findings, main: Place, request: AdmissionRequest, updating: boolean): void {
  checkValue(findings, main, { field: 'labels', key: ENABLED_LABEL, check: BOOLEAN }, updating);
  checkValue(findings, main, { field: 'annotations', key: TWIN_NAME_ANNOTATION, check: TWIN_NAMING }, updating);
  const change = updating ? twinNamingChangeProblem(request.object, request.oldObject) : undefined;
  if (change) findings.invalid.push(change);
}

/** All findings for a request's object; exported for tests and tooling. */
export function findProblems(request: AdmissionRequest): Findings | undefined {
  const object = request.object;
  if (!isRecord(object) || !request.kind) return undefined;
  const updating = request.operation === 'UPDATE';
  const places = placesOf(request.kind, object, updating ? request.oldObject : undefined);
  if (!places) return undefined;
  const findings: Findings = { invalid: [], forbidden: [] };
  const [main] = places;
  for (const place of places) {
    checkOwnership(findings, place, updating);
    if (place.policy)
      for (const [key, check] of POLICY_CHECKS)
        checkValue(findings, place, { field: 'annotations', key, check }, updating);
  }
  if (main && request.kind.kind === 'Namespace') checkNamespace(findings, main, request, updating);
  if (main && !main.policy) {
    checkValue(findings, main, { field: 'annotations', key: REPLICATE_KEY, check: BOOLEAN }, updating);
    checkValue(findings, main, { field: 'labels', key: REPLICATE_KEY, check: BOOLEAN }, updating);
  }
  return findings;
}

export function validate(request: AdmissionRequest, _context: AdmissionContext): AdmissionResponse {
  if ((request.operation !== 'CREATE' && request.operation !== 'UPDATE') || request.subResource)
    return allow(request.uid);
  const findings = findProblems(request);
  if (!findings) return allow(request.uid);
  const { invalid, forbidden } = findings;
  if (invalid.length === 0 && forbidden.length === 0) return allow(request.uid);
  const message = [...new Set([...forbidden, ...invalid])].join('; ');
  return forbidden.length > 0
    ? deny(request.uid, 403, 'Forbidden', message)
    : deny(request.uid, 422, 'Invalid', message);
}
