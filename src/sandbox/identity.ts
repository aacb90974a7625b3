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

/** Applies the manifests' RBAC for `name` and writes a kubeconfig that authenticates as it. */
export async function serviceAccountKubeconfig(
  cluster: Cluster,
  opts: { namespace: string; name: string; file: string; manifestsDir?: string },
): Promise<ServiceAccountIdentity> {
  const objects = identityObjects(await buildManifests(cluster, opts.manifestsDir), opts.name);
  if (!objects.some((object) => object.kind === 'ServiceAccount')) {
    throw new Error(`manifests/ defines no ServiceAccount ${opts.namespace}/${opts.name}`);
  }
  await applyObjects(cluster, objects);
  const token = await cluster.kubectl(['create', 'token', opts.name, '-n', opts.namespace, '--duration=48h']);
  if (token.code !== 0) throw new Error(`TokenRequest for ${opts.namespace}/${opts.name} failed: ${token.stderr.trim()}`);
  const user = `system:serviceaccount:${opts.namespace}:${opts.name}`;
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster.name, cluster: { server: cluster.server, 'certificate-authority-data': Buffer.from(fs.readFileSync(cluster.caCertPath)).toString('base64') } }],
    users: [{ name: user, user: { token: token.stdout.trim() } }],
    contexts: [{ name: cluster.name, context: { cluster: cluster.name, user, namespace: opts.namespace } }],
    'current-context': cluster.name,
  };
  fs.writeFileSync(opts.file, stringify(kubeconfig), { mode: 0o600 });
  return { namespace: opts.namespace, name: opts.name, kubeconfigPath: opts.file };
}
