import { expect } from 'chai';
import fc from 'fast-check';
import { mutateWorkload } from '../../../webhooks/workloads.ts';
import type { AdmissionRequest, KubeObject } from '../../../webhooks/types.ts';
import { NOT_VIRTUAL, VN_KEY, VN_VALUE, context, frozen, patched, review } from './helpers.ts';

const PLACEMENT = 'kube-offload.io/placement';
const CLUSTERS = 'kube-offload.io/clusters';
const PREFER = 'kube-offload.io/prefer';

function workload(
  kind: string,
  annotations?: Record<string, string>,
  templateAnnotations?: Record<string, string>,
  templateSpec: Record<string, unknown> = {},
): KubeObject {
  const template = {
    metadata: { labels: { app: 'web' }, ...(templateAnnotations ? { annotations: templateAnnotations } : {}) },
    spec: { containers: [{ name: 'c', image: 'i' }], ...templateSpec },
  };
  const spec = kind === 'CronJob' ? { schedule: '* * * * *', jobTemplate: { spec: { template } } } : { template };
  return { kind, metadata: { name: 'web', ...(annotations ? { annotations } : {}) }, spec };
}

function templateOf(object: KubeObject): any {
  const spec = object.spec as any;
  return spec.jobTemplate ? spec.jobTemplate.spec.template : spec.template;
}

function admit(request: AdmissionRequest) {
  const response = mutateWorkload(frozen(request), context());
  const result = patched(request.object, response);
  const again = mutateWorkload({ ...request, object: result }, context());
  expect(again.patch, 'second admission must not patch').to.equal(undefined);
  return { response, result: result as KubeObject };
}

describe('workloads: copying the policy into the pod template', () => {
  for (const kind of ['Deployment', 'StatefulSet', 'ReplicaSet', 'Job', 'CronJob']) {
    for (const operation of ['CREATE', 'UPDATE'] as const) {
      it(`${kind} ${operation}: metadata annotations are copied into the template`, () => {
        const annotations = { [PLACEMENT]: 'Remote', [CLUSTERS]: 'region=eu', [PREFER]: 'Remote', other: 'kept-out' };
        const { response, result } = admit(
          review(kind, workload(kind, annotations), { operation, oldObject: workload(kind) }),
        );
        expect(templateOf(result).metadata.annotations).to.deep.equal({
          [PLACEMENT]: 'Remote',
          [CLUSTERS]: 'region=eu',
          [PREFER]: 'Remote',
        });
        expect(templateOf(result).metadata.labels).to.deep.equal({ app: 'web' });
        expect(response.warnings).to.equal(undefined);
      });
    }
  }

  it('metadata wins over a different template value, with a warning', () => {
    const { response, result } = admit(
      review('Deployment', workload('Deployment', { [PLACEMENT]: 'Remote' }, { [PLACEMENT]: 'Local', keep: 'me' })),
    );
    expect(templateOf(result).metadata.annotations).to.deep.equal({ [PLACEMENT]: 'Remote', keep: 'me' });
    expect(response.warnings).to.deep.equal([
      'kube-offload: Deployment\'s kube-offload.io/placement "Remote" overrides "Local" in its pod template',
    ]);
  });

  it('no patch and no warning when the template already agrees', () => {
    const response = mutateWorkload(
      review('Deployment', workload('Deployment', { [PLACEMENT]: 'Local' }, { [PLACEMENT]: 'Local' })),
      context(),
    );
    expect(response).to.deep.equal({ uid: 'uid-1234', allowed: true });
  });

  it('a template-only annotation is left as the pod-level policy', () => {
    const response = mutateWorkload(
      review('Deployment', workload('Deployment', undefined, { [PLACEMENT]: 'Local' })),
      context(),
    );
    expect(response.patch).to.equal(undefined);
  });

  it('creates template metadata when there is none', () => {
    const object = workload('Job', { [PLACEMENT]: 'Local' });
    delete templateOf(object).metadata;
    const { result } = admit(review('Job', object));
    expect(templateOf(result).metadata).to.deep.equal({ annotations: { [PLACEMENT]: 'Local' } });
  });

  it('leaves a ReplicaSet controlled by a Deployment alone (its template belongs to the Deployment)', () => {
    const object = workload('ReplicaSet', { [PLACEMENT]: 'Remote' });
    object.metadata!.ownerReferences = [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u', controller: true },
    ];
    expect(mutateWorkload(review('ReplicaSet', object), context()).patch).to.equal(undefined);
  });

  describe('UPDATE removing the policy from metadata', () => {
    it('removes our earlier copy from the template', () => {
      const old = workload('Deployment', { [PLACEMENT]: 'Remote' }, { [PLACEMENT]: 'Remote' });
      const now = workload('Deployment', {}, { [PLACEMENT]: 'Remote', other: 'x' });
      const { result } = admit(review('Deployment', now, { operation: 'UPDATE', oldObject: old }));
      expect(templateOf(result).metadata.annotations).to.deep.equal({ other: 'x' });
    });

    it('keeps a template value the user changed in the same update', () => {
      const old = workload('Deployment', { [PLACEMENT]: 'Remote' }, { [PLACEMENT]: 'Remote' });
      const now = workload('Deployment', {}, { [PLACEMENT]: 'Local' });
      expect(
        mutateWorkload(review('Deployment', now, { operation: 'UPDATE', oldObject: old }), context()).patch,
      ).to.equal(undefined);
    });

    it('does nothing of the kind on CREATE', () => {
      const old = workload('Deployment', { [PLACEMENT]: 'Remote' }, { [PLACEMENT]: 'Remote' });
      const now = workload('Deployment', {}, { [PLACEMENT]: 'Remote' });
      expect(mutateWorkload(review('Deployment', now, { oldObject: old }), context()).patch).to.equal(undefined);
    });
  });
});

