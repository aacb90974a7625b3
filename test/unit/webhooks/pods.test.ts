import { expect } from 'chai';
import { mutatePod } from '../../../webhooks/pods.ts';
import type { AdmissionContext, AdmissionResponse, KubeObject } from '../../../webhooks/types.ts';
import {
  NOT_VIRTUAL,
  VIRTUAL,
  VN_KEY,
  VN_TOLERATION,
  VN_VALUE,
  context,
  frozen,
  patched,
  pod,
  preferredTerms,
  requiredTerms,
  review,
} from './helpers.ts';

const PLACEMENT = 'kube-offload.io/placement';
const CLUSTERS = 'kube-offload.io/clusters';
const PREFER = 'kube-offload.io/prefer';
const EU = { key: 'region', operator: 'In', values: ['eu'] };

function admit(
  object: KubeObject,
  ctx: AdmissionContext = context(),
): { response: AdmissionResponse; result: KubeObject } {
  const response = mutatePod(review('Pod', frozen(object)), ctx);
  const result = patched(object, response);
  // Idempotence is checked on every case: the mutated pod admitted again changes nothing.
  const again = mutatePod(review('Pod', result), ctx);
  expect(again.patch, 'second admission must not patch').to.equal(undefined);
  return { response, result };
}

const tolerations = (o: KubeObject): unknown => (o.spec as { tolerations?: unknown }).tolerations;

describe('pods: placement rules', () => {
  const cases: Array<{
    name: string;
    annotations?: Record<string, string>;
    ctx?: AdmissionContext;
    tolerate: boolean;
    required: unknown;
    preferred?: unknown;
  }> = [
    {
      name: 'Remote: toleration, and required "is a virtual node"',
      annotations: { [PLACEMENT]: 'Remote' },
      tolerate: true,
      required: [{ matchExpressions: [VIRTUAL] }],
    },
    {
      name: 'Remote with clusters: virtual node AND the selector',
      annotations: { [PLACEMENT]: 'Remote', [CLUSTERS]: 'region=eu' },
      tolerate: true,
      required: [{ matchExpressions: [VIRTUAL, EU] }],
    },
    {
      name: 'LocalAndRemote with clusters: (not virtual) OR (virtual AND selector)',
      annotations: { [PLACEMENT]: 'LocalAndRemote', [CLUSTERS]: 'region=eu' },
      tolerate: true,
      required: [{ matchExpressions: [NOT_VIRTUAL] }, { matchExpressions: [VIRTUAL, EU] }],
    },
    {
      name: 'LocalAndRemote without clusters: toleration only',
      annotations: { [PLACEMENT]: 'LocalAndRemote' },
      tolerate: true,
      required: undefined,
    },
    {
      name: 'LocalAndRemote with an empty selector: toleration only',
      annotations: { [CLUSTERS]: '' },
      tolerate: true,
      required: undefined,
    },
    {
      name: 'Local: no toleration, required "not a virtual node"',
      annotations: { [PLACEMENT]: 'Local' },
      tolerate: false,
      required: [{ matchExpressions: [NOT_VIRTUAL] }],
    },
    {
      name: 'the default placement applies with no annotation',
      ctx: context({ defaultPlacement: 'Local' }),
      tolerate: false,
      required: [{ matchExpressions: [NOT_VIRTUAL] }],
    },
    {
      name: 'prefer Local adds a preferred "not virtual" term',
      annotations: { [PREFER]: 'Local' },
      tolerate: true,
      required: undefined,
      preferred: [{ weight: 100, preference: { matchExpressions: [NOT_VIRTUAL] } }],
    },
    {
      name: 'prefer Remote adds a preferred "virtual" term',
      annotations: { [PREFER]: 'Remote', [PLACEMENT]: 'LocalAndRemote' },
      tolerate: true,
      required: undefined,
      preferred: [{ weight: 100, preference: { matchExpressions: [VIRTUAL] } }],
    },
    {
      name: 'prefer Remote with Local adds nothing',
      annotations: { [PREFER]: 'Remote', [PLACEMENT]: 'Local' },
      tolerate: false,
      required: [{ matchExpressions: [NOT_VIRTUAL] }],
    },
    {
      name: 'namespace policy applies under pod annotations, key by key',
      annotations: { [PLACEMENT]: 'Remote' },
      ctx: context({ namespaces: { shop: { placement: 'Local', clusters: 'region=eu' } } }),
      tolerate: true,
      required: [{ matchExpressions: [VIRTUAL, EU] }],
    },
    {
      name: 'a namespace the cache does not know: the default still applies',
      ctx: context({ defaultPlacement: 'Remote', namespaces: {} }),
      tolerate: true,
      required: [{ matchExpressions: [VIRTUAL] }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { response, result } = admit(pod(c.annotations ? { annotations: c.annotations } : {}), c.ctx);
      expect(response).to.include({ uid: 'uid-1234', allowed: true });
      expect(tolerations(result)).to.deep.equal(c.tolerate ? [VN_TOLERATION] : undefined);
      expect(requiredTerms(result)).to.deep.equal(c.required);
      expect(preferredTerms(result)).to.deep.equal(c.preferred);
    });
  }
});

