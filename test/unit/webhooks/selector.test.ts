import { expect } from 'chai';
import fc from 'fast-check';
import {
  SelectorParseError,
  compileSelector,
  matchesSelector,
  parseSelector,
  tryParseSelector,
} from '../../../webhooks/selector.ts';
import type { NodeSelectorRequirement } from '../../../webhooks/k8s.ts';

describe('selector: parsing into node selector requirements', () => {
  const cases: Array<[string, NodeSelectorRequirement[]]> = [
    ['', []],
    ['   ', []],
    ['region=eu', [{ key: 'region', operator: 'In', values: ['eu'] }]],
    ['region==eu', [{ key: 'region', operator: 'In', values: ['eu'] }]],
    ['region!=eu', [{ key: 'region', operator: 'NotIn', values: ['eu'] }]],
    ['tier in (silver,gold)', [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }]],
    ['tier notin (gold, gold)', [{ key: 'tier', operator: 'NotIn', values: ['gold'] }]],
    ['gpu', [{ key: 'gpu', operator: 'Exists' }]],
    ['!gpu', [{ key: 'gpu', operator: 'DoesNotExist' }]],
    ['cores>4', [{ key: 'cores', operator: 'Gt', values: ['4'] }]],
    ['cores<16', [{ key: 'cores', operator: 'Lt', values: ['16'] }]],
    ['region=', [{ key: 'region', operator: 'In', values: [''] }]],
    ['region in ()', [{ key: 'region', operator: 'In', values: [''] }]],
    ['region in (eu,)', [{ key: 'region', operator: 'In', values: ['', 'eu'] }]],
    ['in=notin', [{ key: 'in', operator: 'In', values: ['notin'] }]],
    [
      'topology.kubernetes.io/region = eu-west-1 , !spot',
      [
        { key: 'topology.kubernetes.io/region', operator: 'In', values: ['eu-west-1'] },
        { key: 'spot', operator: 'DoesNotExist' },
      ],
    ],
    [
      'region=eu,tier in (gold,silver)',
      [
        { key: 'region', operator: 'In', values: ['eu'] },
        { key: 'tier', operator: 'In', values: ['gold', 'silver'] },
      ],
    ],
  ];
  for (const [input, expected] of cases) {
    it(`parses ${JSON.stringify(input)}`, () => expect(parseSelector(input)).to.deep.equal(expected));
  }
});

describe('selector: errors carry a reason and a position', () => {
  const cases: Array<[string, RegExp, number]> = [
    ['tier in (gold', /found end of string, expected "," or "\)"/, 13],
    ['tier in gold', /found "gold", expected "\("/, 8],
    ['a,', /found end of string, expected "!" or a key after ","/, 2],
    [',a', /found ",", expected "!", a key or end of string/, 0],
    ['a=b c', /found "c", expected "," or end of string/, 4],
    ['!a=b', /after "!key"/, 2],
    ['a (b)', /expected one of in, notin, =, ==, !=, >, </, 2],
    ['a=(b)', /found "\(", expected a value/, 2],
    ['A/b=c', /invalid key "A\/b": prefix part must be a lowercase DNS subdomain/, 0],
    ['/b=c', /prefix part must be non-empty/, 0],
    ['a/b/c', /at most one "\/"/, 0],
    ['x/=c', /name part must be non-empty/, 0],
    ['-a=c', /name part must consist of alphanumeric/, 0],
    [`${'k'.repeat(64)}=v`, /no more than 63 characters/, 0],
    [`k=${'v'.repeat(64)}`, /invalid value .* for "k": must be no more than 63 characters/, 2],
    ['k=-v', /invalid value "-v"/, 2],
    ['k=v_', /invalid value "v_"/, 2],
    ['k>a', /must be an integer/, 2],
    ['k<', /must be an integer/, 2],
  ];
  for (const [input, reason, position] of cases) {
    it(`rejects ${JSON.stringify(input.length > 30 ? `${input.slice(0, 30)}...` : input)}`, () => {
      const result = tryParseSelector(input);
      expect(result.ok).to.equal(false);
      if (result.ok) return;
      expect(result.error).to.be.instanceOf(SelectorParseError);
      expect(result.error.reason).to.match(reason);
      expect(result.error.position).to.equal(position);
      expect(result.error.message).to.equal(`${result.error.reason} (column ${position + 1})`);
    });
  }
  it('parseSelector throws the same error', () => {
    expect(() => parseSelector('tier in (gold')).to.throw(SelectorParseError, /column 14/);
  });
});

