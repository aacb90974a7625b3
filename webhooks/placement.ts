// Placement (the README's `kube-offload.io/placement`): what each placement imposes on a pod
// spec, and applying it on top of the user's own scheduling constraints (shared by the Pod and
// the DaemonSet-template paths).

import type { Placement, Preference, VirtualNodeConvention } from './keys.ts';
import type {
  JsonRecord,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  PreferredSchedulingTerm,
  Toleration,
} from './k8s.ts';
import { isRecord } from './k8s.ts';
import { jsonEqual } from './json.ts';
import { mergeRequiredTerms } from './affinity.ts';
import type { MergeConflict } from './affinity.ts';
import type { FieldPath } from './patch.ts';
import { warning } from './text.ts';

/** Weight of the preferred term that `prefer` adds (the maximum, so it outweighs spreading scores). */
export const PREFER_WEIGHT = 100;

export interface PlacementPlan {
  /** Add a toleration for the virtual-node taint unless one already tolerates it. */
  tolerate: boolean;
  /** Imposed required affinity: OR of AND-lists; undefined imposes none. */
  required?: NodeSelectorRequirement[][];
  /** Requirement of the preferred term to add, if any. */
  preferred?: NodeSelectorRequirement;
}

export function virtualNodeRequirement(
  convention: VirtualNodeConvention,
  operator: 'In' | 'NotIn',
): NodeSelectorRequirement {
  return { key: convention.labelKey, operator, values: [convention.labelValue] };
}

/**
 * Plans by convention, by cluster requirements (webhooks/policy.ts hands out one list per selector
 * text; every empty list is NO_CLUSTERS here) and by placement and preference. A plan's imposed
 * terms thereby keep their identity from pod to pod, and mergeRequiredTerms() works out what it
 * needs to know about them once (a fifth of a typical pod's mutation). Plans are shared like
 * the requirements in them: applyPlan() only ever copies them into new lists, and
 * test/unit/webhooks/pods.property.test.ts checks the plans after admissions.
 */
const plans = new WeakMap<
  VirtualNodeConvention,
  WeakMap<readonly NodeSelectorRequirement[], Map<string, PlacementPlan>>
>();
const NO_CLUSTERS: readonly NodeSelectorRequirement[] = [];

/**
 * The constraints of a placement. `clusters` is the parsed selector (empty: any virtual node).
 * A preference that the placement makes pointless (prefer Remote with Local, prefer Local with
 * Remote) adds nothing; the caller warns. The plan is shared: callers never change it.
 */
export function planPlacement(
  placement: Placement,
  clusters: readonly NodeSelectorRequirement[],
  prefer: Preference | undefined,
  convention: VirtualNodeConvention,
): PlacementPlan {
  let byClusters = plans.get(convention);
  if (!byClusters) plans.set(convention, (byClusters = new WeakMap()));
  const listed = clusters.length === 0 ? NO_CLUSTERS : clusters;
  let byPolicy = byClusters.get(listed);
  if (!byPolicy) byClusters.set(listed, (byPolicy = new Map()));
  const key = `${placement}/${prefer ?? ''}`;
  let plan = byPolicy.get(key);
  if (!plan) byPolicy.set(key, (plan = newPlan(placement, listed, prefer, convention)));
  return plan;
}

function newPlan(
  placement: Placement,
  clusters: readonly NodeSelectorRequirement[],
  prefer: Preference | undefined,
  convention: VirtualNodeConvention,
): PlacementPlan {
  const local = virtualNodeRequirement(convention, 'NotIn');
  const remote = virtualNodeRequirement(convention, 'In');
  const plan: PlacementPlan = { tolerate: placement !== 'Local' };
  if (placement === 'Local') plan.required = [[local]];
  if (placement === 'Remote') plan.required = [[remote, ...clusters]];
  // Without a selector LocalAndRemote allows every node: no required affinity at all.
  if (placement === 'LocalAndRemote' && clusters.length > 0) plan.required = [[local], [remote, ...clusters]];
  if (prefer === 'Local' && placement !== 'Remote') plan.preferred = local;
  if (prefer === 'Remote' && placement !== 'Local') plan.preferred = remote;
  return plan;
}

