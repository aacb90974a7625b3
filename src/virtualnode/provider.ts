// The virtual node provider for one remote cluster: the I/O shell around the pure core in
// node.ts and pod.ts.
//
// - Node: registered (POST with status, as a kubelet does), labels/taint merged into the live
//   object, status PUT on change (and every statusHeartbeat), Lease in kube-node-lease renewed
//   every leaseInterval. The remote apiserver is probed every probeInterval by listing its nodes
//   (resourceVersion=0, served from its watch cache), which also refreshes capacity; after
//   `unreachableAfter` consecutive failures the node turns NotReady, the first success makes it
//   Ready again.
// - Pods: informers on local pods bound to the node (fieldSelector spec.nodeName), remote pods
//   we made (label selector managed-by + origin-cluster) and the ConfigMaps/Secrets the syncer
//   copied. Every event enqueues the local pod key ("namespace/name") in a keyed work queue;
//   reconcile plans from both caches (planPod) and executes. Nothing is processed before both pod
//   caches have synced, and every destructive step is checked against a live GET first
//   (orphan delete, fail-local, finalize-local), so a restart, a stale cache or a
//   relist can neither delete nor duplicate remote pods (remote pods have the local pod's name,
//   so at most one can exist per local pod anyway).
import type { Logger } from 'pino';
import type { KubeClient, KubernetesObject } from '../kube/client.ts';
import { isAlreadyExists, isConflict, isNotFound, resourcePath, statusCodeOf } from '../kube/client.ts';
import { createInformer } from '../kube/informer.ts';
import { metadataOnly, withoutManagedFields } from '../kube/transforms.ts';
import type { Informer } from '../kube/informer.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import { desiredTwinNamespace } from '../shared/ownership.ts';
import { EventRecorder } from '../kube/events.ts';
import type { EventReason } from '../kube/events.ts';
import { twinNamespaceName } from '../shared/twin.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, ORIGIN_CLUSTER_LABEL, ORIGIN_UID_ANNOTATION } from '../../webhooks/keys.ts';
import type { ProviderMetrics } from './metrics.ts';
import {
  EMPTY_SUMMARY,
  NODE_LEASE_NAMESPACE,
  buildNodeLease,
  buildVirtualNode,
  desiredNodeStatus,
  isNodeReady,
  mergeNodeMetadata,
  nodeStatusUpdate,
  renewNodeLease,
  summarizeRemote,
  virtualOnlyLabelKeys,
} from './node.ts';
import type { Reachability, RemoteSummary, VirtualNodeConfig } from './node.ts';
import { localKeyOfRemote, missingReferences, planPod, remotePodFor, requiredReferences } from './pod.ts';
import type { PodAction } from './pod.ts';
import type { Lease, Node, Pod } from './types.ts';

export interface ProviderOptions {
  localCluster: string;
  remoteCluster: string;
  local: KubeClient;
  remote: KubeClient;
  /**
   * Client for Events in the local cluster; default `local`. A separate client keeps Events
   * (limited by the recorder's own rate) from taking pod status writes' share of `local`'s limit.
   */
  events?: KubeClient;
  node: VirtualNodeConfig;
  logger: Logger;
  metrics?: ProviderMetrics;
  /** Parallel pod reconciles; default 16. */
  concurrency?: number;
  /** Remote probe (and capacity refresh) period; default 5 s. */
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** Consecutive failed probes before the node turns NotReady; default 2. */
  unreachableAfter?: number;
  /** Node Lease renewal period; default 10 s (the kubelet's). */
  leaseIntervalMs?: number;
  leaseDurationSeconds?: number;
  /** The node status is rewritten at least this often even without change; default 60 s. */
  statusHeartbeatMs?: number;
  /** Periodic full reconcile of every pod; default 5 min. */
  resyncMs?: number;
  /** A pod waiting this long for ConfigMaps/Secrets gets a Warning Event; default 30 s. */
  referencesWarnAfterMs?: number;
  /** Re-check of missing references (events on the copies also wake the pod); default 2 s. */
  referencesRetryMs?: number;
}

