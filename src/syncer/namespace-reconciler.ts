// Twin namespaces: for each opted-in local namespace and each remote its selector picks, the
// remote has its twin (named by twinNamespaceOf: `<namespace>-<local cluster>`, or `<namespace>`
// with kube-offload.io/twin-name: SameName) with our ownership marks; a twin of a namespace that
// opted out, was deleted or is no longer selected is deleted (copies included), and so is our twin
// of it under the other naming's name (the naming changed while a twin existed). A foreign
// namespace with the twin's name, or another local namespace's twin, is reported and never adopted.
import { isAlreadyExists, isInvalid, isNotFound, objectPath } from '../kube/client.ts';
import { TerminalError } from '../kube/workqueue.ts';
import { errorMessage } from '../common/errors.ts';
import { desiredTwinNamespace, isTwinOf, parseOrigin } from '../common/ownership.ts';
import { possibleTwinNames, twinNaming } from '../common/twin.ts';
import { ORIGIN_ANNOTATION, TWIN_NAME_ANNOTATION } from '../../webhooks/keys.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { FIELD_MANAGER, collectionPath, countedWrite, withKind } from './api.ts';
import type { EventSink, SyncerLogger } from './api.ts';
import type { Cache } from './caches.ts';
import type { ConflictTracker } from './conflicts.ts';
import type { SyncerMetrics } from './metrics.ts';
import { planNamespace, twinConflictReason } from './plan.ts';
import { observedNamespace, observedTwin, twinKey } from './remote.ts';
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
    const twin = observedTwin(remote, namespace, localNamespace, localCluster);
    const selection = selector.select(namespace);
    if (selection.error) {
      // Keep the status quo (no twin created or deleted) until the selector parses again.
      const message = `${selection.error}; twins left as they are`;
      if (local) this.#options.events.record(local, 'Warning', 'ReplicationFailed', message);
      return done('invalid-selector');
    }
    const target: TwinTarget = { remote, namespace, twin: twin.name, local };
    await this.#deleteStaleTwins(target);
    const selected = local && selection.remotes.includes(remote.name);
    const desired = selected ? desiredTwinNamespace(local, { localCluster, twinNamespace: twin.name }) : undefined;
    const action = planNamespace(desired, twin.object, localCluster, namespace);
    switch (action.type) {
      case 'none':
        if (desired) this.#options.conflicts.clear(remote.name, twinKey(twin.name));
        return done();
      case 'wait':
        return requeueAfter(TERMINATING_TWIN_RECHECK_MS);
      case 'conflict': {
        const message = `twin namespace ${twin.name} in remote ${remote.name}: ${action.reason}${this.#hint(local)}`;
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
      const { localCluster } = this.#options;
      if (!live || isTwinOf(live, localCluster, namespace)) throw err; // ours but not in the cache yet: retry
      const reason = twinConflictReason(live, localCluster);
      const message = `twin namespace ${twin} in remote ${remote.name}: ${reason}${this.#hint(target.local)}`;
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

  /**
   * Deletes our twin of this namespace that sits under the other naming's name: the naming changed
   * (the webhook allows that only while the namespace is opted out, but an opt-out, change and
   * opt-in can outrun the deletion). Only a twin whose origin annotation names this very namespace
   * of this cluster qualifies; the other name may be another namespace's twin or a foreign one.
   */
  async #deleteStaleTwins(target: TwinTarget): Promise<void> {
    const { remote, namespace, twin } = target;
    const { localCluster } = this.#options;
    for (const name of possibleTwinNames(namespace, localCluster)) {
      if (name === twin) continue;
      const stale = observedNamespace(remote, name);
      const origin = parseOrigin(stale?.metadata?.annotations?.[ORIGIN_ANNOTATION]);
      const ofThisNamespace = origin?.cluster === localCluster && !origin.namespace && origin.name === namespace;
      if (!stale || !ofThisNamespace || !isTwinOf(stale, localCluster, namespace)) continue;
      if (stale.metadata?.deletionTimestamp) continue;
      this.#options.logger.info({ remote: remote.name, namespace, twin: name, now: twin }, 'twin naming changed');
      await this.#delete({ ...target, twin: name }, stale.metadata?.uid ?? '');
    }
  }

  /** What the user can do about a conflict that only the SameName naming runs into. */
  #hint(local: KubeObject | undefined): string {
    if (twinNaming(local) !== 'SameName') return '';
    return ` (${TWIN_NAME_ANNOTATION}: SameName; free that name in the remote, or opt the namespace out and use the default naming ClusterSuffix)`;
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
