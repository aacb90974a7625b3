// The admission logic as pure functions: route path -> handler, plus the pieces the syncer and
// the shell reuse. No I/O happens below this module.
import type { AdmissionHandler } from './types.ts';
import { mutatePod } from './pods.ts';
import { mutateReplicated } from './replicated.ts';
import { validate } from './validate.ts';
import { mutateWorkload } from './workloads.ts';

export const handlers: Record<
  '/mutate/pods' | '/mutate/workloads' | '/mutate/replicated' | '/validate',
  AdmissionHandler
> = {
  '/mutate/pods': mutatePod,
  '/mutate/workloads': mutateWorkload,
  '/mutate/replicated': mutateReplicated,
  '/validate': validate,
};

export { mutatePod, offloadExemption } from './pods.ts';
export { mutateWorkload } from './workloads.ts';
export { mutateReplicated, replicationDecision, REPLICATED_KINDS } from './replicated.ts';
export type { ReplicationDecision, DecisionOptions } from './replicated.ts';
export { validate, findProblems } from './validate.ts';
export {
  parseSelector,
  tryParseSelector,
  matchesSelector,
  compileSelector,
  SelectorParseError,
  parseClusterSelector,
  SelectorLimitError,
} from './selector.ts';
export type { SelectorResult, ClusterSelectorResult } from './selector.ts';
export { resolvePolicy, policyFromAnnotations, isPlacement, isPreference } from './policy.ts';
export type { ResolvedPolicy, PolicyLayer, PolicySource } from './policy.ts';
export { planPlacement, applyPlan, toleratesTaint, virtualNodeRequirement, PREFER_WEIGHT } from './placement.ts';
export type { PlacementPlan } from './placement.ts';
export { mergeRequiredTerms, isContradictory } from './affinity.ts';
export { jsonEqual, deepClone, canonicalJson } from './json.ts';
export { WORKLOAD_KINDS, workloadKind, podTemplateOf } from './templates.ts';
export { MAX_CLUSTER_SELECTOR_LENGTH, MAX_CLUSTER_SELECTOR_REQUIREMENTS } from './keys.ts';
