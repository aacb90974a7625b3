// The pod controller: runs the local pods bound to the virtual node as pods in the remote
// cluster's twin namespace (virtual-kubelet's PodController).
//
// Caches: local pods bound to the node (fieldSelector spec.nodeName), remote pods we made (label
// selector managed-by + origin-cluster), the ConfigMaps/Secrets the syncer copied, the local
// Namespaces (their kube-offload.io/twin-name names the twin: twinNamespaceOf) and our twin
// namespaces in the remote. A pod goes only into a twin that is ours: a namespace of that name we
// do not own (possible with SameName naming) leaves the pod Pending, reported, never written into.
// Every event
// enqueues the local pod key ("namespace/name") in a keyed work queue; a reconcile plans from both
// caches (planPod in pod.ts) and executes the plan, one small function per action. Nothing is
// processed before both pod caches have synced, and every destructive step is checked against a
// live GET first (orphan delete, fail-local, finalize-local), so a restart, a stale cache or a
// relist can neither delete nor duplicate remote pods (remote pods have the local pod's name, so
// at most one can exist per local pod anyway).
//
// A reconcile returns what the work queue should do next: nothing, or another look after
// `requeueAfter` ms (a cache that lags, references not replicated yet). Failed writes throw and
// are retried with per-key backoff; a pod the remote cluster rejects as invalid throws a
// TerminalError and waits for the next change or resync instead.
import type { Logger } from 'pino';
import { isAlreadyExists, isConflict, isInvalid, isNotFound, resourcePath } from '../kube/client.ts';
import { TerminalError, WorkQueue } from '../kube/workqueue.ts';
import type { Clock, ReconcileResult } from '../kube/workqueue.ts';
import { errorMessage } from '../common/errors.ts';
import { desiredTwinNamespace, isOwnedByUs, isTwinOf } from '../common/ownership.ts';
import { twinNaming, twinNamespaceOf } from '../common/twin.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { ORIGIN_ANNOTATION, ORIGIN_UID_ANNOTATION, TWIN_NAME_ANNOTATION } from '../../webhooks/keys.ts';
import { podsPath, splitKey } from './api.ts';
import type { PodEvents, ProviderCaches, ProviderClient } from './api.ts';
import type { ProviderMetrics, WriteCounter } from './metrics.ts';
import { rfc3339, virtualOnlyLabelKeys } from './node.ts';
import type { RemoteSummary, VirtualNodeConfig } from './node.ts';
import { localKeyOfRemote, missingReferences, planPod, remotePodFor, requiredReferences } from './pod.ts';
import type { PodAction } from './pod.ts';
import type { Pod } from './types.ts';

export interface PodControllerOptions {
  localCluster: string;
  remoteCluster: string;
  local: ProviderClient;
  remote: ProviderClient;
  caches: ProviderCaches;
  events: PodEvents;
  config: VirtualNodeConfig;
  /** The virtual node as last seen: its labels and the remote summary shape remote pod specs. */
  node: { readonly labels: Record<string, string>; readonly summary: RemoteSummary };
  logger: Logger;
  clock: Clock;
  writes: WriteCounter;
  metrics?: ProviderMetrics;
  /** Parallel pod reconciles. */
  workers: number;
  /** A pod waiting this long for ConfigMaps/Secrets gets a Warning Event. */
  referencesWarnAfterMs: number;
  /** Re-check of missing references (events on the copies also wake the pod). */
  referencesRetryMs: number;
  /** Jitter source of the retry backoff (tests). */
  random?: () => number;
}

/** Ends a reconcile with nothing more to do: the next event brings the pod back. */
const DONE: ReconcileResult = {};
/** Another look soon: a cache lags behind what a live GET showed. */
const CACHE_LAG: ReconcileResult = { requeueAfter: 1000 };
/**
 * Another look at a pod whose twin name is taken by a namespace that is not our twin. Our twin
 * appearing there (the syncer creates it once the name is free) wakes the pod sooner.
 */
export const TWIN_CONFLICT_RECHECK_MS = 30_000;
/** status.reason of a pod kept Pending by such a conflict (`kubectl get pods` shows it). */
export const REASON_TWIN_CONFLICT = 'TwinNamespaceConflict';

