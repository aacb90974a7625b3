import { expect } from 'chai';
import { resolvePolicy, policyFromAnnotations } from '../../../webhooks/policy.ts';
import type { PolicyLayer } from '../../../webhooks/policy.ts';
import type { NamespacePolicy } from '../../../webhooks/types.ts';

const defaults = { defaultPlacement: 'LocalAndRemote' as const };
const layers = (pod?: NamespacePolicy, workload?: NamespacePolicy, namespace?: NamespacePolicy): PolicyLayer[] => [
  { source: 'pod', policy: pod },
  { source: 'workload', policy: workload },
  { source: 'namespace', policy: namespace },
];

describe('policy: precedence pod > workload > namespace > default, per key', () => {
  const cases: Array<{
    name: string;
    pod?: NamespacePolicy;
    workload?: NamespacePolicy;
    namespace?: NamespacePolicy;
    want: Record<string, unknown>;
  }> = [
    {
      name: 'nothing set: the default placement, no selector, no preference',
      want: { placement: 'LocalAndRemote', placementSource: 'default', clusters: undefined, prefer: undefined },
    },
    {
      name: 'namespace beats default',
      namespace: { placement: 'Local' },
      want: { placement: 'Local', placementSource: 'namespace' },
    },
    {
      name: 'workload beats namespace',
      workload: { placement: 'Remote' },
      namespace: { placement: 'Local' },
      want: { placement: 'Remote', placementSource: 'workload' },
    },
    {
      name: 'pod beats workload',
      pod: { placement: 'Local' },
      workload: { placement: 'Remote' },
      want: { placement: 'Local', placementSource: 'pod' },
    },
    {
      name: 'keys resolve independently',
      pod: { placement: 'Remote' },
      workload: { prefer: 'Local' },
      namespace: { clusters: 'region=eu', placement: 'Local', prefer: 'Remote' },
      want: {
        placement: 'Remote',
        placementSource: 'pod',
        clusters: 'region=eu',
        clustersSource: 'namespace',
        prefer: 'Local',
        preferSource: 'workload',
      },
    },
    {
      name: 'an empty selector on the pod overrides the namespace one (any cluster)',
      pod: { clusters: '' },
      namespace: { clusters: 'region=eu' },
      want: { clusters: '', clustersSource: 'pod', clusterRequirements: [] },
    },
    {
      name: 'an invalid value falls through to the next layer',
      pod: { placement: 'Remot' },
      namespace: { placement: 'Remote' },
      want: { placement: 'Remote', placementSource: 'namespace' },
    },
    {
      name: 'an invalid selector falls through',
      namespace: { clusters: 'tier in (gold' },
      want: { clusters: undefined, clusterRequirements: [] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const resolved = resolvePolicy(layers(c.pod, c.workload, c.namespace), defaults);
      for (const [key, value] of Object.entries(c.want))
        expect(resolved[key as keyof typeof resolved], key).to.deep.equal(value);
    });
  }

  it('parses the winning selector', () => {
    const resolved = resolvePolicy(layers({ clusters: 'region=eu,!spot' }), defaults);
    expect(resolved.clusterRequirements).to.deep.equal([
      { key: 'region', operator: 'In', values: ['eu'] },
      { key: 'spot', operator: 'DoesNotExist' },
    ]);
  });

  it('uses the context default preference, below every layer', () => {
    expect(resolvePolicy(layers(), { ...defaults, defaultPrefer: 'Local' })).to.include({
      prefer: 'Local',
      preferSource: 'default',
    });
    expect(
      resolvePolicy(layers(undefined, undefined, { prefer: 'Remote' }), { ...defaults, defaultPrefer: 'Local' }),
    ).to.include({ prefer: 'Remote', preferSource: 'namespace' });
  });

  it('warns about skipped invalid values, naming key and layer', () => {
    const resolved = resolvePolicy(
      layers(undefined, undefined, { placement: 'Remot', prefer: 'Far', clusters: 'a b' }),
      defaults,
    );
    expect(resolved.warnings).to.deep.equal([
      'kube-offload: ignoring invalid kube-offload.io/placement "Remot" on the namespace',
      'kube-offload: ignoring invalid kube-offload.io/clusters "a b" on the namespace',
      'kube-offload: ignoring invalid kube-offload.io/prefer "Far" on the namespace',
    ]);
  });

  it('skips a selector over the limits, as the validating webhook rejects it, saying why', () => {
    const many = Array.from({ length: 65 }, (_, i) => `k${i}`).join(',');
    const long = `a in (${'v,'.repeat(3000)}v)`;
    const resolved = resolvePolicy(layers({ clusters: many }, undefined, { clusters: long }), defaults);
    expect(resolved).to.include({ clusters: undefined, clustersSource: undefined });
    expect(resolved.clusterRequirements).to.deep.equal([]);
    expect(resolved.warnings).to.deep.equal([
      'kube-offload: ignoring kube-offload.io/clusters on the pod: 65 requirements, more than the limit of 64',
      `kube-offload: ignoring kube-offload.io/clusters on the namespace: ${long.length} characters, more than the limit of 4096`,
    ]);
  });

  it('ignores non-string values', () => {
    const resolved = resolvePolicy(
      [{ source: 'pod', policy: { placement: 42 } as unknown as NamespacePolicy }],
      defaults,
    );
    expect(resolved.placementSource).to.equal('default');
    expect(resolved.warnings).to.deep.equal([]);
  });
});

describe('policy: reading annotations', () => {
  it('picks the three keys, ignores others and non-strings', () => {
    expect(
      policyFromAnnotations({ 'kube-offload.io/placement': 'Local', 'kube-offload.io/prefer': 7, other: 'x' }),
    ).to.deep.equal({ placement: 'Local' });
    expect(policyFromAnnotations(undefined)).to.deep.equal({});
    expect(policyFromAnnotations('nonsense')).to.deep.equal({});
  });
});