describe('workloads: DaemonSet templates stay off virtual nodes', () => {
  it('adds the Local affinity to the template, no toleration', () => {
    const { response, result } = admit(review('DaemonSet', workload('DaemonSet')));
    const spec = templateOf(result).spec;
    expect(spec.affinity).to.deep.equal({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [NOT_VIRTUAL] }] },
      },
    });
    expect(spec.tolerations).to.equal(undefined);
    expect(response.warnings).to.equal(undefined);
  });

  it('merges with the template affinity (fields kept) and tolerate-everything tolerations', () => {
    const user = { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }] };
    const spec = {
      tolerations: [{ operator: 'Exists' }],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: user } },
    };
    const { result } = admit(review('DaemonSet', workload('DaemonSet', undefined, undefined, spec)));
    expect(
      templateOf(result).spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
    ).to.deep.equal([
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }], matchExpressions: [NOT_VIRTUAL] },
    ]);
    expect(templateOf(result).spec.tolerations).to.deep.equal([{ operator: 'Exists' }]);
  });

  for (const asked of ['Remote', 'LocalAndRemote']) {
    it(`warns when the DaemonSet asks for ${asked}`, () => {
      const { response, result } = admit(review('DaemonSet', workload('DaemonSet', { [PLACEMENT]: asked })));
      expect(templateOf(result).metadata.annotations).to.deep.equal({ [PLACEMENT]: asked });
      expect(response.warnings).to.deep.equal([
        `kube-offload: DaemonSet pods are never offloaded; placement ${asked} ignored`,
      ]);
    });
  }

  it('a template that requires virtual nodes: kept, and a contradiction warning', () => {
    const spec = {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: VN_KEY, operator: 'In', values: [VN_VALUE] }] }],
          },
        },
      },
    };
    const { response } = admit(review('DaemonSet', workload('DaemonSet', undefined, undefined, spec)));
    expect(response.warnings).to.deep.equal([
      'kube-offload: node affinity contradicts placement Local; the pod can never be scheduled',
    ]);
  });

  it('a malformed template spec is reported, not patched', () => {
    const response = mutateWorkload(
      review('DaemonSet', workload('DaemonSet', undefined, undefined, { tolerations: {} })),
      context(),
    );
    expect(response.patch).to.equal(undefined);
    expect(response.warnings).to.deep.equal([
      'kube-offload: DaemonSet template not kept local: spec.tolerations is not a list of objects',
    ]);
  });
});

