// /mutate/workloads (Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob; CREATE and
// UPDATE). A workload's metadata annotation IS the policy: it is copied into the pod template so
// that changing it rolls the pods, and it overrides a stale template copy. DaemonSet templates
// are kept off virtual nodes, so the DaemonSet controller never even plans a pod for one.

import { PLACEMENT_ANNOTATION, POLICY_ANNOTATIONS } from './keys.ts';
import type { JsonRecord } from './k8s.ts';
import { isRecord, podSpecProblem, rawAt, stringAt } from './k8s.ts';
import { PLAN_REPLACES, applyPlan, conflictWarning, planPlacement } from './placement.ts';
import { cloneForWrites, under } from './patch.ts';
import type { FieldPath } from './patch.ts';
import { allow, allowWithDiff } from './respond.ts';
import { podTemplateOf, workloadKind } from './templates.ts';
import type { WorkloadKind } from './templates.ts';
import { quote, warning } from './text.ts';
import type { AdmissionContext, AdmissionRequest, AdmissionResponse, KubeObject } from './types.ts';

/**
 * A ReplicaSet controlled by a Deployment inherits the Deployment's (already copied) template;
 * editing its template would break the Deployment's pod-template-hash bookkeeping.
 */
function ownedByDeployment(object: KubeObject): boolean {
  const owners = Array.isArray(object.metadata?.ownerReferences) ? object.metadata.ownerReferences : [];
  return owners.some((o) => isRecord(o) && o.kind === 'Deployment' && o.controller === true);
}

/**
 * Copies the policy annotations of `object`'s metadata into `template` (a clone, mutated in
 * place). On UPDATE, a key removed from the metadata is removed from the template too when the
 * template still holds the very value the old metadata had (our earlier copy), so removing the
 * policy from the workload takes effect. Returns warnings.
 */
function copyPolicy(
  kindName: string,
  object: KubeObject,
  template: JsonRecord,
  oldObject: KubeObject | undefined,
  kind: WorkloadKind,
): string[] {
  const warnings: string[] = [];
  const source = object.metadata?.annotations;
  if (template.metadata != null && !isRecord(template.metadata))
    return [warning('pod template metadata is malformed; policy not copied')];
  const templateMeta = isRecord(template.metadata) ? template.metadata : {};
  if (templateMeta.annotations != null && !isRecord(templateMeta.annotations))
    return [warning('pod template annotations are malformed; policy not copied')];
  const annotations = isRecord(templateMeta.annotations) ? (templateMeta.annotations as Record<string, unknown>) : {};
  const oldSource = oldObject?.metadata?.annotations;
  const oldTemplateMeta = oldObject ? podTemplateOf(oldObject, kind)?.metadata : undefined;

  let changed = false;
  for (const key of POLICY_ANNOTATIONS) {
    const value = stringAt(source, key);
    const current = rawAt(annotations, key);
    if (value !== undefined && current !== value) {
      if (current !== undefined)
        warnings.push(
          warning(`${kindName}'s ${key} ${quote(value, 30)} overrides ${quote(current, 30)} in its pod template`),
        );
      annotations[key] = value;
      changed = true;
    }
    const oldValue = stringAt(oldSource, key);
    const oldCopy = isRecord(oldTemplateMeta) ? stringAt(oldTemplateMeta.annotations, key) : undefined;
    if (value === undefined && oldValue !== undefined && current === oldValue && oldCopy === oldValue) {
      delete annotations[key];
      changed = true;
    }
  }
  if (changed) {
    templateMeta.annotations = annotations;
    template.metadata = templateMeta;
  }
  return warnings;
}

/** Keeps a DaemonSet template local (the Local affinity, merged like a pod's) and says so. */
function keepDaemonSetLocal(template: JsonRecord, context: AdmissionContext): string[] {
  const problem = podSpecProblem(template.spec);
  if (problem) return [warning(`DaemonSet template not kept local: ${problem}`)];
  const warnings: string[] = [];
  const asked = stringAt(isRecord(template.metadata) ? template.metadata.annotations : undefined, PLACEMENT_ANNOTATION);
  if (asked === 'Remote' || asked === 'LocalAndRemote')
    warnings.push(warning(`DaemonSet pods are never offloaded; placement ${asked} ignored`));
  const { conflict } = applyPlan(
    template.spec as JsonRecord,
    planPlacement('Local', [], undefined, context.convention),
    context.convention,
  );
  const contradiction = conflictWarning(conflict, 'Local');
  if (contradiction) warnings.push(contradiction);
  return warnings;
}

/** What this handler changes in place in a workload: the template's annotations. */
function workloadWrites(kind: WorkloadKind): FieldPath[] {
  return under(kind.templatePath, [['metadata', 'annotations']]);
}

/** What it replaces: placement's fields of the template's spec. */
function workloadReplaces(kind: WorkloadKind): FieldPath[] {
  return under([...kind.templatePath, 'spec'], PLAN_REPLACES);
}

export function mutateWorkload(request: AdmissionRequest, context: AdmissionContext): AdmissionResponse {
  const object = request.object;
  const kind = workloadKind(request.kind);
  if (
    (request.operation !== 'CREATE' && request.operation !== 'UPDATE') ||
    request.subResource ||
    !kind ||
    !isRecord(object)
  ) {
    return allow(request.uid);
  }
  if (!podTemplateOf(object, kind)) return allow(request.uid);

  const mutated = cloneForWrites(object, workloadWrites(kind), workloadReplaces(kind));
  const template = podTemplateOf(mutated, kind) as JsonRecord;
  const kindName = request.kind.kind;
  const oldObject = request.operation === 'UPDATE' && isRecord(request.oldObject) ? request.oldObject : undefined;
  const warnings: string[] = [];
  if (!(kindName === 'ReplicaSet' && ownedByDeployment(object)))
    warnings.push(...copyPolicy(kindName, object, template, oldObject, kind));
  if (kindName === 'DaemonSet') warnings.push(...keepDaemonSetLocal(template, context));
  return allowWithDiff(request.uid, object, mutated, warnings);
}
