import { expect } from 'chai';
import fc from 'fast-check';
import { needsRecreate, needsUpdate, twinNeedsUpdate, updateBody } from '../../../src/syncer/compare.ts';
import {
  desiredCopy,
  desiredEndpointSlice,
  isCopy,
  isOwnedByUs,
  ENDPOINTSLICE_MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
} from '../../../src/syncer/copy.ts';
import { desiredTwinNamespace, parseOrigin } from '../../../src/common/ownership.ts';
import type { KubeObject } from '../../../src/syncer/copy.ts';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_ANNOTATION,
  ORIGIN_CLUSTER_LABEL,
  ORIGIN_UID_ANNOTATION,
  REPLICATE_KEY,
} from '../../../webhooks/keys.ts';

const ctx = { localCluster: 'local', twinNamespace: 'shop-local' };

function localConfigMap(extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'settings',
      namespace: 'shop',
      uid: 'uid-cm-1',
      resourceVersion: '4711',
      generation: 3,
      creationTimestamp: '2024-01-01T00:00:00Z',
      managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u' }],
      finalizers: ['example.com/keep'],
      labels: {
        app: 'shop',
        [REPLICATE_KEY]: 'true',
        [MANAGED_BY_LABEL]: 'Helm',
        'helm.sh/chart': 'shop-1.2.3',
        'argocd.argoproj.io/instance': 'shop',
      },
      annotations: {
        note: 'keep me',
        [REPLICATE_KEY]: 'true',
        'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"secret":"leak"}}',
        'meta.helm.sh/release-name': 'shop',
        'meta.helm.sh/release-namespace': 'shop',
        'argocd.argoproj.io/tracking-id': 'shop:/ConfigMap:shop/settings',
      },
    },
    data: { a: '1' },
    ...extra,
  };
}

/** A ClusterIP Service as the local apiserver returns it (fully defaulted). */
function localService(spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'uid-svc',
      resourceVersion: '10',
      labels: { app: 'web', [REPLICATE_KEY]: 'true' },
      annotations: { [REPLICATE_KEY]: 'true' },
    },
    spec: {
      type: 'ClusterIP',
      selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
      clusterIP: '10.96.0.15',
      clusterIPs: ['10.96.0.15'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      ...spec,
    },
    status: { loadBalancer: {} },
  };
}

/** What the remote apiserver returns after creating `desired` (server-side defaulting). */
function asCreatedRemotely(desired: KubeObject, uid = 'remote-uid'): KubeObject {
  const o = structuredClone(desired);
  o.metadata = {
    ...o.metadata,
    uid,
    resourceVersion: '99',
    creationTimestamp: '2024-02-02T00:00:00Z',
    managedFields: [{ manager: 'kube-offload' }],
  };
  if (o.kind === 'Service') {
    const spec = o.spec as Record<string, unknown>;
    if (spec.clusterIP === undefined && spec.type !== 'ExternalName') {
      spec.clusterIP = '172.20.3.4';
      spec.clusterIPs = ['172.20.3.4'];
    }
    if (spec.type !== 'ExternalName') spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
    spec.sessionAffinity ??= 'None';
    spec.internalTrafficPolicy ??= 'Cluster';
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
      spec.ports = (spec.ports as Record<string, unknown>[]).map((p, i) => ({
        ...p,
        nodePort: p.nodePort ?? 31000 + i,
      }));
      spec.externalTrafficPolicy ??= 'Cluster';
    }
    if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
    o.status = { loadBalancer: {} };
  }
  return o;
}

