// The informer caches the syncer reads, what each one selects, and their names (in logs, metrics,
// /healthz). The caches are built through a factory so the shell can run on real informers
// (connect.ts) or on fakes (unit tests) alike.
import type { Informer } from '../kube/informer.ts';
import {
  ENABLED_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_CLUSTER_LABEL,
  REPLICATE_KEY,
  VIRTUAL_NODE_LABEL,
  VIRTUAL_NODE_LABEL_VALUE,
} from '../../webhooks/keys.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { collectionPath } from './api.ts';
import {
  ENDPOINTSLICE_MANAGED_BY_LABEL,
  ENDPOINTSLICE_MANAGED_BY_VALUE,
  KIND_INFO,
  KINDS,
  SERVICE_NAME_LABEL,
  STAMPED_KINDS,
} from './copy.ts';
import type { Kind, StampedKind } from './copy.ts';

/** The part of an informer the syncer uses. */
export type Cache = Pick<Informer<KubeObject>, 'start' | 'stop' | 'list' | 'get' | 'hasSynced' | 'health' | 'on'>;

/** What one cache lists and watches. `remote` caches keep slimmer objects (slim.ts). */
export interface CacheSpec {
  name: string;
  path: string;
  labelSelector?: string;
  remote: boolean;
}

export type CacheFactory = (spec: CacheSpec) => Cache;

export interface NamedCache {
  name: string;
  cache: Cache;
}

export interface LocalCaches {
  /** Opted-in namespaces. */
  namespaces: Cache;
  /** Stamped Services, Secrets and ConfigMaps. */
  objects: Record<StampedKind, Cache>;
  /** EndpointSlices that belong to a Service. */
  slices: Cache;
  /** Virtual nodes: their labels are the labels of their remote. */
  virtualNodes: Cache;
  /** Every cache above, named. */
  all: NamedCache[];
}

export interface RemoteCaches {
  /** Our copies in every namespace of the remote, by kind. */
  copies: Record<Kind, Cache>;
  /** Every namespace of the remote (twins and foreign ones with a twin's name). */
  namespaces: Cache;
  all: NamedCache[];
}

/** Builds the local caches. */
export function localCaches(make: CacheFactory): LocalCaches {
  const all: NamedCache[] = [];
  const cache = (resource: string, path: string, labelSelector?: string): Cache => {
    const built = make({ name: `local/${resource}`, path, ...(labelSelector ? { labelSelector } : {}), remote: false });
    all.push({ name: `local/${resource}`, cache: built });
    return built;
  };
  const stamped = `${REPLICATE_KEY}=true`;
  const namespaces = cache('namespaces', collectionPath('Namespace'), `${ENABLED_LABEL}=true`);
  const objects = {} as Record<StampedKind, Cache>;
  for (const kind of STAMPED_KINDS) objects[kind] = cache(KIND_INFO[kind].resource, collectionPath(kind), stamped);
  const slices = cache('endpointslices', collectionPath('EndpointSlice'), SERVICE_NAME_LABEL);
  const virtualNodes = cache('virtual-nodes', '/api/v1/nodes', `${VIRTUAL_NODE_LABEL}=${VIRTUAL_NODE_LABEL_VALUE}`);
  return { namespaces, objects, slices, virtualNodes, all };
}

/** The selector of our copies from this local cluster. */
export function copySelector(localCluster: string, kind: Kind): string {
  const ours = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${ORIGIN_CLUSTER_LABEL}=${localCluster}`;
  // Slices: only ours, not those the remote endpointslice controller makes for a Service copy
  // (they inherit the copy's labels, ours included); see isOwnedByUs.
  if (kind === 'EndpointSlice') return `${ours},${ENDPOINTSLICE_MANAGED_BY_LABEL}=${ENDPOINTSLICE_MANAGED_BY_VALUE}`;
  return ours;
}

/** Builds the caches of one remote. */
export function remoteCaches(remote: string, localCluster: string, make: CacheFactory): RemoteCaches {
  const all: NamedCache[] = [];
  const cache = (resource: string, path: string, labelSelector?: string): Cache => {
    const name = `${remote}/${resource}`;
    const built = make({ name, path, ...(labelSelector ? { labelSelector } : {}), remote: true });
    all.push({ name, cache: built });
    return built;
  };
  const copies = {} as Record<Kind, Cache>;
  for (const kind of KINDS) {
    copies[kind] = cache(KIND_INFO[kind].resource, collectionPath(kind), copySelector(localCluster, kind));
  }
  const namespaces = cache('namespaces', collectionPath('Namespace'));
  return { copies, namespaces, all };
}
