// `peer` against in-memory clusters: what it applies and mints the first time, that a second run
// sends no write at all, and how --rotate, a revoked token, a new endpoint, an old token and drift
// in the remote RBAC are handled.
import { expect } from 'chai';
import path from 'node:path';
import { parse } from 'yaml';
import { pathOf } from '../../../src/peering/api.ts';
import { readRemoteManifests } from '../../../src/peering/manifests.ts';
import type { RemoteManifests } from '../../../src/peering/manifests.ts';
import { peer } from '../../../src/peering/peer.ts';
import type { PeerOptions } from '../../../src/peering/peer.ts';
import { PEER_ANNOTATIONS, peerSecretName, readPeerSecret } from '../../../src/common/peer-secret.ts';
import type { PeerComponent } from '../../../src/common/peer-secret.ts';
import type { KubeObject } from '../../../webhooks/types.ts';
import { FakeCluster } from './fakes.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const SYSTEM = 'kube-offload-system';
const SERVER = 'https://eu.example:6443';
const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nEU\n-----END CERTIFICATE-----\n').toString('base64');

/** The kubeconfig a peer Secret holds, parsed. */
function storedKubeconfig(local: FakeCluster, component: PeerComponent): Record<string, any> {
  const secret = local.read(pathOf('Secret', peerSecretName('eu', component), SYSTEM)) as KubeObject;
  const entry = readPeerSecret(secret);
  if ('error' in entry) throw new Error(entry.error);
  return parse(entry.kubeconfig) as Record<string, any>;
}

const tokenOf = (local: FakeCluster, component: PeerComponent): string =>
  storedKubeconfig(local, component).users[0].user.token as string;

const annotationsOf = (local: FakeCluster, component: PeerComponent): Record<string, string> =>
  local.read(pathOf('Secret', peerSecretName('eu', component), SYSTEM))?.metadata?.annotations ?? {};

