// `unpeer` against in-memory clusters peered by `peer`: the order of what it removes, that it
// removes only what we own, and how it copes with pods that do not go and twins that come back.
import { expect } from 'chai';
import path from 'node:path';
import { pathOf } from '../../../src/peering/api.ts';
import { listPeerSecrets } from '../../../src/peering/local.ts';
import { readRemoteManifests } from '../../../src/peering/manifests.ts';
import { peer } from '../../../src/peering/peer.ts';
import { unpeer } from '../../../src/peering/unpeer.ts';
import type { UnpeerClock, UnpeerOptions } from '../../../src/peering/unpeer.ts';
import { ownershipMarks } from '../../../src/common/ownership.ts';
import { peerSecretName, readPeerSecret } from '../../../src/common/peer-secret.ts';
import type { KubeObject } from '../../../webhooks/types.ts';
import { FakeCluster } from './fakes.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const SYSTEM = 'kube-offload-system';

const owned = (cluster: string) => ownershipMarks(cluster, `${cluster}/shop`, 'uid-1');

function object(
  kind: string,
  name: string,
  namespace: string | undefined,
  labels: Record<string, string> = {},
): KubeObject {
  return { apiVersion: 'v1', kind, metadata: { name, ...(namespace ? { namespace } : {}), labels } };
}

/** A clock whose sleep moves time on at once. */
function fakeClock(cluster: FakeCluster): UnpeerClock {
  let now = cluster.now();
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
}

