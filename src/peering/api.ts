// What `peer` and `unpeer` need from a cluster, and no more: the few client calls they make (a
// subset of KubeClient), so that unit tests run them against in-memory clusters.
import type { DeleteOptions, WriteOptions } from '../kube/client.ts';
import { resourcePath } from '../kube/client.ts';
import type { KubeObject } from '../../webhooks/types.ts';

export interface PeeringClient {
  getOrUndefined(path: string): Promise<KubeObject | undefined>;
  listAll(path: string, options?: { labelSelector?: string; fieldSelector?: string }): Promise<{ items: KubeObject[] }>;
  create(path: string, object: KubeObject, options?: WriteOptions): Promise<KubeObject>;
  replace(path: string, object: KubeObject, options?: WriteOptions): Promise<KubeObject>;
  patch(
    path: string,
    patch: unknown,
    type: 'merge' | 'apply',
    options?: WriteOptions & { force?: boolean },
  ): Promise<KubeObject>;
  delete(path: string, options?: DeleteOptions): Promise<unknown>;
}

/** The field manager of every write `peer` and `unpeer` make. */
export const FIELD_MANAGER = 'kube-offload-peer';

interface KindRef {
  apiVersion: string;
  resource: string;
  namespaced: boolean;
}

const core = (resource: string, namespaced: boolean): KindRef => ({ apiVersion: 'v1', resource, namespaced });
const rbac = (resource: string, namespaced: boolean): KindRef => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  resource,
  namespaced,
});
const admission = (resource: string): KindRef => ({
  apiVersion: 'admissionregistration.k8s.io/v1',
  resource,
  namespaced: false,
});

/** The kinds peering reads and writes. */
export const KINDS: Record<string, KindRef> = {
  Namespace: core('namespaces', false),
  ServiceAccount: core('serviceaccounts', true),
  Secret: core('secrets', true),
  ConfigMap: core('configmaps', true),
  Service: core('services', true),
  Pod: core('pods', true),
  Node: core('nodes', false),
  EndpointSlice: { apiVersion: 'discovery.k8s.io/v1', resource: 'endpointslices', namespaced: true },
  ClusterRole: rbac('clusterroles', false),
  ClusterRoleBinding: rbac('clusterrolebindings', false),
  Role: rbac('roles', true),
  RoleBinding: rbac('rolebindings', true),
  ValidatingAdmissionPolicy: admission('validatingadmissionpolicies'),
  ValidatingAdmissionPolicyBinding: admission('validatingadmissionpolicybindings'),
};

function kindRef(kind: string): KindRef {
  const ref = KINDS[kind];
  if (!ref) throw new Error(`kind "${kind}" is not one of ${Object.keys(KINDS).join(', ')}`);
  return ref;
}

/** The collection of `kind`, cluster-wide or in `namespace`. */
export function collectionOf(kind: string, namespace?: string): string {
  const { apiVersion, resource, namespaced } = kindRef(kind);
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return resourcePath({
    group: group ?? '',
    version: version ?? 'v1',
    resource,
    ...(namespaced && namespace ? { namespace } : {}),
  });
}

/** The path of one object. */
export function pathOf(kind: string, name: string, namespace?: string): string {
  return `${collectionOf(kind, namespace)}/${encodeURIComponent(name)}`;
}

/** The path of an object given in full (apiVersion, kind, metadata.name, metadata.namespace). */
export function objectPathOf(object: KubeObject): string {
  const kind = object.kind ?? '';
  const ref = kindRef(kind);
  if (object.apiVersion !== ref.apiVersion) {
    throw new Error(`${kind} ${object.metadata?.name}: apiVersion "${object.apiVersion}" is not ${ref.apiVersion}`);
  }
  const name = object.metadata?.name;
  if (!name) throw new Error(`${kind} without metadata.name`);
  if (ref.namespaced && !object.metadata?.namespace) throw new Error(`${kind} ${name} without metadata.namespace`);
  return pathOf(kind, name, object.metadata?.namespace);
}

/** "kind/name" or "kind namespace/name" (lower-case kind), as kubectl prints it. */
export function describeObject(object: KubeObject): string {
  const { name, namespace } = object.metadata ?? {};
  return `${(object.kind ?? '').toLowerCase()}/${namespace ? `${namespace}/` : ''}${name}`;
}
