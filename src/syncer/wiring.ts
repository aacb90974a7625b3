// Event wiring: which queue keys a change in a cache stands for. Keys name the LOCAL namespace
// (keys.ts); a remote copy or twin is mapped back to it through its origin annotation, or the twin
// name it lives in when the annotation was tampered with.
import { twinNamespaceOf } from '../common/twin.ts';
import { parseOrigin } from '../common/ownership.ts';
import { ORIGIN_ANNOTATION } from '../../webhooks/keys.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import type { SyncerLogger } from './api.ts';
import type { Cache, LocalCaches } from './caches.ts';
import { KINDS, SERVICE_NAME_LABEL, STAMPED_KINDS, isOwnedByUs } from './copy.ts';
import type { Kind } from './copy.ts';
import { namespaceKey, objectKey } from './keys.ts';
import { copyKey } from './remote.ts';
import type { RemoteCluster } from './remote.ts';

export interface EventWiringOptions {
  localCluster: string;
  local: LocalCaches;
  /** The remotes that take keys right now (synced, not removed); the set changes at run time. */
  remotes: () => readonly RemoteCluster[];
  /** Queues a key for the copy reconcilers (ignored while not leading). */
  enqueue: (key: string) => void;
  /** Queues a namespace for the backfill (ignored while not leading). */
  enqueueBackfill: (namespace: string) => void;
  /** False on a standby: then there is no point in listing what a change stands for. */
  active: () => boolean;
  /** A virtual node changed: remote labels, and so namespace selections, may have changed. */
  onVirtualNodeChange: () => void;
  logger: SyncerLogger;
}

/** Local EndpointSlices by Service ("namespace/service" -> slice names). */
class SliceIndex {
  readonly #byService = new Map<string, Set<string>>();

  add(slice: KubeObject): void {
    const entry = SliceIndex.#entry(slice);
    if (!entry) return;
    let names = this.#byService.get(entry.service);
    if (!names) this.#byService.set(entry.service, (names = new Set()));
    names.add(entry.name);
  }

  remove(slice: KubeObject): void {
    const entry = SliceIndex.#entry(slice);
    const names = entry && this.#byService.get(entry.service);
    if (!entry || !names) return;
    names.delete(entry.name);
    if (names.size === 0) this.#byService.delete(entry.service);
  }

  slicesOf(namespace: string, service: string): Iterable<string> {
    return this.#byService.get(`${namespace}/${service}`) ?? [];
  }

  static #entry(slice: KubeObject): { service: string; name: string } | undefined {
    const { namespace, name, labels } = slice.metadata ?? {};
    const service = labels?.[SERVICE_NAME_LABEL];
    return namespace && service && name ? { service: `${namespace}/${service}`, name } : undefined;
  }
}

function onEveryChange(cache: Cache, handler: (object: KubeObject) => void): void {
  cache.on('add', handler);
  cache.on('update', handler);
  cache.on('delete', handler);
}

export class EventWiring {
  readonly #options: EventWiringOptions;
  readonly #cluster: string;
  readonly #slices = new SliceIndex();

  constructor(options: EventWiringOptions) {
    this.#options = options;
    this.#cluster = options.localCluster;
    this.#wireLocalObjects();
    this.#wireLocalSlices();
    this.#wireLocalNamespaces();
    onEveryChange(options.local.virtualNodes, () => options.onVirtualNodeChange());
  }

  /** Queues every key we know of: all local objects and namespaces, all remote copies and twins. */
  resyncAll(): void {
    for (const ns of this.#options.local.namespaces.list()) {
      if (ns.metadata?.name) this.#options.enqueueBackfill(ns.metadata.name);
    }
    for (const remote of this.#options.remotes()) this.resyncRemote(remote);
  }

  /** Queues every key of one remote: each local namespace and object, its copies and twins. */
  resyncRemote(remote: RemoteCluster): void {
    const { local, enqueue } = this.#options;
    for (const ns of local.namespaces.list())
      if (ns.metadata?.name) enqueue(namespaceKey(remote.name, ns.metadata.name));
    const queue = (kind: Kind, object: KubeObject): void => {
      const { namespace, name } = object.metadata ?? {};
      if (namespace && name) enqueue(objectKey(remote.name, kind, namespace, name));
    };
    for (const kind of STAMPED_KINDS) for (const o of local.objects[kind].list()) queue(kind, o);
    for (const slice of local.slices.list()) queue('EndpointSlice', slice);
    for (const ns of remote.caches.namespaces.list()) this.#onRemoteNamespace(remote, ns, false);
    for (const kind of KINDS)
      for (const copy of remote.caches.copies[kind].list()) this.#onRemoteCopy(remote, kind, copy);
  }

  /** Queues every copy of a namespace for one remote: local objects, and the copies already there. */
  enqueueNamespaceContents(remote: RemoteCluster, namespace: string): void {
    if (!this.#options.active()) return;
    const { local, enqueue } = this.#options;
    const inNamespace = (o: KubeObject): string | undefined =>
      o.metadata?.namespace === namespace ? o.metadata.name : undefined;
    const queue = (kind: Kind, name: string | undefined): void => {
      if (name) enqueue(objectKey(remote.name, kind, namespace, name));
    };
    for (const kind of STAMPED_KINDS) for (const o of local.objects[kind].list()) queue(kind, inNamespace(o));
    for (const slice of local.slices.list()) queue('EndpointSlice', inNamespace(slice));
    const twin = twinNamespaceOf(namespace, local.namespaces.get(namespace), this.#cluster);
    for (const kind of KINDS) {
      for (const copy of remote.caches.copies[kind].list()) {
        if (copy.metadata?.namespace === twin) queue(kind, copy.metadata.name);
      }
    }
  }

  #wireLocalObjects(): void {
    for (const kind of STAMPED_KINDS) {
      onEveryChange(this.#options.local.objects[kind], (o) => {
        this.#enqueueLocal(kind, o);
        if (kind === 'Service') this.#enqueueSlicesOf(o);
      });
    }
  }

  #wireLocalSlices(): void {
    const slices = this.#options.local.slices;
    slices.on('add', (o) => {
      this.#slices.add(o);
      this.#enqueueLocal('EndpointSlice', o);
    });
    slices.on('update', (o, old) => {
      if (old) this.#slices.remove(old);
      this.#slices.add(o);
      this.#enqueueLocal('EndpointSlice', o);
    });
    slices.on('delete', (o) => {
      this.#slices.remove(o);
      this.#enqueueLocal('EndpointSlice', o);
    });
  }

