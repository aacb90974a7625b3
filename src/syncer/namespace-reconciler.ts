// Twin namespaces: for each opted-in local namespace and each remote its selector picks, the
// remote has `<namespace>-<local cluster>` with our ownership marks; a twin of a namespace that
// opted out, was deleted or is no longer selected is deleted (copies included). A foreign
// namespace with the twin's name is reported and never adopted.
import { isAlreadyExists, isInvalid, isNotFound, objectPath } from '../kube/client.ts';
import { TerminalError } from '../kube/workqueue.ts';
import { errorMessage } from '../common/errors.ts';
import { desiredTwinNamespace } from '../common/ownership.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { FIELD_MANAGER, collectionPath, countedWrite, withKind } from './api.ts';
import type { EventSink, SyncerLogger } from './api.ts';
import type { Cache } from './caches.ts';
import type { ConflictTracker } from './conflicts.ts';
import { isOwnedByUs } from './copy.ts';
import type { SyncerMetrics } from './metrics.ts';
import { planNamespace } from './plan.ts';
import { observedTwin, twinKey } from './remote.ts';
import type { RemoteCluster } from './remote.ts';
import { done, requeueAfter } from './result.ts';
import type { SyncResult } from './result.ts';
import { slimRemote } from './slim.ts';
import type { RemoteSelector } from './selection.ts';

/** How often a terminating twin is looked at again (it is recreated once gone). */
export const TERMINATING_TWIN_RECHECK_MS = 5_000;

export interface NamespaceReconcilerOptions {
  localCluster: string;
  localNamespaces: Cache;
  selector: RemoteSelector;
  conflicts: ConflictTracker;
  events: EventSink;
  metrics: SyncerMetrics;
  logger: SyncerLogger;
  /** Called after a twin was created: the namespace's objects can be copied now. */
  onTwinCreated: (remote: RemoteCluster, namespace: string) => void;
}

/** One twin being reconciled. */
interface TwinTarget {
  remote: RemoteCluster;
  /** The local namespace. */
  namespace: string;
  twin: string;
  local: KubeObject | undefined;
}

const NAMESPACES = collectionPath('Namespace');

export class NamespaceReconciler {
  readonly #options: NamespaceReconcilerOptions;

  constructor(options: NamespaceReconcilerOptions) {
    this.#options = options;
  }

  async reconcile(remote: RemoteCluster, namespace: string): Promise<SyncResult> {
    const { localCluster, localNamespaces, selector } = this.#options;
    const localNamespace = localNamespaces.get(namespace);
    const local = localNamespace && withKind(localNamespace, 'Namespace');
    const twin = observedTwin(remote, namespace, localCluster);
    const selection = selector.select(namespace);
    if (selection.error) {
      // Keep the status quo (no twin created or deleted) until the selector parses again.
      const message = `${selection.error}; twins left as they are`;
      if (local) this.#options.events.record(local, 'Warning', 'ReplicationFailed', message);
      return done('invalid-selector');
    }
    const target: TwinTarget = { remote, namespace, twin: twin.name, local };
    const selected = local && selection.remotes.includes(remote.name);
    const desired = selected ? desiredTwinNamespace(local, { localCluster, twinNamespace: twin.name }) : undefined;
    const action = planNamespace(desired, twin.object, localCluster);
    switch (action.type) {
      case 'none':
        if (desired) this.#options.conflicts.clear(remote.name, twinKey(twin.name));
        return done();
      case 'wait':
        return requeueAfter(TERMINATING_TWIN_RECHECK_MS);
      case 'conflict': {
        const message = `twin namespace ${twin.name} in remote ${remote.name}: ${action.reason}`;
        this.#reportConflict(target, twin.object?.metadata?.uid ?? '', message);
        return done('conflict');
      }
      case 'create':
        return this.#create(target, action.object);
      case 'update':
        return this.#update(target, action.object);
      case 'delete':
        return this.#delete(target, action.uid);
    }
  }

  async #create(target: TwinTarget, object: KubeObject): Promise<SyncResult> {
    const { remote, namespace, twin } = target;
    try {
      const created = await this.#write(remote, 'create', () =>
        remote.client.create(NAMESPACES, object, { fieldManager: FIELD_MANAGER }),
      );
      remote.mutations.recordWrite(twinKey(twin), slimRemote(created));
      this.#options.logger.info({ remote: remote.name, namespace, twin }, 'twin namespace created');
    } catch (err) {
      if (isInvalid(err)) throw this.#rejected(target, err);
      if (!isAlreadyExists(err)) throw err;
      const live = await remote.client.getOrUndefined(objectPath(NAMESPACES, twin));
      if (!live || isOwnedByUs(live, this.#options.localCluster)) throw err; // ours but not in the cache yet: retry
      const where = `twin namespace ${twin} in remote ${remote.name}`;
      const message = `${where} already exists and is not managed by kube-offload; not adopted`;
      this.#reportConflict(target, live.metadata?.uid ?? '', message);
      return done('conflict');
    }
    this.#options.onTwinCreated(remote, namespace);
    return done();
  }

  async #update(target: TwinTarget, object: KubeObject): Promise<SyncResult> {
    const { remote, twin } = target;
    const updated = await this.#write(remote, 'update', () =>
      remote.client.replace(objectPath(NAMESPACES, twin), object, { fieldManager: FIELD_MANAGER }),
    );
    remote.mutations.recordWrite(twinKey(twin), slimRemote(updated));
    return done();
  }

  async #delete(target: TwinTarget, uid: string): Promise<SyncResult> {
    const { remote, namespace, twin } = target;
    try {
      await this.#write(remote, 'delete', () =>
        remote.client.delete(objectPath(NAMESPACES, twin), { preconditions: { uid }, propagationPolicy: 'Background' }),
      );
      this.#options.logger.info({ remote: remote.name, namespace, twin }, 'twin namespace deleted');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    remote.mutations.recordDelete(twinKey(twin), uid);
    return done();
  }

  #write<T>(remote: RemoteCluster, verb: 'create' | 'update' | 'delete', send: () => Promise<T>): Promise<T> {
    return countedWrite(this.#options.metrics, { remote: remote.name, verb, kind: 'Namespace' }, send);
  }

  /** A twin the remote refuses (e.g. a name over 63 characters): retrying cannot fix it. */
  #rejected(target: TwinTarget, err: unknown): TerminalError {
    const message = `twin namespace ${target.twin} rejected by remote ${target.remote.name}: ${errorMessage(err)}`;
    return new TerminalError(message, { cause: err });
  }

  #reportConflict(target: TwinTarget, uid: string, message: string): void {
    const { remote, twin, local } = target;
    this.#options.conflicts.report({ remote: remote.name, kind: 'Namespace', key: twinKey(twin), uid }, local, message);
  }
}
