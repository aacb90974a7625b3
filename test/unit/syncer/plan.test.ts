import { expect } from 'chai';
import { desiredCopy } from '../../../src/syncer/copy.ts';
import { desiredTwinNamespace } from '../../../src/common/ownership.ts';
import type { KubeObject } from '../../../src/syncer/copy.ts';
import {
  isReplicable,
  namespaceOptedIn,
  planNamespace,
  planObject,
  remotesForNamespace,
  twinState,
} from '../../../src/syncer/plan.ts';
import { backfillKey, namespaceKey, objectKey, parseKey, validRemoteName } from '../../../src/syncer/keys.ts';
import {
  CLUSTERS_ANNOTATION,
  ENABLED_LABEL,
  MANAGED_BY_LABEL,
  ORIGIN_CLUSTER_LABEL,
  REPLICATE_KEY,
} from '../../../webhooks/keys.ts';

const ctx = { localCluster: 'local', twinNamespace: 'shop-local' };
const noExclusions = (): boolean => false;
/** Minimal equality-only selector compiler for the tests ("k=v,k2=v2"). */
const compile = (s: string) => {
  if (s.includes('(')) throw new Error('bad selector');
  const reqs = s.split(',').map((p) => p.split('='));
  return (labels: Record<string, string>) => reqs.every(([k, v]) => labels[k!] === v);
};

const stamped = (extra: Partial<KubeObject> = {}): KubeObject => ({
  kind: 'ConfigMap',
  metadata: {
    name: 'c',
    namespace: 'shop',
    uid: 'u1',
    labels: { [REPLICATE_KEY]: 'true' },
    annotations: { [REPLICATE_KEY]: 'true' },
  },
  data: { a: '1' },
  ...extra,
});
const remoteOf = (o: KubeObject): KubeObject => ({
  ...structuredClone(o),
  metadata: { ...structuredClone(o.metadata), uid: 'r-uid', resourceVersion: '5' },
});

describe('syncer plan: selection', () => {
  const ns = (labels: Record<string, string>, annotations: Record<string, string> = {}): KubeObject => ({
    metadata: { name: 'shop', labels, annotations },
  });
  const remotes = [
    { name: 'eu', labels: { region: 'eu' } },
    { name: 'us', labels: { region: 'us' } },
  ];

  it('opted-in means label "true" and not terminating', () => {
    expect(namespaceOptedIn(ns({ [ENABLED_LABEL]: 'true' }))).to.equal(true);
    expect(namespaceOptedIn(ns({ [ENABLED_LABEL]: 'false' }))).to.equal(false);
    expect(
      namespaceOptedIn({ metadata: { name: 'x', labels: { [ENABLED_LABEL]: 'true' }, deletionTimestamp: 'now' } }),
    ).to.equal(false);
    expect(namespaceOptedIn(undefined)).to.equal(false);
  });

  it('selects every remote without a selector, matching ones with a selector, none on a bad one', () => {
    expect(remotesForNamespace(ns({ [ENABLED_LABEL]: 'true' }), remotes, compile).remotes).to.deep.equal(['eu', 'us']);
    expect(
      remotesForNamespace(ns({ [ENABLED_LABEL]: 'true' }, { [CLUSTERS_ANNOTATION]: 'region=us' }), remotes, compile)
        .remotes,
    ).to.deep.equal(['us']);
    const bad = remotesForNamespace(
      ns({ [ENABLED_LABEL]: 'true' }, { [CLUSTERS_ANNOTATION]: 'region in (' }),
      remotes,
      compile,
    );
    expect(bad.remotes).to.deep.equal([]);
    expect(bad.error).to.contain(CLUSTERS_ANNOTATION);
    expect(remotesForNamespace(ns({}), remotes, compile).remotes).to.deep.equal([]);
  });
});

describe('syncer plan: isReplicable', () => {
  it('needs the stamp label, no opt-out, no exclusion, not a copy, not deleting', () => {
    expect(isReplicable(stamped(), noExclusions)).to.equal(true);
    expect(isReplicable(stamped({ metadata: { name: 'c', labels: {} } }), noExclusions)).to.equal(false);
    expect(
      isReplicable(
        stamped({
          metadata: { name: 'c', labels: { [REPLICATE_KEY]: 'true' }, annotations: { [REPLICATE_KEY]: 'false' } },
        }),
        noExclusions,
      ),
    ).to.equal(false);
    expect(isReplicable(stamped(), () => true)).to.equal(false);
    expect(
      isReplicable(
        stamped({
          metadata: {
            name: 'c',
            labels: { [REPLICATE_KEY]: 'true', [MANAGED_BY_LABEL]: 'kube-offload', [ORIGIN_CLUSTER_LABEL]: 'x' },
          },
        }),
        noExclusions,
      ),
    ).to.equal(false);
    expect(
      isReplicable(
        stamped({ metadata: { name: 'c', labels: { [REPLICATE_KEY]: 'true' }, deletionTimestamp: 'now' } }),
        noExclusions,
      ),
    ).to.equal(false);
    expect(isReplicable(undefined, noExclusions)).to.equal(false);
  });
});

