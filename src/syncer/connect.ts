// The syncer on real clusters: Kubernetes clients with a write limit per cluster, informers
// (with slim caches, see slim.ts), and the Event recorder, handed to the Syncer shell; and the
// remotes found at run time from peer Secrets (discoverPeers).
import { KubeClient, resourcePath } from '../kube/client.ts';
import type { KubernetesObject } from '../kube/client.ts';
import { EventRecorder } from '../kube/events.ts';
import { createInformer } from '../kube/informer.ts';
import type { KubeConfigLike } from '../kube/kubeconfig.ts';
import { PeerWatcher } from '../kube/peer-watcher.ts';
import { TokenBucket } from '../kube/ratelimit.ts';
import { errorMessage } from '../common/errors.ts';
import { peerSecretSelector } from '../common/peer-secret.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import type { SyncerLogger } from './api.ts';
import { localCaches, remoteCaches } from './caches.ts';
import type { Cache, CacheFactory } from './caches.ts';
import { Syncer } from './controller.ts';
import type { SyncerRemote } from './controller.ts';
import type { SyncerMetrics } from './metrics.ts';
import { slimLocal, slimRemote } from './slim.ts';

export interface RemoteSpec {
  name: string;
  kubeConfig: KubeConfigLike;
  /** Labels the namespaces' `kube-offload.io/clusters` selector is matched against. */
  labels: Record<string, string>;
}

export interface ConnectOptions {
  clusterName: string;
  localKubeConfig: KubeConfigLike;
  remotes: RemoteSpec[];
  metrics: SyncerMetrics;
  logger: SyncerLogger;
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

const USER_AGENT = 'kube-offload-syncer';

/** Informers on one cluster; `readClient` gives each informer its client. */
function informers(options: ConnectOptions, kubeConfig: KubeConfigLike, readClient: () => KubeClient): CacheFactory {
  return (spec): Cache =>
    createInformer<KubeObject>({
      kubeConfig,
      client: readClient(),
      path: spec.path,
      name: spec.name,
      ...(spec.labelSelector ? { labelSelector: spec.labelSelector } : {}),
      transform: spec.remote ? slimRemote : slimLocal, // what the caches keep: see slim.ts
      logger: options.logger,
      onWatchRestart: (reason) => options.metrics.watchRestarts.inc({ informer: spec.name, reason }),
      ...(options.informerTuning ?? {}),
    });
}

const writeClient = (options: ConnectOptions, kubeConfig: KubeConfigLike): KubeClient =>
  new KubeClient(kubeConfig, {
    writeLimiter: new TokenBucket({ qps: options.qps, burst: options.burst }),
    userAgent: USER_AGENT,
  });

const readClient = (kubeConfig: KubeConfigLike): KubeClient => new KubeClient(kubeConfig, { userAgent: USER_AGENT });

/** One remote: a write client, and informers sharing one read client. */
export function connectRemote(options: ConnectOptions, spec: RemoteSpec): SyncerRemote {
  const read = readClient(spec.kubeConfig);
  const caches = remoteCaches(
    spec.name,
    options.clusterName,
    informers(options, spec.kubeConfig, () => read),
  );
  const client = writeClient(options, spec.kubeConfig);
  const close = (): void => {
    client.close();
    read.close();
  };
  return { name: spec.name, labels: spec.labels, client, caches, close };
}

/** A Syncer on the clusters the kubeconfigs name. */
export function connectSyncer(options: ConnectOptions): Syncer {
  const { clusterName, localKubeConfig, metrics, logger } = options;
  const local = writeClient(options, localKubeConfig);
  const events = new EventRecorder({
    client: readClient(localKubeConfig),
    component: USER_AGENT,
    onDrop: () => metrics.eventsDropped.inc(),
    onError: (err) => logger.debug({ err: errorMessage(err) }, 'event write failed'),
  });
  const remotes = options.remotes.map((spec) => connectRemote(options, spec));
  return new Syncer({
    clusterName,
    local: {
      client: local,
      caches: localCaches(informers(options, localKubeConfig, () => readClient(localKubeConfig))),
    },
    remotes,
    events,
    metrics,
    logger,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.resyncPeriodMs !== undefined ? { resyncPeriodMs: options.resyncPeriodMs } : {}),
    ...(options.backfillPeriodMs !== undefined ? { backfillPeriodMs: options.backfillPeriodMs } : {}),
    onStop: () => {
      events.stop();
      local.close();
    },
  });
}

export interface PeerDiscoveryOptions extends ConnectOptions {
  /** The namespace of the peer Secrets (the syncer's own). */
  namespace: string;
  /** Remotes given with --remote: a peer Secret of the same name is ignored. */
  reserved: ReadonlySet<string>;
}

/**
 * Remotes from peer Secrets (label kube-offload.io/component=syncer in `namespace`): a new Secret
 * adds its remote to the running syncer, a deleted one removes it, new credentials are swapped in.
 */
export function discoverPeers(syncer: Syncer, options: PeerDiscoveryOptions): PeerWatcher {
  const { logger } = options;
  const secrets = createInformer<KubernetesObject>({
    kubeConfig: options.localKubeConfig,
    path: resourcePath({ version: 'v1', resource: 'secrets', namespace: options.namespace }),
    labelSelector: peerSecretSelector('syncer'),
    name: 'local/peer-secrets',
    logger,
    onWatchRestart: (reason) => options.metrics.watchRestarts.inc({ informer: 'local/peer-secrets', reason }),
    ...(options.informerTuning ?? {}),
  });
  return new PeerWatcher({
    secrets,
    component: 'syncer',
    reserved: options.reserved,
    logger,
    handlers: {
      add: (name, kubeConfig) => {
        const remote = connectRemote(options, { name, kubeConfig, labels: {} });
        syncer.addRemote(remote).catch((err: unknown) => {
          logger.debug({ remote: name, err: errorMessage(err) }, 'remote removed before its caches synced');
        });
      },
      remove: (name) => void syncer.removeRemote(name),
    },
  });
}
