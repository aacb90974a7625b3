// One remote cluster as the syncer's reconcilers see it: its client, its caches, and our recent
// writes to it (read-your-writes over the caches).
import { twinNamespaceOf } from '../common/twin.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import type { SyncerClient } from './api.ts';
import type { RemoteCaches } from './caches.ts';
import type { Kind } from './copy.ts';
import type { MutationCache } from './mutation-cache.ts';

export interface RemoteCluster {
  name: string;
  /** Labels given with --remote-labels. */
  flagLabels: Record<string, string>;
  client: SyncerClient;
  caches: RemoteCaches;
  mutations: MutationCache;
  /** True once its caches have synced, until it is removed: only then does it take keys. */
  synced: boolean;
}

/** The key of a copy in the mutation cache and among conflicts: `Kind/twin/name`. */
export const copyKey = (kind: Kind, twin: string, name: string): string => `${kind}/${twin}/${name}`;

/** The key of a twin namespace in the mutation cache and among conflicts: `Namespace/twin`. */
export const twinKey = (twin: string): string => `Namespace/${twin}`;

/** Our copy in the remote as far as we know (cache + our recent writes). */
export function observedCopy(remote: RemoteCluster, kind: Kind, twin: string, name: string): KubeObject | undefined {
  return remote.mutations.newest(copyKey(kind, twin, name), remote.caches.copies[kind].get(`${twin}/${name}`));
}

/** What the remote has under a namespace name as far as we know (cache + our recent writes). */
export function observedNamespace(remote: RemoteCluster, name: string): KubeObject | undefined {
  return remote.mutations.newest(twinKey(name), remote.caches.namespaces.get(name));
}

/**
 * The twin of local namespace `namespace` (its object `local`, undefined once gone) in the remote
 * as far as we know: its name (twinNamespaceOf) and what the remote has under it.
 */
export function observedTwin(
  remote: RemoteCluster,
  namespace: string,
  local: KubeObject | undefined,
  localCluster: string,
): { name: string; object: KubeObject | undefined } {
  const name = twinNamespaceOf(namespace, local, localCluster);
  return { name, object: observedNamespace(remote, name) };
}
