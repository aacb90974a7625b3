// Admission cost must grow about linearly with the input: the API server waits for the webhook
// (10 s at most, then the request fails or is let through unplaced), and one pod with a large
// affinity or selector must not occupy the webhook's only thread for seconds.
//
// The bounds are generous (seconds, where a linear implementation takes milliseconds and the
// quadratic one took 10 to 45 s), and the scaling test compares sizes n and 8n, where linear
// growth gives a ratio near 8 and quadratic growth near 64.
import { expect } from 'chai';
import { isContradictory, mergeRequiredTerms } from '../../../webhooks/affinity.ts';
import type { NodeSelectorRequirement } from '../../../webhooks/k8s.ts';
import { mutatePod } from '../../../webhooks/pods.ts';
import { parseSelector } from '../../../webhooks/selector.ts';
import { validate } from '../../../webhooks/validate.ts';
import { MAX_CLUSTER_SELECTOR_LENGTH } from '../../../webhooks/keys.ts';
import { NOT_VIRTUAL, VIRTUAL, context, patched, review } from './helpers.ts';
import {
  OBJECT_SIZE_LIMIT,
  largestAdmissibleAffinityPod,
  podReview,
  worstAdmissiblePod,
  worstClusterSelector,
} from './worst-case.ts';

const PLACEMENT = 'kube-offload.io/placement';
const CLUSTERS = 'kube-offload.io/clusters';
const BOUND_MS = 2000;

/** `a=v0,a=v1,...` of at least `length` characters: every requirement on the same key. */
function sameKeySelector(length: number): string {
  const parts: string[] = [];
  for (let i = 0, total = 0; total < length; i++) {
    parts.push(`a=v${i}`);
    total += parts[i]!.length + 1;
  }
  return parts.join(',');
}

/** `count` distinct required terms, one requirement each. */
function distinctTerms(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    matchExpressions: [{ key: 'zone', operator: 'In', values: [`z${i}`] }],
  }));
}

