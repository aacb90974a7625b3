// The provider's seams: the narrow API client, caches and Event sink its controllers talk to,
// and their real implementations on KubeClient, informers and the EventRecorder. Unit tests
// substitute fakes for all three (and a fake Clock from src/kube/workqueue.ts).
import type { Registry } from 'prom-client';
import type { DeleteOptions, KubeClient, KubernetesObject, ListOptions } from '../kube/client.ts';
import { isNotFound, resourcePath } from '../kube/client.ts';
import { EventRecorder } from '../kube/events.ts';
import type { EventReason } from '../kube/events.ts';
import { createInformer } from '../kube/informer.ts';
import type { Informer, Logger } from '../kube/informer.ts';
import { metadataOnly, withoutManagedFields } from '../kube/transforms.ts';
import { errorMessage } from '../common/errors.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_ANNOTATION,
  ORIGIN_CLUSTER_LABEL,
  TWIN_NAME_ANNOTATION,
} from '../../webhooks/keys.ts';
import type { Pod } from './types.ts';

/**
 * The API calls the provider makes, on plain JSON objects (timestamps as the strings they are on
 * the wire, unlike client-node's Date-typed models).
 */
export interface ProviderClient {
  /** GET; undefined when the object does not exist (404). */
  get<T>(path: string, options?: { timeoutMs?: number }): Promise<T | undefined>;
  /** The items of one LIST (the provider lists only small collections: nodes). */
  list<T>(collectionPath: string, options?: ListOptions): Promise<T[]>;
  create<T>(collectionPath: string, object: T): Promise<T>;
  replace<T>(path: string, object: T): Promise<T>;
  mergePatch(path: string, patch: object): Promise<void>;
  delete(path: string, options: DeleteOptions): Promise<void>;
}

/** The read side of an informer, as the provider uses it. */
export type Cache<T> = Pick<Informer<T>, 'start' | 'stop' | 'list' | 'get' | 'hasSynced' | 'health' | 'on'>;

/** The caches of one provider. */
export interface ProviderCaches {
  /** Local Namespaces (metadata): their kube-offload.io/twin-name names the pods' twin namespaces. */
  localNamespaces: Cache<KubeObject>;
  /** Our twin namespaces in the remote (metadata): a pod goes only into a twin that is ours. */
  remoteNamespaces: Cache<KubeObject>;
  /** Local pods bound to the virtual node. */
  localPods: Cache<Pod>;
  /** Remote pods this local cluster made. */
  remotePods: Cache<Pod>;
  /** The syncer's copies in twin namespaces: only whether one exists is asked. */
  remoteConfigMaps: Cache<KubeObject>;
  remoteSecrets: Cache<KubeObject>;
}

export type ProviderReason = 'Offloaded' | 'OffloadFailed' | 'MissingReferences' | 'RemotePodLost';

/** Events on local pods. */
export interface PodEvents {
  record(pod: Pod, type: 'Normal' | 'Warning', reason: ProviderReason, message: string): void;
  stop(): void;
}

export const podsPath = (namespace: string, name?: string, subresource?: string): string =>
  resourcePath({
    version: 'v1',
    resource: 'pods',
    namespace,
    ...(name ? { name } : {}),
    ...(subresource ? { subresource } : {}),
  });

/** "namespace/name" -> [namespace, name]. */
export function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** Our object types and client-node's KubernetesObject differ only in timestamp types. */
const asKube = <T>(object: T): KubernetesObject => object as unknown as KubernetesObject;

