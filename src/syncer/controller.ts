// The syncer's imperative shell: informers feed a keyed work queue; reconcile(key) reads the
// caches, asks the pure core (copy.ts, plan.ts) what the remote should look like and writes only
// when it differs. Reconcile, don't script: every decision is re-derived from both clusters'
// current state, so restarts, lost events and outages converge by the next resync.
//
// Safety rules (see DESIGN.md "Syncer"):
// - nothing is processed before every cache has synced (a half-filled local cache would look
//   like deleted objects);
// - we only ever update or delete objects that carry our ownership labels for this cluster, and
//   deletes carry the uid we saw as a precondition;
// - a foreign object or namespace with our name is reported (Event + metric), never written.
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, isAlreadyExists, isConflict, isInvalid, isNotFound, objectPath, resourcePath, statusCodeOf } from '../kube/client.ts';
import { createInformer } from '../kube/informer.ts';
import type { Informer, Logger } from '../kube/informer.ts';
import { TokenBucket } from '../kube/ratelimit.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import { twinNamespaceName } from '../shared/twin.ts';
import {
  ENABLED_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_ANNOTATION,
  ORIGIN_CLUSTER_LABEL,
  REMOTE_CLUSTER_LABEL,
  REPLICATE_KEY,
  VIRTUAL_NODE_LABEL,
  VIRTUAL_NODE_LABEL_VALUE,
} from '../../webhooks/keys.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import {
  KIND_INFO,
  KINDS,
  SERVICE_NAME_LABEL,
  ENDPOINTSLICE_MANAGED_BY_LABEL,
  ENDPOINTSLICE_MANAGED_BY_VALUE,
  STAMPED_KINDS,
  desiredCopy,
  desiredEndpointSlice,
  isOwnedByUs,
} from './copy.ts';
import { desiredTwinNamespace, parseOrigin } from '../shared/ownership.ts';
import type { Kind, StampedKind } from './copy.ts';
import { backfillKey, namespaceKey, objectKey, parseKey } from './keys.ts';
import { slimLocal, slimRemote } from './slim.ts';
import { isReplicable, namespaceOptedIn, planNamespace, planObject, remotesForNamespace, twinState } from './plan.ts';
import type { RemoteInfo } from './plan.ts';
import { backfillStamp, compileClusterSelector, excludedFromReplication } from './rules.ts';
import { EventRecorder } from '../kube/events.ts';
import type { SyncerMetrics } from './metrics.ts';

export interface RemoteSpec {
  name: string;
  kubeConfig: KubeConfig;
  /** Labels the namespaces' `kube-offload.io/clusters` selector is matched against. */
  labels: Record<string, string>;
}

export interface SyncerOptions {
  clusterName: string;
  localKubeConfig: KubeConfig;
  remotes: RemoteSpec[];
  metrics: SyncerMetrics;
  logger: Logger & { error(obj: object, msg?: string): void };
  /** Client-side write limit per cluster (token bucket). */
  qps: number;
  burst: number;
  /** Parallel reconciles; default 16. */
  workers?: number;
  /** Every period, every key is reconciled again (writes only on difference); default 5 min. */
  resyncPeriodMs?: number;
  /** How often opted-in namespaces are scanned for unstamped objects; default 1 min. */
  backfillPeriodMs?: number;
  /** Informer tuning for tests (stall detection). */
  informerTuning?: { watchTimeoutSeconds?: number; stallGraceSeconds?: number };
}

interface RemoteSide {
  name: string;
  flagLabels: Record<string, string>;
  client: KubeClient;
  namespaces: Informer<KubeObject>;
  copies: Record<Kind, Informer<KubeObject>>;
  /** Our own recent writes, newer than the cache may be (see #actual). */
  overlay: Map<string, Overlay>;
  /** Foreign objects seen under a copy's name: cacheKey -> uid. */
  conflicts: Map<string, string>;
}

interface Overlay {
  object?: KubeObject;
  deletedUid?: string;
  at: number;
}

const OVERLAY_TTL_MS = 30_000;
const FIELD_MANAGER = 'kube-offload-syncer';
const COPY_SELECTOR = (cluster: string): string => `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${ORIGIN_CLUSTER_LABEL}=${cluster}`;

