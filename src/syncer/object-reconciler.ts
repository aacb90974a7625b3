// Copies: for one local object (Service, Secret, ConfigMap, or an EndpointSlice of a replicated
// Service) and one remote, make the copy in the twin namespace agree with the desired one (copy.ts)
// and write only the difference (plan.ts: create, update, recreate, delete, or nothing).
//
// Safety: only objects with our ownership marks for this cluster are updated or deleted, deletes
// carry the uid we saw as a precondition, and a foreign object with our name is reported, never
// written.
import { isAlreadyExists, isConflict, isInvalid, isNotFound, objectPath } from '../kube/client.ts';
import { TerminalError } from '../kube/workqueue.ts';
import { errorMessage } from '../common/errors.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { FIELD_MANAGER, collectionPath, countedWrite, withKind } from './api.ts';
import type { EventSink, SyncerLogger, WriteVerb } from './api.ts';
import type { LocalCaches } from './caches.ts';
import type { ConflictTracker } from './conflicts.ts';
import { SERVICE_NAME_LABEL, STAMPED_KINDS, desiredCopy, desiredEndpointSlice, isOwnedByUs } from './copy.ts';
import type { Kind } from './copy.ts';
import { namespaceKey, objectKey } from './keys.ts';
import type { SyncerMetrics } from './metrics.ts';
import { isReplicable, planObject, twinState } from './plan.ts';
import type { ObjectAction } from './plan.ts';
import { copyKey, observedCopy, observedTwin } from './remote.ts';
import type { RemoteCluster } from './remote.ts';
import { done, requeueAfter } from './result.ts';
import type { SyncResult } from './result.ts';
import { excludedFromReplication } from './rules.ts';
import type { RemoteSelector } from './selection.ts';
import { slimRemote } from './slim.ts';

/** A copy found in the remote but not yet in our cache: look again after this long. */
export const CACHE_LAG_RECHECK_MS = 200;

export interface ObjectReconcilerOptions {
  localCluster: string;
  local: LocalCaches;
  selector: RemoteSelector;
  conflicts: ConflictTracker;
  events: EventSink;
  metrics: SyncerMetrics;
  logger: SyncerLogger;
  /** Queues another key (the twin namespace, when a copy finds it missing). */
  enqueue: (key: string) => void;
}

/** One copy being reconciled. */
interface CopyTarget {
  remote: RemoteCluster;
  kind: Kind;
  /** The local namespace and the name (the copy has the same name in the twin). */
  namespace: string;
  name: string;
  twin: string;
  /** The collection of `kind` in the twin. */
  path: string;
  /** The copy's key in the mutation cache and among conflicts. */
  key: string;
  local: KubeObject | undefined;
  /** For logs: "Kind namespace/name". */
  what: string;
}

export class ObjectReconciler {
  readonly #options: ObjectReconcilerOptions;
  readonly #cluster: string;
  /**
   * Keys of local objects that existed when we started leading: their first create looks
   * before it writes (see #create). Cleared key by key on first reconcile.
   */
  readonly #startupKeys = new Set<string>();

  constructor(options: ObjectReconcilerOptions) {
    this.#options = options;
    this.#cluster = options.localCluster;
  }

  /**
   * Remembers every local object as existing before we started (call when leadership begins, and
   * with `keepOthers` for a remote added while leading).
   */
  markStartup(remotes: Iterable<RemoteCluster>, options: { keepOthers?: boolean } = {}): void {
    if (!options.keepOthers) this.#startupKeys.clear();
    const { objects, slices } = this.#options.local;
    const existing: Array<[Kind, KubeObject]> = [];
    for (const kind of STAMPED_KINDS) for (const o of objects[kind].list()) existing.push([kind, o]);
    for (const o of slices.list()) existing.push(['EndpointSlice', o]);
    for (const remote of remotes) {
      for (const [kind, o] of existing) {
        this.#startupKeys.add(objectKey(remote.name, kind, o.metadata?.namespace ?? '', o.metadata?.name ?? ''));
      }
    }
  }