/** What happened in the provider, for tests and logs. */
export interface ProviderState {
  registered: boolean;
  reachable: boolean;
  synced: boolean;
  pods: number;
  remotePods: number;
}

type Side = 'local' | 'remote';

const podsPath = (namespace: string, name?: string, subresource?: string): string =>
  resourcePath({ version: 'v1', resource: 'pods', namespace, ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) });

// Our object types carry timestamps as the strings they are on the wire; client-node's
// KubernetesObject types them as Date. These adapters bridge the two at the client boundary.
const getAs = async <T>(c: KubeClient, path: string): Promise<T | undefined> => (await c.getOrUndefined(path)) as unknown as T | undefined;
const createAs = async <T>(c: KubeClient, path: string, obj: T): Promise<T> => (await c.create(path, obj as unknown as KubernetesObject)) as unknown as T;
const replaceAs = async <T>(c: KubeClient, path: string, obj: T): Promise<T> => (await c.replace(path, obj as unknown as KubernetesObject)) as unknown as T;

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Event reasons of the provider (the syncer's recorder is reused; its reason type is the syncer's). */
type ProviderReason = 'Offloaded' | 'OffloadFailed' | 'MissingReferences' | 'RemotePodLost';

export class VirtualNodeProvider {
  readonly #o: ProviderOptions;
  readonly #log: Logger;
  readonly #cfg: VirtualNodeConfig;
  readonly #nodePath: string;
  readonly #leasePath: string;
  readonly #localPods: Informer<Pod>;
  readonly #remotePods: Informer<Pod>;
  readonly #remoteConfigMaps: Informer<KubeObject>;
  readonly #remoteSecrets: Informer<KubeObject>;
  readonly #queue: WorkQueue;
  readonly #events: EventRecorder;
  readonly #abort = new AbortController();

