import { expect } from 'chai';
import fc from 'fast-check';
import { andTerm, dedupeTerms, isContradictory, mergeRequiredTerms, termKey } from '../../../webhooks/affinity.ts';
import { jsonEqual } from '../../../webhooks/json.ts';
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
    expect(mergeRequiredTerms(undefined, [local, remoteEu])).to.deep.equal({
      terms: [{ matchExpressions: local }, { matchExpressions: remoteEu }],
      conflict: 'none',
    });
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
    expect(andTerm({ matchExpressions: [r('vn', 'In', 'yes')] }, remoteEu)).to.deep.equal({
      matchExpressions: remoteEu,
    });
  });

  it('drops a user branch that contradicts the placement (partial)', () => {
    const user = [{ matchExpressions: [r('vn', 'In', 'yes')] }, { matchExpressions: [r('disk', 'In', 'ssd')] }];
    expect(mergeRequiredTerms(user, [local])).to.deep.equal({
      terms: [{ matchExpressions: [r('disk', 'In', 'ssd'), ...local] }],
      conflict: 'partial',
    });
  });

  it('total contradiction: never an empty list; user terms AND the last imposed term, stable', () => {
    const user = [{ matchExpressions: [r('vn', 'In', 'yes'), r('region', 'In', 'us')] }];
    const once = mergeRequiredTerms(user, [local, remoteEu]);
    expect(once.conflict).to.equal('total');
    expect(once.terms).to.deep.equal([
      { matchExpressions: [r('vn', 'In', 'yes'), r('region', 'In', 'us'), r('region', 'In', 'eu')] },
    ]);
    const twice = mergeRequiredTerms(once.terms, [local, remoteEu]);
    expect(twice).to.deep.equal(once);
  });

  it('nodeSelector takes part in contradictions but is not copied', () => {
    const { terms } = mergeRequiredTerms(undefined, [local, remoteEu], { region: 'us' });
    expect(terms).to.deep.equal([{ matchExpressions: local }]);
  });

  it('empty user terms match nothing: dropped, or left alone when they are all there is', () => {
    expect(mergeRequiredTerms([{}, { matchExpressions: [r('a', 'Exists')] }], [local]).terms).to.deep.equal([
      { matchExpressions: [r('a', 'Exists'), ...local] },
    ]);
    expect(mergeRequiredTerms([{ matchExpressions: [] }], [local])).to.deep.equal({
      terms: [{ matchExpressions: [] }],
      conflict: 'unmatchable',
    });
  });

  it('dedupes identical resulting terms', () => {
    const user = [{ matchExpressions: [r('a', 'Exists')] }, { matchExpressions: [r('a', 'Exists')] }];
    expect(mergeRequiredTerms(user, [local]).terms).to.have.length(1);
  });
});

// The straightforward (quadratic) algorithm the implementation replaced, as a reference: the
// linear one must give the very same terms and conflict on every input.
const reference = (() => {
  const same = (a: NodeSelectorRequirement, b: NodeSelectorRequirement): boolean => {
    const av = a.values ?? [];
    const bv = b.values ?? [];
    return a.key === b.key && a.operator === b.operator && av.length === bv.length && av.every((v, i) => v === bv[i]);
  };
  const contradictory = (requirements: readonly NodeSelectorRequirement[]): boolean => {
    const byKey = new Map<string, NodeSelectorRequirement[]>();
    for (const q of requirements) byKey.set(q.key, [...(byKey.get(q.key) ?? []), q]);
    for (const group of byKey.values()) {
      const absent = group.some((q) => q.operator === 'DoesNotExist');
      const present = group.some((q) => ['In', 'Exists', 'Gt', 'Lt'].includes(q.operator));
      if (absent && present) return true;
      const ins = group.filter((q) => q.operator === 'In');
      if (ins.length === 0) continue;
      const excluded = new Set(group.filter((q) => q.operator === 'NotIn').flatMap((q) => q.values ?? []));
      let allowed = (ins[0]?.values ?? []).filter((v) => !excluded.has(v));
      for (const q of ins.slice(1)) allowed = allowed.filter((v) => (q.values ?? []).includes(v));
      if (allowed.length === 0) return true;
    }
    return false;
  };
  const and = (user: NodeSelectorTerm, imposed: readonly NodeSelectorRequirement[]): NodeSelectorTerm => {
    const expressions = [...(user.matchExpressions ?? [])];
    for (const q of imposed) if (!expressions.some((e) => same(e, q))) expressions.push(q);
    return { ...user, matchExpressions: expressions };
  };
  const dedupe = (terms: NodeSelectorTerm[]): NodeSelectorTerm[] => {
    const out: NodeSelectorTerm[] = [];
    for (const t of terms) if (!out.some((o) => jsonEqual(o, t))) out.push(t);
    return out;
  };
  const empty = (t: NodeSelectorTerm): boolean =>
    (t.matchExpressions ?? []).length === 0 && (t.matchFields ?? []).length === 0;
  const merge = (
    userTerms: NodeSelectorTerm[] | undefined,
    imposed: NodeSelectorRequirement[][],
    nodeSelector?: Record<string, string>,
  ) => {
    const pinned: NodeSelectorRequirement[] = Object.entries(nodeSelector ?? {}).map(([key, value]) => ({
      key,
      operator: 'In',
      values: [value],
    }));
    const unsatisfiable = (t: NodeSelectorTerm): boolean => contradictory([...(t.matchExpressions ?? []), ...pinned]);
    const users = userTerms === undefined ? [{}] : userTerms.filter((t) => !empty(t));
    if (users.length === 0) return { terms: [...(userTerms ?? [])], conflict: 'unmatchable' };
    const kept: NodeSelectorTerm[] = [];
    let lost = false;
    for (const user of users) {
      const products = imposed.map((i) => and(user, i)).filter((t) => !unsatisfiable(t));
      if (products.length === 0) lost = true;
      kept.push(...products);
    }
    if (kept.length > 0) return { terms: dedupe(kept), conflict: lost ? 'partial' : 'none' };
    return { terms: dedupe(users.map((u) => and(u, imposed[imposed.length - 1] ?? []))), conflict: 'total' };
  };
  return { contradictory, merge };
})();

