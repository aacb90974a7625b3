// Hostile nesting: a review is JSON, and JSON.parse builds values nested far deeper than any
// recursive walk survives. Every handler must answer such a review (no stack overflow, which the
// shell would turn into a 500), and leave the deep value as it is.
import { expect } from 'chai';
import { diff } from '../../../webhooks/patch.ts';
import { mutatePod } from '../../../webhooks/pods.ts';
import { mutateReplicated } from '../../../webhooks/replicated.ts';
import { quote } from '../../../webhooks/text.ts';
import { validate } from '../../../webhooks/validate.ts';
import { mutateWorkload } from '../../../webhooks/workloads.ts';
import { NOT_VIRTUAL, context, frozen, review } from './helpers.ts';

const DEPTH = 100_000;
const PLACEMENT = 'kube-offload.io/placement';

/** {"x":[{"x":[... leaf ...]}]}, built iteratively: `depth` levels of objects and arrays. */
function nested(depth: number, leaf: unknown = 'bottom'): Record<string, unknown> {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { x: value };
  return { x: value };
}

/** The leaf at the bottom of nested(); walks iteratively. */
function bottom(value: unknown): unknown {
  let node = value;
  while (typeof node === 'object' && node !== null)
    node = Array.isArray(node) ? node[0] : (node as Record<string, unknown>).x;
  return node;
}

describe('nesting: values nested 100000 levels deep', () => {
  it('quote() shows the beginning of a deep value, cut to its limit', () => {
    // The first characters do not depend on the depth, so a shallow copy gives the expected text.
    expect(quote(nested(DEPTH), 20)).to.equal(`${JSON.stringify(nested(10)).slice(0, 20)}...`);
  });

  it('diff() walks deep subtrees that are equal but not shared, and finds the change at the bottom', () => {
    const before = nested(DEPTH, 'a');
    const after = nested(DEPTH, 'b');
    const patch = diff({ spec: before }, { spec: after });
    expect(patch).to.have.length(1);
    expect(patch[0]?.op).to.equal('replace');
    expect(patch[0]?.value).to.equal('b');
    expect(patch[0]?.path.split('/')).to.have.length(DEPTH + 3);
  });

  it('pods: a deep unknown field beside the node affinity is kept, and the patch is small', () => {
    const object = {
      metadata: { annotations: { [PLACEMENT]: 'Local' } },
      spec: { containers: [], affinity: { podAffinity: nested(DEPTH) } },
    };
    const response = mutatePod(review('Pod', frozen(object)), context());
    expect(response.allowed).to.equal(true);
    expect(response.patch).to.deep.equal([
      {
        op: 'add',
        path: '/spec/affinity/nodeAffinity',
        value: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [NOT_VIRTUAL] }] },
        },
      },
    ]);
  });

  it('pods: deep unknown fields in identical node selector terms (merged, compared and deduplicated)', () => {
    const term = () => ({ deep: nested(DEPTH), matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] });
    const terms = [term(), term()];
    const object = {
      metadata: { annotations: { [PLACEMENT]: 'Local' } },
      spec: {
        containers: [],
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } },
      },
    };
    const response = mutatePod(review('Pod', frozen(object)), context());
    expect(response.allowed).to.equal(true);
    const paths = (response.patch ?? []).map((op) => `${op.op} ${op.path}`);
    // Two operations on a list of one term (the duplicate removed, the requirement added): the
    // list is replaced whole.
    expect(paths).to.deep.equal([
      'replace /spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms',
    ]);
  });

  it('workloads: a deep value in the pod template spec', () => {
    const object = {
      metadata: { annotations: { [PLACEMENT]: 'Remote' } },
      spec: { template: { spec: { affinity: { deep: nested(DEPTH) } } } },
    };
    const response = mutateWorkload(review('DaemonSet', frozen(object)), context());
    expect(response.allowed).to.equal(true);
    expect((response.patch ?? []).map((op) => op.path)).to.deep.equal([
      '/spec/template/spec/affinity/nodeAffinity',
      '/spec/template/metadata',
    ]);
  });

  it('replicated: a deep value in the annotations is copied, not lost', () => {
    const object = { metadata: { name: 'c', annotations: { deep: nested(DEPTH) } } };
    const response = mutateReplicated(review('ConfigMap', frozen(object)), context());
    expect(response.allowed).to.equal(true);
    expect((response.patch ?? []).map((op) => `${op.op} ${op.path}`)).to.deep.equal([
      'add /metadata/annotations/kube-offload.io~1replicate',
      'add /metadata/labels',
    ]);
  });

  it('validate: a deep value of our key is rejected with a short message', () => {
    const response = validate(review('Pod', { metadata: { annotations: { [PLACEMENT]: nested(DEPTH) } } }), context());
    expect(response.allowed).to.equal(false);
    expect(response.status?.message).to.match(
      /^kube-offload\.io\/placement: \{"x":\{"x":\[\{"x":.{80,}\.\.\. is not one of Local, Remote, LocalAndRemote$/,
    );
    expect(response.status?.message?.length).to.be.below(200);
  });

  it('validate: an unchanged deep value ratchets on UPDATE (compared, not re-checked)', () => {
    const annotations = (): any => ({ [PLACEMENT]: nested(DEPTH) });
    const response = validate(
      review(
        'Pod',
        { metadata: { annotations: annotations() } },
        { operation: 'UPDATE', oldObject: { metadata: { annotations: annotations() } } },
      ),
      context(),
    );
    expect(response).to.deep.equal({ uid: 'uid-1234', allowed: true });
  });

  it('the test helper builds what it says (its own walk is iterative)', () => {
    expect(bottom(nested(DEPTH, 'leaf'))).to.equal('leaf');
  });
});
