import { expect } from 'chai';
import fc from 'fast-check';
import { mutateReplicated, replicationDecision } from '../../../webhooks/replicated.ts';
import type { AdmissionRequest, KubeObject } from '../../../webhooks/types.ts';
import { context, frozen, patched, review } from './helpers.ts';

const KEY = 'kube-offload.io/replicate';

function object(
  kind: string,
  options: { name?: string; type?: string; annotations?: Record<string, string>; labels?: Record<string, string> } = {},
): KubeObject {
  const metadata: Record<string, unknown> = { name: options.name ?? 'settings', namespace: 'shop' };
  if (options.annotations) metadata.annotations = options.annotations;
  if (options.labels) metadata.labels = options.labels;
  const o: KubeObject = { apiVersion: 'v1', kind, metadata };
  if (options.type) o.type = options.type;
  if (kind === 'Secret') o.data = { password: 'c2VjcmV0' };
  return o;
}

function admit(request: AdmissionRequest) {
  const response = mutateReplicated(frozen(request), context());
  const result = patched(request.object, response) as KubeObject;
  expect(mutateReplicated({ ...request, object: result }, context()).patch, 'second admission must not patch').to.equal(
    undefined,
  );
  return { response, result };
}

const marks = (o: KubeObject) => ({ annotation: o.metadata?.annotations?.[KEY], label: o.metadata?.labels?.[KEY] });

describe('replicated: stamping', () => {
  for (const kind of ['Service', 'Secret', 'ConfigMap']) {
    for (const operation of ['CREATE', 'UPDATE'] as const) {
      it(`${kind} ${operation}: stamped with annotation and label "true", other metadata kept`, () => {
        const input = object(kind, { labels: { app: 'web' }, annotations: { note: 'x' } });
        const { response, result } = admit(review(kind, input, { operation, oldObject: input }));
        expect(marks(result)).to.deep.equal({ annotation: 'true', label: 'true' });
        expect(result.metadata?.labels?.app).to.equal('web');
        expect(result.metadata?.annotations?.note).to.equal('x');
        expect(response.warnings).to.equal(undefined);
      });
    }
  }

  it('already stamped: no patch', () => {
    expect(
      mutateReplicated(
        review('ConfigMap', object('ConfigMap', { annotations: { [KEY]: 'true' }, labels: { [KEY]: 'true' } })),
        context(),
      ),
    ).to.deep.equal({ uid: 'uid-1234', allowed: true });
  });

  const optOuts: Array<[string, Parameters<typeof object>[1]]> = [
    ['annotation "false"', { annotations: { [KEY]: 'false' } }],
    ['label "false"', { labels: { [KEY]: 'false' } }],
    ['annotation "false" over an earlier label "true"', { annotations: { [KEY]: 'false' }, labels: { [KEY]: 'true' } }],
  ];
  for (const [name, options] of optOuts) {
    it(`opt-out by ${name}: both marks say "false"`, () => {
      expect(marks(admit(review('ConfigMap', object('ConfigMap', options))).result)).to.deep.equal({
        annotation: 'false',
        label: 'false',
      });
    });
  }

  const excluded: Array<[string, KubeObject, string]> = [
    [
      'the kube-root-ca.crt ConfigMap',
      object('ConfigMap', { name: 'kube-root-ca.crt' }),
      'excluded: kube-root-ca.crt ConfigMap',
    ],
    [
      'service-account-token Secrets',
      object('Secret', { type: 'kubernetes.io/service-account-token' }),
      'excluded: service-account-token Secret',
    ],
    ['Helm release Secrets', object('Secret', { type: 'helm.sh/release.v1' }), 'excluded: Helm release Secret'],
  ];
  for (const [name, input, reason] of excluded) {
    it(`leaves ${name} alone`, () => {
      expect(mutateReplicated(review(input.kind as string, input), context())).to.deep.equal({
        uid: 'uid-1234',
        allowed: true,
      });
      expect(replicationDecision(input)).to.deep.equal({ stamp: false, reason });
    });
  }

  it('stamps a kube-root-ca.crt Secret and an Opaque Secret (exclusions are exact)', () => {
    expect(
      marks(admit(review('Secret', object('Secret', { name: 'kube-root-ca.crt', type: 'Opaque' }))).result).label,
    ).to.equal('true');
  });

  it('leaves an invalid value for the validating webhook to reject', () => {
    expect(
      mutateReplicated(review('Service', object('Service', { annotations: { [KEY]: 'yes' } })), context()).patch,
    ).to.equal(undefined);
    expect(replicationDecision(object('Service', { labels: { [KEY]: 'TRUE' } }))).to.deep.equal({
      stamp: false,
      reason: 'invalid replicate value',
    });
  });

  describe('UPDATE: the mark the user changed decides', () => {
    const off = object('ConfigMap', { annotations: { [KEY]: 'false' }, labels: { [KEY]: 'false' } });
    const on = object('ConfigMap', { annotations: { [KEY]: 'true' }, labels: { [KEY]: 'true' } });
    const cases: Array<[string, KubeObject, KubeObject, string]> = [
      [
        'annotation set back to "true" opts in again',
        off,
        object('ConfigMap', { annotations: { [KEY]: 'true' }, labels: { [KEY]: 'false' } }),
        'true',
      ],
      ['annotation removed opts in again', off, object('ConfigMap', { labels: { [KEY]: 'false' } }), 'true'],
      [
        'label set back to "true" opts in again',
        off,
        object('ConfigMap', { annotations: { [KEY]: 'false' }, labels: { [KEY]: 'true' } }),
        'true',
      ],
      [
        'label set to "false" opts out',
        on,
        object('ConfigMap', { annotations: { [KEY]: 'true' }, labels: { [KEY]: 'false' } }),
        'false',
      ],
      [
        'unchanged disagreement: "false" wins',
        object('ConfigMap', { annotations: { [KEY]: 'true' }, labels: { [KEY]: 'false' } }),
        object('ConfigMap', { annotations: { [KEY]: 'true' }, labels: { [KEY]: 'false' } }),
        'false',
      ],
    ];
    for (const [name, old, now, want] of cases) {
      it(name, () => {
        expect(marks(admit(review('ConfigMap', now, { operation: 'UPDATE', oldObject: old })).result)).to.deep.equal({
          annotation: want,
          label: want,
        });
      });
    }
  });

  it('replicationDecision takes the kind from options for list items without kind', () => {
    const item = object('ConfigMap', { name: 'kube-root-ca.crt' });
    delete item.kind;
    expect(replicationDecision(item).stamp).to.equal(true);
    expect(replicationDecision(item, { kind: 'ConfigMap' })).to.deep.equal({
      stamp: false,
      reason: 'excluded: kube-root-ca.crt ConfigMap',
    });
  });

  it('ignores other kinds, groups, DELETE and malformed metadata', () => {
    const plain = { uid: 'uid-1234', allowed: true };
    expect(mutateReplicated(review('Pod', object('Pod')), context())).to.deep.equal(plain);
    expect(
      mutateReplicated(
        {
          ...review('ConfigMap', object('ConfigMap')),
          kind: { group: 'example.com', version: 'v1', kind: 'ConfigMap' },
        },
        context(),
      ),
    ).to.deep.equal(plain);
    expect(
      mutateReplicated(review('ConfigMap', object('ConfigMap'), { operation: 'DELETE' }), context()),
    ).to.deep.equal(plain);
    expect(mutateReplicated(review('ConfigMap', { metadata: { labels: 'x' } }), context())).to.deep.equal(plain);
    expect(mutateReplicated(review('ConfigMap', { data: {} }), context())).to.deep.equal(plain);
  });
});