describe('syncer desiredCopy', () => {
  it('strips runtime metadata and keeps only name, labels and annotations', () => {
    const copy = desiredCopy(localConfigMap(), ctx);
    expect(Object.keys(copy.metadata ?? {}).sort()).to.deep.equal(['annotations', 'labels', 'name', 'namespace']);
    expect(copy.metadata?.namespace).to.equal('shop-local');
    expect(copy.metadata?.name).to.equal('settings');
    expect(copy.data).to.deep.equal({ a: '1' });
    expect(copy).to.not.have.property('status');
  });

  it('drops tracking keys of other tools and our stamp, keeps user keys', () => {
    const copy = desiredCopy(localConfigMap(), ctx);
    expect(copy.metadata?.labels).to.deep.equal({
      app: 'shop',
      [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
      [ORIGIN_CLUSTER_LABEL]: 'local',
    });
    expect(copy.metadata?.annotations).to.deep.equal({
      note: 'keep me',
      [ORIGIN_ANNOTATION]: 'local/shop/settings',
      [ORIGIN_UID_ANNOTATION]: 'uid-cm-1',
    });
  });

  it('does not alias the local object', () => {
    const local = localConfigMap();
    const copy = desiredCopy(local, ctx);
    (copy.data as Record<string, string>).a = 'changed';
    expect((local.data as Record<string, string>).a).to.equal('1');
  });

  it('copies Secrets with type, data and immutable, never stringData', () => {
    const secret: KubeObject = {
      kind: 'Secret',
      metadata: { name: 's', namespace: 'shop', uid: 'u1', labels: { [REPLICATE_KEY]: 'true' } },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5' },
      stringData: { x: 'y' },
      immutable: true,
    };
    const copy = desiredCopy(secret, ctx);
    expect(copy.apiVersion).to.equal('v1');
    expect(copy.type).to.equal('kubernetes.io/tls');
    expect(copy.data).to.deep.equal(secret.data);
    expect(copy.immutable).to.equal(true);
    expect(copy).to.not.have.property('stringData');
  });

  it('forged ownership keys on the local object are overwritten with ours', () => {
    const cm = localConfigMap();
    cm.metadata!.annotations![ORIGIN_ANNOTATION] = 'evil/x/y';
    cm.metadata!.labels![ORIGIN_CLUSTER_LABEL] = 'evil';
    const copy = desiredCopy(cm, ctx);
    expect(copy.metadata?.annotations?.[ORIGIN_ANNOTATION]).to.equal('local/shop/settings');
    expect(copy.metadata?.labels?.[ORIGIN_CLUSTER_LABEL]).to.equal('local');
  });
});

describe('syncer Service transformation', () => {
  it('drops clusterIP(s), ipFamilies, nodePorts, healthCheckNodePort and loadBalancerIP', () => {
    const svc = localService({
      type: 'LoadBalancer',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }],
      healthCheckNodePort: 32000,
      externalTrafficPolicy: 'Local',
      loadBalancerIP: '1.2.3.4',
      allocateLoadBalancerNodePorts: true,
    });
    const spec = desiredCopy(svc, ctx).spec as Record<string, unknown>;
    expect(spec).to.not.have.any.keys('clusterIP', 'clusterIPs', 'ipFamilies', 'healthCheckNodePort', 'loadBalancerIP');
    expect(spec.ports).to.deep.equal([{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }]);
    expect(spec.type).to.equal('LoadBalancer');
    expect(spec.externalTrafficPolicy).to.equal('Local');
    expect(spec.ipFamilyPolicy).to.equal('SingleStack');
    expect(spec.selector).to.deep.equal({ app: 'web' });
  });

  it('keeps clusterIP None for headless Services', () => {
    const spec = desiredCopy(localService({ clusterIP: 'None', clusterIPs: ['None'] }), ctx).spec as Record<
      string,
      unknown
    >;
    expect(spec.clusterIP).to.equal('None');
    expect(spec.clusterIPs).to.deep.equal(['None']);
  });

  it('keeps ExternalName Services as they are', () => {
    const svc = localService({ type: 'ExternalName', externalName: 'db.example.com' });
    const s = svc.spec as Record<string, unknown>;
    delete s.clusterIP;
    delete s.clusterIPs;
    delete s.ipFamilies;
    delete s.ipFamilyPolicy;
    const spec = desiredCopy(svc, ctx).spec as Record<string, unknown>;
    expect(spec.type).to.equal('ExternalName');
    expect(spec.externalName).to.equal('db.example.com');
  });
});

