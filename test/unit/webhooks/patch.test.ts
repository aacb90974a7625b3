import { expect } from 'chai';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { deepClone } from '../../../webhooks/json.ts';
import { cloneForWrites, diff, under } from '../../../webhooks/patch.ts';
import type { FieldPath } from '../../../webhooks/patch.ts';
import { frozen } from './helpers.ts';

/**
 * Paths of the arrays in `after` (below the root) holding more operations of `patch` than
 * items. An operation is held by every array on its path: its parent, and theirs.
 */
function crowdedArrays(patch: readonly { path: string }[], after: unknown): string[] {
  const held = new Map<string, number>();
  for (const { path } of patch) {
    const steps = path.split('/');
    for (let end = 2; end < steps.length; end++) {
      const prefix = steps.slice(0, end).join('/');
      held.set(prefix, (held.get(prefix) ?? 0) + 1);
    }
  }
  return [...held]
    .filter(([prefix, count]) => {
      const value: unknown = jsonpatch.getValueByPointer(after, prefix);
      return Array.isArray(value) && count > value.length;
    })
    .map(([prefix]) => prefix);
}

describe('patch: cloneForWrites', () => {
  const pod = () =>
    frozen({
      metadata: { name: 'p', labels: { app: 'web' }, annotations: { a: '1' } },
      spec: {
        containers: [{ name: 'c', env: [{ name: 'X', value: '1' }] }],
        tolerations: [{ operator: 'Exists' }],
        affinity: { nodeAffinity: {} },
      },
    });

  it('deep-copies the listed fields, copies the objects on the way, shares everything else', () => {
    const original = pod();
    const copy = cloneForWrites(original, [
      ['spec', 'affinity'],
      ['spec', 'tolerations'],
    ]);
    expect(copy).to.deep.equal(original);
    expect(copy).not.to.equal(original);
    expect(copy.spec).not.to.equal(original.spec);
    expect(copy.spec.affinity).not.to.equal(original.spec.affinity);
    expect(copy.spec.affinity.nodeAffinity).not.to.equal(original.spec.affinity.nodeAffinity);
    expect(copy.spec.tolerations).not.to.equal(original.spec.tolerations);
    expect(copy.spec.tolerations[0]).not.to.equal(original.spec.tolerations[0]);
    expect(copy.spec.containers).to.equal(original.spec.containers);
    expect(copy.metadata).to.equal(original.metadata);
    // Writable where listed (the original is frozen).
    (copy.spec.affinity.nodeAffinity as Record<string, unknown>).x = 1;
    (copy.spec as Record<string, unknown>).nodeSelector = {};
    expect(() => ((copy.spec.containers as unknown as Record<string, unknown>)[0] = {})).to.throw(TypeError);
  });

  it('stops where a field is missing or a scalar: the copy of its parent can take a new value', () => {
    const original = frozen({ spec: { nodeName: 'n1' } as Record<string, unknown> });
    const copy = cloneForWrites(original, [
      ['spec', 'affinity', 'nodeAffinity'],
      ['spec', 'nodeName', 'deeper'],
      ['status', 'phase'],
    ]);
    expect(copy).to.deep.equal(original);
    copy.spec.affinity = { nodeAffinity: {} };
    expect(original.spec).to.deep.equal({ spec: { nodeName: 'n1' } }.spec);
    expect(Object.hasOwn(copy, 'status')).to.equal(false);
  });

  it('paths with a common prefix share one copy; a listed parent covers its children', () => {
    const original = pod();
    const copy = cloneForWrites(original, [['spec', 'affinity', 'nodeAffinity'], ['spec']]);
    expect(copy.spec).not.to.equal(original.spec);
    expect(copy.spec.containers).not.to.equal(original.spec.containers);
    expect(copy.spec.containers[0]?.env).not.to.equal(original.spec.containers[0]?.env);
    expect(copy.spec.affinity.nodeAffinity).not.to.equal(original.spec.affinity.nodeAffinity);
    expect(copy.metadata).to.equal(original.metadata);
  });

  it('an empty path copies everything; no path copies only the top level', () => {
    const original = pod();
    const all = cloneForWrites(original, [[]]);
    expect(all).to.deep.equal(original);
    expect(all.metadata.labels).not.to.equal(original.metadata.labels);
    const top = cloneForWrites(original, []);
    expect(top).not.to.equal(original);
    expect(top.spec).to.equal(original.spec);
  });

  it('goes through arrays by index', () => {
    const original = pod();
    const copy = cloneForWrites(original, [['spec', 'containers', '0', 'env']]);
    expect(copy.spec.containers).not.to.equal(original.spec.containers);
    expect(copy.spec.containers[0]).not.to.equal(original.spec.containers[0]);
    expect(copy.spec.containers[0]?.env).not.to.equal(original.spec.containers[0]?.env);
    expect(copy.spec.tolerations).to.equal(original.spec.tolerations);
  });

  it('replaces: copies the objects on the way shallowly, and shares the value at the end', () => {
    const original = pod();
    const copy = cloneForWrites(
      original,
      [],
      [
        ['spec', 'affinity', 'nodeAffinity', 'required'],
        ['spec', 'tolerations'],
      ],
    );
    expect(copy).to.deep.equal(original);
    expect(copy.spec).not.to.equal(original.spec);
    expect(copy.spec.affinity).not.to.equal(original.spec.affinity);
    expect(copy.spec.affinity.nodeAffinity).not.to.equal(original.spec.affinity.nodeAffinity);
    expect(copy.spec.tolerations).to.equal(original.spec.tolerations);
    // Assigning at the ends (and on the way) leaves the frozen original alone.
    (copy.spec.affinity.nodeAffinity as Record<string, unknown>).required = { terms: [] };
    (copy.spec as Record<string, unknown>).tolerations = [...copy.spec.tolerations, { operator: 'Equal' }];
    expect(original.spec.affinity.nodeAffinity).to.deep.equal({});
    expect(diff(original, copy).map((op) => `${op.op} ${op.path}`)).to.deep.equal([
      'add /spec/affinity/nodeAffinity/required',
      'add /spec/tolerations/1',
    ]);
  });

  it('replaces and writes together: a deep copy covers a replaced path below it', () => {
    const original = pod();
    const copy = cloneForWrites(original, [['spec', 'affinity']], [['spec', 'affinity', 'nodeAffinity', 'x']]);
    expect(copy.spec.affinity).not.to.equal(original.spec.affinity);
    expect(copy.spec.affinity.nodeAffinity).not.to.equal(original.spec.affinity.nodeAffinity);
    expect(copy.spec.containers).to.equal(original.spec.containers);
  });

  it('under() prefixes paths', () => {
    expect(under(['spec', 'template'], [['metadata', 'annotations'], ['spec']])).to.deep.equal([
      ['spec', 'template', 'metadata', 'annotations'],
      ['spec', 'template', 'spec'],
    ]);
  });

  it('deepClone keeps keys in order, undefined values included', () => {
    const value = { b: [1, { c: undefined }], a: null, d: 'x' };
    const copy = deepClone(value);
    expect(copy).to.deep.equal(value);
    expect(Object.keys(copy)).to.deep.equal(['b', 'a', 'd']);
    expect(Object.hasOwn(copy.b[1] as object, 'c')).to.equal(true);
  });

  // The property the handlers rely on: writing at the listed paths of the scoped copy gives the
  // very same patch (operations and their order) as writing there in a full deep copy.
  it('diffs exactly like a full deep copy when writes stay within the listed paths', () => {
    const keys = ['a', 'b', 'c', '0', '1'];
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constantFrom(null, true, 1, 'x', 'y'),
        tie('object'),
        tie('array'),
      ),
      object: fc.dictionary(fc.constantFrom(...keys), tie('value'), { maxKeys: 4 }),
      array: fc.array(tie('value'), { maxLength: 3 }),
    })).object as fc.Arbitrary<Record<string, unknown>>;
    const path = fc.array(fc.constantFrom(...keys), { minLength: 1, maxLength: 4 });
    // A write: at a listed path (or below it), set / delete a key or push onto an array.
    const write = fc.record({
      path: fc.nat(),
      extra: fc.array(fc.constantFrom(...keys), { maxLength: 2 }),
      op: fc.constantFrom('set', 'delete', 'push'),
      value: fc.constantFrom<unknown>('new', 2, { n: 1 }, [1]),
    });

    const apply = (root: Record<string, unknown>, target: FieldPath, op: string, value: unknown): void => {
      let node: unknown = root;
      for (let i = 0; i < target.length - 1; i++) {
        const next = (node as Record<string, unknown>)[target[i] as string];
        if (typeof next !== 'object' || next === null) {
          const created = {};
          (node as Record<string, unknown>)[target[i] as string] = created;
          node = created;
        } else node = next;
      }
      const last = target[target.length - 1] as string;
      const parent = node as Record<string, unknown>;
      if (op === 'delete') delete parent[last];
      else if (op === 'push' && Array.isArray(parent[last])) (parent[last] as unknown[]).push(structuredClone(value));
      else parent[last] = structuredClone(value);
    };

    fc.assert(
      fc.property(
        json,
        fc.array(path, { minLength: 1, maxLength: 3 }),
        fc.array(write, { maxLength: 4 }),
        (object, paths, writes) => {
          const original = frozen(object);
          const scoped = cloneForWrites(original, paths);
          const full = deepClone(original);
          for (const w of writes) {
            const target = [...(paths[w.path % paths.length] as string[]), ...w.extra];
            apply(scoped, target, w.op, w.value);
            apply(full, target, w.op, w.value);
          }
          expect(scoped).to.deep.equal(full);
          // As JSON: compare() deep-copies values (an array hole becomes null), diff() does not.
          const theirs = jsonpatch.compare(original, full);
          if (crowdedArrays(theirs, full).length === 0)
            expect(JSON.stringify(diff(original, scoped))).to.equal(JSON.stringify(theirs));
          else expect(crowdedArrays(diff(original, scoped), full)).to.deep.equal([]);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('patch: diff', () => {
  // Keys that need escaping, array-like keys, and values of every JSON type (undefined too, as
  // handlers may leave it in objects they build).
  const keys = ['a', 'b', 'x/y', '~', '0', '1'];
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(null, undefined, true, false, 0, 1, '', 'x'),
      tie('object'),
      tie('array'),
    ),
    object: fc.dictionary(fc.constantFrom(...keys), tie('value'), { maxKeys: 4 }),
    array: fc.array(tie('value'), { maxLength: 4 }),
  }));
  const root = fc.oneof(json.object, json.array) as fc.Arbitrary<object>;

  it('gives the operations of fast-json-patch compare(), in the same order, unless they crowd an array', () => {
    const seen = { same: 0, crowded: 0 };
    fc.assert(
      fc.property(root, root, (a, b) => {
        const ours = diff(a, b);
        const theirs = jsonpatch.compare(a, b);
        expect(crowdedArrays(ours, b)).to.deep.equal([]);
        if (crowdedArrays(theirs, b).length === 0) {
          seen.same++;
          expect(JSON.stringify(ours)).to.equal(JSON.stringify(theirs));
        } else {
          seen.crowded++;
          expect(ours.length).to.be.at.most(theirs.length);
        }
      }),
      { numRuns: 2000 },
    );
    // Both cases were tried, many times.
    expect(seen.same).to.be.above(1000);
    expect(seen.crowded).to.be.above(20);
  });

  it('replaces an array whose operations would outnumber its items, and keeps a few changed items as compare() writes them', () => {
    // Three operations in /terms/0/m, which has two items: replaced whole, one operation in /terms.
    const before = { terms: [{ m: [{ v: 'a' }, { v: 'b' }] }, { m: [] }], tolerations: [{ k: 1 }, { k: 2 }] };
    const after = {
      terms: [{ m: [{ v: 'x', w: 1 }, { v: 'y' }] }, { m: [] }],
      tolerations: [{ k: 1 }, { k: 2 }, { k: 3 }],
    };
    expect(diff(before, after)).to.deep.equal([
      { op: 'add', path: '/tolerations/2', value: { k: 3 } },
      { op: 'replace', path: '/terms/0/m', value: [{ v: 'x', w: 1 }, { v: 'y' }] },
    ]);
  });

  it('and so for a JSON document and an edited copy, which its patch turns it into', () => {
    const edit = fc.array(
      fc.record({ path: fc.array(fc.constantFrom(...keys), { minLength: 1, maxLength: 3 }), value: json.value }),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(json.object, edit, (raw, edits) => {
        // A JSON document (no undefined anywhere), as the API server sends.
        const a = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
        const b = deepClone(a);
        // Arrays stay dense: an index past the end appends.
        const slot = (node: Record<string, unknown>, key: string): string =>
          Array.isArray(node) ? String(Math.min(Number(key) || 0, node.length)) : key;
        for (const { path, value } of edits) {
          let node: Record<string, unknown> = b;
          for (const key of path.slice(0, -1)) {
            const at = slot(node, key);
            const next = node[at];
            node = typeof next === 'object' && next !== null ? (next as Record<string, unknown>) : (node[at] = {});
          }
          const at = slot(node, path[path.length - 1] as string);
          if (value === undefined) {
            if (Array.isArray(node)) node.splice(Number(at), 1);
            else delete node[at];
          } else node[at] = JSON.parse(JSON.stringify(value));
        }
        const patch = diff(a, b);
        const theirs = jsonpatch.compare(a, b);
        if (crowdedArrays(theirs, b).length === 0) expect(JSON.stringify(patch)).to.equal(JSON.stringify(theirs));
        else expect(crowdedArrays(patch, b)).to.deep.equal([]);
        expect(jsonpatch.applyPatch(deepClone(a), jsonpatch.deepClone(patch), false, false).newDocument).to.deep.equal(
          b,
        );
      }),
      { numRuns: 1000 },
    );
  });

  // JSON.parse makes "__proto__" an own key; JavaScript JSON-patch libraries refuse paths through
  // it (and through "constructor/prototype"), or mis-apply them. diff() never writes such a path.
  it('turns a document with "__proto__", "constructor" and "prototype" keys into the other, by paths fast-json-patch accepts', () => {
    const hostile = ['__proto__', 'constructor', 'prototype', 'a', '0'];
    const doc = fc
      .letrec((tie) => ({
        value: fc.oneof(
          { depthSize: 'small', withCrossShrink: true },
          fc.constantFrom(null, 1, 'x'),
          tie('object'),
          tie('array'),
        ),
        object: fc.dictionary(fc.constantFrom(...hostile), tie('value'), { maxKeys: 4 }),
        array: fc.array(tie('value'), { maxLength: 3 }),
      }))
      .object.map((o) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>);
    const sortedJson = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
      if (typeof value !== 'object' || value === null) return JSON.stringify(value);
      const record = value as Record<string, unknown>;
      return `{${Object.keys(record)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${sortedJson(record[k])}`)
        .join(',')}}`;
    };
    fc.assert(
      fc.property(doc, doc, (a, b) => {
        const patch = diff(a, b) as jsonpatch.Operation[];
        // fast-json-patch's default refuses __proto__ and constructor/prototype paths.
        const result = jsonpatch.applyPatch(
          JSON.parse(JSON.stringify(a)),
          jsonpatch.deepClone(patch),
          true,
          false,
        ).newDocument;
        expect(sortedJson(result)).to.equal(sortedJson(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes a change at a "__proto__" key as a replace of the object holding it', () => {
    const a = JSON.parse('{"spec":{"keep":1,"m":{"__proto__":"old","n":1}}}') as object;
    const b = JSON.parse('{"spec":{"keep":1,"m":{"__proto__":"new","n":2}}}') as object;
    expect(diff(a, b)).to.deep.equal([
      { op: 'replace', path: '/spec/m', value: (b as { spec: { m: unknown } }).spec.m },
    ]);
    const c = JSON.parse('{"spec":{"keep":1,"m":{"__proto__":"old","n":2}}}') as object;
    expect(diff(a, c)).to.deep.equal([{ op: 'replace', path: '/spec/m/n', value: 2 }]);
  });

  it('skips subtrees shared by both sides', () => {
    const shared = { big: [1, 2, 3] };
    const a = { spec: { containers: shared, n: 1 } };
    const b = { spec: { containers: shared, n: 2 } };
    expect(diff(a, b)).to.deep.equal([{ op: 'replace', path: '/spec/n', value: 2 }]);
  });
});