function podWithTerms(count: number, annotations: Record<string, string>, spec: Record<string, unknown> = {}) {
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

function elapsedMs(run: () => unknown): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

function bestOf(times: number, run: () => unknown): number {
  let best = Infinity;
  for (let i = 0; i < times; i++) best = Math.min(best, elapsedMs(run));
  return best;
}

function medianOf(times: number, run: () => unknown): number {
  const samples = Array.from({ length: times }, () => elapsedMs(run)).sort((a, b) => a - b);
  return samples[Math.floor(times / 2)] as number;
}

describe('scaling: the worst admissible pods (see worst-case.ts)', function () {
  this.timeout(60_000);
  // Well under 50 ms is the aim; the bound leaves room for slow or busy machines.
  const MEDIAN_BOUND_MS = 200;

  it('the largest mutation: selector at both limits, as many terms as the API server stores once merged', () => {
    const review = podReview(worstAdmissiblePod());
    const response = mutatePod(review, context());
    expect(response.warnings).to.equal(undefined);
    expect(response.patch?.length).to.be.above(0);
    expect(medianOf(7, () => mutatePod(review, context()))).to.be.below(MEDIAN_BOUND_MS);
  });

  it('the largest merge: 1.5 MiB of terms, each remote product built and dropped', () => {
    const review = podReview(largestAdmissibleAffinityPod());
    const response = mutatePod(review, context());
    expect((response.patch ?? []).map((op) => op.path)).to.deep.equal([
      '/spec/affinity/nodeAffinity/preferredDuringSchedulingIgnoredDuringExecution',
      '/spec/tolerations/1',
    ]);
    expect(medianOf(7, () => mutatePod(review, context()))).to.be.below(MEDIAN_BOUND_MS);
  });

  it('both are admissible: the selector passes validation, and the pods stay under the object limit', () => {
    expect(worstClusterSelector().length).to.be.at.most(MAX_CLUSTER_SELECTOR_LENGTH);
    for (const pod of [worstAdmissiblePod(), largestAdmissibleAffinityPod()]) {
      expect(validate(podReview(pod), context()).allowed).to.equal(true);
      const mutated = patched(pod, mutatePod(podReview(pod), context()));
      expect(JSON.stringify(mutated).length).to.be.within(OBJECT_SIZE_LIMIT * 0.95, OBJECT_SIZE_LIMIT);
    }
  });
});

describe('scaling: large inputs are admitted in about linear time', function () {
  this.timeout(60_000);

  it('a pod with 8000 distinct required terms, LocalAndRemote with a selector (was 30 s)', () => {
    const pod = podWithTerms(8000, { [PLACEMENT]: 'LocalAndRemote', [CLUSTERS]: 'region=eu' });
    let terms: unknown[] = [];
    const ms = elapsedMs(() => {
      terms = mutatePod(review('Pod', pod), context()).patch?.length ? ['patched'] : [];
    });
    expect(terms).to.deep.equal(['patched']);
    expect(ms).to.be.below(BOUND_MS);
  });

  it('a pod with 8000 distinct required terms, Local (was 10 s)', () => {
    const pod = podWithTerms(8000, { [PLACEMENT]: 'Local' });
    expect(elapsedMs(() => mutatePod(review('Pod', pod), context()))).to.be.below(BOUND_MS);
  });

  it('8000 terms under a nodeSelector of 8000 labels, checked against every term (was 43 s)', () => {
    const nodeSelector = Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`label-${i}`, 'x']));
    const pod = podWithTerms(8000, { [PLACEMENT]: 'Local' }, { nodeSelector });
    expect(elapsedMs(() => mutatePod(review('Pod', pod), context()))).to.be.below(BOUND_MS);
  });

  it('merging with a 250 KB selector of requirements on one key (was 16 s)', () => {
    const clusters = parseSelector(sameKeySelector(250_000));
    let merged: ReturnType<typeof mergeRequiredTerms> | undefined;
    const ms = elapsedMs(() => {
      merged = mergeRequiredTerms(undefined, [
        [NOT_VIRTUAL as NodeSelectorRequirement],
        [VIRTUAL as NodeSelectorRequirement, ...clusters],
      ]);
    });
    // a=v0 and a=v1 cannot both hold: only the local branch is left.
    expect(merged).to.deep.equal({ terms: [{ matchExpressions: [NOT_VIRTUAL] }], conflict: 'none' });
    expect(ms).to.be.below(BOUND_MS);
  });

  it('contradiction checks on In lists of 50000 values (was 4.5 s)', () => {
    const values = Array.from({ length: 50_000 }, (_, i) => `v${i}`);
    const requirements: NodeSelectorRequirement[] = [
      { key: 'a', operator: 'In', values },
      { key: 'a', operator: 'In', values: [...values].reverse() },
    ];
    const excludingAll: NodeSelectorRequirement[] = [...requirements, { key: 'a', operator: 'NotIn', values }];
    let contradictory: boolean[] = [];
    const ms = elapsedMs(() => {
      contradictory = [isContradictory(requirements), isContradictory(excludingAll)];
    });
    expect(contradictory).to.deep.equal([false, true]);
    expect(ms).to.be.below(BOUND_MS);
  });

  it('parsing and validating a 250 KB selector', () => {
    const selector = sameKeySelector(250_000);
    expect(elapsedMs(() => parseSelector(selector))).to.be.below(BOUND_MS);
    expect(
      elapsedMs(() => validate(review('Pod', { metadata: { annotations: { [CLUSTERS]: selector } } }), context())),
    ).to.be.below(BOUND_MS);
  });

  it('8 times the terms cost less than 24 times as much (best of 3; quadratic would be 64)', () => {
    const small = podWithTerms(500, { [PLACEMENT]: 'LocalAndRemote', [CLUSTERS]: 'region=eu' });
    const large = podWithTerms(4000, { [PLACEMENT]: 'LocalAndRemote', [CLUSTERS]: 'region=eu' });
    const run = (pod: object) => () => mutatePod(review('Pod', pod), context());
    run(small)(); // warm-up: compile before measuring
    const ratio = bestOf(3, run(large)) / bestOf(3, run(small));
    expect(ratio).to.be.below(24);
  });
});