describe('replicated: keys named like Object.prototype members', () => {
  it('keeps a "__proto__" annotation and label (JSON.parse makes them own keys)', () => {
    const input = JSON.parse(
      '{"kind":"ConfigMap","metadata":{"name":"c","annotations":{"__proto__":"a","constructor":"b"},"labels":{"__proto__":"c"}}}',
    ) as KubeObject;
    const response = mutateReplicated(review('ConfigMap', frozen(input)), context());
    expect(response.patch).to.deep.equal([
      { op: 'add', path: '/metadata/labels/kube-offload.io~1replicate', value: 'true' },
      { op: 'add', path: '/metadata/annotations/kube-offload.io~1replicate', value: 'true' },
    ]);
  });

  it('an object under "__proto__" is copied as a value, never becomes a prototype', () => {
    const input = JSON.parse(
      '{"kind":"ConfigMap","metadata":{"name":"c","annotations":{"__proto__":{"kube-offload.io/replicate":"false"}}}}',
    ) as KubeObject;
    const response = mutateReplicated(review('ConfigMap', frozen(input)), context());
    expect(response.patch?.map((op) => `${op.op} ${op.path}`)).to.deep.equal([
      'add /metadata/annotations/kube-offload.io~1replicate',
      'add /metadata/labels',
    ]);
  });
});

describe('replicated: properties', () => {
  const mark = fc.option(fc.constantFrom('true', 'false'), { nil: undefined });
  const arb = fc.record({
    kind: fc.constantFrom('Service', 'Secret', 'ConfigMap'),
    name: fc.constantFrom('settings', 'kube-root-ca.crt'),
    type: fc.option(fc.constantFrom('Opaque', 'kubernetes.io/service-account-token', 'helm.sh/release.v1'), {
      nil: undefined,
    }),
    annotation: mark,
    label: mark,
    oldAnnotation: mark,
    oldLabel: mark,
    operation: fc.constantFrom<'CREATE' | 'UPDATE'>('CREATE', 'UPDATE'),
    secret: fc.string({ minLength: 8 }).map((s) => `S3CR3T-${s}`),
  });
  const build = (
    kind: string,
    name: string,
    type: string | undefined,
    a?: string,
    l?: string,
    secret?: string,
  ): KubeObject => {
    const o = object(kind, {
      name,
      ...(type ? { type } : {}),
      ...(a ? { annotations: { [KEY]: a } } : {}),
      ...(l ? { labels: { [KEY]: l } } : {}),
    });
    if (kind === 'Secret') {
      o.data = { token: Buffer.from(secret ?? '').toString('base64') };
      o.stringData = { token: secret };
    }
    return o;
  };

  it('idempotent, marks agree with replicationDecision, and no Secret data in the response', () => {
    fc.assert(
      fc.property(arb, (c) => {
        const input = build(c.kind, c.name, c.type, c.annotation, c.label, c.secret);
        const old = build(c.kind, c.name, c.type, c.oldAnnotation, c.oldLabel, c.secret);
        const request = review(c.kind, input, {
          operation: c.operation,
          ...(c.operation === 'UPDATE' ? { oldObject: old } : {}),
        });
        const { response, result } = admit(request);
        const text = JSON.stringify(response);
        expect(text).not.to.include(c.secret);
        expect(text).not.to.include(Buffer.from(c.secret).toString('base64'));
        const decision = replicationDecision(input, { oldObject: request.oldObject ?? null });
        if (decision.reason.startsWith('excluded')) expect(response.patch).to.equal(undefined);
        else expect(marks(result)).to.deep.equal({ annotation: String(decision.stamp), label: String(decision.stamp) });
      }),
      { numRuns: 200 },
    );
  });
});