describe('selector: matching labels', () => {
  const labels = { region: 'eu', tier: 'gold', cores: '8' };
  const cases: Array<[string, boolean]> = [
    ['', true],
    ['region=eu', true],
    ['region=us', false],
    ['region!=us', true],
    ['zone!=a', true], // NotIn also matches objects without the label
    ['tier in (gold,silver)', true],
    ['tier notin (gold)', false],
    ['tier', true],
    ['zone', false],
    ['!zone', true],
    ['!tier', false],
    ['cores>4', true],
    ['cores<4', false],
    ['tier>1', false], // not an integer: no match
    ['zone>1', false],
    ['region=eu,tier=silver', false],
  ];
  for (const [selector, expected] of cases) {
    it(`${JSON.stringify(selector)} ${expected ? 'matches' : 'does not match'}`, () => {
      expect(matchesSelector(labels, parseSelector(selector))).to.equal(expected);
      expect(compileSelector(selector)(labels)).to.equal(expected);
    });
  }
  it('treats undefined labels as none', () => {
    expect(matchesSelector(undefined, parseSelector('!a'))).to.equal(true);
    expect(matchesSelector(undefined, parseSelector('a'))).to.equal(false);
  });
});

describe('selector: properties', () => {
  const key = fc.constantFrom('a', 'region', 'example.com/tier', 'x.y-z_1');
  const value: fc.Arbitrary<string> = fc.constantFrom('eu', 'us', 'gold', 'v1.2', '0');
  const requirement = fc.oneof(
    fc.record({ key, op: fc.constantFrom('=', '==', '!='), values: fc.tuple(value) }),
    fc.record({ key, op: fc.constantFrom('in', 'notin'), values: fc.array(value, { minLength: 1, maxLength: 3 }) }),
    fc.record({ key, op: fc.constantFrom('', '!'), values: fc.constant([] as string[]) }),
  );
  const render = (r: { key: string; op: string; values: string[] }, spaces: string): string => {
    if (r.op === '' || r.op === '!') return `${r.op}${r.key}`;
    if (r.op === 'in' || r.op === 'notin') return `${r.key} ${r.op}${spaces}(${r.values.join(`,${spaces}`)})`;
    return `${r.key}${spaces}${r.op}${spaces}${r.values[0]}`;
  };

  it('parses every rendered selector into one requirement per clause, matching like a label selector', () => {
    fc.assert(
      fc.property(
        fc.array(requirement, { maxLength: 4 }),
        fc.constantFrom('', ' ', '  '),
        fc.dictionary(key, value),
        (reqs, spaces, labels) => {
          const parsed = parseSelector(reqs.map((r) => render(r, spaces)).join(`,${spaces}`));
          expect(parsed).to.have.length(reqs.length);
          reqs.forEach((r, i) => {
            const p = parsed[i] as NodeSelectorRequirement;
            expect(p.key).to.equal(r.key);
            const has = Object.hasOwn(labels, r.key);
            const expected =
              r.op === ''
                ? has
                : r.op === '!'
                  ? !has
                  : r.op === '!=' || r.op === 'notin'
                    ? !has || !r.values.includes(labels[r.key] as string)
                    : has && r.values.includes(labels[r.key] as string);
            expect(matchesSelector(labels, [p])).to.equal(expected);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never throws anything but SelectorParseError on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom('a', 'b', '=', '!', '(', ')', ',', ' ', 'in', 'notin', '/', '.', '-', '<', '>', '1'),
        }),
        (input) => {
          const result = tryParseSelector(input);
          if (!result.ok) expect(result.error.position).to.be.within(0, input.length);
        },
      ),
      { numRuns: 500 },
    );
  });
});
