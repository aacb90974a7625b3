import { expect } from 'chai';
import { MAX_CLUSTER_SELECTOR_LENGTH, MAX_CLUSTER_SELECTOR_REQUIREMENTS } from '../../../webhooks/index.ts';
import { validate } from '../../../webhooks/validate.ts';
import type { AdmissionRequest, AdmissionResponse, KubeObject } from '../../../webhooks/types.ts';
import { context, review } from './helpers.ts';

const PLACEMENT = 'kube-offload.io/placement';
const CLUSTERS = 'kube-offload.io/clusters';
const PREFER = 'kube-offload.io/prefer';
const REPLICATE = 'kube-offload.io/replicate';
const ENABLED = 'kube-offload.io/enabled';

// Deliberately loose: validation must cope with values of any JSON type.
const meta = (annotations: Record<string, unknown> = {}, labels: Record<string, unknown> = {}): any => ({
  name: 'x',
  annotations,
  labels,
});
const run = (request: AdmissionRequest): AdmissionResponse => validate(request, context());
const rejection = (response: AdmissionResponse) => ({
  allowed: response.allowed,
  code: response.status?.code,
  reason: response.status?.reason,
  message: response.status?.message,
});
const invalid = (message: string) => ({ allowed: false, code: 422, reason: 'Invalid', message });
const forbidden = (message: string) => ({ allowed: false, code: 403, reason: 'Forbidden', message });

function deployment(
  annotations: Record<string, unknown> = {},
  templateAnnotations: Record<string, unknown> = {},
): KubeObject {
  return {
    kind: 'Deployment',
    metadata: meta(annotations),
    spec: { template: { metadata: { annotations: templateAnnotations }, spec: {} } },
  };
}
function cronJob(jobAnnotations: Record<string, unknown>, templateAnnotations: Record<string, unknown>): KubeObject {
  return {
    kind: 'CronJob',
    metadata: meta(),
    spec: {
      jobTemplate: {
        metadata: { annotations: jobAnnotations },
        spec: { template: { metadata: { annotations: templateAnnotations } } },
      },
    },
  };
}

describe('validate: bad values, with exact messages', () => {
  const cases: Array<[string, AdmissionRequest, string]> = [
    [
      'placement on a Pod',
      review('Pod', { metadata: meta({ [PLACEMENT]: 'Remot' }) }),
      'kube-offload.io/placement: "Remot" is not one of Local, Remote, LocalAndRemote',
    ],
    [
      'prefer on a Namespace',
      review('Namespace', { metadata: meta({ [PREFER]: 'LocalAndRemote' }) }),
      'kube-offload.io/prefer: "LocalAndRemote" is not one of Local, Remote',
    ],
    [
      'clusters on a Namespace',
      review('Namespace', { metadata: meta({ [CLUSTERS]: 'tier in (gold' }) }),
      'kube-offload.io/clusters: "tier in (gold" is not a valid label selector: found end of string, expected "," or ")" (column 14)',
    ],
    [
      'the enabled label',
      review('Namespace', { metadata: meta({}, { [ENABLED]: 'yes' }) }),
      'kube-offload.io/enabled: "yes" is not one of true, false',
    ],
    [
      'replicate annotation on a ConfigMap',
      review('ConfigMap', { metadata: meta({ [REPLICATE]: 'yes' }) }),
      'kube-offload.io/replicate: "yes" is not one of true, false',
    ],
    [
      'replicate label on a Secret',
      review('Secret', { metadata: meta({}, { [REPLICATE]: 'True' }), data: { k: 'c2VjcmV0' } }),
      'kube-offload.io/replicate: "True" is not one of true, false',
    ],
    [
      'placement in a Deployment pod template',
      review('Deployment', deployment({}, { [PLACEMENT]: 'remote' })),
      'kube-offload.io/placement: "remote" is not one of Local, Remote, LocalAndRemote',
    ],
    [
      'placement on Deployment metadata',
      review('Deployment', deployment({ [PLACEMENT]: 'Both' })),
      'kube-offload.io/placement: "Both" is not one of Local, Remote, LocalAndRemote',
    ],
    [
      'prefer in a CronJob job template pod template',
      review('CronJob', cronJob({}, { [PREFER]: 'Near' })),
      'kube-offload.io/prefer: "Near" is not one of Local, Remote',
    ],
    [
      'placement on a CronJob job template metadata',
      review('CronJob', cronJob({ [PLACEMENT]: 'Far' }, {})),
      'kube-offload.io/placement: "Far" is not one of Local, Remote, LocalAndRemote',
    ],
    [
      'a non-string value',
      review('Pod', { metadata: meta({ [PLACEMENT]: 5 }) }),
      'kube-offload.io/placement: 5 is not one of Local, Remote, LocalAndRemote',
    ],
    [
      'a non-string selector',
      review('Pod', { metadata: meta({ [CLUSTERS]: ['a'] }) }),
      'kube-offload.io/clusters: ["a"] is not a valid label selector: not a string',
    ],
  ];
  for (const [name, request, message] of cases) {
    it(name, () => expect(rejection(run(request))).to.deep.equal(invalid(message)));
  }

  it('collects every error into one message joined by "; " (identical ones once)', () => {
    const request = review(
      'Deployment',
      deployment({ [PLACEMENT]: 'Remot', [PREFER]: 'x' }, { [PLACEMENT]: 'Remot', [CLUSTERS]: 'a in' }),
    );
    expect(run(request).status?.message).to.equal(
      [
        'kube-offload.io/placement: "Remot" is not one of Local, Remote, LocalAndRemote',
        'kube-offload.io/prefer: "x" is not one of Local, Remote',
        'kube-offload.io/clusters: "a in" is not a valid label selector: found end of string, expected "(" (column 5)',
      ].join('; '),
    );
  });

  it('cuts very long values in messages', () => {
    const message = run(review('Pod', { metadata: meta({ [PLACEMENT]: 'x'.repeat(5000) }) })).status?.message ?? '';
    expect(message.length).to.be.below(200);
    expect(message).to.match(/^kube-offload\.io\/placement: "x{100}"\.\.\. is not one of/);
  });

  it('echoes the uid on denials', () => {
    expect(run(review('Pod', { metadata: meta({ [PLACEMENT]: 'Remot' }) })).uid).to.equal('uid-1234');
  });
});

