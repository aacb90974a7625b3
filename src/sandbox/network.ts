// The address plan of a sandbox cluster: its Service and pod ranges and its fake worker nodes.
// The clusters of the sandbox ("local", "remote" and the second remote "remote-us") have presets
// that do not overlap, so pod and Service addresses tell which cluster an object lives in.
import type { NodeSpec } from './kwok.ts';

export interface Network {
  serviceClusterIPRange: string;
  podCIDR: string;
  nodes: NodeSpec[];
}

/** The second remote cluster's name: KWOK workers only, in region us-east (eu-west is "remote"'s). */
export const SECOND_REMOTE = 'remote-us';

export const PRESETS: Record<'local' | 'remote' | typeof SECOND_REMOTE, Network> = {
  local: {
    serviceClusterIPRange: '10.96.0.0/16',
    podCIDR: '10.244.0.0/16',
    nodes: [1, 2].map((i) => ({
      name: `worker-node-${i}`,
      ip: `10.10.0.${10 + i}`,
      podCIDR: `10.244.${i}.0/24`,
      labels: { 'topology.kubernetes.io/region': 'local', 'topology.kubernetes.io/zone': `local-${'ab'[i - 1]}` },
    })),
  },
  remote: {
    serviceClusterIPRange: '10.97.0.0/16',
    podCIDR: '172.16.0.0/16',
    nodes: [1, 2, 3].map((i) => ({
      name: `remote-node-${i}`,
      ip: `10.20.0.${10 + i}`,
      podCIDR: `172.16.${i}.0/24`,
      labels: {
        'topology.kubernetes.io/region': 'eu-west',
        'topology.kubernetes.io/zone': `eu-west-${'abc'[i - 1]}`,
      },
    })),
  },
  [SECOND_REMOTE]: {
    serviceClusterIPRange: '10.98.0.0/16',
    podCIDR: '172.18.0.0/16',
    nodes: [1, 2].map((i) => ({
      name: `${SECOND_REMOTE}-node-${i}`,
      ip: `10.30.0.${10 + i}`,
      podCIDR: `172.18.${i}.0/24`,
      labels: {
        'topology.kubernetes.io/region': 'us-east',
        'topology.kubernetes.io/zone': `us-east-${'ab'[i - 1]}`,
      },
    })),
  },
};

/** The preset of `name`, with any of its parts replaced by what `overrides` gives. */
export function resolveNetwork(name: string, overrides: Partial<Network>): Network {
  const preset = (PRESETS as Record<string, Network | undefined>)[name];
  const serviceClusterIPRange = overrides.serviceClusterIPRange ?? preset?.serviceClusterIPRange;
  const podCIDR = overrides.podCIDR ?? preset?.podCIDR;
  const nodes = overrides.nodes ?? preset?.nodes;
  if (!serviceClusterIPRange || !podCIDR || !nodes) {
    throw new Error(`cluster "${name}": no preset; give serviceClusterIPRange, podCIDR and nodes`);
  }
  return { serviceClusterIPRange, podCIDR, nodes };
}

/** The address `offset` places after the network address of `cidr` (IPv4, last octet only). */
export function addressInCidr(cidr: string, offset: number): string {
  const [base] = cidr.split('/');
  const octets = base!.split('.').map(Number);
  octets[3] = (octets[3] ?? 0) + offset;
  return octets.join('.');
}
