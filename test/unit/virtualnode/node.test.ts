import { expect } from 'chai';
import { LIQO_CONVENTION, REMOTE_CLUSTER_LABEL } from '../../../webhooks/keys.ts';
import {
  buildNodeLease,
  buildVirtualNode,
  desiredNodeStatus,
  mergeNodeMetadata,
  nodeStatusUpdate,
  renewNodeLease,
  summarizeRemote,
  virtualOnlyLabelKeys,
} from '../../../src/virtualnode/node.ts';
import type { VirtualNodeConfig } from '../../../src/virtualnode/node.ts';
import type { Node } from '../../../src/virtualnode/types.ts';

const cfg: VirtualNodeConfig = {
  nodeName: 'virtual-remote',
  remoteCluster: 'remote',
  nodeIP: '127.0.0.1',
  convention: LIQO_CONVENTION,
};

function remoteNode(
  name: string,
  opts: {
    ready?: boolean;
    zone?: string;
    region?: string;
    cpu?: string;
    memory?: string;
    unschedulable?: boolean;
    labels?: Record<string, string>;
  } = {},
): Node {
  return {
    metadata: {
      name,
      labels: {
        type: 'kwok',
        'kubernetes.io/hostname': name,
        'topology.kubernetes.io/region': opts.region ?? 'eu-west',
        'topology.kubernetes.io/zone': opts.zone ?? 'eu-west-a',
        ...opts.labels,
      },
    },
    spec: opts.unschedulable ? { unschedulable: true } : {},
    status: {
      capacity: { cpu: opts.cpu ?? '8', memory: opts.memory ?? '32Gi', pods: '110' },
      allocatable: { cpu: opts.cpu ?? '8', memory: opts.memory ?? '32Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
    },
  };
}

const NOW = '2025-01-01T00:00:00Z';
const NOW_MS = Date.parse(NOW);

describe('virtualnode node construction', () => {
  it('sums capacity over Ready, schedulable, non-virtual remote nodes only', () => {
    const summary = summarizeRemote(
      [
        remoteNode('a'),
        remoteNode('b', { cpu: '4', memory: '16Gi' }),
        remoteNode('down', { ready: false }),
        remoteNode('cordoned', { unschedulable: true }),
        remoteNode('liqo', { labels: { [LIQO_CONVENTION.labelKey]: LIQO_CONVENTION.labelValue } }),
      ],
      LIQO_CONVENTION,
    );
    expect(summary.nodes).to.equal(2);
    expect(summary.capacity).to.deep.equal({ cpu: '12', memory: '48Gi', pods: '220' });
    expect(summary.allocatable).to.deep.equal({ cpu: '12', memory: '48Gi', pods: '220' });
  });

  it('copies topology labels only when every counted remote node agrees', () => {
    const summary = summarizeRemote(
      [remoteNode('a', { zone: 'eu-west-a' }), remoteNode('b', { zone: 'eu-west-b' })],
      LIQO_CONVENTION,
    );
    expect(summary.derivedLabels).to.deep.equal({ 'topology.kubernetes.io/region': 'eu-west' });
  });

  it('builds the node with the convention label, remote-cluster label, topology labels and the taint', () => {
    const summary = summarizeRemote(
      [remoteNode('a'), remoteNode('b', { zone: 'eu-west-b' })],
      LIQO_CONVENTION,
      'v1.36.3',
    );
    const node = buildVirtualNode(cfg, summary, { reachable: true }, NOW);
    expect(node.metadata?.name).to.equal('virtual-remote');
    expect(node.metadata?.labels).to.deep.equal({
      'liqo.io/type': 'virtual-node',
      [REMOTE_CLUSTER_LABEL]: 'remote',
      'kubernetes.io/hostname': 'virtual-remote',
      type: 'virtual-kubelet',
      'topology.kubernetes.io/region': 'eu-west',
    });
    expect(node.metadata?.labels?.type).to.not.equal('kwok');
    expect(node.spec?.taints).to.deep.equal([
      { key: 'virtual-node.liqo.io/not-allowed', value: 'true', effect: 'NoExecute' },
    ]);
    expect(node.status?.capacity).to.deep.equal({ cpu: '16', memory: '64Gi', pods: '220' });
    // Only the InternalIP: the apiserver would dial a Hostname (the node name) first.
    expect(node.status?.addresses).to.deep.equal([{ type: 'InternalIP', address: '127.0.0.1' }]);
    expect(node.status?.daemonEndpoints).to.deep.equal({ kubeletEndpoint: { Port: 0 } });
    const served = buildVirtualNode(
      { ...cfg, kubeletPort: 10250 },
      summarizeRemote([], LIQO_CONVENTION),
      { reachable: true },
      '2026-01-01T00:00:00Z',
    );
    expect(served.status?.daemonEndpoints).to.deep.equal({ kubeletEndpoint: { Port: 10250 } });
    expect(node.status?.nodeInfo?.kubeletVersion).to.equal('v1.36.3');
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready).to.include({
      status: 'True',
      reason: 'KubeletReady',
      lastTransitionTime: NOW,
      lastHeartbeatTime: NOW,
    });
  });

  it('reports NotReady when the remote is unreachable and keeps transition times while unchanged', () => {
    const summary = summarizeRemote([remoteNode('a')], LIQO_CONVENTION);
    const down = desiredNodeStatus(cfg, summary, { reachable: false, error: 'connect ECONNREFUSED' }, NOW);
    const ready = down.conditions?.find((c) => c.type === 'Ready');
    expect(ready).to.include({ status: 'False', reason: 'RemoteClusterUnreachable' });
    expect(ready?.message).to.contain('ECONNREFUSED');
    const later = desiredNodeStatus(cfg, summary, { reachable: false }, '2025-01-01T00:01:00Z', down);
    expect(later.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).to.equal(NOW);
    const back = desiredNodeStatus(cfg, summary, { reachable: true }, '2025-01-01T00:02:00Z', later);
    expect(back.conditions?.find((c) => c.type === 'Ready')).to.include({
      status: 'True',
      lastTransitionTime: '2025-01-01T00:02:00Z',
    });
  });

  it('merges labels and taint into the live node, keeping what others added', () => {
    const summary = summarizeRemote([remoteNode('a')], LIQO_CONVENTION);
    const live: Node = {
      metadata: { name: 'virtual-remote', labels: { user: 'label', 'topology.kubernetes.io/zone': 'old-zone' } },
      spec: { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }] },
    };
    const merged = mergeNodeMetadata(live, cfg, summary);
    expect(merged?.metadata?.labels).to.include({
      user: 'label',
      'liqo.io/type': 'virtual-node',
      'topology.kubernetes.io/zone': 'eu-west-a',
    });
    expect(merged?.spec?.taints).to.deep.equal([
      { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' },
      { key: 'virtual-node.liqo.io/not-allowed', value: 'true', effect: 'NoExecute' },
    ]);
    expect(mergeNodeMetadata(merged as Node, cfg, summary)).to.equal(undefined);
    // A zone that is no longer unanimous is removed.
    const mixed = summarizeRemote([remoteNode('a'), remoteNode('b', { zone: 'eu-west-b' })], LIQO_CONVENTION);
    expect(mergeNodeMetadata(merged as Node, cfg, mixed)?.metadata?.labels).to.not.have.property(
      'topology.kubernetes.io/zone',
    );
  });

  it('writes the status only on change or when the heartbeat is old, keeping foreign conditions', () => {
    const summary = summarizeRemote([remoteNode('a')], LIQO_CONVENTION);
    const node = buildVirtualNode(cfg, summary, { reachable: true }, NOW);
    node.status?.conditions?.push({ type: 'NetworkUnavailable', status: 'False' });
    const soon = NOW_MS + 5000;
    const same = desiredNodeStatus(cfg, summary, { reachable: true }, new Date(soon).toISOString(), node.status);
    expect(nodeStatusUpdate(node, same, soon, 60_000)).to.equal(undefined);
    const late = NOW_MS + 61_000;
    expect(
      nodeStatusUpdate(
        node,
        desiredNodeStatus(cfg, summary, { reachable: true }, new Date(late).toISOString(), node.status),
        late,
        60_000,
      ),
    ).to.not.equal(undefined);
    const bigger = summarizeRemote([remoteNode('a'), remoteNode('b')], LIQO_CONVENTION);
    const changed = nodeStatusUpdate(
      node,
      desiredNodeStatus(cfg, bigger, { reachable: true }, NOW, node.status),
      soon,
      60_000,
    );
    expect(changed?.capacity?.cpu).to.equal('16');
    expect(changed?.conditions?.map((c) => c.type)).to.include('NetworkUnavailable');
    const notReady = nodeStatusUpdate(
      node,
      desiredNodeStatus(cfg, summary, { reachable: false }, NOW, node.status),
      soon,
      60_000,
    );
    expect(notReady?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('False');
    // A new kubelet port (a restart on an ephemeral one) is written at once, as is a stale address list.
    const moved = desiredNodeStatus({ ...cfg, kubeletPort: 40123 }, summary, { reachable: true }, NOW, node.status);
    expect(nodeStatusUpdate(node, moved, soon, 60_000)?.daemonEndpoints).to.deep.equal({
      kubeletEndpoint: { Port: 40123 },
    });
    const withHostname = {
      ...node,
      status: { ...node.status, addresses: [...(node.status?.addresses ?? []), { type: 'Hostname', address: 'x' }] },
    };
    expect(nodeStatusUpdate(withHostname, same, soon, 60_000)?.addresses).to.deep.equal([
      { type: 'InternalIP', address: '127.0.0.1' },
    ]);
  });

  it('treats the virtual node labels, not the copied topology labels, as virtual-only', () => {
    const summary = summarizeRemote([remoteNode('a')], LIQO_CONVENTION);
    const keys = virtualOnlyLabelKeys({ ...cfg, extraLabels: { tier: 'gold' } }, summary);
    expect([...keys].sort()).to.deep.equal([
      'kube-offload.io/remote-cluster',
      'kubernetes.io/hostname',
      'liqo.io/type',
      'tier',
      'type',
    ]);
  });

  it('builds and renews the node lease with MicroTime and the node as owner', () => {
    const lease = buildNodeLease('virtual-remote', 'uid-1', NOW_MS);
    expect(lease.metadata).to.include({ name: 'virtual-remote', namespace: 'kube-node-lease' });
    expect(lease.metadata?.ownerReferences?.[0]).to.include({ kind: 'Node', uid: 'uid-1' });
    expect(lease.spec).to.deep.equal({
      holderIdentity: 'virtual-remote',
      leaseDurationSeconds: 40,
      renewTime: '2025-01-01T00:00:00.000000Z',
    });
    const renewed = renewNodeLease(
      { ...lease, metadata: { ...lease.metadata, resourceVersion: '7' } },
      'virtual-remote',
      'uid-1',
      NOW_MS + 10_000,
    );
    expect(renewed.metadata?.resourceVersion).to.equal('7');
    expect(renewed.spec?.renewTime).to.equal('2025-01-01T00:00:10.000000Z');
  });
});