describe('validate: cluster selectors are bounded in length and requirements', () => {
  /** `k0=v,k1=v,...`: `count` requirements. */
  const selectorOf = (count: number, value = 'v'): string =>
    Array.from({ length: count }, (_, i) => `k${i}=${value}`).join(',');
  const cut = (text: string): string => `${JSON.stringify(text.slice(0, 40))}...`;

  it('exports the limits', () => {
    expect([MAX_CLUSTER_SELECTOR_LENGTH, MAX_CLUSTER_SELECTOR_REQUIREMENTS]).to.deep.equal([4096, 64]);
  });

  it('rejects more requirements than the limit, saying how many and the limit', () => {
    const selector = selectorOf(MAX_CLUSTER_SELECTOR_REQUIREMENTS + 1);
    expect(rejection(run(review('Pod', { metadata: meta({ [CLUSTERS]: selector }) })))).to.deep.equal(
      invalid(`kube-offload.io/clusters: ${cut(selector)} is too large: 65 requirements, more than the limit of 64`),
    );
  });

  it('rejects a value longer than the limit, without parsing it, saying its length and the limit', () => {
    const selector = `${selectorOf(10)},${'x'.repeat(250_000)} in (`;
    expect(rejection(run(review('Namespace', { metadata: meta({ [CLUSTERS]: selector }) })))).to.deep.equal(
      invalid(
        `kube-offload.io/clusters: ${cut(selector)} is too large: ${selector.length} characters, more than the limit of 4096`,
      ),
    );
  });

  it('accepts a selector at both limits', () => {
    const selector = selectorOf(MAX_CLUSTER_SELECTOR_REQUIREMENTS, 'v'.repeat(59));
    expect(selector.length).to.be.within(MAX_CLUSTER_SELECTOR_LENGTH - 64, MAX_CLUSTER_SELECTOR_LENGTH);
    expect(run(review('Deployment', deployment({ [CLUSTERS]: selector }, { [CLUSTERS]: selector })))).to.deep.equal({
      uid: 'uid-1234',
      allowed: true,
    });
  });

  it('checks templates too, and ratchets an unchanged oversized value on UPDATE', () => {
    const selector = selectorOf(100);
    expect(run(review('Deployment', deployment({}, { [CLUSTERS]: selector }))).allowed).to.equal(false);
    const old = { metadata: meta({ [CLUSTERS]: selector }) };
    expect(
      run(review('Namespace', { metadata: meta({ [CLUSTERS]: selector }) }, { operation: 'UPDATE', oldObject: old }))
        .allowed,
    ).to.equal(true);
  });
});

describe('validate: good values are allowed', () => {
  const cases: Array<[string, AdmissionRequest]> = [
    [
      'every placement value',
      review('Namespace', {
        metadata: meta(
          { [PLACEMENT]: 'LocalAndRemote', [PREFER]: 'Remote', [CLUSTERS]: 'region=eu,tier in (gold,silver)' },
          { [ENABLED]: 'true' },
        ),
      }),
    ],
    ['an empty selector', review('Pod', { metadata: meta({ [CLUSTERS]: '' }) })],
    ['enabled "false"', review('Namespace', { metadata: meta({}, { [ENABLED]: 'false' }) })],
    [
      'replicate "false" on a Service',
      review('Service', { metadata: meta({ [REPLICATE]: 'false' }, { [REPLICATE]: 'false' }) }),
    ],
    ['no metadata at all', review('Pod', {})],
    ['our keys on kinds we do not guard', review('Node', { metadata: meta({ [PLACEMENT]: 'nonsense' }) })],
    [
      'placement keys on a ConfigMap (meaningless there, not ours to judge)',
      review('ConfigMap', { metadata: meta({ [PLACEMENT]: 'nonsense' }) }),
    ],
    ['replicate on a Pod (not a replicated kind)', review('Pod', { metadata: meta({ [REPLICATE]: 'maybe' }) })],
    [
      'a subresource update',
      review('Pod', { metadata: meta({ [PLACEMENT]: 'Remot' }) }, { operation: 'UPDATE', subResource: 'status' }),
    ],
    ['DELETE', review('Pod', { metadata: meta({ [PLACEMENT]: 'Remot' }) }, { operation: 'DELETE' })],
    ['malformed annotations', review('Pod', { metadata: { annotations: 'placement=Remot' } })],
    ['a missing object', review('Pod', undefined)],
    ['a workload without a template', review('Deployment', { metadata: meta(), spec: null })],
  ];
  for (const [name, request] of cases) {
    it(name, () => expect(run(request)).to.deep.equal({ uid: 'uid-1234', allowed: true }));
  }
});

