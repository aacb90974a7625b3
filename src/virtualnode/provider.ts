// The virtual node provider for one remote cluster: a thin shell that assembles three
// controllers around the pure core in node.ts and pod.ts, as virtual-kubelet does:
//
// - NodeController (node-controller.ts): registers the Node, keeps its labels, taint and status,
//   and probes the remote cluster (reachability, capacity);
// - LeaseController (lease-controller.ts): the node's heartbeat Lease in kube-node-lease;
// - PodController (pod-controller.ts): runs the pods bound to the node in the remote cluster and
//   mirrors their status back.
//
// Everything it talks to comes in through narrow seams (api.ts): a ProviderClient per cluster,
// the caches, the Event sink and a Clock, so that unit tests drive it against fakes.
// createVirtualNodeProvider() builds the real ones from two KubeClients, and starts the node's
// kubelet API (src/kubelet) first, since the node publishes the port it is bound to.
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.ts';
import { startNodeKubelet } from '../kubelet/node-endpoint.ts';
import type { KubeletEndpointSettings } from '../kubelet/node-endpoint.ts';
import type { RemotePodTarget } from '../kubelet/backend.ts';
import { realClock } from '../kube/workqueue.ts';
import type { Clock } from '../kube/workqueue.ts';
import { errorMessage } from '../common/errors.ts';
import { twinNamespaceOf } from '../common/twin.ts';
import { createProviderCaches, providerClient, recordPodEvents } from './api.ts';
import type { PodEvents, ProviderCaches, ProviderClient } from './api.ts';
import { LeaseController } from './lease-controller.ts';
import { Periodic } from './loops.ts';
import { WriteCounter } from './metrics.ts';
import type { ProviderMetrics } from './metrics.ts';
import { NodeController } from './node-controller.ts';
import type { VirtualNodeConfig } from './node.ts';
import { PodController } from './pod-controller.ts';

/** What the provider does and how often; every period has a default. */
export interface ProviderSettings {
  localCluster: string;
  remoteCluster: string;
  node: VirtualNodeConfig;
  logger: Logger;
  metrics?: ProviderMetrics;
  /** Parallel pod reconciles; default 16. */
  workers?: number;
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
  resyncPeriodMs?: number;
  /** A pod waiting this long for ConfigMaps/Secrets gets a Warning Event; default 30 s. */
  referencesWarnAfterMs?: number;
  /** Re-check of missing references (events on the copies also wake the pod); default 2 s. */
  referencesRetryMs?: number;
}

/** The provider with its seams: the two clusters' API, the caches, the Event sink, the clock. */
export interface ProviderOptions extends ProviderSettings {
  local: ProviderClient;
  remote: ProviderClient;
  caches: ProviderCaches;
  events: PodEvents;
  /** Default: the real clock. */
  clock?: Clock;
  /** Jitter source of the pod retry backoff; default Math.random. */
  random?: () => number;
  /** The node's kubelet API, stopped with the provider. */
  kubeletServer?: { close(): Promise<void> };
}

/** The provider on real clusters. */
export interface ClusterProviderOptions extends ProviderSettings {
  local: KubeClient;
  remote: KubeClient;
  /**
   * Client for Events in the local cluster; default `local`. A separate client keeps Events
   * (limited by the recorder's own rate) from taking pod status writes' share of `local`'s limit.
   */
  events?: KubeClient;
  /** Serve the node's kubelet API (logs, exec, attach, port-forward, stats) with these settings. */
  kubelet?: KubeletEndpointSettings;
}

/** What happened in the provider, for tests and logs. */
export interface ProviderState {
  registered: boolean;
  reachable: boolean;
  synced: boolean;
  pods: number;
  remotePods: number;
}

/**
 * The provider on two KubeClients: informers for the caches, an EventRecorder for Events, and the
 * kubelet API listening before the node is built, so that the node carries its bound port.
 */
export async function createVirtualNodeProvider(options: ClusterProviderOptions): Promise<VirtualNodeProvider> {
  const { local, remote, events, kubelet, ...settings } = options;
  const logger = childLogger(settings);
  const registry = settings.metrics?.registry;
  const caches = createProviderCaches({
    local,
    remote,
    localCluster: settings.localCluster,
    remoteCluster: settings.remoteCluster,
    nodeName: settings.node.nodeName,
    logger,
    ...(registry ? { registry } : {}),
  });
  const kubeletServer = kubelet ? await startKubelet(options, kubelet, caches, logger) : undefined;
  const node = kubeletServer ? { ...settings.node, kubeletPort: kubeletServer.port } : settings.node;
  return new VirtualNodeProvider({
    ...settings,
    node,
    ...(kubeletServer ? { kubeletServer } : {}),
    local: providerClient(local),
    remote: providerClient(remote),
    caches,
    events: recordPodEvents(events ?? local, logger),
  });
}

/**
 * The node's kubelet API: its pods are the local pods bound to it, run in their twin namespaces;
 * their stats come from the remote's PodMetrics.
 */