describe('pods: merging with the user constraints', () => {
  it('ANDs every user term (matchExpressions and matchFields) with every imposed term; keeps nodeSelector and preferred terms', () => {
    const userPreferred = [
      { weight: 5, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } },
    ];
    const input = pod({
      annotations: { [CLUSTERS]: 'region=eu' },
      spec: {
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] },
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
              ],
            },
            preferredDuringSchedulingIgnoredDuringExecution: userPreferred,
          },
          podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] },
        },
      },
    });
    const { result } = admit(input);
    expect(requiredTerms(result)).to.deep.equal([
      { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }, NOT_VIRTUAL] },
      { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }, VIRTUAL, EU] },
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }], matchExpressions: [NOT_VIRTUAL] },
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }], matchExpressions: [VIRTUAL, EU] },
    ]);
    const spec = result.spec as Record<string, any>;
    expect(spec.nodeSelector).to.deep.equal({ 'kubernetes.io/os': 'linux' });
    expect(preferredTerms(result)).to.deep.equal(userPreferred);
    expect(spec.affinity.podAntiAffinity).to.deep.equal({ preferredDuringSchedulingIgnoredDuringExecution: [] });
  });

  it('does not add a toleration identical to one present', () => {
    const { response, result } = admit(
      pod({ annotations: { [PLACEMENT]: 'LocalAndRemote' }, spec: { tolerations: [{ ...VN_TOLERATION }] } }),
    );
    expect(response.patch).to.equal(undefined);
    expect(tolerations(result)).to.deep.equal([VN_TOLERATION]);
  });

  const equivalent: Array<[string, Record<string, unknown>]> = [
    ['key with Exists, any effect', { key: VN_TOLERATION.key, operator: 'Exists' }],
    ['empty operator means Equal', { key: VN_TOLERATION.key, value: 'true', effect: 'NoExecute' }],
    ['tolerate everything', { operator: 'Exists' }],
  ];
  for (const [name, toleration] of equivalent) {
    it(`does not add a toleration when an equivalent one is present (${name})`, () => {
      const { result } = admit(pod({ annotations: { [PLACEMENT]: 'Remote' }, spec: { tolerations: [toleration] } }));
      expect(tolerations(result)).to.deep.equal([toleration]);
    });
  }

  const different: Array<[string, Record<string, unknown>]> = [
    ['another effect', { ...VN_TOLERATION, effect: 'NoSchedule' }],
    ['another value', { ...VN_TOLERATION, value: 'false' }],
    ['another key', { key: 'dedicated', operator: 'Exists' }],
  ];
  for (const [name, toleration] of different) {
    it(`adds the toleration next to a non-matching one (${name})`, () => {
      const { result } = admit(pod({ annotations: { [PLACEMENT]: 'Remote' }, spec: { tolerations: [toleration] } }));
      expect(tolerations(result)).to.deep.equal([toleration, VN_TOLERATION]);
    });
  }

  it('a pod that tolerates every taint still gets "not a virtual node" when Local', () => {
    const { result } = admit(
      pod({ annotations: { [PLACEMENT]: 'Local' }, spec: { tolerations: [{ operator: 'Exists' }] } }),
    );
    expect(tolerations(result)).to.deep.equal([{ operator: 'Exists' }]);
    expect(requiredTerms(result)).to.deep.equal([{ matchExpressions: [NOT_VIRTUAL] }]);
  });

  it('does not duplicate a preferred term already present', () => {
    const term = { weight: 100, preference: { matchExpressions: [NOT_VIRTUAL] } };
    const { result } = admit(
      pod({
        annotations: { [PREFER]: 'Local' },
        spec: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [term] } } },
      }),
    );
    expect(preferredTerms(result)).to.deep.equal([term]);
  });

  it('user affinity that contradicts the placement: constraints kept, pod never schedules, warning', () => {
    const wantsVirtual = {
      nodeSelectorTerms: [{ matchExpressions: [{ key: VN_KEY, operator: 'In', values: [VN_VALUE] }] }],
    };
    const { response, result } = admit(
      pod({
        annotations: { [PLACEMENT]: 'Local' },
        spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: wantsVirtual } } },
      }),
    );
    expect(requiredTerms(result)).to.deep.equal([{ matchExpressions: [VIRTUAL, NOT_VIRTUAL] }]);
    expect(response.warnings).to.deep.equal([
      'kube-offload: node affinity contradicts placement Local; the pod can never be scheduled',
    ]);
  });

  it('a nodeSelector that contradicts Remote: kept, warning', () => {
    const { response, result } = admit(
      pod({ annotations: { [PLACEMENT]: 'Remote' }, spec: { nodeSelector: { [VN_KEY]: 'physical' } } }),
    );
    expect((result.spec as Record<string, unknown>).nodeSelector).to.deep.equal({ [VN_KEY]: 'physical' });
    expect(requiredTerms(result)).to.deep.equal([{ matchExpressions: [VIRTUAL] }]);
    expect(response.warnings).to.deep.equal([
      'kube-offload: node affinity contradicts placement Remote; the pod can never be scheduled',
    ]);
  });

  it('drops only the contradicting branch of a user affinity, with a warning', () => {
    const terms = [
      { matchExpressions: [{ key: VN_KEY, operator: 'In', values: [VN_VALUE] }] },
      { matchExpressions: [{ key: 'disk', operator: 'Exists' }] },
    ];
    const { response, result } = admit(
      pod({
        annotations: { [PLACEMENT]: 'Local' },
        spec: {
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } },
        },
      }),
    );
    expect(requiredTerms(result)).to.deep.equal([
      { matchExpressions: [{ key: 'disk', operator: 'Exists' }, NOT_VIRTUAL] },
    ]);
    expect(response.warnings).to.deep.equal([
      'kube-offload: some node affinity terms contradict placement Local and were dropped',
    ]);
  });
});

