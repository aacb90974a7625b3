// One remote cluster as the syncer's reconcilers see it: its client, its caches, and our recent
// writes to it (read-your-writes over the caches).
import { twinNamespaceName } from '../common/twin.ts';
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

/** The twin of a local namespace in the remote as far as we know (cache + our recent writes). */
export function observedTwin(
  remote: RemoteCluster,
  namespace: string,
  localCluster: string,
): { name: string; object: KubeObject | undefined } {
  const name = twinNamespaceName(namespace, localCluster);
  return { name, object: remote.mutations.newest(twinKey(name), remote.caches.namespaces.get(name)) };
}