function collectionPath(kind: Kind | 'Namespace', namespace?: string): string {
  const info = KIND_INFO[kind];
  return resourcePath({ group: info.group, version: info.version, resource: info.resource, ...(namespace ? { namespace } : {}) });
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Numeric resourceVersion comparison (etcd); undefined when either is not a plain integer. */
function rvNewer(a: string | undefined, b: string | undefined): boolean | undefined {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  return BigInt(a) > BigInt(b);
}

export class Syncer {
  readonly #o: SyncerOptions;
  readonly #cluster: string;
  readonly #log: SyncerOptions['logger'];
  readonly #m: SyncerMetrics;
  readonly #localClient: KubeClient;
  readonly #events: EventRecorder;
  readonly #localNamespaces: Informer<KubeObject>;
  readonly #localObjects: Record<StampedKind, Informer<KubeObject>>;
  readonly #localSlices: Informer<KubeObject>;
  readonly #virtualNodes: Informer<KubeObject>;
  readonly #remotes = new Map<string, RemoteSide>();
  /** ns/service -> names of its local EndpointSlices. */
  readonly #slicesByService = new Map<string, Set<string>>();
  readonly #allInformers: Array<{ name: string; informer: Informer<KubeObject>; remote: boolean }> = [];
  #remoteInfo: RemoteInfo[] = [];
  /**
   * Keys of local objects that existed when we started leading: their first create looks
   * before it writes (see #create). Cleared key by key on first reconcile.
   */
  readonly #startupKeys = new Set<string>();
  #queue: WorkQueue | undefined;
  #running = false;
  #timers: NodeJS.Timeout[] = [];

  constructor(options: SyncerOptions) {
    this.#o = options;
    this.#cluster = options.clusterName;
    this.#log = options.logger;
    this.#m = options.metrics;
    const limiter = new TokenBucket({ qps: options.qps, burst: options.burst });
    this.#localClient = new KubeClient(options.localKubeConfig, { writeLimiter: limiter, userAgent: 'kube-offload-syncer' });
    const eventsClient = new KubeClient(options.localKubeConfig, { userAgent: 'kube-offload-syncer' });
    this.#events = new EventRecorder({
      client: eventsClient,
      component: 'kube-offload-syncer',
      onDrop: () => this.#m.eventsDropped.inc(),
      onError: (err) => this.#log.debug({ err: errMessage(err) }, 'event write failed'),
    });

    const local = (name: string, path: string, labelSelector?: string): Informer<KubeObject> =>
      this.#informer(`local/${name}`, options.localKubeConfig, this.#readClient(options.localKubeConfig), path, labelSelector, false);
    this.#localNamespaces = local('namespaces', collectionPath('Namespace'), `${ENABLED_LABEL}=true`);
    this.#localObjects = {
      Service: local('services', collectionPath('Service'), `${REPLICATE_KEY}=true`),
      Secret: local('secrets', collectionPath('Secret'), `${REPLICATE_KEY}=true`),
      ConfigMap: local('configmaps', collectionPath('ConfigMap'), `${REPLICATE_KEY}=true`),
    };
    this.#localSlices = local('endpointslices', collectionPath('EndpointSlice'), SERVICE_NAME_LABEL);
    this.#virtualNodes = local('virtual-nodes', '/api/v1/nodes', `${VIRTUAL_NODE_LABEL}=${VIRTUAL_NODE_LABEL_VALUE}`);

    for (const spec of options.remotes) {
      const read = this.#readClient(spec.kubeConfig);
      const mk = (name: string, path: string, labelSelector?: string): Informer<KubeObject> =>
        this.#informer(`${spec.name}/${name}`, spec.kubeConfig, read, path, labelSelector, true);
      const copies = {} as Record<Kind, Informer<KubeObject>>;
      // Slices: only ours, not those the remote endpointslice controller makes for a Service copy
      // (they inherit the copy's labels, ours included); see isOwnedByUs.
      for (const kind of KINDS) copies[kind] = mk(KIND_INFO[kind].resource, collectionPath(kind), kind === 'EndpointSlice' ? `${COPY_SELECTOR(this.#cluster)},${ENDPOINTSLICE_MANAGED_BY_LABEL}=${ENDPOINTSLICE_MANAGED_BY_VALUE}` : COPY_SELECTOR(this.#cluster));
      const side: RemoteSide = {
        name: spec.name,
        flagLabels: spec.labels,
        client: new KubeClient(spec.kubeConfig, { writeLimiter: new TokenBucket({ qps: options.qps, burst: options.burst }), userAgent: 'kube-offload-syncer' }),
        namespaces: mk('namespaces', collectionPath('Namespace')),
        copies,
        overlay: new Map(),
        conflicts: new Map(),
      };
      this.#remotes.set(spec.name, side);
    }
    this.#recomputeRemoteLabels();
    this.#wireHandlers();
  }

  #readClient(kc: KubeConfig): KubeClient {
    return new KubeClient(kc, { userAgent: 'kube-offload-syncer' });
  }

  #informer(name: string, kubeConfig: KubeConfig, client: KubeClient, path: string, labelSelector: string | undefined, remote: boolean): Informer<KubeObject> {
    const informer = createInformer<KubeObject>({
      kubeConfig,
      client,
      path,
      name,
      ...(labelSelector ? { labelSelector } : {}),
      transform: remote ? slimRemote : slimLocal, // what the caches keep: see slim.ts
      logger: this.#log,
      onWatchRestart: (reason) => this.#m.watchRestarts.inc({ informer: name, reason }),
      ...(this.#o.informerTuning ?? {}),
    });
    this.#allInformers.push({ name, informer, remote });
    return informer;
  }

  // ------------------------------------------------------------------------------------------
  // lifecycle

  /** Starts every informer; resolves once all caches are synced. Safe on a standby. */
  async startCaches(): Promise<void> {
    await Promise.all(this.#allInformers.map((i) => i.informer.start()));
    this.#recomputeRemoteLabels();
  }

  hasSynced(): boolean {
    return this.#allInformers.every((i) => i.informer.hasSynced());
  }

  /** Per informer health; `ok` false when a watch stalled. */
  health(): { ok: boolean; informers: Array<{ name: string; ok: boolean; reason?: string }> } {
    const informers = this.#allInformers.map(({ name, informer }) => ({ name, ...informer.health() }));
    // A stalled stream is our problem (the informer restarts it; if it keeps stalling, a restart
    // of the process may help); an unreachable remote apiserver is not, and restarting us would
    // only throw the caches away. So only stalls make /healthz fail.
    const ok = informers.every((i) => i.ok || !(i.reason ?? '').includes('stalled'));
    return { ok, informers };
  }

  cacheSizes(): Record<string, number> {
    return Object.fromEntries(this.#allInformers.map(({ name, informer }) => [name, informer.list().length]));
  }

  /**
   * Runs the reconcilers until `signal` aborts (leadership lost or shutdown). Waits for caches
   * first. Resolves after the workers stopped.
   */
  async run(signal: AbortSignal): Promise<void> {
    await this.startCaches();
    if (signal.aborted) return;
    const queue = new WorkQueue({
      name: 'syncer',
      concurrency: this.#o.workers ?? 16,
      process: (key) => this.#reconcile(key),
      onDepth: (d) => this.#m.queueDepth.set(d),
      onError: (key, err, failures) => this.#onReconcileError(key, err, failures),
      backoff: { baseMs: 200, maxMs: 60_000, jitter: 0.3 },
    });
    this.#queue = queue;
    this.#running = true;
    this.#m.leader.set(1);
    this.#log.info({ remotes: [...this.#remotes.keys()], caches: this.cacheSizes() }, 'syncer running');
    this.#startupKeys.clear();
    for (const r of this.#remotes.values()) {
      for (const kind of STAMPED_KINDS) for (const o of this.#localObjects[kind].list()) this.#startupKeys.add(objectKey(r.name, kind, o.metadata?.namespace ?? '', o.metadata?.name ?? ''));
      for (const o of this.#localSlices.list()) this.#startupKeys.add(objectKey(r.name, 'EndpointSlice', o.metadata?.namespace ?? '', o.metadata?.name ?? ''));
    }
    this.resyncAll();
    this.#timers.push(setInterval(() => this.resyncAll(), this.#o.resyncPeriodMs ?? 300_000));
    this.#timers.push(setInterval(() => this.#sweepOverlays(), OVERLAY_TTL_MS));
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    this.#running = false;
    this.#m.leader.set(0);
    for (const t of this.#timers.splice(0)) clearInterval(t);
    await queue.shutdown({ drain: false });
    this.#queue = undefined;
  }

  /** Stops informers and the event writer (call after run() resolved). */
  stop(): void {
    for (const t of this.#timers.splice(0)) clearInterval(t);
    for (const { informer } of this.#allInformers) informer.stop();
    this.#events.stop();
    this.#localClient.close();
    for (const r of this.#remotes.values()) r.client.close();
  }

  /** Resolves when the queue has nothing queued, running or waiting (tests, benchmarks). */
  async whenIdle(): Promise<void> {
    await this.#queue?.whenIdle();
  }

  /** Enqueues every key we know of: all local objects and namespaces, all remote copies and twins. */
  resyncAll(): void {
    if (!this.#running) return;
    for (const ns of this.#localNamespaces.list()) {
      const name = ns.metadata?.name;
      if (!name) continue;
      this.#enqueue(backfillKey(name));
      for (const r of this.#remotes.values()) this.#enqueue(namespaceKey(r.name, name));
    }
    for (const kind of STAMPED_KINDS) {
      for (const o of this.#localObjects[kind].list()) this.#enqueueAllRemotes(kind, o.metadata?.namespace, o.metadata?.name);
    }
    for (const s of this.#localSlices.list()) this.#enqueueAllRemotes('EndpointSlice', s.metadata?.namespace, s.metadata?.name);
    for (const r of this.#remotes.values()) {
      for (const ns of r.namespaces.list()) this.#onRemoteNamespace(r, ns, false);
      for (const kind of KINDS) for (const c of r.copies[kind].list()) this.#onRemoteCopy(r, kind, c);
    }
  }

  // ------------------------------------------------------------------------------------------
  // event wiring

  #enqueue(key: string): void {
    if (this.#running) this.#queue?.add(key);
  }

  #enqueueAllRemotes(kind: Kind, namespace: string | undefined, name: string | undefined): void {
    if (!namespace || !name) return;
    for (const r of this.#remotes.values()) this.#enqueue(objectKey(r.name, kind, namespace, name));
  }

  #enqueueNamespaceContents(r: RemoteSide, namespace: string): void {
    if (!this.#running) return;
    for (const kind of STAMPED_KINDS) {
      for (const o of this.#localObjects[kind].list()) if (o.metadata?.namespace === namespace && o.metadata.name) this.#enqueue(objectKey(r.name, kind, namespace, o.metadata.name));
    }
    for (const s of this.#localSlices.list()) if (s.metadata?.namespace === namespace && s.metadata.name) this.#enqueue(objectKey(r.name, 'EndpointSlice', namespace, s.metadata.name));
    const twin = twinNamespaceName(namespace, this.#cluster);
    for (const kind of KINDS) {
      for (const c of r.copies[kind].list()) if (c.metadata?.namespace === twin && c.metadata.name) this.#enqueue(objectKey(r.name, kind, namespace, c.metadata.name));
    }
  }

  #wireHandlers(): void {
    const on = (informer: Informer<KubeObject>, fn: (o: KubeObject, old?: KubeObject) => void): void => {
      informer.on('add', fn);
      informer.on('update', fn);
      informer.on('delete', fn);
    };
    for (const kind of STAMPED_KINDS) {
      on(this.#localObjects[kind], (o) => {
        this.#enqueueAllRemotes(kind, o.metadata?.namespace, o.metadata?.name);
        if (kind === 'Service') this.#enqueueSlicesOf(o.metadata?.namespace, o.metadata?.name);
      });
    }
    const indexSlice = (o: KubeObject, remove: boolean): void => {
      const ns = o.metadata?.namespace;
      const svc = o.metadata?.labels?.[SERVICE_NAME_LABEL];
      const name = o.metadata?.name;
      if (!ns || !svc || !name) return;
      const key = `${ns}/${svc}`;
      let set = this.#slicesByService.get(key);
      if (remove) {
        set?.delete(name);
        if (set?.size === 0) this.#slicesByService.delete(key);
      } else {
        if (!set) this.#slicesByService.set(key, (set = new Set()));
        set.add(name);
      }
    };
    this.#localSlices.on('add', (o) => {
      indexSlice(o, false);
      this.#enqueueAllRemotes('EndpointSlice', o.metadata?.namespace, o.metadata?.name);
    });
    this.#localSlices.on('update', (o, old) => {
      if (old) indexSlice(old, true);
      indexSlice(o, false);
      this.#enqueueAllRemotes('EndpointSlice', o.metadata?.namespace, o.metadata?.name);
    });
    this.#localSlices.on('delete', (o) => {
      indexSlice(o, true);
      this.#enqueueAllRemotes('EndpointSlice', o.metadata?.namespace, o.metadata?.name);
    });
    on(this.#localNamespaces, (o) => {
      const name = o.metadata?.name;
      if (!name) return;
      this.#enqueue(backfillKey(name));
      for (const r of this.#remotes.values()) {
        this.#enqueue(namespaceKey(r.name, name));
        this.#enqueueNamespaceContents(r, name);
      }
    });
    on(this.#virtualNodes, () => {
      if (this.#recomputeRemoteLabels()) this.resyncAll();
    });
    for (const r of this.#remotes.values()) {
      for (const kind of KINDS) on(r.copies[kind], (o) => this.#onRemoteCopy(r, kind, o));
      r.namespaces.on('add', (o) => this.#onRemoteNamespace(r, o, true));
      r.namespaces.on('update', (o) => this.#onRemoteNamespace(r, o, false));
      r.namespaces.on('delete', (o) => this.#onRemoteNamespace(r, o, true));
    }
  }

  #enqueueSlicesOf(namespace: string | undefined, service: string | undefined): void {
    if (!namespace || !service) return;
    for (const name of this.#slicesByService.get(`${namespace}/${service}`) ?? []) this.#enqueueAllRemotes('EndpointSlice', namespace, name);
  }

  /** The local namespace a remote copy or twin came from, via its origin annotation. */
  #originNamespace(o: KubeObject): string | undefined {
    const origin = parseOrigin(o.metadata?.annotations?.[ORIGIN_ANNOTATION]);
    if (origin && origin.cluster === this.#cluster) return origin.namespace ?? origin.name;
    // Fallback for a copy whose annotation was tampered with: the twin name it lives in.
    const ns = o.metadata?.namespace ?? o.metadata?.name;
    return ns ? this.#localNamespaceForTwin(ns) : undefined;
  }

  #localNamespaceForTwin(twin: string): string | undefined {
    for (const ns of this.#localNamespaces.list()) {
      const name = ns.metadata?.name;
      if (name && twinNamespaceName(name, this.#cluster) === twin) return name;
    }
    return undefined;
  }

  #onRemoteCopy(r: RemoteSide, kind: Kind, o: KubeObject): void {
    const name = o.metadata?.name;
    const twin = o.metadata?.namespace;
    if (!name || !twin) return;
    // The echo of our own write (same resourceVersion as what the write returned): the cache has
    // now caught up with what we know, and there is nothing new to compare.
    const okey = `${kind}/${twin}/${name}`;
    const mine = r.overlay.get(okey);
    if (mine?.object && mine.object.metadata?.resourceVersion === o.metadata?.resourceVersion && mine.object.metadata?.uid === o.metadata?.uid) {
      r.overlay.delete(okey);
      return;
    }
    const origin = parseOrigin(o.metadata?.annotations?.[ORIGIN_ANNOTATION]);
    const ns = origin?.cluster === this.#cluster && origin.namespace ? origin.namespace : this.#localNamespaceForTwin(twin);
    if (!ns) {
      this.#log.debug({ remote: r.name, kind, object: `${twin}/${name}` }, 'copy without a resolvable origin; left alone');
      return;
    }
    this.#enqueue(objectKey(r.name, kind, ns, name));
  }

  #onRemoteNamespace(r: RemoteSide, o: KubeObject, contents: boolean): void {
    const name = o.metadata?.name;
    if (!name) return;
    const ns = isOwnedByUs(o, this.#cluster) ? this.#originNamespace(o) : this.#localNamespaceForTwin(name);
    if (!ns) return;
    this.#enqueue(namespaceKey(r.name, ns));
    if (contents) this.#enqueueNamespaceContents(r, ns);
  }

  /** Remote labels = virtual node labels of that remote, then --remote-labels, then remote-cluster=NAME. */
  #recomputeRemoteLabels(): boolean {
    const next: RemoteInfo[] = [];
    for (const r of this.#remotes.values()) {
      const node = this.#virtualNodes.list().find((n) => n.metadata?.labels?.[REMOTE_CLUSTER_LABEL] === r.name);
      next.push({ name: r.name, labels: { ...(node?.metadata?.labels ?? {}), ...r.flagLabels, [REMOTE_CLUSTER_LABEL]: r.name } });
    }
    const changed = JSON.stringify(next) !== JSON.stringify(this.#remoteInfo);
    this.#remoteInfo = next;
    return changed;
  }

  remoteInfo(): RemoteInfo[] {
    return this.#remoteInfo;
  }

  // ------------------------------------------------------------------------------------------
  // reconcile

  async #reconcile(key: string): Promise<void> {
    const k = parseKey(key);
    if (!k) return;
    const end = this.#m.reconcileDuration.startTimer({ kind: k.kind });
    let result = 'ok';
    try {
      if (k.kind === 'Backfill') return await this.#backfill(k.namespace);
      const r = this.#remotes.get(k.remote);
      if (!r) return;
      if (k.kind === 'Namespace') result = await this.#reconcileNamespace(r, k.name);
      else result = await this.#reconcileObject(r, k.kind, k.namespace, k.name);
    } catch (err) {
      result = 'error';
      throw err;
    } finally {
      end({ result });
    }
  }

  #onReconcileError(key: string, err: unknown, failures: number): void {
    const k = parseKey(key);
    const code = statusCodeOf(err);
    this.#log[failures >= 3 ? 'warn' : 'debug']({ key, failures, code, err: errMessage(err) }, 'reconcile failed; retrying with backoff');
    // Transient failures (stale cache 409s, a blip) are retried quietly; report persistent ones.
    if (!k || failures < 3 || k.kind === 'Backfill') return;
    const local = k.kind === 'Namespace' ? this.#localNamespaces.get(k.name) : this.#localObject(k.kind, k.namespace, k.name);
    if (local) this.#events.record(local, 'Warning', 'ReplicationFailed', `copy to remote ${k.remote} failed: ${errMessage(err)}`);
  }

  #selection(namespace: string): { remotes: string[]; error?: string } {
    return remotesForNamespace(this.#localNamespaces.get(namespace), this.#remoteInfo, compileClusterSelector);
  }

  #localObject(kind: Kind, namespace: string, name: string): KubeObject | undefined {
    const o = kind === 'EndpointSlice' ? this.#localSlices.get(`${namespace}/${name}`) : this.#localObjects[kind].get(`${namespace}/${name}`);
    if (o && !o.kind) o.kind = kind;
    return o;
  }

  /** The remote object under that name: the cache, unless our own more recent write says otherwise. */
  #actual(r: RemoteSide, kind: Kind | 'Namespace', cacheKey: string): KubeObject | undefined {
    const cached = kind === 'Namespace' ? r.namespaces.get(cacheKey) : r.copies[kind].get(cacheKey);
    const okey = `${kind}/${cacheKey}`;
    const o = r.overlay.get(okey);
    if (!o) return cached;
    if (Date.now() - o.at > OVERLAY_TTL_MS) {
      r.overlay.delete(okey);
      return cached;
    }
    if (o.deletedUid !== undefined) {
      if (cached && cached.metadata?.uid === o.deletedUid) return undefined; // cache lags our delete
      r.overlay.delete(okey);
      return cached;
    }
    const written = o.object;
    if (!written) return cached;
    if (!cached) return written; // cache lags our create
    const cRv = cached.metadata?.resourceVersion as string | undefined;
    const wRv = written.metadata?.resourceVersion as string | undefined;
    if (cached.metadata?.uid === written.metadata?.uid && rvNewer(wRv, cRv) === true) return written;
    r.overlay.delete(okey);
    return cached;
  }

  #sweepOverlays(): void {
    const now = Date.now();
    for (const r of this.#remotes.values()) for (const [k, o] of r.overlay) if (now - o.at > OVERLAY_TTL_MS) r.overlay.delete(k);
  }

  /** The twin namespace in remote r as far as we know (cache + our recent writes). */
  #twin(r: RemoteSide, namespace: string): { name: string; object: KubeObject | undefined } {
    const name = twinNamespaceName(namespace, this.#cluster);
    return { name, object: this.#actual(r, 'Namespace', name) };
  }

  async #write<T>(r: RemoteSide | undefined, verb: string, kind: string, fn: () => Promise<T>): Promise<T> {
    const remote = r?.name ?? 'local';
    this.#m.writes.inc({ verb, kind, remote });
    try {
      return await fn();
    } catch (err) {
      this.#m.writeFailures.inc({ verb, kind, remote, code: String(statusCodeOf(err) ?? 'network') });
      throw err;
    }
  }

  async #reconcileNamespace(r: RemoteSide, namespace: string): Promise<string> {
    const local = this.#localNamespaces.get(namespace);
    const twin = this.#twin(r, namespace);
    const selection = this.#selection(namespace);
    if (selection.error) {
      // Keep the status quo (no twin created or deleted) until the selector parses again.
      if (local) this.#events.record(withKind(local, 'Namespace'), 'Warning', 'ReplicationFailed', `${selection.error}; twins left as they are`);
      return 'invalid-selector';
    }
    const desired = local && selection.remotes.includes(r.name) ? desiredTwinNamespace(local, { localCluster: this.#cluster, twinNamespace: twin.name }) : undefined;
    const action = planNamespace(desired, twin.object, this.#cluster);
    const path = collectionPath('Namespace');
    switch (action.type) {
      case 'none':
        if (desired) r.conflicts.delete(`Namespace/${twin.name}`);
        return 'ok';
      case 'wait':
        this.#queue?.addAfter(namespaceKey(r.name, namespace), 5_000);
        return 'wait';
      case 'conflict':
        this.#reportConflict(r, 'Namespace', `Namespace/${twin.name}`, twin.object?.metadata?.uid ?? '', local && withKind(local, 'Namespace'), `twin namespace ${twin.name} in remote ${r.name}: ${action.reason}`);
        return 'conflict';
      case 'create': {
        try {
          const created = await this.#write(r, 'create', 'Namespace', () => r.client.create(path, action.object, { fieldManager: FIELD_MANAGER }));
          r.overlay.set(`Namespace/${twin.name}`, { object: slimRemote(created as KubeObject), at: Date.now() });
          this.#log.info({ remote: r.name, namespace, twin: twin.name }, 'twin namespace created');
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
          const live = await r.client.getOrUndefined<KubeObject>(objectPath(path, twin.name));
          if (live && !isOwnedByUs(live, this.#cluster)) {
            this.#reportConflict(r, 'Namespace', `Namespace/${twin.name}`, live.metadata?.uid ?? '', local && withKind(local, 'Namespace'), `twin namespace ${twin.name} in remote ${r.name} already exists and is not managed by kube-offload; not adopted`);
            return 'conflict';
          }
          throw err; // ours but not in the cache yet: retry
        }
        this.#enqueueNamespaceContents(r, namespace);
        return 'ok';
      }
      case 'update': {
        const updated = await this.#write(r, 'update', 'Namespace', () => r.client.replace(objectPath(path, twin.name), action.object, { fieldManager: FIELD_MANAGER }));
        r.overlay.set(`Namespace/${twin.name}`, { object: slimRemote(updated as KubeObject), at: Date.now() });
        return 'ok';
      }
      case 'delete': {
        try {
          await this.#write(r, 'delete', 'Namespace', () => r.client.delete(objectPath(path, twin.name), { preconditions: { uid: action.uid }, propagationPolicy: 'Background' }));
          this.#log.info({ remote: r.name, namespace, twin: twin.name }, 'twin namespace deleted');
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        r.overlay.set(`Namespace/${twin.name}`, { deletedUid: action.uid, at: Date.now() });
        return 'ok';
      }
    }
  }

  async #reconcileObject(r: RemoteSide, kind: Kind, namespace: string, name: string): Promise<string> {
    const firstLook = this.#startupKeys.delete(objectKey(r.name, kind, namespace, name));
    const twin = this.#twin(r, namespace);
    const state = twinState(twin.object, this.#cluster);
    const selection = this.#selection(namespace);
    const selected = selection.error ? state === 'ready' : selection.remotes.includes(r.name);
    // Not selected: the namespace reconcile deletes the whole twin (if ours), copies included.
    if (!selected) return 'skip';
    if (state === 'missing') {
      this.#enqueue(namespaceKey(r.name, namespace)); // creates the twin, then requeues us
      return 'wait';
    }
    if (state !== 'ready') return state; // foreign (reported on the Namespace) or terminating
    const ctx = { localCluster: this.#cluster, twinNamespace: twin.name };
    const local = this.#localObject(kind, namespace, name);
    let desired: KubeObject | undefined;
    if (kind === 'EndpointSlice') {
      const service = local && this.#serviceOf(local);
      if (local && service && isReplicable(service, excludedFromReplication) && !isOwnedByUs(local, this.#cluster)) {
        desired = desiredEndpointSlice(local, service, { ...ctx, isVirtualNode: (n) => this.#virtualNodes.get(n) !== undefined });
      }
    } else if (isReplicable(local, excludedFromReplication)) {
      desired = desiredCopy(local as KubeObject, ctx);
    }
    const cacheKey = `${twin.name}/${name}`;
    const conflictKey = `${kind}/${cacheKey}`;
    let actual = this.#actual(r, kind, cacheKey);
    if (!actual && desired && r.conflicts.has(conflictKey)) {
      // We saw a foreign object under this name: is it still there? (a read, not a write)
      actual = await r.client.getOrUndefined<KubeObject>(objectPath(collectionPath(kind, twin.name), name));
      if (actual && !actual.kind) actual.kind = kind;
      if (!actual) r.conflicts.delete(conflictKey);
    }
    const action = planObject(desired, actual, this.#cluster);
    const path = collectionPath(kind, twin.name);
    const what = `${kind} ${namespace}/${name}`;
    switch (action.type) {
      case 'none':
        if (!actual || isOwnedByUs(actual, this.#cluster)) r.conflicts.delete(conflictKey);
        return 'ok';
      case 'conflict':
        this.#reportConflict(r, kind, conflictKey, actual?.metadata?.uid ?? '', local, `${action.reason} (remote ${r.name})`);
        return 'conflict';
      case 'create':
        return this.#create(r, kind, path, conflictKey, action.object, local, what, firstLook);
      case 'update': {
        try {
          const updated = await this.#write(r, 'update', kind, () => r.client.replace(objectPath(path, name), action.object, { fieldManager: FIELD_MANAGER }));
          r.overlay.set(conflictKey, { object: slimRemote(withKind(updated as KubeObject, kind)), at: Date.now() });
        } catch (err) {
          // An immutable field we could not predict: fall back to delete + create.
          if (isInvalid(err) && actual?.metadata?.uid && desired) {
            await this.#delete(r, kind, path, name, conflictKey, actual.metadata.uid);
            return this.#create(r, kind, path, conflictKey, desired, local, what);
          }
          throw err;
        }
        if (local) this.#events.record(local, 'Normal', 'Replicated', `updated copy in remote ${r.name} (${twin.name}/${name})`);
        this.#log.debug({ remote: r.name, what }, 'copy updated');
        return 'ok';
      }
      case 'recreate':
        await this.#delete(r, kind, path, name, conflictKey, action.uid);
        return this.#create(r, kind, path, conflictKey, action.object, local, what);
      case 'delete':
        await this.#delete(r, kind, path, name, conflictKey, action.uid);
        this.#log.debug({ remote: r.name, what }, 'copy deleted');
        return 'ok';
    }
  }

  #serviceOf(slice: KubeObject): KubeObject | undefined {
    const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    const ns = slice.metadata?.namespace;
    if (!svc || !ns) return undefined;
    const s = this.#localObjects.Service.get(`${ns}/${svc}`);
    if (s && !s.kind) s.kind = 'Service';
    return s;
  }

  async #create(r: RemoteSide, kind: Kind, path: string, conflictKey: string, object: KubeObject, local: KubeObject | undefined, what: string, look = false): Promise<string> {
    // Our cache holds only our copies, so it cannot tell "free" from "taken by someone else".
    // For objects that existed before we started, look first (a read): a known name conflict
    // then costs no write, which keeps a restart over an in-sync state (conflicts included) at
    // zero writes. New objects are created directly (the hot path of a burst); a conflict then
    // shows up as 409 AlreadyExists once and is remembered.
    const existing = look ? await r.client.getOrUndefined<KubeObject>(objectPath(path, object.metadata?.name ?? '')) : undefined;
    if (existing) {
      if (!existing.kind) existing.kind = kind;
      if (!isOwnedByUs(existing, this.#cluster)) {
        this.#reportConflict(r, kind, conflictKey, existing.metadata?.uid ?? '', local, `${kind} ${object.metadata?.namespace}/${object.metadata?.name} already exists in remote ${r.name} and is not managed by kube-offload; left untouched`);
        return 'conflict';
      }
      r.overlay.set(conflictKey, { object: slimRemote(existing), at: Date.now() });
      throw new Error(`${what}: copy exists in remote ${r.name} but not yet in the cache; retrying`);
    }
    try {
      const created = await this.#write(r, 'create', kind, () => r.client.create(path, object, { fieldManager: FIELD_MANAGER }));
      r.overlay.set(conflictKey, { object: slimRemote(withKind(created as KubeObject, kind)), at: Date.now() });
      r.conflicts.delete(conflictKey);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const live = await r.client.getOrUndefined<KubeObject>(objectPath(path, object.metadata?.name ?? ''));
      if (live && !isOwnedByUs(live, this.#cluster)) {
        if (!live.kind) live.kind = kind;
        this.#reportConflict(r, kind, conflictKey, live.metadata?.uid ?? '', local, `${kind} ${object.metadata?.namespace}/${object.metadata?.name} already exists in remote ${r.name} and is not managed by kube-offload; left untouched`);
        return 'conflict';
      }
      if (live) r.overlay.set(conflictKey, { object: slimRemote(withKind(live, kind)), at: Date.now() });
      throw err; // ours (cache lag) or gone again: retry, the next round compares
    }
    if (local) this.#events.record(local, 'Normal', 'Replicated', `copied to remote ${r.name} as ${object.metadata?.namespace}/${object.metadata?.name}`);
    this.#log.debug({ remote: r.name, what }, 'copy created');
    return 'ok';
  }

  async #delete(r: RemoteSide, kind: Kind, path: string, name: string, conflictKey: string, uid: string): Promise<void> {
    try {
      await this.#write(r, 'delete', kind, () => r.client.delete(objectPath(path, name), { preconditions: { uid } }));
    } catch (err) {
      // 404: already gone. 409: the uid differs, i.e. what is there now is not what we saw; the
      // next reconcile looks again (it may be foreign: then we leave it alone).
      if (isNotFound(err)) {
        r.overlay.set(conflictKey, { deletedUid: uid, at: Date.now() });
        return;
      }
      if (isConflict(err)) r.overlay.delete(conflictKey);
      throw err;
    }
    r.overlay.set(conflictKey, { deletedUid: uid, at: Date.now() });
  }

  #reportConflict(r: RemoteSide, kind: string, conflictKey: string, uid: string, local: KubeObject | undefined, message: string): void {
    if (r.conflicts.get(conflictKey) !== uid) {
      r.conflicts.set(conflictKey, uid);
      this.#m.conflicts.inc({ kind, remote: r.name });
      this.#log.warn({ remote: r.name, kind, object: conflictKey }, 'name taken by an object kube-offload does not own; left untouched');
    }
    if (local) this.#events.record(local, 'Warning', 'ReplicationConflict', message);
  }

  /** Conflicts currently known, for status and tests: "remote/Kind/twin/name". */
  conflicts(): string[] {
    const out: string[] = [];
    for (const r of this.#remotes.values()) for (const k of r.conflicts.keys()) out.push(`${r.name}/${k}`);
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // backfill

  async #backfill(namespace: string): Promise<void> {
    const ns = this.#localNamespaces.get(namespace);
    if (!namespaceOptedIn(ns)) return;
    let stamped = 0;
    for (const kind of STAMPED_KINDS) {
      const path = collectionPath(kind, namespace);
      const { items } = await this.#localClient.listAll<KubeObject>(path, { labelSelector: `!${REPLICATE_KEY}` });
      for (const item of items) {
        const patch = backfillStamp(item, kind);
        if (!patch) continue;
        try {
          await this.#write(undefined, 'patch', kind, () => this.#localClient.patch(objectPath(path, item.metadata?.name ?? ''), patch, 'merge', { fieldManager: FIELD_MANAGER }));
          stamped++;
        } catch (err) {
          // 409: changed meanwhile (maybe stamped by the webhook); 404: gone. Next round looks again.
          if (!isConflict(err) && !isNotFound(err)) throw err;
        }
      }
    }
    if (stamped) this.#log.info({ namespace, stamped }, 'backfilled replication stamps');
    this.#queue?.addAfter(backfillKey(namespace), this.#o.backfillPeriodMs ?? 60_000);
  }
}

function withKind(o: KubeObject, kind: string): KubeObject {
  return o.kind ? o : { ...o, kind };
}
