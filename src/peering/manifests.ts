// The remote identities: what each remote cluster needs (the ServiceAccounts the local syncer and
// virtual node provider use there, their least-privilege RBAC, the provider's admission policy),
// read from manifests/remote (a kustomization of plain files) or, where that does not exist, from
// manifests/syncer/remote-rbac.yaml and manifests/virtual-node/remote-rbac.yaml.
import fs from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { PEER_COMPONENTS } from '../common/peer-secret.ts';
import type { PeerComponent } from '../common/peer-secret.ts';
import type { KubeObject } from '../../webhooks/types.ts';

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

export interface RemoteManifests {
  /** Where they were read from (for messages). */
  source: string;
  /** In the order they are applied: Namespaces first, bindings after what they bind. */
  objects: KubeObject[];
  /** The ServiceAccount of each component. */
  accounts: Record<PeerComponent, ServiceAccountRef>;
}

const APPLY_ORDER = [
  'Namespace',
  'ServiceAccount',
  'ClusterRole',
  'Role',
  'ClusterRoleBinding',
  'RoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
];

const FALLBACK_FILES = ['syncer/remote-rbac.yaml', 'virtual-node/remote-rbac.yaml'];

/** The repository's manifests/ directory, found upwards from this file; undefined in an image. */
export function defaultManifestsRoot(from = import.meta.dirname): string | undefined {
  for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'manifests');
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The plain files a kustomization directory lists under resources. */
function kustomizationFiles(dir: string): string[] {
  const file = path.join(dir, 'kustomization.yaml');
  const doc = (parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  const unsupported = Object.keys(doc).filter((key) => !['apiVersion', 'kind', 'resources'].includes(key));
  if (unsupported.length > 0) {
    throw new Error(`${file}: ${unsupported.join(', ')} not supported here (only plain files under resources)`);
  }
  const resources = (doc.resources ?? []) as unknown[];
  return resources.map((resource) => {
    const target = path.join(dir, String(resource));
    if (typeof resource !== 'string' || !fs.existsSync(target) || !fs.statSync(target).isFile()) {
      throw new Error(`${file}: resources entry "${String(resource)}" is not a file in ${dir}`);
    }
    return target;
  });
}

/**
 * Which files hold the remote identities: `<root>/remote/kustomization.yaml`'s, else the two
 * remote-rbac.yaml under `root`, else `<root>/kustomization.yaml`'s (root is such a directory).
 */
export function remoteManifestFiles(root: string): { source: string; files: string[] } {
  const remote = path.join(root, 'remote');
  if (fs.existsSync(path.join(remote, 'kustomization.yaml')))
    return { source: remote, files: kustomizationFiles(remote) };
  const fallback = FALLBACK_FILES.map((file) => path.join(root, file));
  if (fallback.every((file) => fs.existsSync(file))) return { source: fallback.join(', '), files: fallback };
  if (fs.existsSync(path.join(root, 'kustomization.yaml'))) return { source: root, files: kustomizationFiles(root) };
  const expected = `remote/kustomization.yaml, ${FALLBACK_FILES.join(' and ')}, or kustomization.yaml`;
  throw new Error(`--manifests: "${root}" has none of ${expected}`);
}

const identity = (object: KubeObject): string =>
  `${object.kind}/${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

/** Every object of the files, once each, in apply order. */
function objectsOf(files: string[]): KubeObject[] {
  const seen = new Map<string, KubeObject>();
  for (const file of files) {
    for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
      const object = doc.toJS() as KubeObject | null;
      if (!object?.kind) continue;
      if (!APPLY_ORDER.includes(object.kind)) {
        throw new Error(`${file}: kind ${object.kind} is not one of ${APPLY_ORDER.join(', ')}`);
      }
      if (!seen.has(identity(object))) seen.set(identity(object), object);
    }
  }
  const rank = (object: KubeObject): number => APPLY_ORDER.indexOf(object.kind ?? '');
  return [...seen.values()].sort((a, b) => rank(a) - rank(b));
}

/** The ServiceAccount of each component: labelled app.kubernetes.io/name=kube-offload-<component>. */
function accountsOf(objects: KubeObject[], source: string): Record<PeerComponent, ServiceAccountRef> {
  const accounts = {} as Record<PeerComponent, ServiceAccountRef>;
  for (const component of PEER_COMPONENTS) {
    const label = `kube-offload-${component}`;
    const account = objects.find(
      (object) => object.kind === 'ServiceAccount' && object.metadata?.labels?.['app.kubernetes.io/name'] === label,
    );
    if (!account?.metadata?.name || !account.metadata.namespace) {
      throw new Error(`${source}: no ServiceAccount labelled app.kubernetes.io/name=${label}`);
    }
    accounts[component] = { namespace: account.metadata.namespace, name: account.metadata.name };
  }
  return accounts;
}

/** Reads the remote identities under `root`. */
export function readRemoteManifests(root: string): RemoteManifests {
  const { source, files } = remoteManifestFiles(root);
  const objects = objectsOf(files);
  return { source, objects, accounts: accountsOf(objects, source) };
}
