// The handler map, and robustness: any JSON inside a well-formed review must give an answer
// (allowed or a clear denial), never a throw (the shell turns throws into HTTP 500).
import { expect } from 'chai';
import fc from 'fast-check';
import { handlers } from '../../../webhooks/index.ts';
import type { AdmissionRequest } from '../../../webhooks/types.ts';
import { VN_KEY, context, patched, review } from './helpers.ts';

const KINDS = [
  'Pod',
  'Namespace',
  'Service',
  'Secret',
  'ConfigMap',
  'Deployment',
  'StatefulSet',
  'ReplicaSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'Node',
];
const OUR_KEYS = [
  'kube-offload.io/placement',
  'kube-offload.io/clusters',
  'kube-offload.io/prefer',
  'kube-offload.io/replicate',
  'kube-offload.io/enabled',
  'kube-offload.io/origin',
  'kubernetes.io/config.mirror',
];

describe('index: the handler map', () => {
  it('routes the four admission paths', () => {
    expect(Object.keys(handlers).sort()).to.deep.equal([
      '/mutate/pods',
      '/mutate/replicated',
      '/mutate/workloads',
      '/validate',
    ]);
    const request = review('Pod', { metadata: { annotations: { 'kube-offload.io/placement': 'Local' } }, spec: {} });
    expect(handlers['/mutate/pods'](request, context()).patch).to.be.an('array');
    expect(
      handlers['/validate'](
        review('Pod', { metadata: { annotations: { 'kube-offload.io/placement': 'x' } } }),
        context(),
      ).allowed,
    ).to.equal(false);
    expect(handlers['/mutate/replicated'](review('ConfigMap', { metadata: { name: 'a' } }), context()).patch).to.be.an(
      'array',
    );
    expect(
      handlers['/mutate/workloads'](review('DaemonSet', { metadata: {}, spec: { template: { spec: {} } } }), context())
        .patch,
    ).to.be.an('array');
  });
});

describe('index: robustness to malformed objects', () => {
  const json = fc.jsonValue({ maxDepth: 3 });
  const stringMap = fc.oneof(
    json,
    fc.dictionary(
      fc.constantFrom(...OUR_KEYS, VN_KEY, 'app'),
      fc.oneof(fc.constantFrom('Local', 'Remote', 'true', 'false', 'region=eu', ''), json),
    ),
  );
  const metadata = fc.oneof(
    json,
    fc.record(
      {
        name: json,
        namespace: json,
        annotations: stringMap,
        labels: stringMap,
        ownerReferences: fc.oneof(
          json,
          fc.array(fc.record({ kind: fc.oneof(fc.constant('DaemonSet'), json), controller: json })),
        ),
      },
      { requiredKeys: [] },
    ),
  );
  const requirement = fc.oneof(
    json,
    fc.record(
      {
        key: fc.oneof(fc.constant(VN_KEY), json),
        operator: fc.oneof(fc.constantFrom('In', 'NotIn', 'Exists', 'Bogus'), json),
        values: fc.oneof(json, fc.array(fc.string())),
      },
      { requiredKeys: [] },
    ),
  );
  const affinity = fc.oneof(
    json,
    fc.record(
      {
        nodeAffinity: fc.oneof(
          json,
          fc.record(
            {
              requiredDuringSchedulingIgnoredDuringExecution: fc.oneof(
                json,
                fc.record(
                  {
                    nodeSelectorTerms: fc.oneof(
                      json,
                      fc.array(
                        fc.oneof(
                          json,
                          fc.record(
                            {
                              matchExpressions: fc.oneof(json, fc.array(requirement)),
                              matchFields: fc.oneof(json, fc.array(requirement)),
                            },
                            { requiredKeys: [] },
                          ),
                        ),
                      ),
                    ),
                  },
                  { requiredKeys: [] },
                ),
              ),
              preferredDuringSchedulingIgnoredDuringExecution: fc.oneof(json, fc.array(json)),
            },
            { requiredKeys: [] },
          ),
        ),
      },
      { requiredKeys: [] },
    ),
  );
  const podSpec = fc.oneof(
    json,
    fc.record(
      {
        tolerations: fc.oneof(json, fc.array(json)),
        affinity,
        nodeSelector: stringMap,
        nodeName: json,
        hostNetwork: json,
        volumes: fc.oneof(json, fc.array(json)),
      },
      { requiredKeys: [] },
    ),
  );
  const template = fc.oneof(json, fc.record({ metadata, spec: podSpec }, { requiredKeys: [] }));
  const object = fc.oneof(
    json,
    fc.record(
      {
        metadata,
        spec: fc.oneof(
          podSpec,
          fc.record(
            {
              template,
              jobTemplate: fc.oneof(
                json,
                fc.record({ metadata, spec: fc.record({ template }, { requiredKeys: [] }) }, { requiredKeys: [] }),
              ),
            },
            { requiredKeys: [] },
          ),
        ),
        type: json,
      },
      { requiredKeys: [] },
    ),
  );
  const request = fc.record({
    kind: fc.constantFrom(...KINDS),
    operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE'),
    object,
    oldObject: object,
  });
  const ctx = context({
    defaultPlacement: 'Remote',
    virtualNodes: [{ name: 'vk', labels: { [VN_KEY]: 'virtual-node' }, ready: true }],
    namespaces: { shop: { placement: 'LocalAndRemote', clusters: 'region=eu' } },
  });

  for (const path of Object.keys(handlers) as Array<keyof typeof handlers>) {
    it(`${path} answers every shape without throwing; any patch applies`, () => {
      fc.assert(
        fc.property(request, (r) => {
          const req: AdmissionRequest = review(r.kind, r.object, {
            operation: r.operation as AdmissionRequest['operation'],
            oldObject: r.oldObject as AdmissionRequest['oldObject'],
          });
          const response = handlers[path](req, ctx);
          expect(response.uid).to.equal('uid-1234');
          expect(response.allowed).to.be.a('boolean');
          if (!response.allowed) expect(response.status?.message).to.be.a('string').and.not.equal('');
          if (response.patch) {
            const once = patched(r.object, response);
            expect(
              handlers[path]({ ...req, object: once as AdmissionRequest['object'] }, ctx).patch,
              'idempotent',
            ).to.equal(undefined);
          }
        }),
        { numRuns: 300 },
      );
    });
  }
});
