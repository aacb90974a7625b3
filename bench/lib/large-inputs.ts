// The costliest inputs for webhooks/, shared by the benchmark section "webhooks"
// (bench/sections/webhooks.ts), which times them, and the unit tests, which check what they
// produce (test/unit/webhooks/scaling.test.ts).
//
// The worst admissible pods: what bounds them is the clusters selector limits
// (MAX_CLUSTER_SELECTOR_LENGTH, MAX_CLUSTER_SELECTOR_REQUIREMENTS), and the API server, which
// stores no object larger than OBJECT_SIZE_LIMIT, so neither the pod nor the pod the webhook
// makes of it may be larger. Within that, the pod mutation webhook costs most when it merges as
// many required-affinity terms as possible with the largest placement (LocalAndRemote: two
// imposed terms, the remote one carrying the selector).
//
// The hostile inputs (large term lists, selectors of one key repeated) are the ones that took
// 10 to 45 s when parts of webhooks/ were quadratic.
import {
  CLUSTERS_ANNOTATION,
  MAX_CLUSTER_SELECTOR_LENGTH,
  MAX_CLUSTER_SELECTOR_REQUIREMENTS,
  LIQO_CONVENTION,
  PLACEMENT_ANNOTATION,
  PREFER_ANNOTATION,
} from '../../webhooks/keys.ts';
import type { AdmissionRequest, KubeObject } from '../../webhooks/types.ts';

/** etcd's default request limit (--max-request-bytes): the largest object the API server stores. */
export const OBJECT_SIZE_LIMIT = 1.5 * 1024 * 1024;

const VN = LIQO_CONVENTION;
const requirementSize = (r: object): number => JSON.stringify(r).length + 1;

/** Label key of the i-th requirement of worstClusterSelector(). */
const selectorKey = (i: number): string => `topology.example.com/k${i}`;

/**
 * A selector at both limits: MAX_CLUSTER_SELECTOR_REQUIREMENTS `In` requirements, on distinct keys,
 * with as many values as fit in MAX_CLUSTER_SELECTOR_LENGTH characters (In lists cost the most to
 * intersect when checking merged terms for contradictions).
 */
export function worstClusterSelector(): string {
  const count = MAX_CLUSTER_SELECTOR_REQUIREMENTS;
  // "key in (" + values + ")" per requirement, "," between requirements.
  const overhead =
    Array.from({ length: count }, (_, i) => selectorKey(i).length + ' in ()'.length).reduce((a, b) => a + b, 0) +
    count -
    1;
  const valuesPerRequirement = Math.floor((MAX_CLUSTER_SELECTOR_LENGTH - overhead) / count / 'v00,'.length);
  const values = Array.from({ length: valuesPerRequirement }, (_, j) => `v${String(j).padStart(2, '0')}`);
  const selector = Array.from({ length: count }, (_, i) => `${selectorKey(i)} in (${values.join(',')})`).join(',');
  if (selector.length > MAX_CLUSTER_SELECTOR_LENGTH)
    throw new Error(`worstClusterSelector: ${selector.length} characters`);
  return selector;
}

/** The requirements the selector stands for, as the webhook imposes them (for sizing only). */
function selectorRequirements(selector: string): object[] {
  return selector.split('),').map((clause) => {
    const [key, list] = clause.split(' in (') as [string, string];
    return { key, operator: 'In', values: list.replace(')', '').split(',') };
  });
}

function pod(terms: object[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'worst',
      namespace: 'bench',
      annotations: {
        [PLACEMENT_ANNOTATION]: 'LocalAndRemote',
        [CLUSTERS_ANNOTATION]: worstClusterSelector(),
        [PREFER_ANNOTATION]: 'Remote',
      },
    },
    spec: {
      containers: [{ name: 'app', image: 'registry.example.com/app:1' }],
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } },
    },
  };
}

/** How many terms of `termSize` characters fit in the object limit, next to the rest of the pod. */
function termsThatFit(termSize: number): number {
  return Math.floor((OBJECT_SIZE_LIMIT - JSON.stringify(pod([])).length - 1024) / termSize);
}

/**
 * The pod whose mutation grows the most within the limits: selector at both limits,
 * LocalAndRemote, and as many distinct required terms (each on a selector key, with a value the
 * selector allows, so no product is dropped) as keep the MUTATED pod under OBJECT_SIZE_LIMIT:
 * every term comes back twice, once with the selector's requirements.
 */
export function worstAdmissiblePod(): KubeObject {
  const imposed = selectorRequirements(worstClusterSelector());
  const userTerm = (i: number) => ({
    matchExpressions: [
      { key: selectorKey(i % MAX_CLUSTER_SELECTOR_REQUIREMENTS), operator: 'In', values: ['v00', `u${i}`] },
    ],
  });
  const sample = userTerm(0).matchExpressions;
  const local = { key: VN.labelKey, operator: 'NotIn', values: [VN.labelValue] };
  const remote = { key: VN.labelKey, operator: 'In', values: [VN.labelValue] };
  const mergedSize =
    requirementSize({ matchExpressions: [...sample, local] }) +
    requirementSize({ matchExpressions: [...sample, remote, ...imposed] });
  return pod(Array.from({ length: termsThatFit(mergedSize) }, (_, i) => userTerm(i)));
}

/**
 * The largest pod (input) the merge can work through: OBJECT_SIZE_LIMIT of distinct required
 * terms that each keep off virtual nodes, so every remote product (a term plus the selector's
 * requirements) is built, found contradictory and dropped, and the mutated pod stays as large as
 * the input.
 */
export function largestAdmissibleAffinityPod(): KubeObject {
  const userTerm = (i: number) => ({
    matchExpressions: [
      { key: VN.labelKey, operator: 'NotIn', values: [VN.labelValue] },
      { key: selectorKey(i % MAX_CLUSTER_SELECTOR_REQUIREMENTS), operator: 'In', values: [`u${i}`] },
    ],
  });
  return pod(Array.from({ length: termsThatFit(requirementSize(userTerm(99_999))) }, (_, i) => userTerm(i)));
}

/** A CREATE review of `object` as the API server sends it to /mutate/pods. */
export function podReview(object: KubeObject): AdmissionRequest {
  return {
    uid: 'worst-case',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    namespace: 'bench',
    object,
  };
}

/** `a=v0,a=v1,...` of at least `length` characters: every requirement on the same key. */
export function sameKeySelector(length: number): string {
  const parts: string[] = [];
  for (let i = 0, total = 0; total < length; i++) {
    const part = `a=v${i}`;
    parts.push(part);
    total += part.length + 1;
  }
  return parts.join(',');
}

/** `count` distinct required terms, one requirement each. */
export function distinctTerms(count: number): Array<{ matchExpressions: object[] }> {
  return Array.from({ length: count }, (_, i) => ({
    matchExpressions: [{ key: 'zone', operator: 'In', values: [`z${i}`] }],
  }));
}

/** A pod of `count` distinct required terms with these annotations (and spec fields). */
export function podWithTerms(
  count: number,
  annotations: Record<string, string>,
  spec: Record<string, unknown> = {},
): KubeObject {
  const required = { nodeSelectorTerms: distinctTerms(count) };
  return {
    metadata: { name: 'p', annotations },
    spec: {
      containers: [],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required } },
      ...spec,
    },
  };
}