async function startKubelet(
  options: ClusterProviderOptions,
  endpoint: KubeletEndpointSettings,
  caches: ProviderCaches,
  logger: Logger,
): Promise<Awaited<ReturnType<typeof startNodeKubelet>>> {
  const { nodeName, nodeIP } = options.node;
  const resolvePod = (namespace: string, name: string): RemotePodTarget | undefined => {
    const pod = caches.localPods.get(`${namespace}/${name}`);
    if (pod?.spec?.nodeName !== nodeName) return undefined;
    const twin = twinNamespaceOf(namespace, caches.localNamespaces.get(namespace), options.localCluster);
    return { namespace: twin, name };
  };
  const server = await startNodeKubelet({
    nodeName,
    nodeIP,
    settings: endpoint,
    local: options.local,
    remote: options.remote,
    resolvePod,
    // The informer only holds the pods bound to this node (field selector spec.nodeName).
    listPods: () => caches.localPods.list(),
    onError: (err, what) => logger.warn({ err: errorMessage(err), what }, 'kubelet API'),
  });
  logger.info({ port: server.port, address: endpoint.address ?? '0.0.0.0' }, 'kubelet API listening');
  return server;
}

const childLogger = (settings: ProviderSettings): Logger =>
  settings.logger.child({ remote: settings.remoteCluster, node: settings.node.nodeName });

export class VirtualNodeProvider {
  readonly #opts: ProviderOptions;
  readonly #log: Logger;
  readonly #node: NodeController;
  readonly #lease: LeaseController;
  readonly #pods: PodController;
  readonly #periodic: Periodic;
  readonly #abort = new AbortController();
  #stopped = false;

  constructor(options: ProviderOptions) {
    this.#opts = options;
    this.#log = childLogger(options);
    const clock = options.clock ?? realClock;
    const common = { logger: this.#log, clock, writes: new WriteCounter(options.metrics, options.remoteCluster) };
    const metrics = options.metrics ? { metrics: options.metrics } : {};
    this.#node = new NodeController({
      ...common,
      ...metrics,
      local: options.local,
      remote: options.remote,
      config: options.node,
      probeTimeoutMs: options.probeTimeoutMs ?? 4000,
      unreachableAfter: options.unreachableAfter ?? 2,
      statusHeartbeatMs: options.statusHeartbeatMs ?? 60_000,
      onReachable: () => this.#pods.enqueueAll(),
    });
    this.#lease = new LeaseController({
      local: options.local,
      nodeName: options.node.nodeName,
      node: this.#node,
      clock,
      ...(options.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: options.leaseDurationSeconds } : {}),
    });
    this.#pods = new PodController({
      ...common,
      ...metrics,
      ...(options.random ? { random: options.random } : {}),
      localCluster: options.localCluster,
      remoteCluster: options.remoteCluster,
      local: options.local,
      remote: options.remote,
      caches: options.caches,
      events: options.events,
      config: options.node,
      node: this.#node,
      workers: options.workers ?? 16,
      referencesWarnAfterMs: options.referencesWarnAfterMs ?? 30_000,
      referencesRetryMs: options.referencesRetryMs ?? 2000,
    });
    this.#periodic = new Periodic(clock, (err) => this.#log.warn({ err: errorMessage(err) }, 'periodic task failed'));
  }

  get nodeName(): string {
    return this.#opts.node.nodeName;
  }

  state(): ProviderState {
    return {
      registered: this.#node.registered,
      reachable: this.#node.reachable,
      synced: this.#pods.synced,
      pods: this.#opts.caches.localPods.list().length,
      remotePods: this.#opts.caches.remotePods.list().length,
    };
  }

  /** Liveness: the local pod watch works (the remote being down is reported on the node, not here). */
  health(): { ok: boolean; reason?: string } {
    if (!this.#node.registered) return { ok: false, reason: 'node not registered yet' };
    return this.#opts.caches.localPods.health();
  }

  /**
   * Registers the node, starts heartbeats and caches. Resolves once the node is registered;
   * pods are handled from the moment both pod caches have synced (the remote one only syncs
   * once the remote cluster answers).
   */
  async start(): Promise<void> {
    await this.#node.probe();
    if (!(await this.#node.register(this.#abort.signal))) return;
    await this.#lease
      .renew()
      .catch((err: unknown) => this.#log.warn({ err: errorMessage(err) }, 'lease renewal failed'));
    this.#periodic.every(this.#opts.probeIntervalMs ?? 5000, async () => {
      await this.#node.probe();
      await this.#node.sync();
    });
    this.#periodic.every(this.#opts.leaseIntervalMs ?? 10_000, () => this.#lease.renew());
    this.#periodic.every(this.#opts.resyncPeriodMs ?? 300_000, () => this.#pods.enqueueAll());
    this.#pods.start();
  }

  /** Resolves when the work queue has nothing queued, running or waiting (tests, shutdown). */
  async whenIdle(): Promise<void> {
    await this.#pods.whenIdle();
  }

  /** Stops everything; the node and its pods stay (a restarted provider resumes them). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    this.#periodic.stop();
    await this.#pods.stop();
    this.#opts.events.stop();
    await this.#opts.kubeletServer?.close();
  }
}
