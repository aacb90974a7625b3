// The node controller: the virtual Node's lifecycle and status, and the probe of the remote
// cluster they reflect (virtual-kubelet's NodeController, with the remote as the "provider").
//
// The node is registered as a kubelet does (POST with status); afterwards our labels and taint
// are merged into the live object and the status is PUT on change (and every statusHeartbeatMs).
// The remote apiserver is probed by listing its nodes (resourceVersion=0, served from its watch
// cache), which also refreshes the capacity; after `unreachableAfter` consecutive failures the node
// turns NotReady, the first success makes it Ready again.
import type { Logger } from 'pino';
import { resourcePath } from '../kube/client.ts';
import type { Clock } from '../kube/workqueue.ts';
import { sleep } from '../common/async.ts';
import { errorMessage } from '../common/errors.ts';
import type { ProviderClient } from './api.ts';
import type { ProviderMetrics, WriteCounter } from './metrics.ts';
import {
  EMPTY_SUMMARY,
  buildVirtualNode,
  desiredNodeStatus,
  isNodeReady,
  mergeNodeMetadata,
  nodeStatusUpdate,
  rfc3339,
  summarizeRemote,
} from './node.ts';
import type { Reachability, RemoteSummary, VirtualNodeConfig } from './node.ts';
import type { Node } from './types.ts';

export interface NodeControllerOptions {
  /** The local cluster, where the Node lives. */
  local: ProviderClient;
  /** The remote cluster, which is probed. */
  remote: ProviderClient;
  config: VirtualNodeConfig;
  logger: Logger;
  clock: Clock;
  writes: WriteCounter;
  metrics?: ProviderMetrics;
  probeTimeoutMs: number;
  /** Consecutive failed probes before the node turns NotReady. */
  unreachableAfter: number;
  /** The status is rewritten at least this often even without change. */
  statusHeartbeatMs: number;
  /** Called when the remote turns reachable (again): pods catch up at once. */
  onReachable: () => void;
}

/** How long a failed registration waits before the next attempt. */
const REGISTER_RETRY_MS = 2000;

export class NodeController {
  readonly #opts: NodeControllerOptions;
  readonly #config: VirtualNodeConfig;
  readonly #log: Logger;
  readonly #nodePath: string;

  #summary: RemoteSummary = EMPTY_SUMMARY;
  #reach: Reachability = { reachable: false, error: 'not probed yet' };
  #probeFailures = 0;
  #probedOnce = false;
  #uid: string | undefined;
  #labels: Record<string, string> = {};
  #registered = false;

  constructor(options: NodeControllerOptions) {
    this.#opts = options;
    this.#config = options.config;
    this.#log = options.logger;
    this.#nodePath = resourcePath({ version: 'v1', resource: 'nodes', name: options.config.nodeName });
  }

  /** What the remote cluster offers, as of the last successful probe. */
  get summary(): RemoteSummary {
    return this.#summary;
  }
  get reachable(): boolean {
    return this.#reach.reachable;
  }
  get registered(): boolean {
    return this.#registered;
  }
  /** The Node's uid once registered (the Lease's owner). */
  get uid(): string | undefined {
    return this.#uid;
  }
  /** The live Node's labels, others' included (they decide which affinity terms brought a pod). */
  get labels(): Record<string, string> {
    return this.#labels;
  }

  /** Probes the remote apiserver; updates capacity and reachability. Never throws. */
  async probe(): Promise<void> {
    const timeoutMs = this.#opts.probeTimeoutMs;
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      const nodes = await this.#opts.remote.list<Node>('/api/v1/nodes', { resourceVersion: '0', signal });
      const version = this.#summary.version ?? (await this.#remoteVersion(timeoutMs));
      this.#summary = summarizeRemote(nodes, this.#config.convention, version);
      this.#probeSucceeded();
    } catch (err) {
      this.#probeFailed(err);
    }
    this.#probedOnce = true;
    this.#opts.metrics?.remoteReachable.set({ remote: this.#config.remoteCluster }, this.#reach.reachable ? 1 : 0);
  }

  async #remoteVersion(timeoutMs: number): Promise<string | undefined> {
    const version = await this.#opts.remote
      .get<{ gitVersion?: string }>('/version', { timeoutMs })
      .catch(() => undefined);
    return version?.gitVersion;
  }

  #probeSucceeded(): void {
    this.#probeFailures = 0;
    if (this.#reach.reachable) return;
    const { nodes, capacity } = this.#summary;
    this.#log.info(
      { nodes, capacity },
      this.#probedOnce ? 'remote cluster reachable again' : 'remote cluster reachable',
    );
    this.#reach = { reachable: true };
    // Catch up at once rather than at the next event or resync.
    this.#opts.onReachable();
  }

  #probeFailed(err: unknown): void {
    this.#probeFailures++;
    // The first probe decides at once; later ones after `unreachableAfter` failures in a row.
    const decided = this.#probeFailures >= this.#opts.unreachableAfter || !this.#probedOnce;
    if (decided && (this.#reach.reachable || !this.#probedOnce)) {
      this.#log.warn({ err: errorMessage(err), failures: this.#probeFailures }, 'remote cluster unreachable');
    }
    if (decided) this.#reach = { reachable: false, error: errorMessage(err) };
  }

  /** Registers the node, retrying until it works; false when `signal` aborted first. */
  async register(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      try {
        await this.sync();
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        this.#log.warn({ err: errorMessage(err) }, 'node registration failed; retrying');
        await sleep(REGISTER_RETRY_MS, signal);
      }
    }
  }

  /** Creates the node, or brings the live one's labels, taint and status up to date. */
  async sync(): Promise<void> {
    const nowMs = this.#opts.clock.now();
    const live = await this.#opts.local.get<Node>(this.#nodePath);
    let node = live ? await this.#mergeMetadata(live) : await this.#create(nowMs);
    node = await this.#updateStatus(node, nowMs);
    if (this.#uid && node.metadata?.uid !== this.#uid) this.#log.warn({}, 'virtual node was re-created');
    this.#uid = node.metadata?.uid;
    this.#labels = node.metadata?.labels ?? {};
    this.#registered = true;
  }

  async #create(nowMs: number): Promise<Node> {
    const desired = buildVirtualNode(this.#config, this.#summary, this.#reach, rfc3339(nowMs));
    const node = await this.#opts.local.create<Node>('/api/v1/nodes', desired);
    this.#opts.writes.count('local', 'create-node', 'ok');
    this.#log.info({ labels: node.metadata?.labels }, 'virtual node registered');
    return node;
  }

  async #mergeMetadata(live: Node): Promise<Node> {
    const merged = mergeNodeMetadata(live, this.#config, this.#summary);
    if (!merged) return live;
    const node = await this.#opts.local.replace<Node>(this.#nodePath, merged);
    this.#opts.writes.count('local', 'update-node', 'ok');
    return node;
  }

  async #updateStatus(live: Node, nowMs: number): Promise<Node> {
    const wasReady = isNodeReady(live);
    const desired = desiredNodeStatus(this.#config, this.#summary, this.#reach, rfc3339(nowMs), live.status);
    const status = nodeStatusUpdate(live, desired, nowMs, this.#opts.statusHeartbeatMs);
    if (!status) return live;
    const node = await this.#opts.local.replace<Node>(`${this.#nodePath}/status`, { ...live, status });
    this.#opts.writes.count('local', 'update-node-status', 'ok');
    if (isNodeReady(node) !== wasReady) this.#log.info({ ready: isNodeReady(node) }, 'node readiness changed');
    return node;
  }
}
