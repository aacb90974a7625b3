// What a cluster needs before its kubelet API can be used: the apiserver's kubelet client
// (pki.ts) may call kubelets, through a binding to the built-in system:kubelet-api-admin (as on
// managed clusters), and the PortForward CRD kwok reads per-pod forwards from is established.
import { poll } from '../common/async.ts';
import type { AdminApi } from './apiserver.ts';
import { portForwardCrd } from './kwok-kubelet-api.ts';
import { KUBELET_CLIENT_USER } from './pki.ts';

const CRD_TIMEOUT_MS = 30_000;

function kubeletClientBinding(): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'sandbox:kube-apiserver-kubelet-client' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kubelet-api-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBELET_CLIENT_USER }],
  };
}

async function create(api: AdminApi, clusterName: string, apiPath: string, object: Record<string, unknown>) {
  const res = await api('POST', apiPath, object);
  if (res.status !== 201 && res.status !== 409) {
    throw new Error(`${clusterName}: creating ${apiPath}: HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  }
}

async function crdEstablished(api: AdminApi, name: string): Promise<boolean> {
  const res = await api('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
  const conditions = (res.body?.status?.conditions ?? []) as { type: string; status: string }[];
  return conditions.some((condition) => condition.type === 'Established' && condition.status === 'True');
}

export async function prepareKubeletAccess(api: AdminApi, clusterName: string): Promise<void> {
  const crd = portForwardCrd();
  const crdName = (crd.metadata as { name: string }).name;
  await Promise.all([
    create(api, clusterName, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', kubeletClientBinding()),
    create(api, clusterName, '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd),
  ]);
  await poll(() => crdEstablished(api, crdName), {
    timeoutMs: CRD_TIMEOUT_MS,
    intervalMs: 100,
    description: `${clusterName}: CRD ${crdName} established`,
  });
}