/** The ProviderClient of a KubeClient. */
export function providerClient(kube: KubeClient): ProviderClient {
  return {
    async get<T>(path: string, options: { timeoutMs?: number } = {}): Promise<T | undefined> {
      try {
        return await kube.request<T>('GET', path, options);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async list<T>(collectionPath: string, options: ListOptions = {}): Promise<T[]> {
      return ((await kube.list(collectionPath, options)).items ?? []) as unknown as T[];
    },
    async create<T>(collectionPath: string, object: T): Promise<T> {
      return (await kube.create(collectionPath, asKube(object))) as unknown as T;
    },
    async replace<T>(path: string, object: T): Promise<T> {
      return (await kube.replace(path, asKube(object))) as unknown as T;
    },
    async mergePatch(path: string, patch: object): Promise<void> {
      await kube.patch(path, patch, 'merge');
    },
    async delete(path: string, options: DeleteOptions): Promise<void> {
      await kube.delete(path, options);
    },
  };
}

export interface CacheOptions {
  local: KubeClient;
  remote: KubeClient;
  localCluster: string;
  remoteCluster: string;
  nodeName: string;
  logger: Logger;
  registry?: Registry;
}

/** The annotations of Namespaces the provider reads: the twin naming (local), the origin (remote). */
const NAMESPACE_ANNOTATIONS = [TWIN_NAME_ANNOTATION, ORIGIN_ANNOTATION];

/** A Namespace as the provider keeps it: metadataOnly, plus the annotations it reads. */
function namespaceMetadata(namespace: KubeObject): KubeObject {
  const slim = metadataOnly(namespace);
  const annotations = namespace.metadata?.annotations ?? {};
  const kept = Object.fromEntries(
    NAMESPACE_ANNOTATIONS.filter((k) => k in annotations).map((k) => [k, annotations[k]]),
  );
  if (Object.keys(kept).length > 0 && slim.metadata) slim.metadata.annotations = kept as Record<string, string>;
  return slim;
}

/** The informers behind ProviderCaches, sharing the clients' connection pools. */
export function createProviderCaches(options: CacheOptions): ProviderCaches {
  const { local, remote, remoteCluster } = options;
  const ours = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${ORIGIN_CLUSTER_LABEL}=${options.localCluster}`;
  const common = { logger: options.logger, ...(options.registry ? { registry: options.registry } : {}) };
  const withClient = (client: KubeClient) => ({ client, kubeConfig: client.kubeConfig });
  const pods = { ...common, transform: withoutManagedFields<Pod>, path: '/api/v1/pods' };
  // Only "does the copy exist?" is asked of these: keep metadata, never the payloads (the
  // syncer's copies of every replicated Secret and ConfigMap would otherwise fill the heap).
  const copies = { ...common, ...withClient(remote), transform: metadataOnly<KubeObject>, labelSelector: ours };
  const namespaces = { ...common, transform: namespaceMetadata, path: '/api/v1/namespaces' };
  return {
    localNamespaces: createInformer<KubeObject>({
      ...namespaces,
      ...withClient(local),
      name: `vn-local-namespaces-${remoteCluster}`,
    }),
    remoteNamespaces: createInformer<KubeObject>({
      ...namespaces,
      ...withClient(remote),
      labelSelector: ours,
      name: `vn-remote-namespaces-${remoteCluster}`,
    }),
    localPods: createInformer<Pod>({
      ...pods,
      ...withClient(local),
      fieldSelector: `spec.nodeName=${options.nodeName}`,
      name: `vn-local-pods-${remoteCluster}`,
    }),
    remotePods: createInformer<Pod>({
      ...pods,
      ...withClient(remote),
      labelSelector: ours,
      name: `vn-remote-pods-${remoteCluster}`,
    }),
    remoteConfigMaps: createInformer<KubeObject>({
      ...copies,
      path: '/api/v1/configmaps',
      name: `vn-remote-configmaps-${remoteCluster}`,
    }),
    remoteSecrets: createInformer<KubeObject>({
      ...copies,
      path: '/api/v1/secrets',
      name: `vn-remote-secrets-${remoteCluster}`,
    }),
  };
}

/** PodEvents on an EventRecorder (its own rate limit and dedupe) writing with `client`. */
export function recordPodEvents(client: KubeClient, logger: Logger): PodEvents {
  const recorder = new EventRecorder({
    client,
    component: 'kube-offload-virtual-node',
    onError: (err) => logger.debug({ err: errorMessage(err) }, 'event not recorded'),
  });
  return {
    record(pod, type, reason, message) {
      // The recorder types the syncer's reasons; ours are plain Event reasons too.
      const object = { apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata ?? {} };
      recorder.record(asKube(object), type, reason as unknown as EventReason, message);
    },
    stop: () => recorder.stop(),
  };
}
