// Property tests of /mutate/pods over generated pods, policies and contexts. The semantic
// property evaluates the required affinity on every node of a small label universe with an
// evaluator written for the tests (helpers.ts), not with the code under test.
import { expect } from 'chai';
import fc from 'fast-check';
import { LIQO_CONVENTION } from '../../../webhooks/keys.ts';
import { planPlacement } from '../../../webhooks/placement.ts';
import { mutatePod } from '../../../webhooks/pods.ts';
import { resolvePolicy } from '../../../webhooks/policy.ts';
import { parseClusterSelector } from '../../../webhooks/selector.ts';
import type { Placement, Preference } from '../../../webhooks/keys.ts';
import type { KubeObject, NamespacePolicy } from '../../../webhooks/types.ts';
import {
  VN_KEY,
  VN_TOLERATION,
  VN_VALUE,
  context,
  frozen,
  nodeSelectorMatches,
  patched,
  preferredTerms,
  requiredMatches,
  requiredTerms,
  review,
} from './helpers.ts';
import type { TestNode } from './helpers.ts';

const RUNS = { numRuns: 200 };

const UNIVERSE: Record<string, string[]> = {
  [VN_KEY]: [VN_VALUE, 'other'],
  region: ['eu', 'us'],
  tier: ['gold', 'silver'],
  disk: ['ssd'],
};
const NODE_NAMES = ['n1', 'n2'];

/** Every node of the universe: each key absent or set to each of its values, times each name. */
const NODES: TestNode[] = (() => {
  let labelSets: Record<string, string>[] = [{}];
  for (const [key, values] of Object.entries(UNIVERSE)) {
    labelSets = labelSets.flatMap((labels) => [labels, ...values.map((v) => ({ ...labels, [key]: v }))]);
  }
  return labelSets.flatMap((labels) => NODE_NAMES.map((name) => ({ name, labels })));
})();

// Selectors paired with an oracle over labels (independent of the parser).
const SELECTORS: Array<[string, (l: Record<string, string>) => boolean]> = [
  ['', () => true],
  ['region=eu', (l) => l.region === 'eu'],
  ['region in (eu,us),tier!=silver', (l) => (l.region === 'eu' || l.region === 'us') && l.tier !== 'silver'],
  ['!disk', (l) => l.disk === undefined],
  ['tier', (l) => l.tier !== undefined],
  ['region=mars', () => false],
];