describe('syncer needsUpdate', () => {
  const variants: Array<[string, Record<string, unknown>]> = [
    ['ClusterIP', {}],
    ['headless', { clusterIP: 'None', clusterIPs: ['None'] }],
    [
      'NodePort',
      {
        type: 'NodePort',
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }],
        externalTrafficPolicy: 'Cluster',
      },
    ],
    [
      'LoadBalancer',
      {
        type: 'LoadBalancer',
        ports: [{ port: 80, protocol: 'TCP', targetPort: 80, nodePort: 30081 }],
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 32001,
        allocateLoadBalancerNodePorts: true,
      },
    ],
    [
      'ClientIP affinity',
      { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } } },
    ],
  ];
  for (const [name, spec] of variants) {
    it(`is false for a server-defaulted ${name} Service copy`, () => {
      const desired = desiredCopy(localService(spec), ctx);
      const actual = asCreatedRemotely(desired);
      expect(needsUpdate(desired, actual)).to.equal(false);
      expect(needsRecreate(desired, actual)).to.equal(false);
    });
  }

  it('is false when the desired spec lacks fields the remote defaulted', () => {
    const desired = desiredCopy(localService(), ctx);
    const spec = desired.spec as Record<string, unknown>;
    delete spec.sessionAffinity;
    delete spec.internalTrafficPolicy;
    delete spec.ipFamilyPolicy;
    delete (spec.ports as Record<string, unknown>[])[0]!.protocol;
    const actual = asCreatedRemotely(desiredCopy(localService(), ctx));
    expect(needsUpdate(desired, actual)).to.equal(false);
  });

  it('ignores server-only metadata and status (uid, resourceVersion, finalizers, managedFields)', () => {
    const desired = desiredCopy(localConfigMap(), ctx);
    const actual = asCreatedRemotely(desired);
    actual.metadata!.finalizers = ['other.io/x'];
    actual.status = { whatever: true };
    expect(needsUpdate(desired, actual)).to.equal(false);
  });

  it('detects changed, added and removed data keys', () => {
    const desired = desiredCopy(localConfigMap(), ctx);
    const changed = asCreatedRemotely(desired);
    (changed.data as Record<string, string>).a = '2';
    expect(needsUpdate(desired, changed)).to.equal(true);
    const added = asCreatedRemotely(desired);
    (added.data as Record<string, string>).b = 'x';
    expect(needsUpdate(desired, added)).to.equal(true);
    const removed = asCreatedRemotely(desired);
    removed.data = {};
    expect(needsUpdate(desired, removed)).to.equal(true);
  });

  it('treats an absent and an empty map alike', () => {
    const desired = desiredCopy(localConfigMap({ data: {} }), ctx);
    const actual = asCreatedRemotely(desired);
    delete actual.data;
    expect(needsUpdate(desired, actual)).to.equal(false);
  });

  it('detects drift in labels and annotations (added, removed, changed)', () => {
    const desired = desiredCopy(localConfigMap(), ctx);
    const a = asCreatedRemotely(desired);
    a.metadata!.labels!.extra = 'x';
    expect(needsUpdate(desired, a)).to.equal(true);
    const b = asCreatedRemotely(desired);
    delete b.metadata!.annotations!.note;
    expect(needsUpdate(desired, b)).to.equal(true);
    const c = asCreatedRemotely(desired);
    c.metadata!.annotations![ORIGIN_UID_ANNOTATION] = 'other';
    expect(needsUpdate(desired, c)).to.equal(true);
  });

  it('detects Service changes a user makes locally: ports, selector removal, extra fields', () => {
    const base = desiredCopy(localService(), ctx);
    const actual = asCreatedRemotely(base);
    expect(
      needsUpdate(
        desiredCopy(localService({ ports: [{ name: 'http', port: 81, protocol: 'TCP', targetPort: 8080 }] }), ctx),
        actual,
      ),
    ).to.equal(true);
    const noSelector = localService();
    delete (noSelector.spec as Record<string, unknown>).selector;
    expect(needsUpdate(desiredCopy(noSelector, ctx), actual)).to.equal(true);
    const withExternal = asCreatedRemotely(base);
    (withExternal.spec as Record<string, unknown>).externalIPs = ['5.6.7.8'];
    expect(needsUpdate(base, withExternal)).to.equal(true);
    const otherType = asCreatedRemotely(
      desiredCopy(localService({ type: 'NodePort', externalTrafficPolicy: 'Cluster' }), ctx),
    );
    expect(needsUpdate(base, otherType)).to.equal(true);
  });

  it('detects a headless copy that lost its clusterIP None (needs recreate)', () => {
    const desired = desiredCopy(localService({ clusterIP: 'None', clusterIPs: ['None'] }), ctx);
    const actual = asCreatedRemotely(desiredCopy(localService(), ctx));
    expect(needsUpdate(desired, actual)).to.equal(true);
    expect(needsRecreate(desired, actual)).to.equal(true);
  });

  it('property: a copy compared with its own server-defaulted version never needs an update', () => {
    const labelMap = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9.-]{0,10}$/), fc.string({ maxLength: 8 }), {
      maxKeys: 4,
    });
    fc.assert(
      fc.property(
        labelMap,
        labelMap,
        fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 20 }), { maxKeys: 5 }),
        (labels, annotations, data) => {
          const cm = localConfigMap({ data });
          cm.metadata!.labels = { ...labels, [REPLICATE_KEY]: 'true' };
          cm.metadata!.annotations = annotations;
          const desired = desiredCopy(cm, ctx);
          return (
            !needsUpdate(desired, asCreatedRemotely(desired)) &&
            !needsUpdate(desired, asCreatedRemotely(desiredCopy(cm, ctx)))
          );
        },
      ),
    );
  });
});