describe('unpeer (in-memory clusters)', () => {
  let local: FakeCluster;
  let remote: FakeCluster;
  let tokens: string[];

  const tokenOf = (component: 'syncer' | 'virtual-node'): string => {
    const entry = readPeerSecret(local.read(pathOf('Secret', peerSecretName('eu', component), SYSTEM))!);
    if ('error' in entry) throw new Error(entry.error);
    return /token: (\S+)/.exec(entry.kubeconfig)![1]!;
  };

  async function options(extra: Partial<UnpeerOptions> = {}): Promise<UnpeerOptions> {
    return {
      name: 'eu',
      localCluster: 'local',
      local,
      remote: { objects: remote, pods: remote },
      secrets: await listPeerSecrets(local, 'eu'),
      drainTimeoutMs: 60_000,
      timeoutMs: 300_000,
      clock: fakeClock(local),
      ...extra,
    };
  }

  beforeEach(async () => {
    local = new FakeCluster('local');
    remote = new FakeCluster('eu');
    local.put('/api/v1/namespaces/kube-offload-system', object('Namespace', SYSTEM, undefined));
    await peer({
      name: 'eu',
      localCluster: 'local',
      local,
      remote,
      endpoint: { server: 'https://eu:6443' },
      manifests: readRemoteManifests(path.join(ROOT, 'manifests')),
      rotate: false,
      tokenSeconds: 86_400,
    });
    tokens = [tokenOf('syncer'), tokenOf('virtual-node')];
    // Local: the remote's virtual node with two offloaded pods, a worker with one pod.
    local.put('/api/v1/nodes/virtual-eu', {
      ...object('Node', 'virtual-eu', undefined, {
        'liqo.io/type': 'virtual-node',
        'kube-offload.io/remote-cluster': 'eu',
      }),
    });
    local.put('/api/v1/nodes/worker', object('Node', 'worker', undefined));
    for (const [name, node] of [
      ['web-1', 'virtual-eu'],
      ['web-2', 'virtual-eu'],
      ['db-1', 'worker'],
    ]) {
      local.put(`/api/v1/namespaces/shop/pods/${name}`, { ...object('Pod', name!, 'shop'), spec: { nodeName: node } });
    }
    // Remote: our twin with copies and a pod; another cluster's twin; a foreign namespace; a copy
    // of ours outside any twin, and a foreign ConfigMap next to it.
    const ours = owned('local');
    remote.put('/api/v1/namespaces/shop-local', { ...object('Namespace', 'shop-local', undefined, ours.labels) });
    remote.put(
      '/api/v1/namespaces/shop-local/configmaps/settings',
      object('ConfigMap', 'settings', 'shop-local', ours.labels),
    );
    remote.put('/api/v1/namespaces/shop-local/services/web', object('Service', 'web', 'shop-local', ours.labels));
    remote.put('/api/v1/namespaces/shop-local/pods/web-1', object('Pod', 'web-1', 'shop-local', ours.labels));
    remote.put('/api/v1/namespaces/shop-other', object('Namespace', 'shop-other', undefined, owned('other').labels));
    remote.put('/api/v1/namespaces/team', object('Namespace', 'team', undefined));
    remote.put('/api/v1/namespaces/team/configmaps/stray', object('ConfigMap', 'stray', 'team', ours.labels));
    remote.put('/api/v1/namespaces/team/configmaps/theirs', object('ConfigMap', 'theirs', 'team', { app: 'theirs' }));
  });

  it('stops the syncer, drains the node, removes only what we own, then the Secrets and tokens', async () => {
    local.afterWrite = () => local.finalizePods(); // the provider finalizes deleted pods
    const report = await unpeer(await options());
    const lines = report.steps.map((s) => `${s.cluster} ${s.object} ${s.action}`);
    expect(lines[0]).to.equal(`local secret/${SYSTEM}/kube-offload-peer-eu-syncer deleted`);
    expect(lines).to.include.ordered.members([
      `local secret/${SYSTEM}/kube-offload-peer-eu-syncer deleted`,
      'local node/virtual-eu cordoned',
    ]);
    expect(lines).to.include.members([
      'local pod/shop/web-1 deleted',
      'local pod/shop/web-2 deleted',
      'remote namespace/shop-local deleted',
      'remote configmap/team/stray deleted',
      `local secret/${SYSTEM}/kube-offload-peer-eu-virtual-node deleted`,
      'local node/virtual-eu deleted',
    ]);
    expect(report.steps.find((s) => s.object === 'namespace/shop-local')?.detail).to.equal(
      'with 1 Service, 1 ConfigMap, 1 Pod',
    );
    const revoked = lines.filter((l) => l.startsWith('remote secret/')).map((l) => l.split(' ')[2]);
    expect(revoked).to.deep.equal(['deleted', 'deleted']);
    expect(lines.at(-1), 'the syncer token, which deletes them, last').to.match(/kube-offload-syncer-remote-local-/);
    expect(report.left).to.deep.equal([]);

    expect(local.read('/api/v1/namespaces/shop/pods/db-1'), 'a pod on a worker stays').to.not.equal(undefined);
    expect(local.read('/api/v1/nodes/worker')).to.not.equal(undefined);
    expect(remote.read('/api/v1/namespaces/shop-local')).to.equal(undefined);
    expect(remote.read('/api/v1/namespaces/shop-other'), "another cluster's twin").to.not.equal(undefined);
    expect(remote.read('/api/v1/namespaces/team/configmaps/theirs'), 'not ours').to.not.equal(undefined);
    expect(remote.read(`/api/v1/namespaces/${SYSTEM}/serviceaccounts/kube-offload-syncer-remote`)).to.not.equal(
      undefined,
    );
    expect(local.read(pathOf('Secret', peerSecretName('eu', 'syncer'), SYSTEM))).to.equal(undefined);
    expect(tokens.map((token) => remote.tokenValid(token))).to.deep.equal([false, false]);
  });

  it('deletes at once the pods still there after --drain-timeout', async () => {
    const report = await unpeer(await options({ drainTimeoutMs: 5_000 }));
    const forced = report.steps.filter((s) => s.action === 'deleted at once').map((s) => s.object);
    expect(forced).to.deep.equal(['pod/shop/web-1', 'pod/shop/web-2']);
    expect(local.read('/api/v1/namespaces/shop/pods/web-1')).to.equal(undefined);
  });

  it('deletes again a twin recreated by a reconcile that was under way', async () => {
    local.afterWrite = () => local.finalizePods();
    let recreated = false;
    remote.afterWrite = () => {
      if (recreated || remote.read('/api/v1/namespaces/shop-local')) return;
      recreated = true;
      remote.put('/api/v1/namespaces/shop-local', object('Namespace', 'shop-local', undefined, owned('local').labels));
    };
    const report = await unpeer(await options());
    expect(report.steps.filter((s) => s.object === 'namespace/shop-local').map((s) => s.detail)).to.deep.equal([
      'with 1 Service, 1 ConfigMap, 1 Pod',
      'recreated by a reconcile that was under way',
    ]);
    expect(remote.read('/api/v1/namespaces/shop-local')).to.equal(undefined);
  });
});
