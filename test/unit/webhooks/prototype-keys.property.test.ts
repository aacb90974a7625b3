// Keys named like members of Object.prototype (`__proto__`, `constructor`, `prototype`, ...) are
// ordinary keys in JSON, and JSON.parse makes them own data properties. A handler that copies
// such an object by assignment (`copy[key] = value`) calls the `__proto__` setter instead: the
// key is lost (and the patch removes it), or its value becomes the copy's prototype.
//
// Property: applying the response's patch with fast-json-patch, as the API server applies it,
// keeps every key and value of the input except where the handler means to write.
import { expect } from 'chai';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { mutatePod } from '../../../webhooks/pods.ts';
import { mutateReplicated } from '../../../webhooks/replicated.ts';
import type { AdmissionHandler, AdmissionRequest, AdmissionResponse, KubeObject } from '../../../webhooks/types.ts';
import { mutateWorkload } from '../../../webhooks/workloads.ts';
import { VN_KEY, context, frozen, review } from './helpers.ts';

const RUNS = { numRuns: 300 };
const PLACEMENT = 'kube-offload.io/placement';
const CLUSTERS = 'kube-offload.io/clusters';
const PREFER = 'kube-offload.io/prefer';
const REPLICATE = 'kube-offload.io/replicate';

type Json = Record<string, unknown>;
type Path = readonly string[];

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'x'];
const hostileKey = fc.constantFrom(...HOSTILE_KEYS);

/** Any JSON value, its objects keyed by hostile keys only. */
const junk: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<unknown>('v', '', 0, true, null),
    tie('object'),
    tie('array'),
  ),
  object: fc.dictionary(hostileKey, tie('value'), { maxKeys: 3 }),
  array: fc.array(tie('value'), { maxLength: 2 }),
})).value;

/** A record with up to three hostile keys added; the record's own fields win on a clash. */
function withJunk<T extends Json>(record: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc
    .tuple(fc.dictionary(hostileKey, junk, { maxKeys: 3 }), record)
    .map(([extra, fields]) => ({ ...extra, ...fields }) as T);
}

/** A labels/annotations map: string values, hostile keys, and some of `own`. */
function stringMap(own: Record<string, fc.Arbitrary<string>> = {}): fc.Arbitrary<Json> {
  const hostile = fc.dictionary(hostileKey, fc.constantFrom('v', 'true', '{}'), { maxKeys: 3 });
  return fc.tuple(hostile, fc.record(own, { requiredKeys: [] })).map(([extra, fields]) => ({ ...extra, ...fields }));
}

const policyAnnotations = stringMap({
  [PLACEMENT]: fc.constantFrom('Local', 'Remote', 'LocalAndRemote'),
  [CLUSTERS]: fc.constantFrom('', 'region=eu'),
  [PREFER]: fc.constantFrom('Local', 'Remote'),
});

