// The address and name plan of the sandbox's real nodes: one per cluster, each in a network
// namespace of its own, joined to the others (and to the host, so the apiservers can dial the
// kubelets) by a bridge in a "wan" namespace. Pod networks are routed between the clusters
// without NAT; nothing has a default route, so only these addresses are reachable.
//
//   host netns   ko-wan0 192.168.77.1/24 (+ routes to the real nodes' pod ranges)
//   ko-wan       bridge ko-br joining ko-host, ko-local, ko-remote
//   ko-real-node-local   eth0 192.168.77.11, cni0 10.244.0.1/24, route 172.16.0.0/16 via .12
//   ko-real-node-remote  eth0 192.168.77.12, cni0 172.16.0.1/24, route 10.244.0.0/16 via .11
import path from 'node:path';

export type RealNodeCluster = 'local' | 'remote';

export const REAL_NODE_CLUSTERS: readonly RealNodeCluster[] = ['local', 'remote'];

/** The wan: a bridge in a namespace of its own, and the host's leg into it. */
export const WAN = {
  netns: 'ko-wan',
  bridge: 'ko-br',
  hostVeth: 'ko-wan0',
  hostPort: 'ko-host',
  hostIP: '192.168.77.1',
  prefixLength: 24,
} as const;

/** Label every real node carries (the fake workers carry type=kwok). */
export const REAL_NODE_LABEL = { key: 'kube-offload.io/real-node', value: 'true' } as const;

/** Taint put on the fake workers while real nodes run, so real workloads land on real nodes. */
export const FAKE_WORKER_TAINT = { key: 'kube-offload.io/fake-worker', value: 'true', effect: 'NoSchedule' } as const;

export interface RealNodePlan {
  cluster: RealNodeCluster;
  nodeName: string;
  netns: string;
  /** The node's leg in the wan bridge (its own end is eth0). */
  wanPort: string;
  nodeIP: string;
  /** The real node's pods: a slice of the cluster's pod network that no fake worker uses. */
  podCIDR: string;
  podGateway: string;
  /** The whole pod network of the cluster (kube-proxy's --cluster-cidr, the other side's route). */
  clusterPodCIDR: string;
  serviceCIDR: string;
  dnsServiceIP: string;
  /** Parent cgroup of the node's pods, in every hierarchy. */
  cgroupRoot: string;
  labels: Record<string, string>;
  /** Everything of the node on disk: configs, containerd's root and state, the kubelet's root dir, logs. */
  dir: string;
}

const CLUSTER_ADDRESSES: Record<RealNodeCluster, Omit<RealNodePlan, 'cluster' | 'dir' | 'nodeName' | 'netns'>> = {
  local: {
    wanPort: 'ko-local',
    nodeIP: '192.168.77.11',
    podCIDR: '10.244.0.0/24',
    podGateway: '10.244.0.1',
    clusterPodCIDR: '10.244.0.0/16',
    serviceCIDR: '10.96.0.0/16',
    dnsServiceIP: '10.96.0.10',
    cgroupRoot: '/kube-offload-real-node-local',
    labels: { 'topology.kubernetes.io/region': 'local', 'topology.kubernetes.io/zone': 'local-real' },
  },
  remote: {
    wanPort: 'ko-remote',
    nodeIP: '192.168.77.12',
    podCIDR: '172.16.0.0/24',
    podGateway: '172.16.0.1',
    clusterPodCIDR: '172.16.0.0/16',
    serviceCIDR: '10.97.0.0/16',
    dnsServiceIP: '10.97.0.10',
    cgroupRoot: '/kube-offload-real-node-remote',
    labels: { 'topology.kubernetes.io/region': 'eu-west', 'topology.kubernetes.io/zone': 'eu-west-real' },
  },
};

/** Where the real nodes keep their files inside a sandbox directory. */
export function realNodesDir(sandboxDir: string): string {
  return path.join(sandboxDir, 'real-nodes');
}

export function realNodePlan(cluster: RealNodeCluster, sandboxDir: string): RealNodePlan {
  const nodeName = `real-node-${cluster}`;
  return {
    cluster,
    nodeName,
    netns: `ko-${nodeName}`,
    dir: path.join(realNodesDir(sandboxDir), cluster),
    ...CLUSTER_ADDRESSES[cluster],
    labels: { [REAL_NODE_LABEL.key]: REAL_NODE_LABEL.value, ...CLUSTER_ADDRESSES[cluster].labels },
  };
}

export function realNodePlans(sandboxDir: string): RealNodePlan[] {
  return REAL_NODE_CLUSTERS.map((cluster) => realNodePlan(cluster, sandboxDir));
}

/**
 * kwok's fallback pod range (for nodes without a podCIDR of their own) while a real node runs:
 * the upper half of the cluster's pod network, away from the real node's range.
 */
export function kwokPodCIDRBesideRealNode(cluster: RealNodeCluster): string {
  return cluster === 'local' ? '10.244.128.0/17' : '172.16.128.0/17';
}

/** The kube-apiserver flags a cluster with a real node needs (the `kubernetes` Service's endpoint). */
export function realNodeApiserverArgs(): string[] {
  // Pods reach their apiserver through the `kubernetes` Service; its endpoint is the advertised
  // address, where a relay on the host's wan leg forwards to the apiserver on 127.0.0.1.
  return [`--advertise-address=${WAN.hostIP}`];
}