describe('syncer needsRecreate', () => {
  it('recreates an immutable copy whose data changed, or a Secret whose type changed', () => {
    const oldSecret: KubeObject = {
      kind: 'Secret',
      metadata: { name: 's', namespace: 'shop', uid: 'u' },
      type: 'Opaque',
      data: { a: 'MQ==' },
      immutable: true,
    };
    const actual = asCreatedRemotely(desiredCopy(oldSecret, ctx));
    expect(needsRecreate(desiredCopy({ ...oldSecret, data: { a: 'Mg==' } }, ctx), actual)).to.equal(true);
    expect(needsRecreate(desiredCopy(oldSecret, ctx), actual)).to.equal(false);
    expect(
      needsRecreate(
        desiredCopy({ ...oldSecret, immutable: false, type: 'kubernetes.io/basic-auth' }, ctx),
        asCreatedRemotely(desiredCopy({ ...oldSecret, immutable: false }, ctx)),
      ),
    ).to.equal(true);
  });
});

describe('syncer updateBody', () => {
  it('keeps what the remote allocated, the resourceVersion and foreign finalizers', () => {
    const desired = desiredCopy(
      localService({
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 },
          { name: 'x', port: 90, protocol: 'TCP', targetPort: 90, nodePort: 30090 },
        ],
      }),
      ctx,
    );
    const actual = asCreatedRemotely(desired);
    actual.metadata!.finalizers = ['service.kubernetes.io/load-balancer-cleanup'];
    const changed = desiredCopy(
      localService({
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80, protocol: 'TCP', targetPort: 9090 },
          { name: 'y', port: 91, protocol: 'TCP', targetPort: 91 },
        ],
      }),
      ctx,
    );
    const body = updateBody(changed, actual);
    const spec = body.spec as Record<string, unknown>;
    expect(body.metadata?.resourceVersion).to.equal('99');
    expect(body.metadata?.finalizers).to.deep.equal(['service.kubernetes.io/load-balancer-cleanup']);
    expect(spec.clusterIP).to.equal('172.20.3.4');
    expect(spec.clusterIPs).to.deep.equal(['172.20.3.4']);
    expect(spec.ports).to.deep.equal([
      { name: 'http', port: 80, protocol: 'TCP', targetPort: 9090, nodePort: 31000 },
      { name: 'y', port: 91, protocol: 'TCP', targetPort: 91 },
    ]);
    // The body, once written and defaulted, is in sync.
    expect(needsUpdate(changed, asCreatedRemotely(body))).to.equal(false);
  });
});

