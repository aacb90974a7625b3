// The local side of peering: the peer Secrets in kube-offload-system (or the namespace -n names),
// and this cluster's name
// (twin namespaces in the remotes are `<namespace>-<it>`, so peer, unpeer and the components must
// agree on it).
import {
  PEER_ANNOTATIONS,
  PEER_NAMESPACE,
  peerSecretSelector,
  readPeerSecret,
  validPeerName,
} from '../common/peer-secret.ts';
import type { PeerEntry } from '../common/peer-secret.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { FIELD_MANAGER, collectionOf, pathOf } from './api.ts';
import type { PeeringClient } from './api.ts';
import { contains } from './apply.ts';

/** The ConfigMap the manifests install with the cluster's name (key cluster-name). */
export const CONFIG_MAP = 'kube-offload-config';

export interface PeerSecret {
  object: KubeObject;
  entry: PeerEntry | { secret: string; error: string };
}

/** The peer Secrets in the local cluster's `namespace` (of one remote, if given), sorted by name. */
export async function listPeerSecrets(
  local: PeeringClient,
  remote?: string,
  namespace = PEER_NAMESPACE,
): Promise<PeerSecret[]> {
  const selector = peerSecretSelector();
  const { items } = await local.listAll(collectionOf('Secret', namespace), { labelSelector: selector });
  const secrets = items.map((object) => ({ object, entry: readPeerSecret(object) }));
  const ofRemote = secrets.filter(({ entry }) => !remote || ('remote' in entry && entry.remote === remote));
  return ofRemote.sort((a, b) => a.entry.secret.localeCompare(b.entry.secret));
}

/** The remotes the peer Secrets name, sorted. */
export function peeredRemotes(secrets: PeerSecret[]): string[] {
  const names = secrets.flatMap(({ entry }) => ('remote' in entry ? [entry.remote] : []));
  return [...new Set(names)].sort();
}

function checkedName(name: string, source: string): string {
  if (!validPeerName(name)) throw new Error(`${source}: "${name}" is not a DNS-1123 label`);
  return name;
}

/**
 * This cluster's name: --cluster-name, else what the peer Secrets say (an earlier `peer`), else
 * the cluster-name of <namespace>/kube-offload-config (what the components run with).
 */
export async function resolveLocalCluster(
  local: PeeringClient,
  flag: string | undefined,
  secrets: PeerSecret[],
  namespace = PEER_NAMESPACE,
): Promise<string> {
  if (flag) return checkedName(flag, '--cluster-name');
  for (const { object } of secrets) {
    const named = object.metadata?.annotations?.[PEER_ANNOTATIONS.localCluster];
    if (named)
      return checkedName(named, `annotation ${PEER_ANNOTATIONS.localCluster} of secret ${object.metadata?.name}`);
  }
  const config = await local.getOrUndefined(pathOf('ConfigMap', CONFIG_MAP, namespace));
  const named = (config?.data as Record<string, string> | undefined)?.['cluster-name'];
  if (named) return checkedName(named, `${namespace}/${CONFIG_MAP} cluster-name`);
  throw new Error(
    `--cluster-name is required: no peer Secret names this cluster and ` +
      `${namespace}/${CONFIG_MAP} has no cluster-name`,
  );
}

/** Creates the peer Secrets' namespace in the local cluster when it is not there yet; true if it did. */
export async function ensurePeerNamespace(local: PeeringClient, name = PEER_NAMESPACE): Promise<boolean> {
  if (await local.getOrUndefined(pathOf('Namespace', name))) return false;
  const namespace: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'app.kubernetes.io/part-of': 'kube-offload' } },
  };
  await local.create(collectionOf('Namespace'), namespace, { fieldManager: FIELD_MANAGER });
  return true;
}

export type StoreAction = 'created' | 'updated' | 'unchanged';

/** Writes a peer Secret (in its metadata.namespace): created, replaced (optimistically, on the version we read), or left alone. */
export async function storePeerSecret(
  local: PeeringClient,
  desired: KubeObject,
  existing?: KubeObject,
): Promise<StoreAction> {
  const name = String(desired.metadata?.name);
  const namespace = String(desired.metadata?.namespace ?? PEER_NAMESPACE);
  if (!existing) {
    await local.create(collectionOf('Secret', namespace), desired, { fieldManager: FIELD_MANAGER });
    return 'created';
  }
  const sameData = JSON.stringify(existing.data ?? {}) === JSON.stringify(desired.data ?? {});
  if (sameData && contains(existing, desired)) return 'unchanged';
  const body = { ...desired, metadata: { ...desired.metadata, resourceVersion: existing.metadata?.resourceVersion } };
  await local.replace(pathOf('Secret', name, namespace), body, { fieldManager: FIELD_MANAGER });
  return 'updated';
}