/**
 * What one action asks: undefined to go on with the plan, or a ReconcileResult that ends the
 * reconcile with it (DONE, or a later look).
 */
type Step = ReconcileResult | undefined;

/** The local pod a reconcile is about, and where its remote pod lives. */
interface Target {
  key: string;
  namespace: string;
  name: string;
  twin: string;
  local: Pod | undefined;
  /** When the remote change this run answers was observed (mirror latency metric). */
  seenAt: number | undefined;
}

export class PodController {
  readonly #opts: PodControllerOptions;
  readonly #caches: ProviderCaches;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #queue: WorkQueue;
  readonly #metricLabels: { remote: string };
  /** Local pod key -> when it started waiting for references. */
  readonly #waitingRefs = new Map<string, number>();
  /** Local pod key -> when the latest remote change was observed (mirror latency metric). */
  readonly #remoteSeenAt = new Map<string, number>();
  /** Local pod keys kept Pending because their twin's name is taken (see #twinConflict). */
  readonly #twinConflicts = new Set<string>();
  #synced = false;
  #stopped = false;

  constructor(options: PodControllerOptions) {
    this.#opts = options;
    this.#caches = options.caches;
    this.#log = options.logger;
    this.#clock = options.clock;
    this.#metricLabels = { remote: options.remoteCluster };
    this.#queue = new WorkQueue({
      name: `virtual-node-${options.remoteCluster}`,
      concurrency: options.workers,
      process: (key) => this.reconcile(key),
      backoff: { baseMs: 100, maxMs: 30_000, jitter: 0.2 },
      onError: (key, err, failures) => {
        if (err instanceof TerminalError) return; // onDrop tells
        const level = failures >= 5 ? 'warn' : 'debug';
        this.#log[level]({ pod: key, failures, err: errorMessage(err) }, 'pod reconcile failed; retrying');
      },
      onDrop: (key, err) => {
        this.#log.warn(
          { pod: key, err: errorMessage(err) },
          'pod reconcile failed; not retried before the pod changes',
        );
      },
      ...(options.metrics ? { metrics: options.metrics.workqueues } : {}),
      clock: options.clock,
      ...(options.random ? { random: options.random } : {}),
    });
    this.#watchCaches();
  }

  /** Both pod caches have synced: pods are being reconciled. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Starts the caches; reconciling begins once both pod caches have synced. */
  start(): void {
    const { localPods, remotePods, remoteConfigMaps, remoteSecrets, localNamespaces, remoteNamespaces } = this.#caches;
    for (const cache of [remoteConfigMaps, remoteSecrets, remoteNamespaces]) cache.start().catch(() => undefined);
    // The twin names come from the local Namespaces: nothing is planned before they are known.
    void Promise.all([localPods.start(), remotePods.start(), localNamespaces.start()]).then(
      () => {
        if (this.#stopped) return;
        this.#synced = true;
        const counts = { pods: localPods.list().length, remotePods: remotePods.list().length };
        this.#log.info(counts, 'pod caches synced; reconciling');
        this.enqueueAll();
      },
      () => undefined,
    );
  }

  /** Resolves when the work queue has nothing queued, running or waiting. */
  whenIdle(): Promise<void> {
    return this.#queue.whenIdle();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const cache of Object.values(this.#caches)) cache.stop();
    await this.#queue.shutdown({ drain: false });
  }

  /** Queues every pod of both caches (after sync, on resync, when the remote is back). */
  enqueueAll(): void {
    if (!this.#synced) return;
    for (const pod of this.#caches.localPods.list())
      this.#queue.add(`${pod.metadata?.namespace}/${pod.metadata?.name}`);
    for (const pod of this.#caches.remotePods.list()) {
      const key = localKeyOfRemote(pod, this.#opts.localCluster);
      if (key) this.#queue.add(key);
    }
  }

  #watchCaches(): void {
    const { localPods, remotePods, remoteConfigMaps, remoteSecrets } = this.#caches;
    const enqueueLocal = (pod: Pod): void => {
      const namespace = pod.metadata?.namespace;
      const name = pod.metadata?.name;
      if (namespace && name) this.#queue.add(`${namespace}/${name}`);
      this.#opts.metrics?.pods.set(this.#metricLabels, localPods.list().length);
    };
    const enqueueRemote = (pod: Pod): void => {
      const key = localKeyOfRemote(pod, this.#opts.localCluster);
      if (!key || this.#twinOf(key) !== pod.metadata?.namespace) return; // not the twin of that namespace
      if (!this.#remoteSeenAt.has(key)) this.#remoteSeenAt.set(key, this.#clock.now());
      this.#queue.add(key);
    };
    // A copy arriving in a twin namespace wakes the pods that wait for references there.
    const wakeWaiting = (copy: KubeObject): void => {
      for (const key of this.#waitingRefs.keys()) {
        if (this.#twinOf(key) === copy.metadata?.namespace) this.#queue.add(key);
      }
    };
    for (const event of ['add', 'update', 'delete'] as const) {
      localPods.on(event, enqueueLocal);
      remotePods.on(event, enqueueRemote);
    }
    for (const cache of [remoteConfigMaps, remoteSecrets]) {
      cache.on('add', wakeWaiting);
      cache.on('update', wakeWaiting);
    }
    this.#watchNamespaces();
  }

  /**
   * A local Namespace's twin naming changed (or it arrived): its pods' twin is another one now. Our
   * twin appearing in the remote: the pods that waited for that name to be ours go on.
   */
  #watchNamespaces(): void {
    const { localPods, localNamespaces, remoteNamespaces } = this.#caches;
    const enqueuePodsOf = (namespace: string | undefined): void => {
      if (!namespace) return;
      for (const pod of localPods.list())
        if (pod.metadata?.namespace === namespace) this.#queue.add(`${namespace}/${pod.metadata.name}`);
    };
    const onLocal = (ns: KubeObject, old?: KubeObject): void => {
      if (!old || twinNaming(old) !== twinNaming(ns)) enqueuePodsOf(ns.metadata?.name);
    };
    localNamespaces.on('add', onLocal);
    localNamespaces.on('update', onLocal);
    const onRemote = (twin: KubeObject): void => {
      for (const key of this.#twinConflicts) if (this.#twinOf(key) === twin.metadata?.name) this.#queue.add(key);
    };
    remoteNamespaces.on('add', onRemote);
    remoteNamespaces.on('update', onRemote);
  }

  /** The twin namespace of a local pod key, after its namespace's kube-offload.io/twin-name. */
  #twinOf(key: string): string {
    const namespace = splitKey(key)[0];
    return twinNamespaceOf(namespace, this.#caches.localNamespaces.get(namespace), this.#opts.localCluster);
  }

  /** One pass over one local pod key: plan from both caches, execute until a step ends it. */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    if (!this.#synced || this.#stopped) return; // everything is enqueued once both caches sync
    const started = this.#clock.now();
    const seenAt = this.#remoteSeenAt.get(key);
    this.#remoteSeenAt.delete(key);
    let outcome = 'ok';
    try {
      const [namespace, name] = splitKey(key);
      const target = { key, namespace, name, twin: this.#twinOf(key), local: this.#caches.localPods.get(key), seenAt };
      return await this.#execute(target, this.#plan(target));
    } catch (err) {
      outcome = 'error';
      if (seenAt !== undefined && !this.#remoteSeenAt.has(key)) this.#remoteSeenAt.set(key, seenAt);
      throw err;
    } finally {
      const seconds = (this.#clock.now() - started) / 1000;
      this.#opts.metrics?.reconcileDuration.observe({ ...this.#metricLabels, result: outcome }, seconds);
    }
  }

  #plan(target: Target): PodAction[] {
    const { config, localCluster, remoteCluster, node } = this.#opts;
    const remote = this.#caches.remotePods.get(`${target.twin}/${target.name}`);
    const nodeLabels = node.labels;
    const virtualOnlyKeys = virtualOnlyLabelKeys(config, node.summary);
    return planPod(target.local, remote, {
      localCluster,
      remoteCluster,
      hostIP: config.nodeIP,
      now: rfc3339(this.#clock.now()),
      remotePod: (pod) =>
        remotePodFor(pod, {
          localCluster,
          remoteCluster,
          twinNamespace: target.twin,
          convention: config.convention,
          nodeName: config.nodeName,
          nodeLabels,
          virtualOnlyKeys,
        }),
    });
  }

  async #execute(target: Target, actions: PodAction[]): Promise<ReconcileResult | void> {
    if (!actions.some((action) => action.kind === 'createRemote')) {
      this.#stopWaiting(target.key);
      this.#twinConflicts.delete(target.key);
    }
    for (const action of actions) {
      const step = await this.#step(target, action);
      if (step) return step;
    }
  }

  #step(target: Target, action: PodAction): Promise<Step> {
    switch (action.kind) {
      case 'createRemote':
        return this.#createRemote(target, action);
      case 'deleteRemote':
        return this.#deleteRemote(target, action);
      case 'patchRemoteLabels':
        return this.#patchRemoteLabels(action);
      case 'patchLocalStatus':
        return this.#patchLocalStatus(target, action);
      case 'failLocal':
        return this.#failLocal(target, action);
      case 'finalizeLocal':
        return this.#finalizeLocal(target, action);
    }
  }

  // ---- actions ------------------------------------------------------------------------------

  async #createRemote(target: Target, action: Extract<PodAction, { kind: 'createRemote' }>): Promise<Step> {
    const { key, name, twin, local } = target;
    if (!local) return DONE;
    const { remoteConfigMaps, remoteSecrets } = this.#caches;
    if (!remoteConfigMaps.hasSynced() || !remoteSecrets.hasSynced()) return CACHE_LAG;
    const conflict = await this.#twinConflict(target, local);
    if (conflict) return conflict;
    const waiting = this.#awaitReferences(target, local, action.pod);
    if (waiting) return waiting;
    this.#stopWaiting(key);
    try {
      await this.#opts.writes.call('remote', 'create-pod', () => this.#opts.remote.create(podsPath(twin), action.pod));
    } catch (err) {
      return this.#createFailed(target, local, err);
    }
    this.#log.debug({ pod: key, twin }, 'remote pod created');
    const where = `${twin}/${name} in remote cluster ${this.#opts.remoteCluster}`;
    this.#opts.events.record(local, 'Normal', 'Offloaded', `Created pod ${where}`);
    return undefined;
  }

  async #createFailed(target: Target, local: Pod, err: unknown): Promise<Step> {
    // Our earlier create (cache lag) or a stale pod: the informer tells.
    if (isAlreadyExists(err)) return DONE;
    const failed = (): string =>
      `Creating the pod in remote cluster ${this.#opts.remoteCluster} failed: ${errorMessage(err)}`;
    if (isNotFound(err)) {
      // The twin namespace does not exist yet (the syncer creates it too); create it, then retry.
      await this.#ensureTwinNamespace(target.namespace, target.twin);
    } else if (isInvalid(err)) {
      // The remote apiserver rejects this very pod: the same create cannot succeed later.
      this.#opts.events.record(local, 'Warning', 'OffloadFailed', failed());
      throw new TerminalError(failed(), { cause: err });
    } else if (this.#queue.numRequeues(target.key) >= 2) {
      // Transient refusals (the twin's default ServiceAccount not there yet) retry quietly first.
      this.#opts.events.record(local, 'Warning', 'OffloadFailed', failed());
    }
    throw err;
  }

  /** While ConfigMaps/Secrets the pod needs are not in the twin namespace yet: when to look again. */
  #awaitReferences(target: Target, local: Pod, pod: Pod): Step {
    const { key, twin } = target;
    const { remoteConfigMaps, remoteSecrets } = this.#caches;
    const refs = requiredReferences(pod.spec ?? { containers: [] });
    const missing = missingReferences(
      refs,
      (kind, name) => (kind === 'configmap' ? remoteConfigMaps : remoteSecrets).get(`${twin}/${name}`) !== undefined,
    );
    if (!missing.length) return undefined;
    const now = this.#clock.now();
    const since = this.#waitingRefs.get(key) ?? now;
    if (!this.#waitingRefs.has(key)) {
      this.#waitingRefs.set(key, since);
      this.#opts.metrics?.waitingForReferences.set(this.#metricLabels, this.#waitingRefs.size);
    }
    if (now - since >= this.#opts.referencesWarnAfterMs) {
      const where = `namespace ${twin} of remote cluster ${this.#opts.remoteCluster}`;
      this.#opts.events.record(
        local,
        'Warning',
        'MissingReferences',
        `Waiting for ${missing.join(', ')} to be replicated into ${where}`,
      );
    }
    return { requeueAfter: this.#opts.referencesRetryMs };
  }

  async #deleteRemote(target: Target, action: Extract<PodAction, { kind: 'deleteRemote' }>): Promise<Step> {
    if (action.why === 'orphan' && (await this.#localStillBound(target, action))) return CACHE_LAG;
    const grace = action.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: action.gracePeriodSeconds } : {};
    const path = podsPath(action.namespace, action.name);
    try {
      await this.#opts.writes.call('remote', 'delete-pod', () =>
        this.#opts.remote.delete(path, { preconditions: { uid: action.uid }, ...grace }),
      );
      this.#log.debug({ pod: target.key, why: action.why }, 'remote pod deleted');
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    return undefined;
  }

  /** Never trust an empty cache with a delete: whether the local pod is really still there. */
  async #localStillBound(target: Target, action: Extract<PodAction, { kind: 'deleteRemote' }>): Promise<boolean> {
    const remote = this.#caches.remotePods.get(`${action.namespace}/${action.name}`);
    const uid = remote?.metadata?.annotations?.[ORIGIN_UID_ANNOTATION];
    const live = await this.#opts.local.get<Pod>(podsPath(target.namespace, target.name));
    return !!live && live.metadata?.uid === uid && live.spec?.nodeName === this.#opts.config.nodeName;
  }

  async #patchRemoteLabels(action: Extract<PodAction, { kind: 'patchRemoteLabels' }>): Promise<Step> {
    const path = podsPath(action.namespace, action.name);
    try {
      await this.#opts.writes.call('remote', 'patch-pod', () =>
        this.#opts.remote.mergePatch(path, { metadata: { labels: action.labels } }),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return undefined;
  }

  async #patchLocalStatus(target: Target, action: Extract<PodAction, { kind: 'patchLocalStatus' }>): Promise<Step> {
    if (!target.local || !(await this.#patchStatus(target, target.local, action.patch))) return DONE;
    if (target.seenAt !== undefined) {
      const seconds = (this.#clock.now() - target.seenAt) / 1000;
      this.#opts.metrics?.mirrorLatency.observe(this.#metricLabels, seconds);
    }
    return undefined;
  }

  async #failLocal(target: Target, action: Extract<PodAction, { kind: 'failLocal' }>): Promise<Step> {
    const { local } = target;
    if (!local) return DONE;
    if (await this.#liveRemoteFor(target, local.metadata?.uid ?? '')) return CACHE_LAG; // the remote pod is there
    if (!(await this.#patchStatus(target, local, action.patch))) return DONE;
    this.#log.info({ pod: target.key }, 'remote pod lost; local pod failed');
    const lost = `The pod no longer exists in remote cluster ${this.#opts.remoteCluster}`;
    this.#opts.events.record(
      local,
      'Warning',
      'RemotePodLost',
      `${lost}; marked Failed so that its controller replaces it`,
    );
    return undefined;
  }

  async #finalizeLocal(target: Target, action: Extract<PodAction, { kind: 'finalizeLocal' }>): Promise<Step> {
    if (await this.#liveRemoteFor(target, action.uid)) return CACHE_LAG;
    const options = { gracePeriodSeconds: 0, preconditions: { uid: action.uid } };
    try {
      await this.#opts.writes.call('local', 'delete-pod', () =>
        this.#opts.local.delete(podsPath(target.namespace, target.name), options),
      );
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    return undefined;
  }

  // ---- helpers ------------------------------------------------------------------------------

  /** Merge-patches the local pod's status (uid-guarded); false when the pod is gone. */
  async #patchStatus(target: Target, local: Pod, status: Record<string, unknown>): Promise<boolean> {
    const path = podsPath(target.namespace, target.name, 'status');
    try {
      await this.#opts.writes.call('local', 'patch-pod-status', () =>
        this.#opts.local.mergePatch(path, { metadata: { uid: local.metadata?.uid }, status }),
      );
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Live GET of the remote pod in the twin namespace, if it was made for the local pod `uid`. */
  async #liveRemoteFor(target: Target, uid: string): Promise<Pod | undefined> {
    const pod = await this.#opts.remote.get<Pod>(podsPath(target.twin, target.name));
    return pod && pod.metadata?.annotations?.[ORIGIN_UID_ANNOTATION] === uid ? pod : undefined;
  }

  /**
   * Whether the twin is taken by a namespace that is not our twin of this pod's namespace (a
   * user's, another cluster's twin, or another local namespace's). Then the pod is not written
   * there: it stays Pending with status.reason TwinNamespaceConflict and an OffloadFailed Event,
   * and is looked at again later. The cache of our twins answers most pods; a twin not (yet) in
   * it is read live, once per attempt.
   */
  async #twinConflict(target: Target, local: Pod): Promise<Step> {
    const { key, namespace, twin } = target;
    const { localCluster, remoteCluster } = this.#opts;
    const cached = this.#caches.remoteNamespaces.get(twin);
    const live = cached && isTwinOf(cached, localCluster, namespace) ? cached : await this.#remoteNamespace(twin);
    if (!live || isTwinOf(live, localCluster, namespace)) {
      this.#twinConflicts.delete(key);
      return undefined;
    }
    this.#twinConflicts.add(key);
    const origin = live.metadata?.annotations?.[ORIGIN_ANNOTATION] ?? 'another namespace';
    const whose = isOwnedByUs(live, localCluster)
      ? `the twin of ${origin}`
      : `not managed by kube-offload for cluster ${localCluster}`;
    const naming = `${TWIN_NAME_ANNOTATION}: ${twinNaming(this.#caches.localNamespaces.get(namespace))}`;
    const message =
      `Not offloaded: namespace ${twin} already exists in remote cluster ${remoteCluster} and is ${whose}; ` +
      `kube-offload does not write into it (${naming} on namespace ${namespace})`;
    // Reported once per change of the pod's status (the patch wakes the pod once more).
    if (local.status?.reason !== REASON_TWIN_CONFLICT || local.status.message !== message) {
      this.#opts.events.record(local, 'Warning', 'OffloadFailed', message);
      await this.#patchStatus(target, local, { reason: REASON_TWIN_CONFLICT, message });
    }
    return { requeueAfter: TWIN_CONFLICT_RECHECK_MS };
  }

  async #remoteNamespace(name: string): Promise<KubeObject | undefined> {
    const path = resourcePath({ version: 'v1', resource: 'namespaces', name });
    return this.#opts.remote.get<KubeObject>(path);
  }

  #stopWaiting(key: string): void {
    if (this.#waitingRefs.delete(key)) {
      this.#opts.metrics?.waitingForReferences.set(this.#metricLabels, this.#waitingRefs.size);
    }
  }

  async #ensureTwinNamespace(namespace: string, twin: string): Promise<void> {
    const path = resourcePath({ version: 'v1', resource: 'namespaces', name: namespace });
    const localNamespace = (await this.#opts.local.get<KubeObject>(path)) ?? { metadata: { name: namespace } };
    const desired = desiredTwinNamespace(localNamespace, {
      localCluster: this.#opts.localCluster,
      twinNamespace: twin,
    });
    try {
      await this.#opts.writes.call('remote', 'create-namespace', () =>
        this.#opts.remote.create<KubeObject>('/api/v1/namespaces', desired),
      );
      this.#log.info({ twin }, 'twin namespace created');
    } catch (err) {
      // Taken meanwhile by a namespace that is not ours: the next attempt's check reports it.
      if (!isAlreadyExists(err)) throw err;
    }
  }
}
