// The twin namespace: the namespace in a remote cluster that mirrors a local opted-in one. Its name
// follows the local namespace's kube-offload.io/twin-name annotation:
// - ClusterSuffix (default): `<namespace>-<local cluster name>`, a DNS-1123 label of at most 63
//   characters; a longer name is cut and gets a short hash of the full name, so distinct long
//   names stay distinct. Twins of several local clusters, and the remote's own namespaces, never
//   collide with it.
// - SameName: `<namespace>` itself, so names that carry the namespace (`svc.shop`,
//   `svc.shop.svc.cluster.local`) resolve in the remote as they do at home; the remote may already
//   have a namespace of that name, which is then a conflict (see twinOwnedFor).
// The syncer and the virtual node provider both compute it here, from the same namespace object.
import { createHash } from 'node:crypto';
import { TWIN_NAME_ANNOTATION } from '../../webhooks/keys.ts';
import type { TwinNaming } from '../../webhooks/keys.ts';
import { twinNamingOf } from '../../webhooks/twin-naming.ts';

const MAX_LABEL = 63;
const HASH_LENGTH = 8;

/** The ClusterSuffix twin name: `<namespace>-<local cluster>`, cut and hashed past 63 characters. */
export function twinNamespaceName(namespace: string, localCluster: string): string {
  const full = `${namespace}-${localCluster}`;
  if (full.length <= MAX_LABEL) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, HASH_LENGTH);
  // Cut so that "<prefix>-<hash>" fits, and never leave a trailing '-' before the separator.
  const prefix = full.slice(0, MAX_LABEL - HASH_LENGTH - 1).replace(/-+$/, '');
  return `${prefix}-${hash}`;
}

/** The part of a local Namespace the twin name depends on. */
export interface NamespaceMeta {
  metadata?: { annotations?: Record<string, string> | undefined } | undefined;
}

/** The naming a namespace asks for (a value the webhook would reject counts as the default). */
export function twinNaming(namespace: NamespaceMeta | undefined): TwinNaming {
  return twinNamingOf(namespace?.metadata?.annotations?.[TWIN_NAME_ANNOTATION]);
}

/**
 * The twin of local namespace `namespace` (whose object is `object`, undefined once it is gone:
 * then the default naming) in the remotes of local cluster `localCluster`.
 */
export function twinNamespaceOf(namespace: string, object: NamespaceMeta | undefined, localCluster: string): string {
  return twinNaming(object) === 'SameName' ? namespace : twinNamespaceName(namespace, localCluster);
}

/** Every name the twin of `namespace` can have, whatever its naming (a stale twin is at the other). */
export function possibleTwinNames(namespace: string, localCluster: string): string[] {
  const suffixed = twinNamespaceName(namespace, localCluster);
  return suffixed === namespace ? [namespace] : [suffixed, namespace];
}
