// Reads the kustomize base in manifests/ (built by the sandbox's own kubectl) so the sandbox and
// the e2e tests run kube-offload with exactly the RBAC and webhook configurations users install.
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Cluster } from './cluster.ts';
import { repoRoot } from './binaries.ts';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** `kubectl kustomize manifests/`, parsed into objects. */
export async function buildManifests(cluster: Cluster, dir = path.join(repoRoot(), 'manifests')): Promise<Manifest[]> {
  const result = await cluster.kubectl(['kustomize', dir]);
  if (result.code !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr.trim()}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((object): object is Manifest => Boolean(object?.kind));
}

const RBAC_KINDS = new Set(['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

/** The Namespace, ServiceAccounts and RBAC objects bound to one ServiceAccount's name. */
export function identityObjects(manifests: Manifest[], serviceAccount: string): Manifest[] {
  return manifests.filter((object) => {
    if (object.kind === 'Namespace') return true;
    if (!RBAC_KINDS.has(object.kind)) return false;
    if (object.kind === 'ServiceAccount' || object.kind.endsWith('Role')) return object.metadata.name === serviceAccount;
    const subjects = (object.subjects as Array<{ kind: string; name: string }> | undefined) ?? [];
    return subjects.some((subject) => subject.kind === 'ServiceAccount' && subject.name === serviceAccount);
  });
}

export async function applyObjects(cluster: Cluster, objects: Manifest[]): Promise<void> {
  const input = objects.map((object) => JSON.stringify(object)).join('\n');
  const result = await cluster.kubectl(['apply', '-f', '-'], { input });
  if (result.code !== 0) throw new Error(`kubectl apply failed on ${cluster.name}: ${result.stderr.trim()}`);
}
