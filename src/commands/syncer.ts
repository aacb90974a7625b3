// `kube-offload syncer`: parse flags, warm the caches, (optionally) win the Lease, reconcile until
// SIGTERM/SIGINT. Exit 2 on bad flags, 1 on start-up failure or lost leadership (a replica that
// lost the Lease exits so that it can never write concurrently with the new leader; the kubelet
// restarts it as a standby).
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseCommandFlags } from '../common/flags.ts';
import { createLogger, flushLogger } from '../common/log.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.ts';
import { LeaderElector } from '../kube/leader.ts';
import { SYNCER_USAGE, parseSyncerArgs } from '../syncer/config.ts';
import type { SyncerConfig } from '../syncer/config.ts';
import type { Syncer } from '../syncer/controller.ts';
import { connectSyncer, discoverPeers } from '../syncer/connect.ts';
import type { ConnectOptions } from '../syncer/connect.ts';
import type { PeerWatcher } from '../kube/peer-watcher.ts';
import { loadKubeClientConfig } from '../kube/kubeconfig.ts';
import type { KubeconfigOptions } from '../kube/kubeconfig.ts';
import { createMetrics } from '../syncer/metrics.ts';
import type { SyncerMetrics } from '../syncer/metrics.ts';
import { startHealthServer } from '../syncer/server.ts';
import type { HealthServer } from '../syncer/server.ts';
import { listenForShutdown, logUnhandledRejections } from '../common/process-events.ts';

/** The small loader when it can (memory), client-node's KubeConfig otherwise (exec plugins...). */
function kubeConfigFor(file?: string, options?: KubeconfigOptions): KubeConfig {
  return loadKubeClientConfig(file, options) as unknown as KubeConfig;
}

type Logger = ReturnType<typeof createLogger>;

/** /metrics, and /healthz and /readyz from the syncer's informers (and the peer Secrets'). */
function serveHealth(syncer: Syncer, peers: PeerWatcher, metrics: SyncerMetrics, port: number): Promise<HealthServer> {
  metrics.setCacheSizes(() => syncer.cacheSizes());
  return startHealthServer({
    port,
    registry: metrics.registry,
    healthz: () => {
      const health = syncer.health();
      const lines = health.informers.map(
        (informer) => `${informer.ok ? '[+]' : '[-]'} ${informer.name}${informer.reason ? `: ${informer.reason}` : ''}`,
      );
      return { ok: health.ok, detail: lines.join('\n') };
    },
    readyz: () => {
      const synced = syncer.hasSynced() && peers.hasSynced();
      const detail = synced ? 'caches synced' : `caches not synced yet (${JSON.stringify(syncer.cacheSizes())})`;
      return { ok: synced, detail };
    },
  });
}

/**
 * Runs the syncer while this replica holds the Lease. Losing it exits the process, so that only
 * the new leader writes, unless we are shutting down (`stopping`).
 */
function campaign(
  syncer: Syncer,
  config: SyncerConfig,
  localKubeConfig: KubeConfig,
  logger: Logger,
  stopping: () => boolean,
): { elector: LeaderElector; running: () => Promise<void> | undefined } {
  const identity = `${os.hostname()}_${randomUUID()}`;
  let running: Promise<void> | undefined;
  const elector = new LeaderElector({
    client: new KubeClient(localKubeConfig, { userAgent: 'kube-offload-syncer/leader-election' }),
    namespace: config.leaseNamespace,
    name: config.leaseName,
    identity,
    leaseDurationMs: config.leaseDurationMs,
    renewDeadlineMs: Math.round((config.leaseDurationMs * 2) / 3),
    retryPeriodMs: Math.round((config.leaseDurationMs * 2) / 15),
    logger,
    onStartedLeading: (signal) => {
      running = syncer.run(signal).catch((err: unknown) => {
        logger.error({ err: String(err) }, 'syncer stopped with an error');
      });
    },
    onStoppedLeading: () => {
      if (stopping()) return;
      logger.error({ identity }, 'lost leadership; exiting so that only the new leader writes');
      void flushLogger(logger).finally(() => process.exit(1));
    },
    onNewLeader: (holder) => logger.info({ leader: holder, me: holder === identity }, 'leader observed'),
  });
  logger.info({ lease: `${config.leaseNamespace}/${config.leaseName}`, identity }, 'campaigning for leadership');
  elector.start();
  return { elector, running: () => running };
}

interface Connected {
  syncer: Syncer;
  peers: PeerWatcher;
  local: KubeConfig;
}

/** The syncer on the --remote remotes, and the watcher that adds and removes peers at run time. */
function connect(config: SyncerConfig, metrics: SyncerMetrics, logger: Logger): Connected {
  const local = kubeConfigFor(config.kubeconfig, { context: config.context });
  const remotes = config.remotes.map((remote) => ({
    name: remote.name,
    kubeConfig: kubeConfigFor(remote.kubeconfig),
    labels: remote.labels,
  }));
  const options: ConnectOptions = {
    clusterName: config.clusterName,
    localKubeConfig: local,
    remotes,
    metrics,
    logger,
    qps: config.qps,
    burst: config.burst,
    workers: config.workers,
    resyncPeriodMs: config.resyncPeriodMs,
    backfillPeriodMs: config.backfillPeriodMs,
  };
  const syncer = connectSyncer(options);
  const reserved = new Set(config.remotes.map((remote) => remote.name));
  const peers = discoverPeers(syncer, { ...options, namespace: config.peerNamespace, reserved });
  return { syncer, peers, local };
}

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('syncer', argv, parseSyncerArgs, SYNCER_USAGE);
  if (typeof config === 'number') return config;
  const logger = createLogger(config.logLevel);
  logUnhandledRejections(logger);
  const signalled = listenForShutdown().requested;

  let server: HealthServer | undefined;
  const metrics = createMetrics();
  try {
    const { syncer, peers, local } = connect(config, metrics, logger);
    server = await serveHealth(syncer, peers, metrics, config.metricsPort);
    const remotes = config.remotes.map((remote) => remote.name);
    const starting = {
      metricsPort: server.port,
      cluster: config.clusterName,
      server: local.getCurrentCluster()?.server,
      remotes,
      peerSecrets: `${config.peerNamespace} (kube-offload.io/component=syncer)`,
      leaderElect: config.leaderElect,
    };
    logger.info(starting, 'syncer starting');
    syncer.startCaches().then(
      () => logger.info({ caches: syncer.cacheSizes() }, 'caches synced'),
      (err: unknown) => logger.error({ err: String(err) }, 'caches failed to start'),
    );
    peers.start().then(
      () => logger.info({ remotes: peers.remotes() }, 'peer Secrets read'),
      (err: unknown) => logger.error({ err: String(err) }, 'peer Secrets cannot be watched'),
    );

    let stopping = false;
    const work = new AbortController();
    const leadership = config.leaderElect ? campaign(syncer, config, local, logger, () => stopping) : undefined;
    const running = leadership ? undefined : syncer.run(work.signal);

    const signal = await signalled;
    stopping = true;
    logger.info({ signal }, `received ${signal}; shutting down`);
    await leadership?.elector.stop(); // aborts run() through its signal and releases the Lease
    work.abort();
    await (leadership ? leadership.running() : running);
    await peers.stop();
    syncer.stop();
    await server.close();
    await flushLogger(logger);
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
    return 0;
  } catch (error) {
    const message = (error as Error).message;
    logger.fatal({ err: message }, 'cannot start the syncer');
    await flushLogger(logger);
    process.stderr.write(`kube-offload syncer: ${message}\n`);
    await server?.close();
    return 1;
  }
}
