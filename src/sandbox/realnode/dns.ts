// Cluster DNS for one cluster with a real node: CoreDNS serving cluster.local from the cluster's
// apiserver, run in the real node's network namespace on the node IP, and the kube-dns Service
// in front of it (the kubelet's clusterDNS), as in any cluster: a selectorless Service whose
// EndpointSlice names the node IP; kube-proxy forwards the Service address there.
import fs from 'node:fs';
import path from 'node:path';
import type { AdminApi } from '../apiserver.ts';
import { COREDNS_USER } from './credentials.ts';
import type { RealNodePlan } from './plan.ts';
import { waitFor, type RealNodeProcesses } from './processes.ts';
import { httpOkInNetns } from './system.ts';

const READY_TIMEOUT_MS = 30_000;
const ROLE_NAME = 'kube-offload:coredns';
const MANAGED_BY = 'kube-offload-sandbox';

function corefile(plan: RealNodePlan, kubeconfig: string): string {
  return `.:53 {
    bind ${plan.nodeIP}
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig} sandbox
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
    loadbalance
}
`;
}

function coreDnsRole(): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: ROLE_NAME },
    rules: [
      { apiGroups: [''], resources: ['services', 'endpoints', 'namespaces', 'pods'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ],
  };
}

function coreDnsBinding(): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: ROLE_NAME },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ROLE_NAME },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: COREDNS_USER }],
  };
}

const DNS_PORTS = [
  { name: 'dns', port: 53, protocol: 'UDP' },
  { name: 'dns-tcp', port: 53, protocol: 'TCP' },
];

function kubeDnsService(plan: RealNodePlan): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
    spec: { clusterIP: plan.dnsServiceIP, ports: DNS_PORTS.map((port) => ({ ...port, targetPort: 53 })) },
  };
}

function kubeDnsEndpoints(plan: RealNodePlan): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `kube-dns-${plan.nodeName}`,
      namespace: 'kube-system',
      labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
    },
    addressType: 'IPv4',
    ports: DNS_PORTS,
    endpoints: [{ addresses: [plan.nodeIP], conditions: { ready: true }, nodeName: plan.nodeName }],
  };
}

async function create(api: AdminApi, apiPath: string, object: Record<string, unknown>): Promise<void> {
  const res = await api('POST', apiPath, object);
  if (res.status !== 201 && res.status !== 409) {
    throw new Error(`creating ${apiPath}: HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  }
}

/** The objects DNS needs in the cluster: CoreDNS's read access, the kube-dns Service and its endpoint. */
export async function createDnsObjects(api: AdminApi, plan: RealNodePlan): Promise<void> {
  await create(api, '/apis/rbac.authorization.k8s.io/v1/clusterroles', coreDnsRole());
  await create(api, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', coreDnsBinding());
  await create(api, '/api/v1/namespaces/kube-system/services', kubeDnsService(plan));
  await create(api, '/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices', kubeDnsEndpoints(plan));
}

export interface CoreDnsSettings {
  plan: RealNodePlan;
  binary: string;
  kubeconfig: string;
}

async function ready(plan: RealNodePlan): Promise<boolean> {
  return httpOkInNetns(plan.netns, 'http://127.0.0.1:8181/ready');
}

/** Starts CoreDNS; resolves once it has synced with the apiserver (/ready). */
export async function startCoreDns(settings: CoreDnsSettings, processes: RealNodeProcesses): Promise<void> {
  const { plan } = settings;
  const file = path.join(plan.dir, 'Corefile');
  fs.writeFileSync(file, corefile(plan, settings.kubeconfig));
  const managed = await processes.launch({
    name: `${plan.cluster}/coredns`,
    argv: [settings.binary, '-conf', file],
    netns: plan.netns,
    logDir: path.join(plan.dir, 'logs'),
  });
  await waitFor(managed, () => ready(plan), 'ready', READY_TIMEOUT_MS);
}