describe('validate: UPDATE ratchets unchanged values', () => {
  it('allows an unchanged invalid value (object predates the webhook)', () => {
    const old = { metadata: meta({ [PLACEMENT]: 'Remot' }) };
    expect(
      run(
        review(
          'Namespace',
          { metadata: meta({ [PLACEMENT]: 'Remot', other: 'new' }) },
          { operation: 'UPDATE', oldObject: old },
        ),
      ).allowed,
    ).to.equal(true);
  });
  it('rejects a changed invalid value', () => {
    const old = { metadata: meta({ [PLACEMENT]: 'Remot' }) };
    expect(
      rejection(
        run(
          review('Namespace', { metadata: meta({ [PLACEMENT]: 'Remoot' }) }, { operation: 'UPDATE', oldObject: old }),
        ),
      ),
    ).to.deep.equal(invalid('kube-offload.io/placement: "Remoot" is not one of Local, Remote, LocalAndRemote'));
  });
  it('compares each place with the same place of the old object', () => {
    const old = deployment({ [PLACEMENT]: 'Remot' }, {});
    expect(
      run(
        review('Deployment', deployment({ [PLACEMENT]: 'Remot' }, { [PLACEMENT]: 'Remot' }), {
          operation: 'UPDATE',
          oldObject: old,
        }),
      ).allowed,
    ).to.equal(false);
  });
});

describe('validate: ownership keys may not be forged', () => {
  const keys: Array<['labels' | 'annotations', string]> = [
    ['labels', 'kube-offload.io/origin-cluster'],
    ['annotations', 'kube-offload.io/origin'],
    ['annotations', 'kube-offload.io/origin-uid'],
    ['labels', 'kube-offload.io/origin-uid'],
  ];
  for (const [field, key] of keys) {
    const what = field === 'labels' ? 'label' : 'annotation';
    const withKey = (value: string) => ({ metadata: { name: 'x', [field]: { [key]: value } } });
    const message = `${key}: ${what} is reserved for kube-offload's syncer and may not be set`;
    it(`${what} ${key}: rejected on CREATE`, () => {
      expect(rejection(run(review('ConfigMap', withKey('a'))))).to.deep.equal(forbidden(message));
    });
    it(`${what} ${key}: rejected when added or changed on UPDATE`, () => {
      expect(
        rejection(
          run(review('Service', withKey('a'), { operation: 'UPDATE', oldObject: { metadata: { name: 'x' } } })),
        ),
      ).to.deep.equal(forbidden(message));
      expect(
        rejection(run(review('Service', withKey('b'), { operation: 'UPDATE', oldObject: withKey('a') }))),
      ).to.deep.equal(forbidden(message));
    });
    it(`${what} ${key}: allowed when unchanged or removed on UPDATE`, () => {
      expect(run(review('Namespace', withKey('a'), { operation: 'UPDATE', oldObject: withKey('a') })).allowed).to.equal(
        true,
      );
      expect(
        run(review('Namespace', { metadata: { name: 'x' } }, { operation: 'UPDATE', oldObject: withKey('a') })).allowed,
      ).to.equal(true);
    });
  }

  it('checks pod templates too (the pods would carry the keys)', () => {
    const d = deployment({}, { 'kube-offload.io/origin': 'c/ns/n' });
    expect(rejection(run(review('Deployment', d)))).to.deep.equal(
      forbidden("kube-offload.io/origin: annotation is reserved for kube-offload's syncer and may not be set"),
    );
  });

  it('forged keys and bad values together: 403, forbidden first, all listed', () => {
    const response = run(
      review('Pod', { metadata: meta({ [PLACEMENT]: 'Remot' }, { 'kube-offload.io/origin-cluster': 'x' }) }),
    );
    expect(rejection(response)).to.deep.equal(
      forbidden(
        'kube-offload.io/origin-cluster: label is reserved for kube-offload\'s syncer and may not be set; kube-offload.io/placement: "Remot" is not one of Local, Remote, LocalAndRemote',
      ),
    );
  });
});
