// The worst admissible pod for /mutate/pods: the largest input the webhook still accepts, shaped to
// cost the most: placement LocalAndRemote with a cluster selector (two imposed terms, each ANDed
// with every user term), the selector at the webhook's limit of requirements, and a large
// required node affinity of the user's own whose keys never clash with the imposed ones (so no
// product is dropped as contradictory) plus preferred terms.
//
// The sizes come from the limits webhooks/ exports (found by name, e.g.
// MAX_SELECTOR_REQUIREMENTS); any limit not exported yet falls back to a size chosen within
// Kubernetes' documented limits (annotations at most 256 KiB in all, an object at most 1.5 MiB in
// etcd), and the row's note says which numbers were used.
import * as core from '../../webhooks/index.ts';
import { CLUSTERS_ANNOTATION, PLACEMENT_ANNOTATION, PREFER_ANNOTATION } from '../../webhooks/keys.ts';
import { placementReview } from './pod.ts';

export interface WorstSizes {
  /** Requirements in the kube-offload.io/clusters selector. */
  selectorRequirements: number;
  /** Values per `in (...)` requirement, in the selector and in the user's affinity. */
  values: number;
  /** The user's required nodeSelectorTerms. */
  terms: number;
  /** matchExpressions per user term. */
  expressions: number;
  /** The user's preferred terms. */
  preferred: number;
}

/** Sizes within Kubernetes' own limits: ~19 KiB of selector, a merged pod of ~0.7 MiB. */
const FALLBACK: WorstSizes = { selectorRequirements: 500, values: 3, terms: 8, expressions: 8, preferred: 8 };

/** Exported name patterns of webhooks/ that bound each size. */
const LIMIT_NAMES: Record<keyof WorstSizes, RegExp> = {
  selectorRequirements: /^MAX_(CLUSTER_)?SELECTOR_REQUIREMENTS$|^MAX_REQUIREMENTS$/,
  values: /^MAX_(SELECTOR_|REQUIREMENT_)?VALUES(_PER_REQUIREMENT)?$/,
  terms: /^MAX_(NODE_SELECTOR_|REQUIRED_|AFFINITY_)?TERMS$/,
  expressions: /^MAX_(MATCH_)?EXPRESSIONS(_PER_TERM)?$/,
  preferred: /^MAX_PREFERRED(_TERMS)?$/,
};

/** The sizes to use and where they came from. */
export function worstSizes(exports: Record<string, unknown> = core): { sizes: WorstSizes; describe: string } {
  const sizes = { ...FALLBACK };
  const found: string[] = [];
  for (const key of Object.keys(LIMIT_NAMES) as Array<keyof WorstSizes>) {
    const hit = Object.entries(exports).find(
      ([name, value]) => LIMIT_NAMES[key].test(name) && typeof value === 'number',
    );
    if (!hit) continue;
    sizes[key] = hit[1] as number;
    found.push(hit[0]);
  }
  const shape =
    `selector of ${sizes.selectorRequirements} requirements x ${sizes.values} values, ` +
    `${sizes.terms} required terms x ${sizes.expressions} expressions, ${sizes.preferred} preferred terms`;
  const missing = Object.keys(LIMIT_NAMES).length - found.length;
  const origin =
    found.length === 0
      ? "webhooks/ exports no limits yet: sizes within Kubernetes' limits"
      : `limits from webhooks/ ${found.join(', ')}${missing > 0 ? `; ${missing} within Kubernetes' limits` : ''}`;
  return { sizes, describe: `${shape} (${origin})` };
}

const pad = (i: number) => String(i).padStart(4, '0');

/** `worst.bench.example/k0000 in (a0000,b0000,c0000),...`: distinct keys, valid names and values. */
export function worstSelector(sizes: WorstSizes): string {
  const requirements: string[] = [];
  for (let i = 0; i < sizes.selectorRequirements; i++) {
    const values = Array.from(
      { length: sizes.values },
      (_, v) => `${String.fromCharCode(97 + (v % 26))}${pad(i)}x${v}`,
    );
    requirements.push(`worst.bench.example/k${pad(i)} in (${values.join(',')})`);
  }
  return requirements.join(',');
}

function userTerms(
  sizes: WorstSizes,
): Array<{ matchExpressions: Array<{ key: string; operator: string; values: string[] }> }> {
  return Array.from({ length: sizes.terms }, (_, t) => ({
    matchExpressions: Array.from({ length: sizes.expressions }, (_, e) => ({
      key: `user.bench.example/t${pad(t)}e${pad(e)}`,
      operator: 'In',
      values: Array.from({ length: sizes.values }, (_, v) => `v${pad(t)}${pad(e)}x${v}`),
    })),
  }));
}

/** The placement review of the realistic pod, made the worst admissible one. */
export async function worstAdmissibleReview(): Promise<{ review: Record<string, any>; describe: string }> {
  const { sizes, describe: shape } = worstSizes();
  const review = placementReview();
  const pod = review.request.object;
  pod.metadata.annotations[PLACEMENT_ANNOTATION] = 'LocalAndRemote';
  pod.metadata.annotations[PREFER_ANNOTATION] = 'Local';
  pod.metadata.annotations[CLUSTERS_ANNOTATION] = worstSelector(sizes);
  const terms = userTerms(sizes);
  pod.spec.affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms },
      preferredDuringSchedulingIgnoredDuringExecution: terms
        .slice(0, sizes.preferred)
        .map((preference, i) => ({ weight: 1 + (i % 100), preference })),
    },
  };
  return { review, describe: `LocalAndRemote, prefer Local; ${shape}` };
}