describe('peer (in-memory clusters)', () => {
  let manifests: RemoteManifests;
  let local: FakeCluster;
  let remote: FakeCluster;

  const options = (extra: Partial<PeerOptions> = {}): PeerOptions => ({
    name: 'eu',
    localCluster: 'local',
    local,
    remote,
    endpoint: { server: SERVER, caData: CA },
    manifests,
    rotate: false,
    tokenSeconds: 365 * 86_400,
    now: () => remote.now(),
    ...extra,
  });

  before(() => {
    manifests = readRemoteManifests(path.join(ROOT, 'manifests'));
  });

  beforeEach(() => {
    local = new FakeCluster('local');
    remote = new FakeCluster('eu');
    local.put('/api/v1/namespaces/kube-offload-system', { metadata: { name: SYSTEM } });
  });

  it('applies the remote identities, mints a token per component and stores a kubeconfig Secret for each', async () => {
    const report = await peer(options());
    expect(report.changed).to.equal(true);
    for (const object of manifests.objects) {
      const found = remote.read(
        pathOf(object.kind as string, String(object.metadata?.name), object.metadata?.namespace),
      );
      expect(found, `${object.kind} ${object.metadata?.name}`).to.not.equal(undefined);
    }
    expect(remote.writes().filter((w) => w.startsWith('PATCH(apply)'))).to.have.length(manifests.objects.length);
    for (const component of ['syncer', 'virtual-node'] as const) {
      const secret = local.read(pathOf('Secret', peerSecretName('eu', component), SYSTEM)) as KubeObject;
      expect(secret.metadata?.labels).to.include({
        'kube-offload.io/remote-cluster': 'eu',
        'kube-offload.io/component': component,
      });
      const kubeconfig = storedKubeconfig(local, component);
      expect(kubeconfig.clusters[0].cluster).to.deep.equal({ server: SERVER, 'certificate-authority-data': CA });
      const account = manifests.accounts[component];
      expect(kubeconfig.users[0].name).to.equal(`system:serviceaccount:${SYSTEM}:${account.name}`);
      expect(remote.tokenValid(tokenOf(local, component)), 'a working token').to.equal(true);
      const annotations = annotationsOf(local, component);
      expect(annotations[PEER_ANNOTATIONS.localCluster]).to.equal('local');
      expect(annotations[PEER_ANNOTATIONS.tokenExpires]).to.equal('2027-01-01T00:00:00.000Z');
      const [namespace, name] = annotations[PEER_ANNOTATIONS.tokenSecret]!.split('/');
      const tokenSecret = remote.read(pathOf('Secret', name!, namespace));
      expect(tokenSecret?.data, 'the token Secret holds nothing').to.equal(undefined);
      expect(tokenSecret?.metadata?.ownerReferences?.[0]).to.include({ kind: 'ServiceAccount', name: account.name });
    }
    expect(report.steps.map((s) => s.action)).to.include.members(['created', 'minted']);
  });

  it('changes nothing the second time: no write to either cluster', async () => {
    await peer(options());
    const [remoteWrites, localWrites] = [remote.writes().length, local.writes().length];
    const tokens = [tokenOf(local, 'syncer'), tokenOf(local, 'virtual-node')];
    const report = await peer(options());
    expect(remote.writes().slice(remoteWrites)).to.deep.equal([]);
    expect(local.writes().slice(localWrites)).to.deep.equal([]);
    expect(report.changed).to.equal(false);
    expect(new Set(report.steps.map((s) => s.action))).to.deep.equal(new Set(['unchanged', 'kept']));
    expect([tokenOf(local, 'syncer'), tokenOf(local, 'virtual-node')]).to.deep.equal(tokens);
  });

  it('--rotate mints new tokens, stores them, then revokes the old ones', async () => {
    await peer(options());
    const old = tokenOf(local, 'syncer');
    const report = await peer(options({ rotate: true }));
    const fresh = tokenOf(local, 'syncer');
    expect(fresh).to.not.equal(old);
    expect(remote.tokenValid(fresh)).to.equal(true);
    expect(remote.tokenValid(old), 'the old token is revoked').to.equal(false);
    const order = report.steps.filter((s) => s.object.includes('syncer')).map((s) => `${s.cluster} ${s.action}`);
    expect(order.slice(-3)).to.deep.equal(['remote minted', 'local updated', 'remote deleted']);
  });

  it('mints a new token when the old one was revoked (its token Secret deleted)', async () => {
    await peer(options());
    const old = tokenOf(local, 'virtual-node');
    const [namespace, name] = annotationsOf(local, 'virtual-node')[PEER_ANNOTATIONS.tokenSecret]!.split('/');
    remote.drop(pathOf('Secret', name!, namespace));
    expect(remote.tokenValid(old)).to.equal(false);
    await peer(options());
    expect(remote.tokenValid(tokenOf(local, 'virtual-node'))).to.equal(true);
    expect(tokenOf(local, 'syncer'), 'the other component keeps its token').to.be.a('string');
  });

  it('mints new tokens when the endpoint changes (--remote-server), and renews old ones', async () => {
    await peer(options());
    const first = tokenOf(local, 'syncer');
    await peer(options({ endpoint: { server: 'https://eu.internal:6443', caData: CA } }));
    const second = tokenOf(local, 'syncer');
    expect(second).to.not.equal(first);
    expect(storedKubeconfig(local, 'syncer').clusters[0].cluster.server).to.equal('https://eu.internal:6443');
    remote.now = () => Date.parse('2026-09-15T00:00:00Z'); // past two thirds of the year
    await peer(options({ endpoint: { server: 'https://eu.internal:6443', caData: CA } }));
    expect(tokenOf(local, 'syncer'), 'renewed').to.not.equal(second);
  });

  it('keeps a token the remote granted for less than asked (no renewal loop)', async () => {
    remote.maxTokenSeconds = 86_400;
    await peer(options());
    const token = tokenOf(local, 'syncer');
    await peer(options());
    expect(tokenOf(local, 'syncer')).to.equal(token);
    expect(annotationsOf(local, 'syncer')[PEER_ANNOTATIONS.tokenExpires]).to.equal('2026-01-02T00:00:00.000Z');
  });

  it('puts drifted remote RBAC back, and creates kube-offload-system locally when missing', async () => {
    await peer(options());
    const role = manifests.objects.find((o) => o.kind === 'ClusterRole')!;
    const rolePath = pathOf('ClusterRole', String(role.metadata?.name));
    remote.put(rolePath, { ...remote.read(rolePath), rules: [] });
    local.drop('/api/v1/namespaces/kube-offload-system');
    const report = await peer(options());
    expect(report.steps).to.deep.include({
      cluster: 'remote',
      object: `clusterrole/${role.metadata?.name}`,
      action: 'configured',
    });
    expect(report.steps).to.deep.include({ cluster: 'local', object: `namespace/${SYSTEM}`, action: 'created' });
    expect(remote.read(rolePath)?.rules).to.deep.equal(role.rules);
  });
});