  async reconcile(remote: RemoteCluster, kind: Kind, namespace: string, name: string): Promise<SyncResult> {
    const firstLook = this.#startupKeys.delete(objectKey(remote.name, kind, namespace, name));
    const twin = observedTwin(remote, namespace, this.#options.local.namespaces.get(namespace), this.#cluster);
    const state = twinState(twin.object, this.#cluster, namespace);
    const selection = this.#options.selector.select(namespace);
    const selected = selection.error ? state === 'ready' : selection.remotes.includes(remote.name);
    // Not selected: the namespace reconcile deletes the whole twin (if ours), copies included.
    if (!selected) return done('skip');
    if (state === 'missing') {
      this.#options.enqueue(namespaceKey(remote.name, namespace)); // creates the twin, then queues us again
      return done('wait');
    }
    if (state !== 'ready') return done(state); // foreign (reported on the Namespace) or terminating
    const local = this.#localObject(kind, namespace, name);
    const target: CopyTarget = {
      remote,
      kind,
      namespace,
      name,
      twin: twin.name,
      path: collectionPath(kind, twin.name),
      key: copyKey(kind, twin.name, name),
      local,
      what: `${kind} ${namespace}/${name}`,
    };
    const desired = this.#desired(target);
    const actual = await this.#actual(target, desired);
    return this.#apply(target, planObject(desired, actual, this.#cluster), { desired, actual, firstLook });
  }

  async #apply(
    target: CopyTarget,
    action: ObjectAction,
    seen: { desired: KubeObject | undefined; actual: KubeObject | undefined; firstLook: boolean },
  ): Promise<SyncResult> {
    const { remote, key } = target;
    switch (action.type) {
      case 'none':
        if (!seen.actual || isOwnedByUs(seen.actual, this.#cluster)) this.#options.conflicts.clear(remote.name, key);
        return done();
      case 'conflict':
        this.#reportConflict(target, seen.actual?.metadata?.uid ?? '', `${action.reason} (remote ${remote.name})`);
        return done('conflict');
      case 'create':
        return this.#create(target, action.object, seen.firstLook);
      case 'update':
        return this.#update(target, action.object, seen);
      case 'recreate':
        await this.#delete(target, action.uid);
        return this.#create(target, action.object);
      case 'delete':
        await this.#delete(target, action.uid);
        this.#options.logger.debug({ remote: remote.name, what: target.what }, 'copy deleted');
        return done();
    }
  }

  /** The copy there should be, or undefined for none. */
  #desired(target: CopyTarget): KubeObject | undefined {
    const { kind, local } = target;
    const ctx = { localCluster: this.#cluster, twinNamespace: target.twin };
    if (kind !== 'EndpointSlice') {
      return local && isReplicable(local, excludedFromReplication) ? desiredCopy(local, ctx) : undefined;
    }
    const service = local && this.#serviceOf(local);
    if (!local || !service || !isReplicable(service, excludedFromReplication)) return undefined;
    if (isOwnedByUs(local, this.#cluster)) return undefined;
    const isVirtualNode = (node: string): boolean => this.#options.local.virtualNodes.get(node) !== undefined;
    return desiredEndpointSlice(local, service, { ...ctx, isVirtualNode });
  }

  /** The copy there is: our cache (and recent writes); a foreign object we know of is read again. */
  async #actual(target: CopyTarget, desired: KubeObject | undefined): Promise<KubeObject | undefined> {
    const { remote, kind, twin, name, key } = target;
    const cached = observedCopy(remote, kind, twin, name);
    if (cached || !desired || !this.#options.conflicts.has(remote.name, key)) return cached;
    // We saw a foreign object under this name: is it still there? (a read, not a write)
    const live = await this.#getLive(target);
    if (!live) this.#options.conflicts.clear(remote.name, key);
    return live;
  }

  async #create(target: CopyTarget, object: KubeObject, look = false): Promise<SyncResult> {
    // Our cache holds only our copies, so it cannot tell "free" from "taken by someone else".
    // For objects that existed before we started, look first (a read): a known name conflict
    // then costs no write, which keeps a restart over an in-sync state (conflicts included) at
    // zero writes. New objects are created directly (the hot path of a burst); a conflict then
    // shows up as 409 AlreadyExists once and is remembered.
    const existing = look ? await this.#getLive(target) : undefined;
    if (existing) return this.#foundAtStartup(target, existing);
    const { remote, kind, key, local } = target;
    let created: KubeObject;
    try {
      created = await this.#write(target, 'create', () =>
        remote.client.create(target.path, object, { fieldManager: FIELD_MANAGER }),
      );
    } catch (err) {
      return this.#createFailed(target, err);
    }
    remote.mutations.recordWrite(key, slimRemote(withKind(created, kind)));
    this.#options.conflicts.clear(remote.name, key);
    const where = `${object.metadata?.namespace}/${object.metadata?.name}`;
    if (local)
      this.#options.events.record(local, 'Normal', 'Replicated', `copied to remote ${remote.name} as ${where}`);
    this.#options.logger.debug({ remote: remote.name, what: target.what }, 'copy created');
    return done();
  }

  /** The name is taken before our first create since start-up: ours (cache lag) or foreign. */
  #foundAtStartup(target: CopyTarget, existing: KubeObject): SyncResult {
    if (!isOwnedByUs(existing, this.#cluster)) {
      this.#reportConflict(target, existing.metadata?.uid ?? '', this.#takenMessage(target));
      return done('conflict');
    }
    target.remote.mutations.recordWrite(target.key, slimRemote(existing));
    return requeueAfter(CACHE_LAG_RECHECK_MS);
  }

  /** A create failed: a foreign object with our name is a conflict; anything else is thrown. */
  async #createFailed(target: CopyTarget, err: unknown): Promise<SyncResult> {
    const { remote, kind } = target;
    if (isInvalid(err)) {
      const message = `${target.what}: the copy was rejected by remote ${remote.name}: ${errorMessage(err)}`;
      throw new TerminalError(message, { cause: err });
    }
    if (!isAlreadyExists(err)) throw err;
    const live = await this.#getLive(target);
    if (live && !isOwnedByUs(live, this.#cluster)) {
      this.#reportConflict(target, live.metadata?.uid ?? '', this.#takenMessage(target));
      return done('conflict');
    }
    if (live) remote.mutations.recordWrite(target.key, slimRemote(withKind(live, kind)));
    throw err; // ours (cache lag) or gone again: retry, the next round compares
  }

  async #update(
    target: CopyTarget,
    body: KubeObject,
    seen: { desired: KubeObject | undefined; actual: KubeObject | undefined },
  ): Promise<SyncResult> {
    const { remote, kind, key, local, twin, name } = target;
    try {
      const updated = await this.#write(target, 'update', () =>
        remote.client.replace(objectPath(target.path, name), body, { fieldManager: FIELD_MANAGER }),
      );
      remote.mutations.recordWrite(key, slimRemote(withKind(updated, kind)));
    } catch (err) {
      // An immutable field we could not predict: fall back to delete + create.
      const uid = seen.actual?.metadata?.uid;
      if (!isInvalid(err) || !uid || !seen.desired) throw err;
      await this.#delete(target, uid);
      return this.#create(target, seen.desired);
    }
    const message = `updated copy in remote ${remote.name} (${twin}/${name})`;
    if (local) this.#options.events.record(local, 'Normal', 'Replicated', message);
    this.#options.logger.debug({ remote: remote.name, what: target.what }, 'copy updated');
    return done();
  }

  async #delete(target: CopyTarget, uid: string): Promise<void> {
    const { remote, key } = target;
    try {
      await this.#write(target, 'delete', () =>
        remote.client.delete(objectPath(target.path, target.name), { preconditions: { uid } }),
      );
    } catch (err) {
      // 404: already gone. 409: the uid differs, i.e. what is there now is not what we saw; the
      // next reconcile looks again (it may be foreign: then we leave it alone).
      if (!isNotFound(err)) {
        if (isConflict(err)) remote.mutations.forget(key);
        throw err;
      }
    }
    remote.mutations.recordDelete(key, uid);
  }

  async #getLive(target: CopyTarget): Promise<KubeObject | undefined> {
    const live = await target.remote.client.getOrUndefined(objectPath(target.path, target.name));
    return live && withKind(live, target.kind);
  }

  #write<T>(target: CopyTarget, verb: WriteVerb, send: () => Promise<T>): Promise<T> {
    return countedWrite(this.#options.metrics, { remote: target.remote.name, verb, kind: target.kind }, send);
  }

  #takenMessage(target: CopyTarget): string {
    const { kind, twin, name, remote } = target;
    const where = `${kind} ${twin}/${name} already exists in remote ${remote.name}`;
    return `${where} and is not managed by kube-offload; left untouched`;
  }

  #reportConflict(target: CopyTarget, uid: string, message: string): void {
    const { remote, kind, key, local } = target;
    this.#options.conflicts.report({ remote: remote.name, kind, key, uid }, local, message);
  }

  #localObject(kind: Kind, namespace: string, name: string): KubeObject | undefined {
    const { objects, slices } = this.#options.local;
    const cached = (kind === 'EndpointSlice' ? slices : objects[kind]).get(`${namespace}/${name}`);
    return cached && withKind(cached, kind);
  }

  #serviceOf(slice: KubeObject): KubeObject | undefined {
    const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    const namespace = slice.metadata?.namespace;
    if (!service || !namespace) return undefined;
    const cached = this.#options.local.objects.Service.get(`${namespace}/${service}`);
    return cached && withKind(cached, 'Service');
  }
}