/** Kubernetes' Toleration.ToleratesTaint. */
export function toleratesTaint(toleration: unknown, convention: VirtualNodeConvention): boolean {
  if (!isRecord(toleration)) return false;
  const t = toleration as Toleration;
  if (t.effect && t.effect !== convention.taintEffect) return false;
  if (t.key && t.key !== convention.taintKey) return false;
  if (t.operator === 'Exists') return true;
  if (t.operator === undefined || t.operator === '' || t.operator === 'Equal')
    return (t.value ?? '') === convention.taintValue;
  return false;
}

export function virtualNodeToleration(convention: VirtualNodeConvention): Toleration {
  return { key: convention.taintKey, operator: 'Equal', value: convention.taintValue, effect: convention.taintEffect };
}

/** Returns (creating if needed) an object-valued field; the caller checked shapes beforehand. */
function child(parent: JsonRecord, key: string): JsonRecord {
  const existing = parent[key];
  if (isRecord(existing)) return existing;
  const created: JsonRecord = {};
  parent[key] = created;
  return created;
}

export interface ApplyResult {
  /** How the user's required affinity related to the imposed one; 'none' when nothing was imposed. */
  conflict: MergeConflict;
}

/**
 * The fields of a pod spec that applyPlan assigns new values to. It sets them on the objects on
 * the way (creating those that are missing) and never changes an old value in place, so callers
 * copy with cloneForWrites(…, replaces) and the old lists stay shared.
 */
export const PLAN_REPLACES: readonly FieldPath[] = [
  ['tolerations'],
  ['affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms'],
  ['affinity', 'nodeAffinity', 'preferredDuringSchedulingIgnoredDuringExecution'],
];

/**
 * Applies a plan to a pod spec IN PLACE (callers pass a copy owning the way to PLAN_REPLACES and
 * diff it). The spec must have passed podSpecProblem(). Tolerations, nodeSelector and preferred
 * terms of the user are kept; nothing is added that is already there, so applying twice equals
 * applying once.
 */
export function applyPlan(spec: JsonRecord, plan: PlacementPlan, convention: VirtualNodeConvention): ApplyResult {
  if (plan.tolerate) {
    const tolerations = Array.isArray(spec.tolerations) ? (spec.tolerations as unknown[]) : [];
    if (!tolerations.some((t) => toleratesTaint(t, convention))) {
      // A tolerate-everything pod already tolerates the taint, so it gets no extra entry.
      spec.tolerations = [...tolerations, virtualNodeToleration(convention)];
    }
  }

  let conflict: MergeConflict = 'none';
  if (plan.required) {
    const nodeAffinity =
      isRecord(spec.affinity) && isRecord(spec.affinity.nodeAffinity) ? spec.affinity.nodeAffinity : undefined;
    const required = nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    const userTerms = isRecord(required) ? ((required.nodeSelectorTerms ?? []) as NodeSelectorTerm[]) : undefined;
    const nodeSelector = isRecord(spec.nodeSelector) ? (spec.nodeSelector as Record<string, string>) : undefined;
    const merged = mergeRequiredTerms(userTerms, plan.required, nodeSelector);
    conflict = merged.conflict;
    if (userTerms === undefined || !jsonEqual(userTerms, merged.terms)) {
      child(
        child(child(spec, 'affinity'), 'nodeAffinity'),
        'requiredDuringSchedulingIgnoredDuringExecution',
      ).nodeSelectorTerms = merged.terms;
    }
  }

  if (plan.preferred) {
    const term: PreferredSchedulingTerm = { weight: PREFER_WEIGHT, preference: { matchExpressions: [plan.preferred] } };
    const nodeAffinity = child(child(spec, 'affinity'), 'nodeAffinity');
    const key = 'preferredDuringSchedulingIgnoredDuringExecution';
    const preferred = Array.isArray(nodeAffinity[key]) ? (nodeAffinity[key] as unknown[]) : [];
    if (!preferred.some((p) => jsonEqual(p, term))) nodeAffinity[key] = [...preferred, term];
  }
  return { conflict };
}

/** The admission warning for a merge conflict, or undefined when there was none. */
export function conflictWarning(conflict: MergeConflict, placement: Placement): string | undefined {
  switch (conflict) {
    case 'total':
      return warning(`node affinity contradicts placement ${placement}; the pod can never be scheduled`);
    case 'partial':
      return warning(`some node affinity terms contradict placement ${placement} and were dropped`);
    case 'unmatchable':
      return warning('required node affinity has only empty terms; the pod can never be scheduled');
    default:
      return undefined;
  }
}