// Exists on keys the placement never uses: no merged term is contradictory, none is dropped.
const requirement = withJunk(fc.record({ key: fc.constantFrom('disk', 'tier'), operator: fc.constant('Exists') }));
const term = withJunk(fc.record({ matchExpressions: fc.array(requirement, { maxLength: 2 }) }, { requiredKeys: [] }));
const toleration = withJunk(
  fc.oneof(
    fc.constant({ key: 'dedicated', operator: 'Equal', value: 'gpu' }),
    fc.constant({ operator: 'Exists' }),
    fc.constant({}),
  ),
);
const nodeAffinity = withJunk(
  fc.record(
    {
      requiredDuringSchedulingIgnoredDuringExecution: withJunk(
        fc.record({ nodeSelectorTerms: fc.array(term, { minLength: 1, maxLength: 3 }) }),
      ),
      preferredDuringSchedulingIgnoredDuringExecution: fc.array(
        withJunk(fc.record({ weight: fc.constant(1), preference: term })),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: [] },
  ),
);
const podSpec = withJunk(
  fc.record(
    {
      containers: fc.array(withJunk(fc.record({ name: fc.constant('c'), image: fc.constant('i') })), {
        minLength: 1,
        maxLength: 2,
      }),
      tolerations: fc.array(toleration, { maxLength: 2 }),
      affinity: withJunk(fc.record({ nodeAffinity }, { requiredKeys: [] })),
      nodeSelector: stringMap(),
    },
    { requiredKeys: ['containers'] },
  ),
);
const podTemplate = withJunk(
  fc.record(
    { metadata: withJunk(fc.record({ annotations: policyAnnotations }, { requiredKeys: [] })), spec: podSpec },
    { requiredKeys: ['spec'] },
  ),
);
const metadata = withJunk(
  fc.record(
    {
      name: fc.constant('o'),
      annotations: policyAnnotations,
      labels: stringMap({ [REPLICATE]: fc.constantFrom('true', 'false') }),
    },
    { requiredKeys: ['name'] },
  ),
);

/** As the webhook receives it: parsed from JSON text, so hostile keys are own data properties. */
const asReceived = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const pod = withJunk(fc.record({ metadata, spec: podSpec })).map(asReceived);
const workloadKind = fc.constantFrom('Deployment', 'DaemonSet', 'CronJob');
const workload = fc
  .tuple(workloadKind, withJunk(fc.record({ metadata, template: podTemplate })))
  .map(([kind, { metadata: meta, template }]) => {
    const spec = kind === 'CronJob' ? { jobTemplate: { spec: { template } } } : { template };
    return { kind, object: asReceived({ kind, metadata: meta, spec }) as KubeObject };
  });
const replicated = fc
  .tuple(fc.constantFrom('ConfigMap', 'Secret', 'Service'), withJunk(fc.record({ metadata })))
  .map(([kind, object]) => ({ kind, object: asReceived({ ...object, kind }) as KubeObject }));

// --- the check -------------------------------------------------------------------------------

const own = (node: unknown, key: string): unknown =>
  typeof node === 'object' && node !== null && Object.hasOwn(node, key) ? (node as Json)[key] : undefined;
const at = (root: unknown, path: Path): unknown => path.reduce(own, root);
const startsWith = (path: Path, prefix: Path): boolean =>
  prefix.length <= path.length && prefix.every((step, i) => path[i] === step);

/** JSON text with keys sorted: equality independent of the code under test (inputs are shallow). */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Json;
    return `{${Object.keys(record)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${sortedJson(record[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Every scalar and every empty object or array of a value, with its path. */
function leaves(value: unknown, path: Path = [], out: Array<[Path, unknown]> = []): Array<[Path, unknown]> {
  if (typeof value !== 'object' || value === null) {
    out.push([path, value]);
    return out;
  }
  const keys = Object.keys(value);
  if (keys.length === 0) out.push([path, Array.isArray(value) ? '<empty array>' : '<empty object>']);
  for (const key of keys) leaves((value as Json)[key], [...path, key], out);
  return out;
}

/** Every leaf of `from` outside the written paths is in `to`, the same. */
function expectKept(from: unknown, to: unknown, writes: readonly Path[], direction: string): void {
  for (const [path, value] of leaves(from)) {
    if (writes.some((w) => startsWith(path, w))) continue;
    const other = at(to, path);
    const where = `${direction} /${path.join('/')}`;
    if (value === '<empty object>' || value === '<empty array>') {
      // A handler may add fields to an empty object it writes below (e.g. an empty affinity).
      expect(
        typeof other === 'object' && other !== null && Array.isArray(other) === (value === '<empty array>'),
        where,
      ).to.equal(true);
    } else {
      expect(other, where).to.equal(value);
    }
  }
}

/** Items of `before` still come first in `after` (tolerations, preferred terms are appended to). */
function expectAppendedTo(before: unknown, after: unknown, what: string): void {
  const items = Array.isArray(before) ? before : [];
  const now = Array.isArray(after) ? after : [];
  expect(now.length, what).to.be.at.least(items.length);
  items.forEach((item, i) => expect(sortedJson(now[i]), `${what} ${i}`).to.equal(sortedJson(item)));
}

/** Every non-empty user term survives as a merged term: its keys kept, its requirements first. */
function expectTermsKept(before: unknown, after: unknown): void {
  const terms = (Array.isArray(before) ? before : []) as Json[];
  const merged = (Array.isArray(after) ? after : []) as Json[];
  const empty = (t: Json): boolean => !Array.isArray(t.matchExpressions) || t.matchExpressions.length === 0;
  if (terms.every(empty)) {
    expect(sortedJson(merged)).to.equal(sortedJson(terms));
    return;
  }
  for (const t of terms.filter((t) => !empty(t))) {
    const keeps = (m: Json): boolean =>
      Object.keys(t).every(
        (k) => k === 'matchExpressions' || (Object.hasOwn(m, k) && sortedJson(m[k]) === sortedJson(t[k])),
      ) &&
      Array.isArray(m.matchExpressions) &&
      sortedJson(m.matchExpressions.slice(0, (t.matchExpressions as unknown[]).length)) ===
        sortedJson(t.matchExpressions);
    expect(merged.some(keeps), `user term ${sortedJson(t)} kept in ${sortedJson(merged)}`).to.equal(true);
  }
}

/** The response's patch applied as the API server would; it must not even address a `__proto__`. */
function applied(object: KubeObject, response: AdmissionResponse): KubeObject {
  const patch = (response.patch ?? []) as jsonpatch.Operation[];
  for (const op of patch) expect(op.path.split('/'), `${op.op} ${op.path}`).not.to.include('__proto__');
  // fast-json-patch refuses `__proto__` paths itself (its default), and validates each operation.
  return jsonpatch.applyPatch(structuredClone(object), patch, true, false).newDocument;
}

function admit(handler: AdmissionHandler, request: AdmissionRequest): KubeObject {
  const object = request.object as KubeObject;
  const response = handler({ ...request, object: frozen(structuredClone(object)) }, context());
  expect(response.allowed).to.equal(true);
  const result = applied(object, response);
  expect(handler({ ...request, object: result }, context()).patch, 'second admission must not patch').to.equal(
    undefined,
  );
  return result;
}

const AFFINITY: Path = ['affinity', 'nodeAffinity'];
const REQUIRED_TERMS: Path = [...AFFINITY, 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms'];
const PREFERRED: Path = [...AFFINITY, 'preferredDuringSchedulingIgnoredDuringExecution'];

/** What placement writes in a pod spec at `spec`, and its checks there. */
const placementWrites = (spec: Path): Path[] => [
  [...spec, 'tolerations'],
  [...spec, ...REQUIRED_TERMS],
  [...spec, ...PREFERRED],
];
function expectPlacementKept(input: unknown, result: unknown, spec: Path): void {
  expectAppendedTo(at(input, [...spec, 'tolerations']), at(result, [...spec, 'tolerations']), 'tolerations');
  expectAppendedTo(at(input, [...spec, ...PREFERRED]), at(result, [...spec, ...PREFERRED]), 'preferred terms');
  if (at(input, [...spec, ...REQUIRED_TERMS]) !== undefined)
    expectTermsKept(at(input, [...spec, ...REQUIRED_TERMS]), at(result, [...spec, ...REQUIRED_TERMS]));
}

describe('hostile keys (__proto__, constructor, prototype, ...) at every level are never lost', () => {
  it('generated inputs do hold hostile keys as own properties', () => {
    const samples = fc.sample(pod, 50).map((p) => JSON.stringify(p));
    expect(samples.some((text) => text.includes('"__proto__":{'))).to.equal(true);
    expect(samples.some((text) => text.includes('"constructor":'))).to.equal(true);
  });

  it('pods', () => {
    fc.assert(
      fc.property(pod, (input) => {
        const result = admit(mutatePod, review('Pod', input));
        const writes = placementWrites(['spec']);
        expectKept(input, result, writes, 'input');
        expectKept(result, input, writes, 'result');
        expectPlacementKept(input, result, ['spec']);
      }),
      RUNS,
    );
  });

  it('workloads', () => {
    fc.assert(
      fc.property(workload, fc.constantFrom<'CREATE' | 'UPDATE'>('CREATE', 'UPDATE'), ({ kind, object }, operation) => {
        const result = admit(mutateWorkload, review(kind, object, { operation, oldObject: object }));
        const template: Path = kind === 'CronJob' ? ['spec', 'jobTemplate', 'spec', 'template'] : ['spec', 'template'];
        const policy = [PLACEMENT, CLUSTERS, PREFER].map((key) => [...template, 'metadata', 'annotations', key]);
        const writes = [...policy, ...(kind === 'DaemonSet' ? placementWrites([...template, 'spec']) : [])];
        expectKept(object, result, writes, 'input');
        expectKept(result, object, writes, 'result');
        if (kind === 'DaemonSet') expectPlacementKept(object, result, [...template, 'spec']);
      }),
      RUNS,
    );
  });

  it('replicated', () => {
    fc.assert(
      fc.property(
        replicated,
        fc.constantFrom<'CREATE' | 'UPDATE'>('CREATE', 'UPDATE'),
        ({ kind, object }, operation) => {
          const result = admit(mutateReplicated, review(kind, object, { operation, oldObject: object }));
          const writes = [
            ['metadata', 'annotations', REPLICATE],
            ['metadata', 'labels', REPLICATE],
          ];
          expectKept(object, result, writes, 'input');
          expectKept(result, object, writes, 'result');
        },
      ),
      RUNS,
    );
  });

  it('the virtual-node key is not among the generated requirement keys (so no term is dropped)', () => {
    expect(['disk', 'tier']).not.to.include(VN_KEY);
  });
});