describe('affinity: same results as the straightforward algorithm', () => {
  const value = fc.constantFrom('a', 'b', 'c');
  const requirement = fc.oneof(
    fc.record({
      key: fc.constantFrom('k', 'l'),
      operator: fc.constantFrom<NodeSelectorRequirement['operator']>('In', 'NotIn'),
      values: fc.array(value, { maxLength: 3 }),
    }),
    fc.record({
      key: fc.constantFrom('k', 'l'),
      operator: fc.constantFrom<NodeSelectorRequirement['operator']>('Exists', 'DoesNotExist'),
    }),
    fc.record({
      key: fc.constantFrom('k', 'l'),
      operator: fc.constantFrom<NodeSelectorRequirement['operator']>('Gt', 'Lt'),
      values: fc.constant(['1']),
    }),
  ) as fc.Arbitrary<NodeSelectorRequirement>;
  const requirements = fc.array(requirement, { maxLength: 5 });
  const term: fc.Arbitrary<NodeSelectorTerm> = fc.record(
    {
      matchExpressions: requirements,
      matchFields: fc.array(fc.constant(r('metadata.name', 'In', 'n1')), { maxLength: 1 }),
      extra: fc.constantFrom('x', 'y'),
    },
    { requiredKeys: [] },
  );
  const nodeSelector = fc.dictionary(fc.constantFrom('k', 'l'), value, { maxKeys: 2 });

  it('isContradictory', () => {
    fc.assert(
      fc.property(requirements, (reqs) => {
        expect(isContradictory(reqs)).to.equal(reference.contradictory(reqs));
      }),
      { numRuns: 3000 },
    );
  });

  it('mergeRequiredTerms', () => {
    fc.assert(
      fc.property(
        fc.option(fc.array(term, { maxLength: 4 }), { nil: undefined }),
        fc.array(requirements, { minLength: 1, maxLength: 2 }),
        fc.option(nodeSelector, { nil: undefined }),
        (users, imposed, selector) => {
          expect(mergeRequiredTerms(users, imposed, selector)).to.deep.equal(reference.merge(users, imposed, selector));
        },
      ),
      { numRuns: 3000 },
    );
  });

  // Terms with any JSON in them, for termKey and dedupeTerms.
  const loose = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.constant([]),
    fc.constant(['a']),
    fc.constant([1]),
    fc.constant({ a: 1 }),
  );
  const anyRequirement = fc.oneof(
    requirement,
    fc.record(
      { key: fc.constant('k'), operator: fc.constant('In'), values: loose, other: loose },
      { requiredKeys: ['key', 'operator'] },
    ),
  );
  // Deliberately outside the declared types: termKey must cope with any JSON in a term.
  const anyTerm = fc
    .record(
      {
        matchExpressions: fc.oneof(loose, fc.array(anyRequirement, { maxLength: 2 })),
        matchFields: loose,
        extra: loose,
      },
      { requiredKeys: [] },
    )
    .map((t) => t as unknown as NodeSelectorTerm);

  it('termKey: equal exactly for JSON-equal terms (key order aside), plain or not', () => {
    // The same term with its keys in reverse order, at both levels.
    const reversed = (t: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(t)
          .reverse()
          .map(([k, v]) => [
            k,
            Array.isArray(v)
              ? v.map((x) => (typeof x === 'object' && x !== null ? reversed(x as Record<string, unknown>) : x))
              : v,
          ]),
      );
    fc.assert(
      fc.property(anyTerm, anyTerm, (a, b) => {
        expect(termKey(a) === termKey(b)).to.equal(jsonEqual(a, b));
        expect(termKey(reversed(a) as NodeSelectorTerm)).to.equal(termKey(a));
      }),
      { numRuns: 3000 },
    );
  });

  it('dedupeTerms keeps the first of JSON-equal terms, whether they share requirement objects or not', () => {
    // Terms built from a small pool of requirements (the same objects in several terms, as in
    // mergeRequiredTerms' products), from copies of them, and from anything else.
    const pooled = fc
      .array(anyRequirement, { minLength: 1, maxLength: 4 })
      .chain((pool) =>
        fc.array(
          fc.oneof(
            fc
              .array(fc.nat(pool.length - 1), { maxLength: 3 })
              .map((picks) => ({ matchExpressions: picks.map((i) => pool[i]) })),
            fc
              .array(fc.nat(pool.length - 1), { maxLength: 3 })
              .map((picks) => ({ matchExpressions: picks.map((i) => structuredClone(pool[i])) })),
            anyTerm,
          ),
          // Past 8 terms they are keyed instead of compared pairwise: both ways are tried.
          { maxLength: 20 },
        ),
      )
      .map((terms) => terms as NodeSelectorTerm[]);
    fc.assert(
      fc.property(pooled, (terms) => {
        const expected = terms.filter((t, i) => !terms.slice(0, i).some((u) => jsonEqual(t, u)));
        const kept = dedupeTerms(terms);
        expect(kept).to.have.length(expected.length);
        kept.forEach((t, i) => expect(t).to.equal(expected[i]));
      }),
      { numRuns: 3000 },
    );
  });
});
