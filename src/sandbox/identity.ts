// Runs a component as its ServiceAccount, not as admin: the RBAC from manifests/ is applied and
// a token is requested through the TokenRequest API, so least privilege is what gets tested.
import fs from 'node:fs';
import { stringify } from 'yaml';
import type { Cluster } from './cluster.ts';
import { applyObjects, buildManifests, identityObjects } from './manifests.ts';

export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  kubeconfigPath: string;
}

/** Writes a kubeconfig that authenticates as the ServiceAccount, with a TokenRequest token. */
export async function writeTokenKubeconfig(
  cluster: Cluster,
  namespace: string,
  name: string,
  file: string,
): Promise<ServiceAccountIdentity> {
  const token = await cluster.kubectl(['create', 'token', name, '-n', namespace, '--duration=48h']);
  if (token.code !== 0)
    throw new Error(`TokenRequest for ${namespace}/${name} on ${cluster.name} failed: ${token.stderr.trim()}`);
  const user = `system:serviceaccount:${namespace}:${name}`;
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster.name,
        cluster: {
          server: cluster.server,
          'certificate-authority-data': fs.readFileSync(cluster.caCertPath).toString('base64'),
        },
      },
    ],
    users: [{ name: user, user: { token: token.stdout.trim() } }],
    contexts: [{ name: cluster.name, context: { cluster: cluster.name, user, namespace } }],
    'current-context': cluster.name,
  };
  fs.writeFileSync(file, stringify(kubeconfig), { mode: 0o600 });
  return { namespace, name, kubeconfigPath: file };
}

/** Applies the kustomize base's RBAC for `name` (local cluster) and writes its kubeconfig. */
export async function serviceAccountKubeconfig(
  cluster: Cluster,
  opts: { namespace: string; name: string; file: string; manifestsDir?: string },
): Promise<ServiceAccountIdentity> {
  const objects = identityObjects(await buildManifests(cluster, opts.manifestsDir), opts.name);
  if (!objects.some((object) => object.kind === 'ServiceAccount')) {
    throw new Error(`manifests/ defines no ServiceAccount ${opts.namespace}/${opts.name}`);
  }
  await applyObjects(cluster, objects);
  return writeTokenKubeconfig(cluster, opts.namespace, opts.name, opts.file);
}

/** Applies a remote-side RBAC file (manifests/<component>/remote-rbac.yaml) and writes its kubeconfig. */
export async function remoteServiceAccountKubeconfig(
  cluster: Cluster,
  opts: { rbacFile: string; namespace: string; name: string; file: string },
): Promise<ServiceAccountIdentity> {
  const applied = await cluster.kubectl(['apply', '-f', opts.rbacFile]);
  if (applied.code !== 0)
    throw new Error(`kubectl apply -f ${opts.rbacFile} on ${cluster.name} failed: ${applied.stderr.trim()}`);
  return writeTokenKubeconfig(cluster, opts.namespace, opts.name, opts.file);
}
