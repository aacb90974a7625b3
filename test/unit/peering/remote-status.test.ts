// `status` per remote against in-memory clusters: the virtual node, twins, offloaded pods, and an
// unreachable remote (a status, not a failure); and the table.
import { expect } from 'chai';
import { formatRemotes, remoteStatus } from '../../../src/peering/remote-status.ts';
import type { RemoteStatusInput } from '../../../src/peering/remote-status.ts';
import { ownershipMarks } from '../../../src/common/ownership.ts';
import type { KubeObject } from '../../../webhooks/types.ts';
import { FakeCluster } from './fakes.ts';

const node: KubeObject = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'virtual-eu', labels: { 'liqo.io/type': 'virtual-node', 'kube-offload.io/remote-cluster': 'eu' } },
  spec: { unschedulable: true },
  status: {
    capacity: { cpu: '8', memory: '32Gi', pods: '220' },
    conditions: [{ type: 'Ready', status: 'False', message: 'remote cluster unreachable for 10s' }],
  },
};

const pod = (name: string, phase: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop' },
  spec: { nodeName: 'virtual-eu' },
  status: { phase },
});

describe('status of a remote (in-memory clusters)', () => {
  let local: FakeCluster;
  let remote: FakeCluster;
  const input = (extra: Partial<RemoteStatusInput> = {}): RemoteStatusInput => ({
    name: 'eu',
    source: 'peer',
    server: 'https://eu:6443',
    localCluster: 'local',
    local,
    remote,
    objects: { inSync: 5, pending: 1, conflict: 0 },
    ...extra,
  });

  beforeEach(() => {
    local = new FakeCluster('local');
    remote = new FakeCluster('eu');
    local.put('/api/v1/nodes/virtual-eu', node);
    local.put('/api/v1/namespaces/shop/pods/a', pod('a', 'Running'));
    local.put('/api/v1/namespaces/shop/pods/b', pod('b', 'Pending'));
    const labels = ownershipMarks('local', 'local/shop', 'u').labels;
    remote.put('/api/v1/namespaces/shop-local', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop-local', labels },
    });
    const theirs = ownershipMarks('other', 'other/shop', 'u').labels;
    remote.put('/api/v1/namespaces/shop-other', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop-other', labels: theirs },
    });
  });

  it('reports the node, our twins, the offloaded pods, and why the node is not Ready', async () => {
    const status = await remoteStatus(input());
    expect(status).to.deep.equal({
      name: 'eu',
      source: 'peer',
      server: 'https://eu:6443',
      reachable: true,
      virtualNode: {
        name: 'virtual-eu',
        ready: 'False',
        schedulable: false,
        capacity: { cpu: '8', memory: '32Gi', pods: '220' },
        message: 'remote cluster unreachable for 10s',
      },
      twinNamespaces: ['shop-local'],
      objects: { inSync: 5, pending: 1, conflict: 0 },
      offloadedPods: { total: 2, running: 1 },
      lastError: 'node virtual-eu False: remote cluster unreachable for 10s',
    });
    const table = formatRemotes([status]);
    expect(table.split('\n')[0]).to.match(/^REMOTE\s+REACHABLE\s+NODE\s+READY\s+CPU\s+MEMORY\s+PODS\s+TWINS/);
    expect(table.split('\n')[1]).to.match(
      /^eu\s+yes\s+virtual-eu\s+False,cordoned\s+8\s+32Gi\s+220\s+shop-local\s+5\s+1\s+0\s+1\/2 running/,
    );
  });

  it('an unreachable remote (a revoked token) is a status with its error first', async () => {
    const failing = {
      ...remote,
      listAll: async () => Promise.reject(new Error('GET /api/v1/namespaces: 401 Unauthorized')),
    };
    const status = await remoteStatus(input({ remote: failing as unknown as FakeCluster, namespaceError: 'older' }));
    expect(status.reachable).to.equal(false);
    expect(status.lastError).to.equal('GET /api/v1/namespaces: 401 Unauthorized');
    expect(status.twinNamespaces).to.deep.equal([]);
  });
});
