// /mutate/replicated (Services, Secrets, ConfigMaps; CREATE and UPDATE): the replication stamp.
// replicationDecision() is shared with the syncer's backfill so both apply the same rules.
// Secret contents are never read beyond `type`, and never appear in any message.

import { REPLICATE_KEY } from './keys.ts';
import { isRecord, rawAt } from './k8s.ts';
import { cloneForWrites } from './patch.ts';
import type { FieldPath } from './patch.ts';
import { allow, allowWithDiff } from './respond.ts';
import type { AdmissionContext, AdmissionRequest, AdmissionResponse, KubeObject } from './types.ts';

export const REPLICATED_KINDS: readonly string[] = ['Service', 'Secret', 'ConfigMap'];

/** Every namespace gets its own kube-root-ca.crt, and tokens/Helm releases belong to their cluster. */
const EXCLUDED_SECRET_TYPES: Readonly<Record<string, string>> = {
  'kubernetes.io/service-account-token': 'excluded: service-account-token Secret',
  'helm.sh/release.v1': 'excluded: Helm release Secret',
};
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';

export interface ReplicationDecision {
  /** True: carry replicate=true (annotation and label); false: do not replicate. */
  stamp: boolean;
  /** Machine-stable, human-readable; never contains object data. */
  reason: 'replicated' | 'opted out' | 'invalid replicate value' | `excluded: ${string}`;
}

export interface DecisionOptions {
  /** The object's kind when `object.kind` is absent (list items from the API omit it). */
  kind?: string;
  /** On UPDATE: tells which of annotation/label the user just changed (see below). */
  oldObject?: KubeObject | null;
}

/**
 * Whether an object should be replicated. Opt-out is `"false"` in the annotation or the label.
 * Because the webhook mirrors one into the other, a user who flips only one of them on UPDATE
 * (e.g. annotation back to "true" while the mirrored label still says "false") means the one
 * they changed; without an old object any "false" wins (the conservative choice).
 */
export function replicationDecision(object: KubeObject, options: DecisionOptions = {}): ReplicationDecision {
  const kind = object.kind ?? options.kind;
  if (kind === 'ConfigMap' && object.metadata?.name === ROOT_CA_CONFIGMAP)
    return { stamp: false, reason: 'excluded: kube-root-ca.crt ConfigMap' };
  if (kind === 'Secret' && typeof object.type === 'string' && Object.hasOwn(EXCLUDED_SECRET_TYPES, object.type)) {
    return { stamp: false, reason: EXCLUDED_SECRET_TYPES[object.type] as ReplicationDecision['reason'] };
  }
  const annotation = rawAt(object.metadata?.annotations, REPLICATE_KEY);
  const label = rawAt(object.metadata?.labels, REPLICATE_KEY);
  const valid = (v: unknown): boolean => v === undefined || v === 'true' || v === 'false';
  // Left alone so the validating webhook rejects it with a clear message (not silently "fixed").
  if (!valid(annotation) || !valid(label)) return { stamp: false, reason: 'invalid replicate value' };

  const annotationOff = annotation === 'false';
  const labelOff = label === 'false';
  let optedOut = annotationOff || labelOff;
  if (annotationOff !== labelOff && isRecord(options.oldObject)) {
    const old = options.oldObject as KubeObject;
    if (annotation !== rawAt(old.metadata?.annotations, REPLICATE_KEY)) optedOut = annotationOff;
    else if (label !== rawAt(old.metadata?.labels, REPLICATE_KEY)) optedOut = labelOff;
  }
  return optedOut ? { stamp: false, reason: 'opted out' } : { stamp: true, reason: 'replicated' };
}

/** The stamp goes into both maps (each replaced by a new object). */
const STAMP_WRITES: readonly FieldPath[] = [
  ['metadata', 'annotations'],
  ['metadata', 'labels'],
];

export function mutateReplicated(request: AdmissionRequest, _context: AdmissionContext): AdmissionResponse {
  const object = request.object;
  const kind = request.kind?.kind;
  if (
    (request.operation !== 'CREATE' && request.operation !== 'UPDATE') ||
    request.subResource ||
    request.kind?.group !== ''
  )
    return allow(request.uid);
  if (!kind || !REPLICATED_KINDS.includes(kind) || !isRecord(object)) return allow(request.uid);
  const metadata = object.metadata;
  if (
    !isRecord(metadata) ||
    (metadata.labels != null && !isRecord(metadata.labels)) ||
    (metadata.annotations != null && !isRecord(metadata.annotations))
  ) {
    return allow(request.uid);
  }
  const decision = replicationDecision(object, {
    kind,
    oldObject: request.operation === 'UPDATE' ? request.oldObject : undefined,
  });
  // Excluded or invalid: untouched. Opted out: both marks say "false", so the syncer's label
  // selector (replicate=true) stops matching and the copy is removed.
  if (decision.reason !== 'replicated' && decision.reason !== 'opted out') return allow(request.uid);
  const value = decision.stamp ? 'true' : 'false';
  const mutated = cloneForWrites(object, STAMP_WRITES);
  const meta = mutated.metadata as NonNullable<KubeObject['metadata']>;
  meta.annotations = { ...(meta.annotations ?? {}), [REPLICATE_KEY]: value };
  meta.labels = { ...(meta.labels ?? {}), [REPLICATE_KEY]: value };
  return allowWithDiff(request.uid, object, mutated);
}
