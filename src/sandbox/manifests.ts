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

/** The Namespace, the ServiceAccount, its bindings and the roles they refer to. */
export function identityObjects(manifests: Manifest[], serviceAccount: string): Manifest[] {
  const bindings = manifests.filter((object) => {
    if (object.kind !== 'RoleBinding' && object.kind !== 'ClusterRoleBinding') return false;
    const subjects = (object.subjects as Array<{ kind: string; name: string }> | undefined) ?? [];
    return subjects.some((subject) => subject.kind === 'ServiceAccount' && subject.name === serviceAccount);
  });
  const roles = new Set(
    bindings.map(
      (binding) => `${(binding.roleRef as { kind: string }).kind}/${(binding.roleRef as { name: string }).name}`,
    ),
  );
  return manifests.filter(
    (object) =>
      object.kind === 'Namespace' ||
      (object.kind === 'ServiceAccount' && object.metadata.name === serviceAccount) ||
      bindings.includes(object) ||
      roles.has(`${object.kind}/${object.metadata.name}`),
  );
}

export async function applyObjects(cluster: Cluster, objects: Manifest[]): Promise<void> {
  const input = objects.map((object) => JSON.stringify(object)).join('\n');
  const result = await cluster.kubectl(['apply', '-f', '-'], { input });
  if (result.code !== 0) throw new Error(`kubectl apply failed on ${cluster.name}: ${result.stderr.trim()}`);
}