describe('syncer ownership', () => {
  it('recognises our copies only for our cluster', () => {
    const copy = asCreatedRemotely(desiredCopy(localConfigMap(), ctx));
    expect(isOwnedByUs(copy, 'local')).to.equal(true);
    expect(isOwnedByUs(copy, 'other')).to.equal(false);
    expect(isOwnedByUs({ metadata: { name: 'x', labels: { [MANAGED_BY_LABEL]: 'Helm' } } }, 'local')).to.equal(false);
    expect(isOwnedByUs({ metadata: { name: 'x' } }, 'local')).to.equal(false);
    expect(isOwnedByUs(undefined, 'local')).to.equal(false);
  });

  it('does not claim the slices the remote endpointslice controller makes for a Service copy', () => {
    // The controller copies the Service's labels (ours included) onto its slices.
    const serviceCopy = desiredCopy(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'shop', uid: 's-uid' },
        spec: { selector: { app: 'web' } },
      },
      ctx,
    );
    const controllerSlice: KubeObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'web-abcde',
        namespace: 'shop-local',
        labels: {
          ...serviceCopy.metadata?.labels,
          [SERVICE_NAME_LABEL]: 'web',
          [ENDPOINTSLICE_MANAGED_BY_LABEL]: 'endpointslice-controller.k8s.io',
        },
      },
    };
    expect(isOwnedByUs(controllerSlice, 'local')).to.equal(false);
    expect(isCopy(controllerSlice)).to.equal(false);
    const ours = desiredEndpointSlice(
      { metadata: { name: 'web-x1', namespace: 'shop', uid: 'l-uid' }, endpoints: [] },
      serviceCopy,
      ctx,
    );
    expect(isOwnedByUs(asCreatedRemotely(ours), 'local')).to.equal(true);
    expect(isCopy(ours)).to.equal(true);
  });

  it('parses origins', () => {
    expect(parseOrigin('local/shop/web')).to.deep.equal({ cluster: 'local', namespace: 'shop', name: 'web' });
    expect(parseOrigin('local/shop')).to.deep.equal({ cluster: 'local', name: 'shop' });
    expect(parseOrigin('local//web')).to.equal(undefined);
    expect(parseOrigin('a/b/c/d')).to.equal(undefined);
    expect(parseOrigin(undefined)).to.equal(undefined);
  });

  it('builds the twin namespace with ownership marks', () => {
    const twin = desiredTwinNamespace(
      { metadata: { name: 'shop', uid: 'ns-uid', labels: { 'kube-offload.io/enabled': 'true' } } },
      ctx,
    );
    expect(twin).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'shop-local',
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [ORIGIN_CLUSTER_LABEL]: 'local' },
        annotations: { [ORIGIN_ANNOTATION]: 'local/shop', [ORIGIN_UID_ANNOTATION]: 'ns-uid' },
      },
    });
    const actual = structuredClone(twin);
    actual.metadata!.labels!['kubernetes.io/metadata.name'] = 'shop-local';
    actual.metadata!.labels!['pod-security.kubernetes.io/enforce'] = 'baseline';
    expect(twinNeedsUpdate(twin, actual)).to.equal(false);
    delete actual.metadata!.annotations![ORIGIN_UID_ANNOTATION];
    expect(twinNeedsUpdate(twin, actual)).to.equal(true);
  });
});

describe('syncer EndpointSlice copy', () => {
  const service = localService();
  const slice: KubeObject = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'web-abc12',
      namespace: 'shop',
      uid: 'slice-uid',
      generateName: 'web-',
      labels: { [SERVICE_NAME_LABEL]: 'web', [ENDPOINTSLICE_MANAGED_BY_LABEL]: 'endpointslice-controller.k8s.io' },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2024-01-01T00:00:00Z' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'uid-svc', controller: true }],
    },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: ['10.244.1.5'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'worker-node-1',
        targetRef: { kind: 'Pod', name: 'web-1', namespace: 'shop' },
        zone: 'z1',
      },
      {
        addresses: ['172.16.0.9'],
        conditions: { ready: true },
        nodeName: 'remote-a',
        targetRef: { kind: 'Pod', name: 'web-2', namespace: 'shop' },
      },
    ],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };

  it('copies addresses, conditions and ports with our managed-by so the remote controller ignores it', () => {
    const copy = desiredEndpointSlice(slice, service, { ...ctx, isVirtualNode: (n) => n === 'remote-a' });
    expect(copy.metadata?.name).to.equal('web-abc12');
    expect(copy.metadata?.namespace).to.equal('shop-local');
    expect(copy.metadata?.labels).to.deep.equal({
      [SERVICE_NAME_LABEL]: 'web',
      [ENDPOINTSLICE_MANAGED_BY_LABEL]: 'kube-offload.io',
      [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
      [ORIGIN_CLUSTER_LABEL]: 'local',
    });
    expect(copy.metadata?.annotations?.[ORIGIN_ANNOTATION]).to.equal('local/shop/web-abc12');
    expect(copy.metadata).to.not.have.any.keys('ownerReferences', 'generateName', 'uid');
    expect(copy.addressType).to.equal('IPv4');
    expect(copy.endpoints).to.deep.equal([
      { addresses: ['10.244.1.5'], conditions: { ready: true, serving: true, terminating: false }, zone: 'z1' },
    ]);
    expect(copy.ports).to.deep.equal([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(needsUpdate(copy, asCreatedRemotely(copy))).to.equal(false);
  });

  it('needs an update when endpoints change, a recreate when the address type changes', () => {
    const copy = desiredEndpointSlice(slice, service, ctx);
    const actual = asCreatedRemotely(copy);
    const moved = structuredClone(slice);
    (moved.endpoints as Record<string, unknown>[])[0]!.conditions = { ready: false };
    expect(needsUpdate(desiredEndpointSlice(moved, service, ctx), actual)).to.equal(true);
    expect(needsRecreate(desiredEndpointSlice({ ...slice, addressType: 'IPv6' }, service, ctx), actual)).to.equal(true);
  });
});
