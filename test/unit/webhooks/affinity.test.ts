import { expect } from 'chai';
import { andTerm, isContradictory, mergeRequiredTerms } from '../../../webhooks/affinity.ts';
import type { NodeSelectorRequirement, NodeSelectorTerm } from '../../../webhooks/k8s.ts';

const r = (key: string, operator: NodeSelectorRequirement['operator'], ...values: string[]): NodeSelectorRequirement =>
  operator === 'Exists' || operator === 'DoesNotExist' ? { key, operator } : { key, operator, values };

describe('affinity: contradiction detection (only certain ones)', () => {
  const cases: Array<[string, NodeSelectorRequirement[], boolean]> = [
    ['In vs NotIn of the same value', [r('t', 'In', 'v'), r('t', 'NotIn', 'v')], true],
    ['In a superset of NotIn is satisfiable', [r('t', 'In', 'v', 'w'), r('t', 'NotIn', 'v')], false],
    ['disjoint Ins', [r('t', 'In', 'a'), r('t', 'In', 'b')], true],
    ['overlapping Ins', [r('t', 'In', 'a', 'b'), r('t', 'In', 'b')], false],
    ['Exists vs DoesNotExist', [r('t', 'Exists'), r('t', 'DoesNotExist')], true],
    ['In vs DoesNotExist', [r('t', 'In', 'a'), r('t', 'DoesNotExist')], true],
    ['Gt vs DoesNotExist', [r('t', 'Gt', '1'), r('t', 'DoesNotExist')], true],
    ['NotIn vs DoesNotExist is satisfiable', [r('t', 'NotIn', 'a'), r('t', 'DoesNotExist')], false],
    ['different keys never conflict', [r('t', 'In', 'a'), r('u', 'NotIn', 'a')], false],
    ['empty list', [], false],
  ];
  for (const [name, reqs, expected] of cases) it(name, () => expect(isContradictory(reqs)).to.equal(expected));
});

describe('affinity: merging required terms', () => {
  const local = [r('vn', 'NotIn', 'yes')];
  const remoteEu = [r('vn', 'In', 'yes'), r('region', 'In', 'eu')];

  it('no user affinity: the imposed terms themselves', () => {
    expect(mergeRequiredTerms(undefined, [local, remoteEu])).to.deep.equal({ terms: [{ matchExpressions: local }, { matchExpressions: remoteEu }], conflict: 'none' });
  });

  it('cross product keeps matchFields and other term fields', () => {
    const user: NodeSelectorTerm[] = [
      { matchExpressions: [r('disk', 'In', 'ssd')], matchFields: [r('metadata.name', 'In', 'n1')] },
      { matchFields: [r('metadata.name', 'In', 'n2')] },
    ];
    const { terms, conflict } = mergeRequiredTerms(user, [local, remoteEu]);
    expect(conflict).to.equal('none');
    expect(terms).to.deep.equal([
      { matchExpressions: [r('disk', 'In', 'ssd'), ...local], matchFields: [r('metadata.name', 'In', 'n1')] },
      { matchExpressions: [r('disk', 'In', 'ssd'), ...remoteEu], matchFields: [r('metadata.name', 'In', 'n1')] },
      { matchExpressions: local, matchFields: [r('metadata.name', 'In', 'n2')] },
      { matchExpressions: remoteEu, matchFields: [r('metadata.name', 'In', 'n2')] },
    ]);
  });

  it('is idempotent: merged terms merged again are unchanged (mixed products are contradictions)', () => {
    const once = mergeRequiredTerms([{ matchExpressions: [r('disk', 'In', 'ssd')] }], [local, remoteEu]);
    const twice = mergeRequiredTerms(once.terms, [local, remoteEu]);
    expect(twice.terms).to.deep.equal(once.terms);
    expect(twice.conflict).to.equal('none');
  });

  it('does not duplicate an imposed requirement the user already has', () => {
    expect(andTerm({ matchExpressions: [r('vn', 'In', 'yes')] }, remoteEu)).to.deep.equal({ matchExpressions: remoteEu });
  });

  it('drops a user branch that contradicts the placement (partial)', () => {
    const user = [{ matchExpressions: [r('vn', 'In', 'yes')] }, { matchExpressions: [r('disk', 'In', 'ssd')] }];
    expect(mergeRequiredTerms(user, [local])).to.deep.equal({ terms: [{ matchExpressions: [r('disk', 'In', 'ssd'), ...local] }], conflict: 'partial' });
  });

  it('total contradiction: never an empty list; user terms AND the last imposed term, stable', () => {
    const user = [{ matchExpressions: [r('vn', 'In', 'yes'), r('region', 'In', 'us')] }];
    const once = mergeRequiredTerms(user, [local, remoteEu]);
    expect(once.conflict).to.equal('total');
    expect(once.terms).to.deep.equal([{ matchExpressions: [r('vn', 'In', 'yes'), r('region', 'In', 'us'), r('region', 'In', 'eu')] }]);
    const twice = mergeRequiredTerms(once.terms, [local, remoteEu]);
    expect(twice).to.deep.equal(once);
  });

  it('nodeSelector takes part in contradictions but is not copied', () => {
    const { terms } = mergeRequiredTerms(undefined, [local, remoteEu], { region: 'us' });
    expect(terms).to.deep.equal([{ matchExpressions: local }]);
  });

  it('empty user terms match nothing: dropped, or left alone when they are all there is', () => {
    expect(mergeRequiredTerms([{}, { matchExpressions: [r('a', 'Exists')] }], [local]).terms).to.deep.equal([{ matchExpressions: [r('a', 'Exists'), ...local] }]);
    expect(mergeRequiredTerms([{ matchExpressions: [] }], [local])).to.deep.equal({ terms: [{ matchExpressions: [] }], conflict: 'unmatchable' });
  });

  it('dedupes identical resulting terms', () => {
    const user = [{ matchExpressions: [r('a', 'Exists')] }, { matchExpressions: [r('a', 'Exists')] }];
    expect(mergeRequiredTerms(user, [local]).terms).to.have.length(1);
  });
});
