// The syncer on real clusters: Kubernetes clients with a write limit per cluster, informers
// (with slim caches, see slim.ts), and the Event recorder, handed to the Syncer shell.
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.ts';
import { EventRecorder } from '../kube/events.ts';
import { createInformer } from '../kube/informer.ts';
import { TokenBucket } from '../kube/ratelimit.ts';
import { errorMessage } from '../shared/errors.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import type { SyncerLogger } from './api.ts';
import { localCaches, remoteCaches } from './caches.ts';
import type { Cache, CacheFactory } from './caches.ts';
import { Syncer } from './controller.ts';
import type { SyncerMetrics } from './metrics.ts';
import { slimLocal, slimRemote } from './slim.ts';

export interface RemoteSpec {
  name: string;
  kubeConfig: KubeConfig;
  /** Labels the namespaces' `kube-offload.io/clusters` selector is matched against. */
  labels: Record<string, string>;
}

export interface ConnectOptions {
  clusterName: string;
  localKubeConfig: KubeConfig;
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
function informers(options: ConnectOptions, kubeConfig: KubeConfig, readClient: () => KubeClient): CacheFactory {
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

/** A Syncer on the clusters the kubeconfigs name. */
export function connectSyncer(options: ConnectOptions): Syncer {
  const { clusterName, localKubeConfig, metrics, logger } = options;
  const writeClient = (kubeConfig: KubeConfig): KubeClient =>
    new KubeClient(kubeConfig, {
      writeLimiter: new TokenBucket({ qps: options.qps, burst: options.burst }),
      userAgent: USER_AGENT,
    });
  const readClient = (kubeConfig: KubeConfig): KubeClient => new KubeClient(kubeConfig, { userAgent: USER_AGENT });
  const local = writeClient(localKubeConfig);
  const events = new EventRecorder({
    client: readClient(localKubeConfig),
    component: USER_AGENT,
    onDrop: () => metrics.eventsDropped.inc(),
    onError: (err) => logger.debug({ err: errorMessage(err) }, 'event write failed'),
  });
  const remotes = options.remotes.map((spec) => {
    const read = readClient(spec.kubeConfig); // one read client for all informers of a remote
    const caches = remoteCaches(
      spec.name,
      clusterName,
      informers(options, spec.kubeConfig, () => read),
    );
    return { name: spec.name, labels: spec.labels, client: writeClient(spec.kubeConfig), caches };
  });
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
      for (const remote of remotes) remote.client.close();
    },
  });
}
