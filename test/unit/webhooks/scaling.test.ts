// What webhooks/ makes of the largest and most hostile inputs. Admission cost must grow about
// linearly with the input: the API server waits for the webhook (10 s at most, then the request
// fails or is let through unplaced), and one pod with a large affinity or selector must not
// occupy the webhook's only thread for seconds. How long they take is measured by `npm run
// bench` (section "webhooks", with targets: the worst admissible pods within 50 ms, 8 times the
// terms within 24 times the time); these tests check the results. Their one time bound is the
// suite's timeout, a guard far above both: the quadratic code took 10 to 45 s on these inputs,
// the current code milliseconds.
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
  podWithTerms,
  sameKeySelector,
  worstAdmissiblePod,
  worstClusterSelector,
} from '../../../bench/lib/large-inputs.ts';

const PLACEMENT = 'kube-offload.io/placement';
const CLUSTERS = 'kube-offload.io/clusters';
/** Far above what these take (milliseconds), far below what quadratic code took (10 to 45 s). */
const HANG_GUARD_MS = 8000;

const requiredTermCount = (pod: object): number =>
  (
    pod as {
      spec: {
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: unknown[] } };
        };
      };
    }
  ).spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.length;

describe('scaling: the worst admissible pods (bench/lib/large-inputs.ts)', function () {
  this.timeout(HANG_GUARD_MS);

  it('the largest mutation: selector at both limits, as many terms as the API server stores once merged', () => {
    const pod = worstAdmissiblePod();
    const response = mutatePod(podReview(pod), context());
    expect(response.warnings).to.equal(undefined);
    // Every term comes back twice: kept off virtual nodes, and on one with the selector.
    expect(requiredTermCount(patched(pod, response))).to.equal(2 * requiredTermCount(pod));
  });

  it('the largest merge: 1.5 MiB of terms, each remote product built and dropped', () => {
    const review = podReview(largestAdmissibleAffinityPod());
    const response = mutatePod(review, context());
    expect((response.patch ?? []).map((op) => op.path)).to.deep.equal([
      '/spec/affinity/nodeAffinity/preferredDuringSchedulingIgnoredDuringExecution',
      '/spec/tolerations/1',
    ]);
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

describe('scaling: large hostile inputs (10 to 45 s when parts of webhooks/ were quadratic)', function () {
  this.timeout(HANG_GUARD_MS);

  it('a pod with 8000 distinct required terms, LocalAndRemote with a selector', () => {
    const pod = podWithTerms(8000, { [PLACEMENT]: 'LocalAndRemote', [CLUSTERS]: 'region=eu' });
    const response = mutatePod(review('Pod', pod), context());
    expect(response.warnings).to.equal(undefined);
    expect(requiredTermCount(patched(pod, response))).to.equal(16_000);
  });

  it('a pod with 8000 distinct required terms, Local', () => {
    const pod = podWithTerms(8000, { [PLACEMENT]: 'Local' });
    const response = mutatePod(review('Pod', pod), context());
    expect(requiredTermCount(patched(pod, response))).to.equal(8000);
  });

  it('8000 terms under a nodeSelector of 8000 labels, checked against every term', () => {
    const nodeSelector = Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`label-${i}`, 'x']));
    const pod = podWithTerms(8000, { [PLACEMENT]: 'Local' }, { nodeSelector });
    const response = mutatePod(review('Pod', pod), context());
    expect(requiredTermCount(patched(pod, response))).to.equal(8000);
  });

  it('merging with a 250 KB selector of requirements on one key', () => {
    const clusters = parseSelector(sameKeySelector(250_000));
    const merged = mergeRequiredTerms(undefined, [
      [NOT_VIRTUAL as NodeSelectorRequirement],
      [VIRTUAL as NodeSelectorRequirement, ...clusters],
    ]);
    // a=v0 and a=v1 cannot both hold: only the local branch is left.
    expect(merged).to.deep.equal({ terms: [{ matchExpressions: [NOT_VIRTUAL] }], conflict: 'none' });
  });

  it('contradiction checks on In lists of 50000 values', () => {
    const values = Array.from({ length: 50_000 }, (_, i) => `v${i}`);
    const requirements: NodeSelectorRequirement[] = [
      { key: 'a', operator: 'In', values },
      { key: 'a', operator: 'In', values: [...values].reverse() },
    ];
    const excludingAll: NodeSelectorRequirement[] = [...requirements, { key: 'a', operator: 'NotIn', values }];
    expect([isContradictory(requirements), isContradictory(excludingAll)]).to.deep.equal([false, true]);
  });

  it('parsing and validating a 250 KB selector', () => {
    const selector = sameKeySelector(250_000);
    expect(parseSelector(selector)).to.have.length(selector.split(',').length);
    const verdict = validate(review('Pod', { metadata: { annotations: { [CLUSTERS]: selector } } }), context());
    expect(verdict.allowed).to.equal(false);
    expect(verdict.status?.message).to.match(/kube-offload\.io\/clusters/);
  });
});