describe('syncer plan: planObject', () => {
  const desired = desiredCopy(stamped(), ctx);

  it('creates a missing copy, does nothing when in sync, updates drift', () => {
    expect(planObject(desired, undefined, 'local')).to.deep.equal({ type: 'create', object: desired });
    expect(planObject(desired, remoteOf(desired), 'local')).to.deep.equal({ type: 'none' });
    const drifted = remoteOf(desired);
    drifted.data = { a: 'tampered' };
    const action = planObject(desired, drifted, 'local');
    expect(action.type).to.equal('update');
    if (action.type === 'update') {
      expect(action.object.data).to.deep.equal({ a: '1' });
      expect(action.object.metadata?.resourceVersion).to.equal('5');
    }
  });

  it('deletes our copy with its uid when not desired', () => {
    expect(planObject(undefined, remoteOf(desired), 'local')).to.deep.equal({ type: 'delete', uid: 'r-uid' });
    expect(planObject(undefined, undefined, 'local')).to.deep.equal({ type: 'none' });
  });

  it('never touches a foreign object: conflict when desired, nothing otherwise', () => {
    const foreign: KubeObject = {
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'shop-local', uid: 'f' },
      data: { theirs: 'x' },
    };
    const a = planObject(desired, foreign, 'local');
    expect(a.type).to.equal('conflict');
    expect(planObject(undefined, foreign, 'local')).to.deep.equal({ type: 'none' });
    // A copy owned by another local cluster is foreign too.
    expect(
      planObject(
        desired,
        remoteOf(desiredCopy(stamped(), { localCluster: 'other', twinNamespace: 'shop-local' })),
        'local',
      ).type,
    ).to.equal('conflict');
  });

  it('leaves alone the slices the remote endpointslice controller publishes for a Service copy', () => {
    const labels = {
      ...remoteOf(desired).metadata?.labels,
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    };
    const controllerSlice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-abcde', namespace: 'shop-local', uid: 'c-uid', labels },
    };
    expect(planObject(undefined, controllerSlice, 'local')).to.deep.equal({ type: 'none' });
  });

  it('waits for a copy that is being deleted, recreates an immutable one', () => {
    const deleting = remoteOf(desired);
    deleting.metadata!.deletionTimestamp = 'now';
    expect(planObject(desired, deleting, 'local')).to.deep.equal({ type: 'none' });
    const imm = remoteOf(desiredCopy(stamped({ immutable: true }), ctx));
    const next = desiredCopy(stamped({ immutable: true, data: { a: '2' } }), ctx);
    expect(planObject(next, imm, 'local')).to.deep.equal({ type: 'recreate', uid: 'r-uid', object: next });
  });
});

describe('syncer plan: planNamespace', () => {
  const localNs: KubeObject = { metadata: { name: 'shop', uid: 'ns1', labels: { [ENABLED_LABEL]: 'true' } } };
  const twin = desiredTwinNamespace(localNs, ctx);

  it('creates, keeps, repairs marks, deletes only its own twin', () => {
    expect(planNamespace(twin, undefined, 'local', 'shop')).to.deep.equal({ type: 'create', object: twin });
    expect(planNamespace(twin, remoteOf(twin), 'local', 'shop')).to.deep.equal({ type: 'none' });
    const recreatedLocal = desiredTwinNamespace({ metadata: { name: 'shop', uid: 'ns2' } }, ctx);
    expect(planNamespace(recreatedLocal, remoteOf(twin), 'local', 'shop').type).to.equal('update');
    expect(planNamespace(undefined, remoteOf(twin), 'local', 'shop')).to.deep.equal({ type: 'delete', uid: 'r-uid' });
    const terminating = remoteOf(twin);
    terminating.metadata!.deletionTimestamp = 'now';
    expect(planNamespace(undefined, terminating, 'local', 'shop')).to.deep.equal({ type: 'none' });
    expect(planNamespace(twin, terminating, 'local', 'shop').type).to.equal('wait');
  });

  it('never adopts or deletes a foreign namespace', () => {
    const foreign: KubeObject = { metadata: { name: 'shop-local', uid: 'x', labels: { team: 'them' } } };
    expect(planNamespace(twin, foreign, 'local', 'shop').type).to.equal('conflict');
    expect(planNamespace(undefined, foreign, 'local', 'shop')).to.deep.equal({ type: 'none' });
    expect(twinState(foreign, 'local', 'shop')).to.equal('foreign');
    expect(twinState(undefined, 'local', 'shop')).to.equal('missing');
    expect(twinState(remoteOf(twin), 'local', 'shop')).to.equal('ready');
  });
});

describe('syncer queue keys', () => {
  it('round-trips', () => {
    expect(parseKey(objectKey('eu', 'Secret', 'shop', 'db'))).to.deep.equal({
      remote: 'eu',
      kind: 'Secret',
      namespace: 'shop',
      name: 'db',
    });
    expect(parseKey(namespaceKey('eu', 'shop'))).to.deep.equal({
      remote: 'eu',
      kind: 'Namespace',
      namespace: '',
      name: 'shop',
    });
    expect(parseKey(backfillKey('shop'))).to.deep.equal({ remote: '', kind: 'Backfill', namespace: 'shop', name: '' });
    expect(parseKey('eu/Pod/shop/x')).to.equal(undefined);
    expect(validRemoteName('eu-1')).to.equal(true);
    expect(validRemoteName('eu/1')).to.equal(false);
  });
});