  #wireLocalNamespaces(): void {
    onEveryChange(this.#options.local.namespaces, (o) => {
      const name = o.metadata?.name;
      if (!name) return;
      this.#options.enqueueBackfill(name);
      for (const remote of this.#options.remotes()) {
        this.#options.enqueue(namespaceKey(remote.name, name));
        this.enqueueNamespaceContents(remote, name);
      }
    });
  }

  /** Queues keys for the changes in a remote's caches, while it takes keys (synced, not removed). */
  wireRemote(remote: RemoteCluster): void {
    const live =
      <A extends unknown[]>(handler: (...args: A) => void) =>
      (...args: A): void => {
        if (remote.synced) handler(...args);
      };
    for (const kind of KINDS) {
      onEveryChange(
        remote.caches.copies[kind],
        live((o: KubeObject) => this.#onRemoteCopy(remote, kind, o)),
      );
    }
    const namespaces = remote.caches.namespaces;
    namespaces.on(
      'add',
      live((o: KubeObject) => this.#onRemoteNamespace(remote, o, true)),
    );
    namespaces.on(
      'update',
      live((o: KubeObject) => this.#onRemoteNamespace(remote, o, false)),
    );
    namespaces.on(
      'delete',
      live((o: KubeObject) => this.#onRemoteNamespace(remote, o, true)),
    );
  }

  /** Queues a local object's key for every remote. */
  #enqueueLocal(kind: Kind, object: KubeObject): void {
    const { namespace, name } = object.metadata ?? {};
    if (!namespace || !name) return;
    for (const remote of this.#options.remotes()) this.#options.enqueue(objectKey(remote.name, kind, namespace, name));
  }

  /** A Service changed: its slices' copies follow it (replicated or not, ports). */
  #enqueueSlicesOf(service: KubeObject): void {
    const { namespace, name } = service.metadata ?? {};
    if (!namespace || !name) return;
    for (const slice of this.#slices.slicesOf(namespace, name)) {
      for (const remote of this.#options.remotes()) {
        this.#options.enqueue(objectKey(remote.name, 'EndpointSlice', namespace, slice));
      }
    }
  }

  #onRemoteCopy(remote: RemoteCluster, kind: Kind, copy: KubeObject): void {
    const name = copy.metadata?.name;
    const twin = copy.metadata?.namespace;
    if (!name || !twin) return;
    // The echo of our own write: the cache has caught up with what we know, nothing new to compare.
    if (remote.mutations.consumeEcho(copyKey(kind, twin, name), copy)) return;
    const origin = parseOrigin(copy.metadata?.annotations?.[ORIGIN_ANNOTATION]);
    const fromHere = origin?.cluster === this.#cluster ? origin.namespace : undefined;
    const namespace = fromHere || this.#localNamespaceForTwin(twin);
    if (!namespace) {
      const object = `${twin}/${name}`;
      this.#options.logger.debug({ remote: remote.name, kind, object }, 'copy without a resolvable origin; left alone');
      return;
    }
    this.#options.enqueue(objectKey(remote.name, kind, namespace, name));
  }

  #onRemoteNamespace(remote: RemoteCluster, twin: KubeObject, withContents: boolean): void {
    const name = twin.metadata?.name;
    if (!name) return;
    const namespace = isOwnedByUs(twin, this.#cluster)
      ? this.#originNamespace(twin)
      : this.#localNamespaceForTwin(name);
    if (!namespace) return;
    this.#options.enqueue(namespaceKey(remote.name, namespace));
    if (withContents) this.enqueueNamespaceContents(remote, namespace);
  }

  /** The local namespace a twin came from, via its origin annotation. */
  #originNamespace(twin: KubeObject): string | undefined {
    const origin = parseOrigin(twin.metadata?.annotations?.[ORIGIN_ANNOTATION]);
    if (origin && origin.cluster === this.#cluster) return origin.namespace ?? origin.name;
    // Fallback for a twin whose annotation was tampered with: its own name.
    const name = twin.metadata?.namespace ?? twin.metadata?.name;
    return name ? this.#localNamespaceForTwin(name) : undefined;
  }

  #localNamespaceForTwin(twin: string): string | undefined {
    for (const ns of this.#options.local.namespaces.list()) {
      const name = ns.metadata?.name;
      if (name && twinNamespaceOf(name, ns, this.#cluster) === twin) return name;
    }
    return undefined;
  }
}
