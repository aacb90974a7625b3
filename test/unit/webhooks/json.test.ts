import { expect } from 'chai';
import fc from 'fast-check';
import { deepClone, jsonEqual, toJson } from '../../../webhooks/json.ts';

// Small keys so that generated objects often share keys; values of every JSON type.
const keys = ['a', 'b', 'c', '0'];
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, 1, -1.5, '', 'x', 'é"\\'),
    tie('object'),
    tie('array'),
  ),
  object: fc.dictionary(fc.constantFrom(...keys), tie('value'), { maxKeys: 4 }),
  array: fc.array(tie('value'), { maxLength: 3 }),
})).value;

/** Reference for jsonEqual: JSON text with keys sorted (recursive; the generated values are shallow). */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const entries = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${entries.map((k) => `${JSON.stringify(k)}:${sortedJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function deep(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { k: value } : [value];
  return value;
}

describe('json: jsonEqual', () => {
  it('agrees with comparing key-sorted JSON text', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        expect(jsonEqual(a, b)).to.equal(sortedJson(a) === sortedJson(b));
        expect(jsonEqual(a, structuredClone(a))).to.equal(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('ignores key order, counts undefined values as absent, tells arrays from objects', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).to.equal(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).to.equal(true);
    expect(jsonEqual({ a: undefined }, { b: undefined })).to.equal(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).to.equal(false);
    expect(jsonEqual([], {})).to.equal(false);
    expect(jsonEqual({ 0: 'x' }, ['x'])).to.equal(false);
    expect(jsonEqual(null, {})).to.equal(false);
  });

  it('compares values nested 100000 deep', () => {
    expect(jsonEqual(deep(100_000), deep(100_000))).to.equal(true);
    expect(jsonEqual(deep(100_000), deep(100_001))).to.equal(false);
  });
});

describe('json: deepClone', () => {
  it('copies every value equal, sharing nothing', () => {
    fc.assert(
      fc.property(json, (value) => {
        const copy = deepClone(value);
        expect(copy).to.deep.equal(value);
        const originals = new Set<unknown>();
        const walk = (node: unknown, into: Set<unknown> | undefined): void => {
          if (typeof node !== 'object' || node === null) return;
          if (into) into.add(node);
          else expect(originals.has(node), 'shared container').to.equal(false);
          for (const child of Object.values(node)) walk(child, into);
        };
        walk(value, originals);
        walk(copy, undefined);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps keys named __proto__, constructor and prototype as own keys, prototypes untouched', () => {
    const original = JSON.parse(
      '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":2}},"a":[{"__proto__":"s"}]}',
    ) as Record<string, unknown>;
    const copy = deepClone(original);
    expect(Object.keys(copy)).to.deep.equal(['__proto__', 'constructor', 'a']);
    expect(Object.getPrototypeOf(copy)).to.equal(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).to.equal(true);
    expect(JSON.stringify(copy)).to.equal(JSON.stringify(original));
    expect((copy as { polluted?: unknown }).polluted).to.equal(undefined);
  });

  it('copies a value nested 100000 deep', () => {
    const original = deep(100_000);
    const copy = deepClone(original);
    expect(copy).not.to.equal(original);
    expect(jsonEqual(copy, original)).to.equal(true);
  });
});

describe('json: toJson', () => {
  it('writes what JSON.stringify writes', () => {
    const withUndefined = fc.oneof(json, fc.constant({ a: undefined, b: [undefined, 1] }));
    fc.assert(
      fc.property(withUndefined, (value) => {
        expect(toJson(value)).to.equal(JSON.stringify(value));
      }),
      { numRuns: 2000 },
    );
    expect(toJson(undefined)).to.equal(undefined);
  });

  it('with a maximum length: a prefix of the full text, at least that long when the text is', () => {
    fc.assert(
      fc.property(json, fc.nat(30), (value, max) => {
        const full = JSON.stringify(value);
        const cut = toJson(value, max) as string;
        expect(full.startsWith(cut)).to.equal(true);
        expect(cut.length).to.be.at.least(Math.min(max, full.length));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes a value nested 100000 deep, and stops early when asked', () => {
    expect(toJson(deep(100_000))).to.equal(`${'[{"k":'.repeat(50_000)}0${'}]'.repeat(50_000)}`);
    expect(toJson(deep(100_000), 10)?.length).to.be.below(20);
  });
});