describe('pods: the patch of a large merged affinity', () => {
  it('is about the size of the affinity it makes: merged terms are written whole, not requirement by requirement', () => {
    // 32 terms of 8 requirements, each ANDed with both imposed terms of LocalAndRemote and a
    // selector of 16 requirements: element by element, thousands of operations each repeating
    // a path from the root, twice the placed affinity's size.
    const terms = Array.from({ length: 32 }, (_, t) => ({
      matchExpressions: Array.from({ length: 8 }, (_, e) => ({
        key: `own.example/t${t}e${e}`,
        operator: 'In',
        values: [`t${t}e${e}a`, `t${t}e${e}b`],
      })),
    }));
    const selector = Array.from({ length: 16 }, (_, i) => `k${i} in (a,b,c)`).join(',');
    const { response, result } = admit(
      pod({
        annotations: { [PLACEMENT]: 'LocalAndRemote', [CLUSTERS]: selector },
        spec: {
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } },
        },
      }),
    );
    expect(requiredTerms(result)).to.have.length(64);
    const patchBytes = JSON.stringify(response.patch).length;
    const affinityBytes = JSON.stringify((result.spec as Record<string, unknown>).affinity).length;
    // An operation per merged term (the first 32 replace a term's requirements, 32 are added) and
    // one for the toleration: the affinity, plus a path per term.
    expect(patchBytes).to.be.below(1.25 * affinityBytes);
    expect(response.patch?.length).to.be.at.most(64 + 1);
  });
});

