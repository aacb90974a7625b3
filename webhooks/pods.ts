// /mutate/pods (Pods, CREATE): resolves the pod's placement and imposes it (the README's
// "Keys" section says what each placement means). Non-opted-in namespaces never reach this handler (the webhook configuration's
// namespaceSelector filters them), so every pod seen here is subject to placement.

import type { JsonRecord, NodeSelectorRequirement } from './k8s.ts';
import { isRecord, podSpecProblem, stringAt } from './k8s.ts';
import { PLAN_REPLACES, applyPlan, conflictWarning, planPlacement } from './placement.ts';
import type { PlacementPlan } from './placement.ts';
import { policyFromAnnotations, resolvePolicy } from './policy.ts';
import type { ResolvedPolicy } from './policy.ts';
import { cloneForWrites, under } from './patch.ts';
import { allow, allowWithDiff } from './respond.ts';
import { matchesSelector } from './selector.ts';
import { quote, warning } from './text.ts';
import type { AdmissionContext, AdmissionRequest, AdmissionResponse, KubeObject } from './types.ts';

export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

export interface Exemption {
  /** Short phrase for warnings, e.g. "a DaemonSet pod". */
  what: string;
  /** Already bound to a node: nothing can be imposed (scheduling is over). */
  bound: boolean;
}

/** Why a pod is never offloaded, or undefined when it may be. Checked in order of strength. */
export function offloadExemption(pod: KubeObject): Exemption | undefined {
  const spec = isRecord(pod.spec) ? pod.spec : {};
  if (stringAt(pod.metadata?.annotations, MIRROR_POD_ANNOTATION) !== undefined)
    return { what: 'a mirror pod', bound: true };
  if (typeof spec.nodeName === 'string' && spec.nodeName !== '') return { what: 'bound by spec.nodeName', bound: true };
  const owners = Array.isArray(pod.metadata?.ownerReferences) ? pod.metadata.ownerReferences : [];
  if (owners.some((o) => isRecord(o) && o.kind === 'DaemonSet')) return { what: 'a DaemonSet pod', bound: false };
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (spec[field] === true) return { what: `a ${field} pod`, bound: false };
  }
  const volumes = Array.isArray(spec.volumes) ? spec.volumes : [];
  if (volumes.some((v) => isRecord(v) && v.hostPath != null))
    return { what: 'a pod with hostPath volumes', bound: false };
  return undefined;
}

function explicit(source: string | undefined): boolean {
  return source !== undefined && source !== 'default';
}

/** "Remote with nothing to run on" is the surprise users hit most; only when nodes are known. */
function remoteTargetWarning(policy: ResolvedPolicy, context: AdmissionContext): string | undefined {
  if (policy.placement !== 'Remote' || !context.virtualNodes) return undefined;
  const { labelKey, labelValue } = context.convention;
  const requirements: NodeSelectorRequirement[] = [
    { key: labelKey, operator: 'In', values: [labelValue] },
    ...policy.clusterRequirements,
  ];
  const candidates = context.virtualNodes().filter((node) => matchesSelector(node.labels, requirements));
  const which = policy.clusterRequirements.length > 0 ? `matches clusters ${quote(policy.clusters, 40)}` : 'exists';
  if (candidates.length === 0) return warning(`placement Remote but no virtual node ${which}; the pod stays Pending`);
  if (!candidates.some((node) => node.ready)) return warning(`placement Remote but no Ready virtual node ${which}`);
  return undefined;
}

function boundWarnings(pod: KubeObject, policy: ResolvedPolicy, context: AdmissionContext): string[] {
  const spec = pod.spec as JsonRecord;
  const nodeName = typeof spec.nodeName === 'string' ? spec.nodeName : '';
  if (stringAt(pod.metadata?.annotations, MIRROR_POD_ANNOTATION) !== undefined) return [];
  if (policy.placement === 'Remote')
    return [warning(`pod is bound to node ${quote(nodeName, 60)} by spec.nodeName; placement Remote not applied`)];
  const virtual = context.virtualNodes?.().some((node) => node.name === nodeName) ?? false;
  if (virtual && policy.placement === 'Local')
    return [warning(`pod is bound to virtual node ${quote(nodeName, 60)} despite placement Local`)];
  return [];
}

/** What placement replaces in a pod. */
const POD_REPLACES = under(['spec'], PLAN_REPLACES);

/** Core-group Pod creation; a CRD may also name its kind "Pod", and is not ours to place. */
function isPodCreation(request: AdmissionRequest): boolean {
  return (
    request.operation === 'CREATE' && request.kind?.group === '' && request.kind.kind === 'Pod' && !request.subResource
  );
}

export function mutatePod(request: AdmissionRequest, context: AdmissionContext): AdmissionResponse {
  const pod = request.object;
  if (!isPodCreation(request) || !isRecord(pod)) return allow(request.uid);
  const problem = podSpecProblem(pod.spec);
  if (problem) return allow(request.uid, [warning(`placement not applied: ${problem}`)]);

  const namespace = request.namespace || (typeof pod.metadata?.namespace === 'string' ? pod.metadata.namespace : '');
  // Unknown namespace (or standalone mode): no namespace layer, the default still applies.
  const namespacePolicy = namespace && context.namespacePolicy ? context.namespacePolicy(namespace) : undefined;
  const policy = resolvePolicy(
    [
      { source: 'pod', policy: policyFromAnnotations(pod.metadata?.annotations) },
      { source: 'namespace', policy: namespacePolicy },
    ],
    context,
  );
  const warnings = [...policy.warnings];

  const exemption = offloadExemption(pod);
  if (exemption?.bound) return allow(request.uid, [...warnings, ...boundWarnings(pod, policy, context)]);

  let plan: PlacementPlan;
  if (exemption) {
    // Never offloaded: treated as Local, without any preference.
    plan = planPlacement('Local', [], undefined, context.convention);
    // Warn only where someone asked for more than Local; the service default is not an ask.
    if (policy.placement !== 'Local' && explicit(policy.placementSource)) {
      warnings.push(warning(`${exemption.what} is never offloaded; placement ${policy.placement} ignored`));
    } else if (policy.prefer === 'Remote' && explicit(policy.preferSource)) {
      warnings.push(warning(`${exemption.what} is never offloaded; prefer Remote ignored`));
    }
  } else {
    plan = planPlacement(policy.placement, policy.clusterRequirements, policy.prefer, context.convention);
    if (policy.prefer && !plan.preferred && explicit(policy.preferSource)) {
      warnings.push(warning(`prefer ${policy.prefer} has no effect with placement ${policy.placement}`));
    }
    const target = remoteTargetWarning(policy, context);
    if (target) warnings.push(target);
  }

  const mutated = cloneForWrites(pod, [], POD_REPLACES);
  const { conflict } = applyPlan(mutated.spec as JsonRecord, plan, context.convention);
  const contradiction = conflictWarning(conflict, exemption ? 'Local' : policy.placement);
  if (contradiction) warnings.push(contradiction);
  return allowWithDiff(request.uid, pod, mutated, warnings);
}
