// The worst admissible pod for /mutate/pods: the largest input the webhook still places, shaped to
// cost the most: placement LocalAndRemote with a cluster selector (two imposed terms, each ANDed
// with every term of the pod's own), and
//   - the kube-offload.io/clusters selector at both limits webhooks/ exports:
//     MAX_CLUSTER_SELECTOR_REQUIREMENTS requirements, filled with `in (...)` values up to
//     MAX_CLUSTER_SELECTOR_LENGTH characters;
//   - a large required node affinity of the pod's own, whose keys never clash with the imposed
//     ones (so no product is dropped as contradictory), and as many preferred terms. webhooks/
//     sets no limit there; Kubernetes' is the object size: 64 terms of 16 expressions of 3
//     values merge into a pod of ~0.95 MiB, under etcd's 1.5 MiB, from a review of ~0.2 MiB.
import { MAX_CLUSTER_SELECTOR_LENGTH, MAX_CLUSTER_SELECTOR_REQUIREMENTS } from '../../webhooks/index.ts';
import { CLUSTERS_ANNOTATION, PLACEMENT_ANNOTATION, PREFER_ANNOTATION } from '../../webhooks/keys.ts';
import { placementReview } from './pod.ts';

export interface WorstSizes {
  /** Requirements of the kube-offload.io/clusters selector. */
  selectorRequirements: number;
  /** Characters of the selector, at most. */
  selectorLength: number;
  /** The pod's own required nodeSelectorTerms, and as many preferred terms. */
  terms: number;
  /** matchExpressions per term of the pod's own. */
  expressions: number;
  /** Values per expression of the pod's own. */
  values: number;
}

export const WORST_SIZES: WorstSizes = {
  selectorRequirements: MAX_CLUSTER_SELECTOR_REQUIREMENTS,
  selectorLength: MAX_CLUSTER_SELECTOR_LENGTH,
  terms: 64,
  expressions: 16,
  values: 3,
};

function selectorWith(requirements: number, values: number): string {
  const requirement = (i: number) => `k${i} in (${Array.from({ length: values }, (_, v) => `v${i}x${v}`).join(',')})`;
  return Array.from({ length: requirements }, (_, i) => requirement(i)).join(',');
}

/** `k0 in (v0x0,v0x1,...),k1 in (...)`: every requirement, as many values as the length allows. */
export function worstSelector(sizes: WorstSizes): { selector: string; values: number } {
  let values = 1;
  while (selectorWith(sizes.selectorRequirements, values + 1).length <= sizes.selectorLength) values++;
  return { selector: selectorWith(sizes.selectorRequirements, values), values };
}

function ownTerms(
  sizes: WorstSizes,
): Array<{ matchExpressions: Array<{ key: string; operator: string; values: string[] }> }> {
  return Array.from({ length: sizes.terms }, (_, t) => ({
    matchExpressions: Array.from({ length: sizes.expressions }, (_, e) => ({
      key: `own.bench.example/t${t}e${e}`,
      operator: 'In',
      values: Array.from({ length: sizes.values }, (_, v) => `t${t}e${e}v${v}`),
    })),
  }));
}

/** The placement review of the realistic pod, made the worst admissible one. */
export function worstAdmissibleReview(sizes: WorstSizes = WORST_SIZES): {
  review: Record<string, any>;
  describe: string;
} {
  const review = placementReview();
  const pod = review.request.object;
  const { selector, values } = worstSelector(sizes);
  pod.metadata.annotations[PLACEMENT_ANNOTATION] = 'LocalAndRemote';
  pod.metadata.annotations[PREFER_ANNOTATION] = 'Local';
  pod.metadata.annotations[CLUSTERS_ANNOTATION] = selector;
  const terms = ownTerms(sizes);
  pod.spec.affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms },
      preferredDuringSchedulingIgnoredDuringExecution: terms.map((preference, i) => ({
        weight: 1 + (i % 100),
        preference,
      })),
    },
  };
  const describe =
    `LocalAndRemote, prefer Local; selector of ${sizes.selectorRequirements} requirements x ${values} values, ` +
    `${selector.length} characters (MAX_CLUSTER_SELECTOR_REQUIREMENTS, MAX_CLUSTER_SELECTOR_LENGTH); ` +
    `the pod's own ${sizes.terms} required and ${sizes.terms} preferred terms x ${sizes.expressions} expressions ` +
    `x ${sizes.values} values (no limit in webhooks/; within Kubernetes' object size)`;
  return { review, describe };
}