describe('workloads: what is not for this handler', () => {
  it('ignores other kinds, wrong groups, DELETE, subresources, missing templates', () => {
    const plain = { uid: 'uid-1234', allowed: true };
    const d = workload('Deployment', { [PLACEMENT]: 'Remote' });
    expect(mutateWorkload(review('Pod', d), context())).to.deep.equal(plain);
    expect(
      mutateWorkload(
        { ...review('Deployment', d), kind: { group: 'extensions', version: 'v1beta1', kind: 'Deployment' } },
        context(),
      ),
    ).to.deep.equal(plain);
    expect(mutateWorkload(review('Deployment', d, { operation: 'DELETE' }), context())).to.deep.equal(plain);
    expect(mutateWorkload(review('Deployment', d, { subResource: 'scale' }), context())).to.deep.equal(plain);
    expect(
      mutateWorkload(
        review('Deployment', { metadata: { annotations: { [PLACEMENT]: 'Remote' } }, spec: {} }),
        context(),
      ),
    ).to.deep.equal(plain);
    expect(mutateWorkload(review('Deployment', null), context())).to.deep.equal(plain);
  });

  it('template metadata of the wrong shape: warning, no patch', () => {
    const d = workload('Deployment', { [PLACEMENT]: 'Remote' });
    templateOf(d).metadata = 'x';
    const response = mutateWorkload(review('Deployment', d), context());
    expect(response.patch).to.equal(undefined);
    expect(response.warnings).to.deep.equal(['kube-offload: pod template metadata is malformed; policy not copied']);
  });
});

describe('workloads: keys named like Object.prototype members', () => {
  it('keeps "__proto__" keys in the template annotations and in the DaemonSet template affinity', () => {
    const input = JSON.parse(`{"kind":"DaemonSet","metadata":{"name":"d","annotations":{"${PLACEMENT}":"Local"}},
      "spec":{"template":{"metadata":{"annotations":{"__proto__":"a","constructor":"b"}},
      "spec":{"affinity":{"__proto__":{"x":1},"nodeAffinity":{"__proto__":"y"}},"tolerations":[{"__proto__":"z","operator":"Exists"}]}}}}`) as KubeObject;
    const response = mutateWorkload(review('DaemonSet', frozen(input)), context());
    expect(response.patch).to.deep.equal([
      {
        op: 'add',
        path: '/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution',
        value: { nodeSelectorTerms: [{ matchExpressions: [NOT_VIRTUAL] }] },
      },
      { op: 'add', path: '/spec/template/metadata/annotations/kube-offload.io~1placement', value: 'Local' },
    ]);
  });
});

describe('workloads: properties', () => {
  const value = fc.option(fc.constantFrom('Local', 'Remote', 'LocalAndRemote', 'bogus'), { nil: undefined });
  const annotations = fc
    .record({
      [PLACEMENT]: value,
      [PREFER]: fc.option(fc.constantFrom('Local', 'Remote'), { nil: undefined }),
      [CLUSTERS]: fc.option(fc.constantFrom('', 'region=eu'), { nil: undefined }),
    })
    .map((a) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Record<string, string>);
  const kind = fc.constantFrom('Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet', 'Job', 'CronJob');

  it('patch applies, second admission is a no-op, metadata policy ends up in the template', () => {
    fc.assert(
      fc.property(
        kind,
        annotations,
        annotations,
        annotations,
        fc.constantFrom<'CREATE' | 'UPDATE'>('CREATE', 'UPDATE'),
        (k, meta, tmpl, oldMeta, operation) => {
          const object = workload(k, meta, tmpl);
          const request = review(k, object, { operation, oldObject: workload(k, oldMeta, oldMeta) });
          const { response, result } = admit(request);
          expect(response.uid).to.equal('uid-1234');
          const copied = templateOf(result).metadata.annotations ?? {};
          for (const [key, v] of Object.entries(meta)) expect(copied[key]).to.equal(v);
          expect(result.metadata).to.deep.equal(object.metadata);
        },
      ),
      { numRuns: 200 },
    );
  });
});