const key = fc.constantFrom(...Object.keys(UNIVERSE));
const requirement = key.chain((k) => {
  const values = fc.subarray([...(UNIVERSE[k] as string[]), 'elsewhere'], { minLength: 1 });
  return fc.oneof(
    fc.record({ key: fc.constant(k), operator: fc.constantFrom('In', 'NotIn'), values }),
    fc.record({ key: fc.constant(k), operator: fc.constantFrom('Exists', 'DoesNotExist') }),
  );
});
const fieldRequirement = fc.record({
  key: fc.constant('metadata.name'),
  operator: fc.constantFrom('In', 'NotIn'),
  values: fc.subarray(NODE_NAMES, { minLength: 1 }),
});
const term = fc.record(
  {
    matchExpressions: fc.array(requirement, { maxLength: 3 }),
    matchFields: fc.array(fieldRequirement, { maxLength: 1 }),
  },
  { requiredKeys: [] },
);
const toleration = fc.constantFrom<Record<string, unknown>>(
  VN_TOLERATION,
  { operator: 'Exists' },
  { key: VN_TOLERATION.key, operator: 'Exists' },
  { key: VN_TOLERATION.key, operator: 'Exists', effect: 'NoSchedule' },
  { key: VN_TOLERATION.key, operator: 'Equal', value: 'false', effect: 'NoExecute' },
  { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' },
);
const preferred = fc.record({ weight: fc.integer({ min: 1, max: 100 }), preference: term });
const nodeAffinity = fc.record(
  {
    requiredDuringSchedulingIgnoredDuringExecution: fc.record({
      nodeSelectorTerms: fc.array(term, { minLength: 1, maxLength: 3 }),
    }),
    preferredDuringSchedulingIgnoredDuringExecution: fc.array(preferred, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const policy = fc.record(
  {
    placement: fc.constantFrom<Placement>('Local', 'Remote', 'LocalAndRemote'),
    clusters: fc.constantFrom(...SELECTORS.map(([s]) => s)),
    prefer: fc.constantFrom('Local', 'Remote'),
  },
  { requiredKeys: [] },
);
const nodeSelector = fc.dictionary(key, fc.constantFrom('eu', 'gold', VN_VALUE, 'other'), { maxKeys: 2 });

const podArb = fc.record({
  annotations: policy,
  tolerations: fc.option(fc.uniqueArray(toleration, { maxLength: 3 }), { nil: undefined }),
  affinity: fc.option(fc.record({ nodeAffinity }), { nil: undefined }),
  nodeSelector: fc.option(nodeSelector, { nil: undefined }),
  // Rare special cases: exemptions and bound pods.
  special: fc.oneof(
    { weight: 8, arbitrary: fc.constant('none') },
    { weight: 1, arbitrary: fc.constantFrom('daemonset', 'hostNetwork', 'hostPath', 'nodeName', 'mirror') },
  ),
});

const scenario = fc.record({
  pod: podArb,
  namespacePolicy: fc.option(policy, { nil: undefined }),
  defaultPlacement: fc.constantFrom<Placement>('Local', 'Remote', 'LocalAndRemote'),
  defaultPrefer: fc.option(fc.constantFrom<'Local' | 'Remote'>('Local', 'Remote'), { nil: undefined }),
  virtualNodes: fc.option(
    fc.array(
      fc.record({
        name: fc.constantFrom('vk-a', 'vk-b'),
        labels: fc.dictionary(key, fc.constantFrom(VN_VALUE, 'eu', 'gold')),
        ready: fc.boolean(),
      }),
      { maxLength: 2 },
    ),
    { nil: undefined },
  ),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function build(s: Scenario): KubeObject {
  const annotations: Record<string, string> = {};
  const p = s.pod.annotations;
  if (p.placement) annotations['kube-offload.io/placement'] = p.placement;
  if (p.clusters !== undefined) annotations['kube-offload.io/clusters'] = p.clusters;
  if (p.prefer) annotations['kube-offload.io/prefer'] = p.prefer;
  const metadata: Record<string, unknown> = { name: 'p', namespace: 'shop', annotations };
  const spec: Record<string, unknown> = { containers: [{ name: 'c', image: 'i' }] };
  if (s.pod.tolerations) spec.tolerations = s.pod.tolerations;
  if (s.pod.affinity) spec.affinity = s.pod.affinity;
  if (s.pod.nodeSelector) spec.nodeSelector = s.pod.nodeSelector;
  switch (s.pod.special) {
    case 'daemonset':
      metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'u' }];
      break;
    case 'hostNetwork':
      spec.hostNetwork = true;
      break;
    case 'hostPath':
      spec.volumes = [{ name: 'h', hostPath: { path: '/' } }];
      break;
    case 'nodeName':
      spec.nodeName = 'n1';
      break;
    case 'mirror':
      spec.nodeName = 'n1';
      annotations['kubernetes.io/config.mirror'] = 'x';
      break;
  }
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

function ctxOf(s: Scenario) {
  const namespaces: Record<string, NamespacePolicy> = s.namespacePolicy
    ? { shop: s.namespacePolicy as NamespacePolicy }
    : {};
  return context({
    defaultPlacement: s.defaultPlacement,
    namespaces,
    ...(s.defaultPrefer ? { defaultPrefer: s.defaultPrefer } : {}),
    ...(s.virtualNodes ? { virtualNodes: s.virtualNodes } : {}),
  });
}

/** The oracle's view of the effective policy: pod > namespace > default, per key. */
function expected(s: Scenario) {
  const ns = s.namespacePolicy ?? {};
  const placement = s.pod.annotations.placement ?? ns.placement ?? s.defaultPlacement;
  const clusters = s.pod.annotations.clusters ?? ns.clusters ?? '';
  const prefer = s.pod.annotations.prefer ?? ns.prefer ?? s.defaultPrefer;
  const bound = s.pod.special === 'nodeName' || s.pod.special === 'mirror';
  const exempt = s.pod.special === 'daemonset' || s.pod.special === 'hostNetwork' || s.pod.special === 'hostPath';
  return { placement: exempt ? 'Local' : placement, clusters, prefer: exempt ? undefined : prefer, bound };
}

function admit(s: Scenario) {
  const input = frozen(build(s));
  const response = mutatePod(review('Pod', input), ctxOf(s));
  return { input, response, output: patched(input, response) };
}

describe('pods: properties', () => {
  // Parsed selectors are cached and shared by every pod admitted with them (webhooks/policy.ts),
  // and not frozen: a handler writing into them would change other pods' placement.
  it('never writes into the parsed cluster selectors that admissions share', () => {
    const cached = (selector: string) =>
      resolvePolicy([{ source: 'pod', policy: { clusters: selector } }], { defaultPlacement: 'Local' })
        .clusterRequirements;
    fc.assert(
      fc.property(scenario, (s) => {
        admit(s);
        for (const [selector] of SELECTORS) {
          const fresh = parseClusterSelector(selector);
          expect(fresh.ok).to.equal(true);
          expect(cached(selector)).to.deep.equal(fresh.ok ? fresh.requirements : undefined);
        }
      }),
      RUNS,
    );
  });

  // Placement plans are cached and shared the same way (webhooks/placement.ts). Snapshots taken
  // when this file loads, before any admission of the run.
  const sharedPlans = (['Local', 'Remote', 'LocalAndRemote'] as Placement[]).flatMap((placement) =>
    ['', ...SELECTORS.map(([selector]) => selector)].flatMap((selector) =>
      ([undefined, 'Local', 'Remote'] as Array<Preference | undefined>).map((prefer) => {
        const clusters = selector
          ? resolvePolicy([{ source: 'pod', policy: { clusters: selector } }], { defaultPlacement: 'Local' })
              .clusterRequirements
          : [];
        const plan = planPlacement(placement, clusters, prefer, LIQO_CONVENTION);
        return { plan, before: structuredClone(plan) };
      }),
    ),
  );

  it('never writes into the placement plans that admissions share', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        admit(s);
        for (const { plan, before } of sharedPlans) expect(plan).to.deep.equal(before);
      }),
      RUNS,
    );
  });

  it('echoes the uid, allows, and emits a patch that applies cleanly (validated)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { response, output } = admit(s);
        expect(response.uid).to.equal('uid-1234');
        expect(response.allowed).to.equal(true);
        expect(output).to.be.an('object');
        if (response.patch) expect(response.patch.length).to.be.greaterThan(0);
      }),
      RUNS,
    );
  });

  it('mutating twice equals mutating once: the second admission has no patch', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { output } = admit(s);
        const again = mutatePod(review('Pod', output), ctxOf(s));
        expect(again.patch).to.equal(undefined);
      }),
      RUNS,
    );
  });

  it('user constraints survive: tolerations, nodeSelector, preferred terms, and every term extends a user term', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { input, output } = admit(s);
        const inSpec = input.spec as Record<string, any>;
        const outSpec = output.spec as Record<string, any>;
        for (const t of inSpec.tolerations ?? []) expect(outSpec.tolerations).to.deep.include(t);
        expect(outSpec.nodeSelector).to.deep.equal(inSpec.nodeSelector);
        expect(outSpec.containers).to.deep.equal(inSpec.containers);
        for (const p of preferredTerms(input) ?? []) expect(preferredTerms(output)).to.deep.include(p);
        const userTerms = requiredTerms(input);
        if (userTerms) {
          for (const outTerm of requiredTerms(output) ?? []) {
            const extendsOne = userTerms.some(
              (u) =>
                (u.matchExpressions ?? []).every((r) =>
                  (outTerm.matchExpressions ?? []).some((o) => JSON.stringify(o) === JSON.stringify(r)),
                ) &&
                (u.matchFields ?? []).every((r) =>
                  (outTerm.matchFields ?? []).some((o) => JSON.stringify(o) === JSON.stringify(r)),
                ),
            );
            expect(extendsOne, JSON.stringify(outTerm)).to.equal(true);
          }
        }
      }),
      RUNS,
    );
  });

  it('never produces an empty nodeSelectorTerms list', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const terms = requiredTerms(admit(s).output);
        if (terms) expect(terms.length).to.be.greaterThan(0);
      }),
      RUNS,
    );
  });

  it('on every node: result AND nodeSelector <=> user affinity AND placement AND nodeSelector', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { input, output } = admit(s);
        const want = expected(s);
        const select = (
          SELECTORS.find(([text]) => text === want.clusters) as [string, (l: Record<string, string>) => boolean]
        )[1];
        const selectorSet = want.clusters !== '';
        for (const node of NODES) {
          const virtual = node.labels[VN_KEY] === VN_VALUE;
          const placementHolds = want.bound
            ? true
            : want.placement === 'Local'
              ? !virtual
              : want.placement === 'Remote'
                ? virtual && select(node.labels)
                : !selectorSet || !virtual || select(node.labels);
          const pinned = nodeSelectorMatches((input.spec as any).nodeSelector, node);
          const lhs = requiredMatches(requiredTerms(output), node) && pinned;
          const rhs = requiredMatches(requiredTerms(input), node) && placementHolds && pinned;
          expect(lhs, `${JSON.stringify(node)} in ${JSON.stringify(requiredTerms(output))}`).to.equal(rhs);
        }
      }),
      RUNS,
    );
  });

  it('tolerates the virtual-node taint exactly when the placement allows virtual nodes', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { input, output } = admit(s);
        const want = expected(s);
        const inTolerations = (input.spec as any).tolerations;
        const outTolerations = (output.spec as any).tolerations;
        if (want.bound || want.placement === 'Local') {
          expect(outTolerations).to.deep.equal(inTolerations);
        } else {
          const tolerated = (outTolerations ?? []).some(
            (t: any) =>
              (!t.effect || t.effect === VN_TOLERATION.effect) &&
              (!t.key || t.key === VN_TOLERATION.key) &&
              (t.operator === 'Exists' || t.value === VN_TOLERATION.value),
          );
          expect(tolerated).to.equal(true);
          // At most one entry is added.
          expect((outTolerations ?? []).length - (inTolerations ?? []).length).to.be.within(0, 1);
        }
      }),
      RUNS,
    );
  });

  it('adds the preferred term for a preference the placement leaves open', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { output } = admit(s);
        const want = expected(s);
        const operator = want.prefer === 'Local' ? 'NotIn' : 'In';
        const term = { weight: 100, preference: { matchExpressions: [{ key: VN_KEY, operator, values: [VN_VALUE] }] } };
        const applies =
          !want.bound &&
          ((want.prefer === 'Local' && want.placement !== 'Remote') ||
            (want.prefer === 'Remote' && want.placement !== 'Local'));
        if (applies) expect(preferredTerms(output)).to.deep.include(term);
        const otherTerm = {
          weight: 100,
          preference: {
            matchExpressions: [{ key: VN_KEY, operator: operator === 'In' ? 'NotIn' : 'In', values: [VN_VALUE] }],
          },
        };
        const inPreferred = (s.pod.affinity?.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution ??
          []) as unknown[];
        const added = (preferredTerms(output) ?? []).length - inPreferred.length;
        expect(added).to.equal(applies && !inPreferred.some((p) => JSON.stringify(p) === JSON.stringify(term)) ? 1 : 0);
        if (!want.prefer) expect(preferredTerms(output) ?? []).not.to.deep.include(otherTerm);
      }),
      RUNS,
    );
  });

  it('bound pods are never patched; warnings are short, prefixed, one line', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { response } = admit(s);
        if (expected(s).bound) expect(response.patch).to.equal(undefined);
        for (const w of response.warnings ?? []) {
          expect(w).to.match(/^kube-offload: [^\n]*$/);
          expect(w.length).to.be.at.most(120);
        }
      }),
      RUNS,
    );
  });
});