describe('pods: never offloaded', () => {
  const asked = { [PLACEMENT]: 'Remote' };
  const cases: Array<[string, Parameters<typeof pod>[0], string]> = [
    [
      'DaemonSet pods',
      {
        annotations: asked,
        metadata: {
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'u', controller: true }],
        },
      },
      'a DaemonSet pod',
    ],
    ['hostNetwork pods', { annotations: asked, spec: { hostNetwork: true } }, 'a hostNetwork pod'],
    ['hostPID pods', { annotations: asked, spec: { hostPID: true } }, 'a hostPID pod'],
    ['hostIPC pods', { annotations: asked, spec: { hostIPC: true } }, 'a hostIPC pod'],
    [
      'hostPath pods',
      { annotations: asked, spec: { volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }] } },
      'a pod with hostPath volumes',
    ],
  ];
  for (const [name, options, what] of cases) {
    it(`${name} are treated as Local, with a warning when more was asked`, () => {
      const { response, result } = admit(pod(options));
      expect(tolerations(result)).to.equal(undefined);
      expect(requiredTerms(result)).to.deep.equal([{ matchExpressions: [NOT_VIRTUAL] }]);
      expect(response.warnings).to.deep.equal([`kube-offload: ${what} is never offloaded; placement Remote ignored`]);
    });
  }

  it('warns about an explicit prefer Remote on an exempt pod', () => {
    const { response } = admit(
      pod({ annotations: { [PLACEMENT]: 'Local', [PREFER]: 'Remote' }, spec: { hostPID: true } }),
    );
    expect(response.warnings).to.deep.equal(['kube-offload: a hostPID pod is never offloaded; prefer Remote ignored']);
  });

  it('no warning when only the service default asked for LocalAndRemote', () => {
    const { response, result } = admit(pod({ spec: { hostNetwork: true } }));
    expect(response.warnings).to.equal(undefined);
    expect(requiredTerms(result)).to.deep.equal([{ matchExpressions: [NOT_VIRTUAL] }]);
  });

  it('a pod with spec.nodeName is left alone; warning if Remote was asked', () => {
    const input = pod({ annotations: asked, spec: { nodeName: 'worker-node-1' } });
    const response = mutatePod(review('Pod', input), context());
    expect(response.patch).to.equal(undefined);
    expect(response.warnings).to.deep.equal([
      'kube-offload: pod is bound to node "worker-node-1" by spec.nodeName; placement Remote not applied',
    ]);
  });

  it('a pod bound to a virtual node despite Local gets a warning, no patch', () => {
    const ctx = context({
      defaultPlacement: 'Local',
      virtualNodes: [{ name: 'vk-remote', labels: { [VN_KEY]: VN_VALUE }, ready: true }],
    });
    const response = mutatePod(review('Pod', pod({ spec: { nodeName: 'vk-remote' } })), ctx);
    expect(response.patch).to.equal(undefined);
    expect(response.warnings).to.deep.equal([
      'kube-offload: pod is bound to virtual node "vk-remote" despite placement Local',
    ]);
  });

  it('mirror pods are left alone silently', () => {
    const input = pod({
      annotations: { ...asked, 'kubernetes.io/config.mirror': 'abc' },
      spec: { nodeName: 'worker-node-1' },
    });
    expect(mutatePod(review('Pod', input), context())).to.deep.equal({ uid: 'uid-1234', allowed: true });
  });
});

