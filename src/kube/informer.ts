// PLACEHOLDER interface, to be implemented: a list+watch cache for one resource.
import type { KubeConfig } from '@kubernetes/client-node';

export interface InformerOptions {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. "/api/v1/namespaces" or "/api/v1/namespaces/ns/configmaps". */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Name used in logs and metrics. */
  name: string;
}

export type InformerEvent = 'add' | 'update' | 'delete';

export interface Informer<T> {
  /** Lists, then watches; resolves once the first list is in the cache. */
  start(): Promise<void>;
  stop(): void;
  list(): T[];
  /** Key is "namespace/name" or "name" for cluster-scoped objects. */
  get(key: string): T | undefined;
  hasSynced(): boolean;
  /** ok=false when the watch has stalled or keeps failing; reason says why. */
  health(): { ok: boolean; reason?: string };
  on(event: InformerEvent, handler: (object: T, old?: T) => void): void;
}

export declare function createInformer<T>(options: InformerOptions): Informer<T>;
