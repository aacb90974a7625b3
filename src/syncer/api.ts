// What the syncer's shell needs from the outside world, and no more: the few client calls it makes,
// where Events go, how it logs. The real implementations (KubeClient, EventRecorder, pino) are
// wired in connect.ts; unit tests pass fakes.
import type { DeleteOptions, WriteOptions } from '../kube/client.ts';
import { resourcePath, statusCodeOf } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Logger } from '../kube/informer.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { KIND_INFO } from './copy.ts';
import type { Kind } from './copy.ts';
import type { SyncerMetrics } from './metrics.ts';

/** The client calls the syncer makes (a subset of KubeClient): reads for look-ups, and writes. */
export interface SyncerClient {
  getOrUndefined(path: string): Promise<KubeObject | undefined>;
  listAll(collectionPath: string, options: { labelSelector?: string }): Promise<{ items: KubeObject[] }>;
  create(collectionPath: string, object: KubeObject, options: WriteOptions): Promise<KubeObject>;
  replace(path: string, object: KubeObject, options: WriteOptions): Promise<KubeObject>;
  patch(path: string, patch: unknown, type: 'merge', options: WriteOptions): Promise<KubeObject>;
  delete(path: string, options: DeleteOptions): Promise<unknown>;
}

/** Where Events about local objects go (an EventRecorder). */
export type EventSink = Pick<EventRecorder, 'record'>;

export type SyncerLogger = Logger & { error(obj: object, msg?: string): void };

/** The field manager of every write the syncer makes. */
export const FIELD_MANAGER = 'kube-offload-syncer';

/** The collection of `kind`, cluster-wide or in one namespace. */
export function collectionPath(kind: Kind | 'Namespace', namespace?: string): string {
  const { group, version, resource } = KIND_INFO[kind];
  return resourcePath({ group, version, resource, ...(namespace ? { namespace } : {}) });
}

/** The object itself when it names its kind, else a shallow copy that does. */
export function withKind(object: KubeObject, kind: string): KubeObject {
  return object.kind ? object : { ...object, kind };
}

export type WriteVerb = 'create' | 'update' | 'delete' | 'patch';

/**
 * Sends one write and counts it: writes_total{verb,kind,remote}, and on failure
 * write_failures_total{...,code} ("network" when there was no HTTP answer). `remote` is "local"
 * for writes to the local cluster.
 */
export async function countedWrite<T>(
  metrics: Pick<SyncerMetrics, 'writes' | 'writeFailures'>,
  write: { remote: string; verb: WriteVerb; kind: string },
  send: () => Promise<T>,
): Promise<T> {
  const { remote, verb, kind } = write;
  metrics.writes.inc({ verb, kind, remote });
  try {
    return await send();
  } catch (err) {
    metrics.writeFailures.inc({ verb, kind, remote, code: String(statusCodeOf(err) ?? 'network') });
    throw err;
  }
}