describe('pods: warnings', () => {
  const eu = { name: 'vk-eu', labels: { [VN_KEY]: VN_VALUE, region: 'eu' }, ready: true };
  const remoteEu = { [PLACEMENT]: 'Remote', [CLUSTERS]: 'region=eu' };
  const cases: Array<[string, Record<string, string>, AdmissionContext, string[] | undefined]> = [
    ['Remote with a matching Ready virtual node: none', remoteEu, context({ virtualNodes: [eu] }), undefined],
    [
      'Remote with no matching virtual node',
      remoteEu,
      context({ virtualNodes: [{ ...eu, labels: { [VN_KEY]: VN_VALUE, region: 'us' } }] }),
      ['kube-offload: placement Remote but no virtual node matches clusters "region=eu"; the pod stays Pending'],
    ],
    [
      'Remote with matching but not Ready nodes',
      remoteEu,
      context({ virtualNodes: [{ ...eu, ready: false }] }),
      ['kube-offload: placement Remote but no Ready virtual node matches clusters "region=eu"'],
    ],
    [
      'Remote, no virtual node at all',
      { [PLACEMENT]: 'Remote' },
      context({ virtualNodes: [{ name: 'worker', labels: { region: 'eu' }, ready: true }] }),
      ['kube-offload: placement Remote but no virtual node exists; the pod stays Pending'],
    ],
    ['standalone (virtual nodes unknown): no node warning', remoteEu, context(), undefined],
    [
      'prefer Remote with placement Local',
      { [PLACEMENT]: 'Local', [PREFER]: 'Remote' },
      context(),
      ['kube-offload: prefer Remote has no effect with placement Local'],
    ],
    [
      'prefer Local with placement Remote',
      { [PLACEMENT]: 'Remote', [PREFER]: 'Local' },
      context(),
      ['kube-offload: prefer Local has no effect with placement Remote'],
    ],
    [
      'a default preference that does not apply is silent',
      { [PLACEMENT]: 'Local' },
      context({ defaultPrefer: 'Remote' }),
      undefined,
    ],
    [
      'an invalid namespace value is reported',
      {},
      context({ namespaces: { shop: { placement: 'Anywhere' } } }),
      ['kube-offload: ignoring invalid kube-offload.io/placement "Anywhere" on the namespace'],
    ],
  ];
  for (const [name, annotations, ctx, expected] of cases) {
    it(name, () => expect(mutatePod(review('Pod', pod({ annotations })), ctx).warnings).to.deep.equal(expected));
  }

  it('warnings stay on one line, prefixed, at most 120 characters', () => {
    const long = `region in (${Array.from({ length: 12 }, (_, i) => `zone-${i}\n`).join(',')})`.replace(/\n/g, '');
    const response = mutatePod(
      review('Pod', pod({ annotations: { [PLACEMENT]: 'Remote', [CLUSTERS]: long } })),
      context({ virtualNodes: [] }),
    );
    expect(response.warnings).to.have.length(1);
    for (const w of response.warnings ?? []) {
      expect(w.startsWith('kube-offload: ')).to.equal(true);
      expect(w.length).to.be.at.most(120);
      expect(w).not.to.match(/[\n\r]/);
    }
  });
});

describe('pods: cluster selectors over the limits', () => {
  it('are not imposed (the validating webhook rejects them), with a warning saying why', () => {
    const selector = Array.from({ length: 65 }, (_, i) => `zone-${i}`).join(',');
    const { response, result } = admit(pod({ annotations: { [PLACEMENT]: 'Remote', [CLUSTERS]: selector } }));
    expect(requiredTerms(result)).to.deep.equal([{ matchExpressions: [VIRTUAL] }]);
    expect(response.warnings).to.deep.equal([
      'kube-offload: ignoring kube-offload.io/clusters on the pod: 65 requirements, more than the limit of 64',
    ]);
  });
});