  #summary: RemoteSummary = EMPTY_SUMMARY;
  #reach: Reachability = { reachable: false, error: 'not probed yet' };
  #probeFailures = 0;
  #probedOnce = false;
  #nodeUid: string | undefined;
  #nodeLabels: Record<string, string> = {};
  #registered = false;
  #synced = false;
  #stopped = false;
  /** Local pod key -> when it started waiting for references. */
  readonly #waitingRefs = new Map<string, number>();
  /** Local pod key -> when the latest remote change was observed (mirror latency metric). */
  readonly #remoteSeenAt = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: ProviderOptions) {
    this.#o = options;
    this.#cfg = options.node;
    this.#log = options.logger.child({ remote: options.remoteCluster, node: options.node.nodeName });
    this.#nodePath = resourcePath({ version: 'v1', resource: 'nodes', name: this.#cfg.nodeName });
    this.#leasePath = resourcePath({ group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespace: NODE_LEASE_NAMESPACE, name: this.#cfg.nodeName });
    const ours = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${ORIGIN_CLUSTER_LABEL}=${options.localCluster}`;
    const registry = options.metrics?.registry;
    const common = { logger: this.#log, ...(registry ? { registry } : {}) };
    const pods = { ...common, transform: withoutManagedFields<Pod> };
    this.#localPods = createInformer<Pod>({ ...pods, kubeConfig: options.local.kubeConfig, client: options.local, path: '/api/v1/pods', fieldSelector: `spec.nodeName=${this.#cfg.nodeName}`, name: `vn-local-pods-${options.remoteCluster}` });
    this.#remotePods = createInformer<Pod>({ ...pods, kubeConfig: options.remote.kubeConfig, client: options.remote, path: '/api/v1/pods', labelSelector: ours, name: `vn-remote-pods-${options.remoteCluster}` });
    // Only "does the copy exist?" is asked of these: keep metadata, never the payloads (the
    // syncer's copies of every replicated Secret and ConfigMap would otherwise fill the heap).
    const existence = { ...common, transform: metadataOnly<KubeObject> };
    this.#remoteConfigMaps = createInformer<KubeObject>({ ...existence, kubeConfig: options.remote.kubeConfig, client: options.remote, path: '/api/v1/configmaps', labelSelector: ours, name: `vn-remote-configmaps-${options.remoteCluster}` });
    this.#remoteSecrets = createInformer<KubeObject>({ ...existence, kubeConfig: options.remote.kubeConfig, client: options.remote, path: '/api/v1/secrets', labelSelector: ours, name: `vn-remote-secrets-${options.remoteCluster}` });
    this.#queue = new WorkQueue({
      name: `virtual-node-${options.remoteCluster}`,
      concurrency: options.concurrency ?? 16,
      process: (key) => this.#reconcile(key),
      backoff: { baseMs: 100, maxMs: 30_000, jitter: 0.2 },
      onError: (key, err, failures) => {
        const level = failures >= 5 ? 'warn' : 'debug';
        this.#log[level]({ pod: key, failures, err: errText(err) }, 'pod reconcile failed; retrying');
      },
      onDepth: (depth) => options.metrics?.queueDepth.set({ remote: options.remoteCluster }, depth),
    });
    this.#events = new EventRecorder({
      client: options.events ?? options.local,
      component: 'kube-offload-virtual-node',
      onError: (err) => this.#log.debug({ err: errText(err) }, 'event not recorded'),
    });
  }

  get nodeName(): string {
    return this.#cfg.nodeName;
  }

  state(): ProviderState {
    return {
      registered: this.#registered,
      reachable: this.#reach.reachable,
      synced: this.#synced,
      pods: this.#localPods.list().length,
      remotePods: this.#remotePods.list().length,
    };
  }

  /** Liveness: the local pod watch works (the remote being down is reported on the node, not here). */
  health(): { ok: boolean; reason?: string } {
    if (!this.#registered) return { ok: false, reason: 'node not registered yet' };
    return this.#localPods.health();
  }

  /**
   * Registers the node, starts heartbeats and informers. Resolves once the node is registered;
   * pods are handled from the moment both pod caches have synced (the remote one only syncs
   * once the remote cluster answers).
   */
  async start(): Promise<void> {
    this.#wireInformers();
    await this.#probe();
    for (;;) {
      try {
        await this.#syncNode();
        break;
      } catch (err) {
        if (this.#stopped) return;
        this.#log.warn({ err: errText(err) }, 'node registration failed; retrying');
        await this.#sleep(2000);
      }
    }
    await this.#renewLease().catch((err: unknown) => this.#log.warn({ err: errText(err) }, 'lease renewal failed'));
    this.#loop(this.#o.probeIntervalMs ?? 5000, async () => {
      await this.#probe();
      await this.#syncNode();
    });
    this.#loop(this.#o.leaseIntervalMs ?? 10_000, () => this.#renewLease());
    this.#loop(this.#o.resyncMs ?? 300_000, async () => this.#enqueueAll());

    for (const inf of [this.#remoteConfigMaps, this.#remoteSecrets]) inf.start().catch(() => undefined);
    void Promise.all([this.#localPods.start(), this.#remotePods.start()]).then(
      () => {
        if (this.#stopped) return;
        this.#synced = true;
        this.#log.info({ pods: this.#localPods.list().length, remotePods: this.#remotePods.list().length }, 'pod caches synced; reconciling');
        this.#enqueueAll();
      },
      () => undefined,
    );
  }

  /** Resolves when the work queue has nothing queued, running or waiting (tests, shutdown). */
  async whenIdle(): Promise<void> {
    await this.#queue.whenIdle();
  }

  /** Stops everything; the node and its pods stay (a restarted provider resumes them). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const inf of [this.#localPods, this.#remotePods, this.#remoteConfigMaps, this.#remoteSecrets]) inf.stop();
    await this.#queue.shutdown({ drain: false });
    this.#events.stop();
  }

  // ---- loops --------------------------------------------------------------------------------

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }

  #after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  /** Runs `fn` every `ms` (measured from the end of the previous run), logging failures. */
  #loop(ms: number, fn: () => Promise<void>): void {
    const tick = async (): Promise<void> => {
      if (this.#stopped) return;
      try {
        await fn();
      } catch (err) {
        this.#log.warn({ err: errText(err) }, 'periodic task failed');
      }
      if (!this.#stopped) this.#after(ms, () => void tick());
    };
    this.#after(ms, () => void tick());
  }

  // ---- node ---------------------------------------------------------------------------------

  async #probe(): Promise<void> {
    const remoteName = this.#o.remoteCluster;
    try {
      const list = await this.#o.remote.list('/api/v1/nodes', { resourceVersion: '0', signal: AbortSignal.timeout(this.#o.probeTimeoutMs ?? 4000) });
      let version = this.#summary.version;
      if (!version) {
        const v = await this.#o.remote.request<{ gitVersion?: string }>('GET', '/version', { timeoutMs: this.#o.probeTimeoutMs ?? 4000 }).catch(() => undefined);
        version = v?.gitVersion;
      }
      this.#summary = summarizeRemote((list.items ?? []) as unknown as Node[], this.#cfg.convention, version);
      this.#probeFailures = 0;
      if (!this.#reach.reachable) {
        this.#log.info({ nodes: this.#summary.nodes, capacity: this.#summary.capacity }, this.#probedOnce ? 'remote cluster reachable again' : 'remote cluster reachable');
        this.#reach = { reachable: true };
        // Catch up at once rather than at the next event or resync.
        if (this.#synced) this.#enqueueAll();
      }
    } catch (err) {
      this.#probeFailures++;
      const threshold = this.#o.unreachableAfter ?? 2;
      if ((this.#reach.reachable || !this.#probedOnce) && (this.#probeFailures >= threshold || !this.#probedOnce)) {
        this.#log.warn({ err: errText(err), failures: this.#probeFailures }, 'remote cluster unreachable');
      }
      if (this.#probeFailures >= threshold || !this.#probedOnce) this.#reach = { reachable: false, error: errText(err) };
    }
    this.#probedOnce = true;
    this.#o.metrics?.remoteReachable.set({ remote: remoteName }, this.#reach.reachable ? 1 : 0);
  }

  async #syncNode(): Promise<void> {
    const local = this.#o.local;
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    let node = await getAs<Node>(local, this.#nodePath);
    if (!node) {
      node = await createAs<Node>(local, '/api/v1/nodes', buildVirtualNode(this.#cfg, this.#summary, this.#reach, now));
      this.#write('local', 'create-node', 'ok');
      this.#log.info({ labels: node.metadata?.labels }, 'virtual node registered');
    } else {
      const merged = mergeNodeMetadata(node, this.#cfg, this.#summary);
      if (merged) {
        node = await replaceAs<Node>(local, this.#nodePath, merged);
        this.#write('local', 'update-node', 'ok');
      }
    }
    const wasReady = isNodeReady(node);
    const status = nodeStatusUpdate(node, desiredNodeStatus(this.#cfg, this.#summary, this.#reach, now, node.status), nowMs, this.#o.statusHeartbeatMs ?? 60_000);
    if (status) {
      node = await replaceAs<Node>(local, `${this.#nodePath}/status`, { ...node, status });
      this.#write('local', 'update-node-status', 'ok');
      if (isNodeReady(node) !== wasReady) this.#log.info({ ready: isNodeReady(node) }, 'node readiness changed');
    }
    if (this.#nodeUid && node.metadata?.uid !== this.#nodeUid) this.#log.warn({}, 'virtual node was re-created');
    this.#nodeUid = node.metadata?.uid;
    this.#nodeLabels = node.metadata?.labels ?? {};
    this.#registered = true;
  }

  async #renewLease(): Promise<void> {
    if (!this.#registered) return;
    const local = this.#o.local;
    const nowMs = Date.now();
    const duration = this.#o.leaseDurationSeconds;
    const lease = await getAs<Lease>(local, this.#leasePath);
    if (!lease) {
      const collection = resourcePath({ group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespace: NODE_LEASE_NAMESPACE });
      try {
        await createAs<Lease>(local, collection, buildNodeLease(this.#cfg.nodeName, this.#nodeUid, nowMs, duration));
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    } else {
      await replaceAs<Lease>(local, this.#leasePath, renewNodeLease(lease, this.#cfg.nodeName, this.#nodeUid, nowMs, duration));
    }
  }

  // ---- pods ---------------------------------------------------------------------------------

  #wireInformers(): void {
    const enqueueLocal = (pod: Pod): void => {
      const ns = pod.metadata?.namespace;
      const name = pod.metadata?.name;
      if (ns && name) this.#queue.add(`${ns}/${name}`);
      this.#o.metrics?.pods.set({ remote: this.#o.remoteCluster }, this.#localPods.list().length);
    };
    for (const ev of ['add', 'update', 'delete'] as const) this.#localPods.on(ev, enqueueLocal);

    const enqueueRemote = (pod: Pod): void => {
      const key = localKeyOfRemote(pod, this.#o.localCluster);
      if (!key) return;
      const [ns] = splitKey(key);
      if (twinNamespaceName(ns, this.#o.localCluster) !== pod.metadata?.namespace) return; // not the twin of that namespace
      if (!this.#remoteSeenAt.has(key)) this.#remoteSeenAt.set(key, Date.now());
      this.#queue.add(key);
    };
    for (const ev of ['add', 'update', 'delete'] as const) this.#remotePods.on(ev, enqueueRemote);

    // A copy arriving in a twin namespace wakes the pods that wait for references there.
    const wakeWaiting = (obj: KubeObject): void => {
      const twin = obj.metadata?.namespace;
      for (const key of this.#waitingRefs.keys()) {
        if (twinNamespaceName(splitKey(key)[0], this.#o.localCluster) === twin) this.#queue.add(key);
      }
    };
    for (const inf of [this.#remoteConfigMaps, this.#remoteSecrets]) {
      inf.on('add', wakeWaiting);
      inf.on('update', wakeWaiting);
    }
  }

  #enqueueAll(): void {
    if (!this.#synced) return;
    for (const pod of this.#localPods.list()) this.#queue.add(`${pod.metadata?.namespace}/${pod.metadata?.name}`);
    for (const pod of this.#remotePods.list()) {
      const key = localKeyOfRemote(pod, this.#o.localCluster);
      if (key) this.#queue.add(key);
    }
  }

  #write(side: Side, verb: string, result: string): void {
    this.#o.metrics?.writes.inc({ remote: this.#o.remoteCluster, side, verb, result });
  }

  async #call<T>(side: Side, verb: string, fn: () => Promise<T>): Promise<T> {
    try {
      const out = await fn();
      this.#write(side, verb, 'ok');
      return out;
    } catch (err) {
      this.#write(side, verb, String(statusCodeOf(err) ?? 'network'));
      throw err;
    }
  }

  #event(pod: Pod, type: 'Normal' | 'Warning', reason: ProviderReason, message: string): void {
    // The syncer's recorder types its reasons; ours are plain Event reasons too.
    this.#events.record({ apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata ?? {} } as KubeObject, type, reason as unknown as EventReason, message);
  }

  async #reconcile(key: string): Promise<void> {
    if (!this.#synced || this.#stopped) return; // everything is enqueued once both caches sync
    const started = Date.now();
    // The remote change this run answers, for the mirror latency metric.
    const seen = this.#remoteSeenAt.get(key);
    this.#remoteSeenAt.delete(key);
    let result = 'ok';
    try {
      const [namespace, name] = splitKey(key);
      const twin = twinNamespaceName(namespace, this.#o.localCluster);
      const local = this.#localPods.get(key);
      const remote = this.#remotePods.get(`${twin}/${name}`);
      const nodeLabels = this.#nodeLabels;
      const virtualOnlyKeys = virtualOnlyLabelKeys(this.#cfg, this.#summary);
      const actions = planPod(local, remote, {
        localCluster: this.#o.localCluster,
        remoteCluster: this.#o.remoteCluster,
        hostIP: this.#cfg.nodeIP,
        now: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        remotePod: (pod) =>
          remotePodFor(pod, {
            localCluster: this.#o.localCluster,
            remoteCluster: this.#o.remoteCluster,
            twinNamespace: twin,
            convention: this.#cfg.convention,
            nodeName: this.#cfg.nodeName,
            nodeLabels,
            virtualOnlyKeys,
          }),
      });
      if (!actions.some((a) => a.kind === 'createRemote')) this.#stopWaiting(key);
      for (const action of actions) {
        if (!(await this.#execute(key, namespace, name, twin, action, local))) break;
        if (action.kind === 'patchLocalStatus' && seen !== undefined) {
          this.#o.metrics?.mirrorLatency.observe({ remote: this.#o.remoteCluster }, (Date.now() - seen) / 1000);
        }
      }
    } catch (err) {
      result = 'error';
      if (seen !== undefined && !this.#remoteSeenAt.has(key)) this.#remoteSeenAt.set(key, seen);
      throw err;
    } finally {
      this.#o.metrics?.reconcileDuration.observe({ remote: this.#o.remoteCluster, result }, (Date.now() - started) / 1000);
    }
  }

  #stopWaiting(key: string): void {
    if (this.#waitingRefs.delete(key)) this.#o.metrics?.waitingForReferences.set({ remote: this.#o.remoteCluster }, this.#waitingRefs.size);
  }

  /** Live GET of the remote pod for `name` in the twin namespace, if it was made for `uid`. */
  async #liveRemoteFor(twin: string, name: string, uid: string): Promise<Pod | undefined> {
    const pod = await getAs<Pod>(this.#o.remote, podsPath(twin, name));
    return pod && pod.metadata?.annotations?.[ORIGIN_UID_ANNOTATION] === uid ? pod : undefined;
  }

  /** Executes one action; false stops the rest of the plan (retry comes from an event or a requeue). */
  async #execute(key: string, namespace: string, name: string, twin: string, action: PodAction, local: Pod | undefined): Promise<boolean> {
    const { local: lc, remote: rc } = this.#o;
    switch (action.kind) {
      case 'createRemote': {
        if (!local) return false;
        if (!this.#remoteConfigMaps.hasSynced() || !this.#remoteSecrets.hasSynced()) {
          this.#queue.addAfter(key, 1000);
          return false;
        }
        const refs = requiredReferences(action.pod.spec ?? { containers: [] });
        const missing = missingReferences(refs, (kind, n) => (kind === 'configmap' ? this.#remoteConfigMaps : this.#remoteSecrets).get(`${twin}/${n}`) !== undefined);
        if (missing.length) {
          const since = this.#waitingRefs.get(key) ?? Date.now();
          if (!this.#waitingRefs.has(key)) {
            this.#waitingRefs.set(key, since);
            this.#o.metrics?.waitingForReferences.set({ remote: this.#o.remoteCluster }, this.#waitingRefs.size);
          }
          if (Date.now() - since >= (this.#o.referencesWarnAfterMs ?? 30_000)) {
            this.#event(local, 'Warning', 'MissingReferences', `Waiting for ${missing.join(', ')} to be replicated into namespace ${twin} of remote cluster ${this.#o.remoteCluster}`);
          }
          this.#queue.addAfter(key, this.#o.referencesRetryMs ?? 2000);
          return false;
        }
        this.#stopWaiting(key);
        try {
          await this.#call('remote', 'create-pod', () => createAs<Pod>(rc, podsPath(twin), action.pod));
        } catch (err) {
          if (isAlreadyExists(err)) return false; // our earlier create (cache lag) or a stale pod: the informer tells
          if (isNotFound(err)) {
            // The twin namespace does not exist yet (the syncer creates it too); create it.
            await this.#ensureTwinNamespace(namespace, twin);
          } else if (this.#queue.numRequeues(key) >= 2) {
            // Transient refusals (the twin's default ServiceAccount not there yet) retry quietly first.
            this.#event(local, 'Warning', 'OffloadFailed', `Creating the pod in remote cluster ${this.#o.remoteCluster} failed: ${errText(err)}`);
          }
          throw err;
        }
        this.#log.debug({ pod: key, twin }, 'remote pod created');
        this.#event(local, 'Normal', 'Offloaded', `Created pod ${twin}/${name} in remote cluster ${this.#o.remoteCluster}`);
        return true;
      }
      case 'deleteRemote': {
        if (action.why === 'orphan') {
          // Never trust an empty cache with a delete: check that the local pod is really gone.
          const uid = this.#remotePods.get(`${action.namespace}/${action.name}`)?.metadata?.annotations?.[ORIGIN_UID_ANNOTATION];
          const live = await getAs<Pod>(lc, podsPath(namespace, name));
          if (live && live.metadata?.uid === uid && live.spec?.nodeName === this.#cfg.nodeName) {
            this.#queue.addAfter(key, 1000);
            return false;
          }
        }
        try {
          await this.#call('remote', 'delete-pod', () =>
            rc.delete(podsPath(action.namespace, action.name), { preconditions: { uid: action.uid }, ...(action.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: action.gracePeriodSeconds } : {}) }),
          );
          this.#log.debug({ pod: key, why: action.why }, 'remote pod deleted');
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err)) throw err;
        }
        return true;
      }
      case 'patchRemoteLabels': {
        try {
          await this.#call('remote', 'patch-pod', () => rc.patch(podsPath(action.namespace, action.name), { metadata: { labels: action.labels } }, 'merge'));
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        return true;
      }
      case 'patchLocalStatus': {
        if (!local) return false;
        try {
          await this.#call('local', 'patch-pod-status', () => lc.patch(podsPath(namespace, name, 'status'), { metadata: { uid: local.metadata?.uid }, status: action.patch }, 'merge'));
        } catch (err) {
          if (isNotFound(err)) return false;
          throw err;
        }
        return true;
      }
      case 'failLocal': {
        if (!local) return false;
        if (await this.#liveRemoteFor(twin, name, local.metadata?.uid ?? '')) {
          this.#queue.addAfter(key, 1000); // the cache lags; the remote pod is there
          return false;
        }
        try {
          await this.#call('local', 'patch-pod-status', () => lc.patch(podsPath(namespace, name, 'status'), { metadata: { uid: local.metadata?.uid }, status: action.patch }, 'merge'));
        } catch (err) {
          if (isNotFound(err)) return false;
          throw err;
        }
        this.#log.info({ pod: key }, 'remote pod lost; local pod failed');
        this.#event(local, 'Warning', 'RemotePodLost', `The pod no longer exists in remote cluster ${this.#o.remoteCluster}; marked Failed so that its controller replaces it`);
        return true;
      }
      case 'finalizeLocal': {
        if (await this.#liveRemoteFor(twin, name, action.uid)) {
          this.#queue.addAfter(key, 1000);
          return false;
        }
        try {
          await this.#call('local', 'delete-pod', () => lc.delete(podsPath(namespace, name), { gracePeriodSeconds: 0, preconditions: { uid: action.uid } }));
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err)) throw err;
        }
        return true;
      }
    }
  }

  async #ensureTwinNamespace(namespace: string, twin: string): Promise<void> {
    const localNs = (await getAs<KubeObject>(this.#o.local, resourcePath({ version: 'v1', resource: 'namespaces', name: namespace }))) ?? { metadata: { name: namespace } };
    const desired = desiredTwinNamespace(localNs, { localCluster: this.#o.localCluster, twinNamespace: twin });
    try {
      await this.#call('remote', 'create-namespace', () => createAs<KubeObject>(this.#o.remote, '/api/v1/namespaces', desired));
      this.#log.info({ twin }, 'twin namespace created');
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
}