describe('pods: keys named like Object.prototype members', () => {
  it('keeps "__proto__" keys in the fields placement copies (affinity, tolerations, terms)', () => {
    const input = JSON.parse(`{"metadata":{"annotations":{"${PLACEMENT}":"Remote"}},"spec":{
      "tolerations":[{"__proto__":{"operator":"Exists"},"key":"dedicated","operator":"Equal","value":"gpu"}],
      "affinity":{"__proto__":"a","nodeAffinity":{"__proto__":"b","requiredDuringSchedulingIgnoredDuringExecution":{"__proto__":"c",
        "nodeSelectorTerms":[{"__proto__":"d","matchExpressions":[{"__proto__":"e","key":"disk","operator":"Exists"}]}]}}}}}`) as KubeObject;
    const response = mutatePod(review('Pod', frozen(input)), context());
    const terms = '/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms';
    expect(response.patch).to.deep.equal([
      { op: 'add', path: `${terms}/0/matchExpressions/1`, value: VIRTUAL },
      { op: 'add', path: '/spec/tolerations/1', value: VN_TOLERATION },
    ]);
  });
});

describe('pods: what is not for this handler', () => {
  it('echoes the uid and does nothing on UPDATE, other kinds, subresources', () => {
    const input = pod({ annotations: { [PLACEMENT]: 'Remote' } });
    expect(mutatePod(review('Pod', input, { operation: 'UPDATE' }), context())).to.deep.equal({
      uid: 'uid-1234',
      allowed: true,
    });
    expect(mutatePod(review('Deployment', input), context())).to.deep.equal({ uid: 'uid-1234', allowed: true });
    expect(mutatePod(review('Pod', input, { subResource: 'ephemeralcontainers' }), context())).to.deep.equal({
      uid: 'uid-1234',
      allowed: true,
    });
  });

  it('ignores a kind named Pod in a group other than the core one', () => {
    const input = pod({ annotations: { [PLACEMENT]: 'Remote' } });
    for (const group of ['apps', 'example.com']) {
      const request = { ...review('Pod', input), kind: { group, version: 'v1', kind: 'Pod' } };
      expect(mutatePod(request, context()), group).to.deep.equal({ uid: 'uid-1234', allowed: true });
    }
  });

  it('takes the namespace from metadata when the request has none', () => {
    const ctx = context({ namespaces: { shop: { placement: 'Local' } } });
    const request = review('Pod', pod());
    delete request.namespace;
    expect(requiredTerms(patched(pod(), mutatePod(request, ctx)))).to.deep.equal([{ matchExpressions: [NOT_VIRTUAL] }]);
  });

  const malformed: Array<[string, unknown]> = [
    ['no object', undefined],
    ['null object', null],
    ['no spec', { metadata: { name: 'x' } }],
    ['spec is a string', { spec: 'x' }],
    ['tolerations not a list', { spec: { tolerations: 'all' } }],
    [
      'affinity terms not a list',
      {
        spec: {
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: {} } } },
        },
      },
    ],
    [
      'a requirement without operator',
      {
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'a' }] }],
              },
            },
          },
        },
      },
    ],
    ['annotations not strings', { metadata: { annotations: { [PLACEMENT]: 5 } }, spec: {} }],
    ['annotations not a map', { metadata: { annotations: 'Remote' }, spec: {} }],
    ['nodeSelector with a number', { spec: { nodeSelector: { a: 1 } } }],
  ];
  for (const [name, object] of malformed) {
    it(`does not throw on malformed input: ${name}`, () => {
      const response = mutatePod(review('Pod', object), context({ defaultPlacement: 'Local' }));
      expect(response.uid).to.equal('uid-1234');
      expect(response.allowed).to.equal(true);
      if (response.patch) expect(() => patched(object, response)).not.to.throw();
    });
  }

  it('malformed scheduling fields: no patch, a warning saying why', () => {
    const response = mutatePod(review('Pod', { spec: { tolerations: 'all' } }), context());
    expect(response.patch).to.equal(undefined);
    expect(response.warnings).to.deep.equal([
      'kube-offload: placement not applied: spec.tolerations is not a list of objects',
    ]);
  });
});
