// `kube-offload syncer`: parse flags, warm the caches, (optionally) win the Lease, reconcile until
// SIGTERM/SIGINT. Exit 2 on bad flags, 1 on start-up failure or lost leadership (a replica that
// lost the Lease exits so that it can never write concurrently with the new leader; the kubelet
// restarts it as a standby).
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseCommandFlags } from '../shared/flags.ts';
import { createLogger, flushLogger } from '../shared/log.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, loadKubeConfig } from '../kube/client.ts';
import { LeaderElector } from '../kube/leader.ts';
import { SYNCER_USAGE, parseSyncerArgs } from '../syncer/config.ts';
import type { Syncer } from '../syncer/controller.ts';
import { connectSyncer } from '../syncer/connect.ts';
import { loadLiteKubeConfig } from '../kube/kubeconfig.ts';
import { createMetrics } from '../syncer/metrics.ts';
import { startHealthServer } from '../syncer/server.ts';
import { listenForShutdown, logUnhandledRejections } from '../shared/process-events.ts';

/** The small loader when it can (memory), client-node's KubeConfig otherwise (exec plugins...). */
function kubeConfigFor(file?: string): KubeConfig {
  return (loadLiteKubeConfig(file) as unknown as KubeConfig | undefined) ?? loadKubeConfig(file);
}

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('syncer', argv, parseSyncerArgs, SYNCER_USAGE);
  if (typeof config === 'number') return config;
  const logger = createLogger(config.logLevel);
  logUnhandledRejections(logger);
  const signalled = listenForShutdown().requested;

  let syncer: Syncer;
  let server;
  const metrics = createMetrics();
  try {
    const localKubeConfig = kubeConfigFor(config.kubeconfig);
    const remotes = config.remotes.map((r) => ({ name: r.name, kubeConfig: kubeConfigFor(r.kubeconfig), labels: r.labels }));
    syncer = connectSyncer({
      clusterName: config.clusterName,
      localKubeConfig,
      remotes,
      metrics,
      logger,
      qps: config.qps,
      burst: config.burst,
      workers: config.workers,
      resyncPeriodMs: config.resyncPeriodMs,
      backfillPeriodMs: config.backfillPeriodMs,
    });
    const s = syncer;
    server = await startHealthServer({
      port: config.metricsPort,
      registry: metrics.registry,
      healthz: () => {
        const h = s.health();
        return { ok: h.ok, detail: h.informers.map((i) => `${i.ok ? '[+]' : '[-]'} ${i.name}${i.reason ? `: ${i.reason}` : ''}`).join('\n') };
      },
      readyz: () => {
        const sizes = s.cacheSizes();
        return { ok: s.hasSynced(), detail: s.hasSynced() ? 'caches synced' : `caches not synced yet (${JSON.stringify(sizes)})` };
      },
    });
    metrics.setCacheSizes(() => s.cacheSizes());
    logger.info({ metricsPort: server.port, cluster: config.clusterName, remotes: remotes.map((r) => r.name), leaderElect: config.leaderElect }, 'syncer starting');
    s.startCaches().then(
      () => logger.info({ caches: s.cacheSizes() }, 'caches synced'),
      (err: unknown) => logger.error({ err: String(err) }, 'caches failed to start'),
    );

    let stopping = false;
    let elector: LeaderElector | undefined;
    const work = new AbortController();
    let running: Promise<void> | undefined;
    if (config.leaderElect) {
      const namespace = config.leaseNamespace;
      const identity = `${os.hostname()}_${randomUUID()}`;
      elector = new LeaderElector({
        client: new KubeClient(localKubeConfig, { userAgent: 'kube-offload-syncer/leader-election' }),
        namespace,
        name: config.leaseName,
        identity,
        leaseDurationMs: config.leaseDurationMs,
        renewDeadlineMs: Math.round((config.leaseDurationMs * 2) / 3),
        retryPeriodMs: Math.round((config.leaseDurationMs * 2) / 15),
        logger,
        onStartedLeading: (signal) => {
          running = s.run(signal).catch((err: unknown) => {
            logger.error({ err: String(err) }, 'syncer stopped with an error');
          });
        },
        onStoppedLeading: () => {
          if (stopping) return;
          logger.error({ identity }, 'lost leadership; exiting so that only the new leader writes');
          void flushLogger(logger).finally(() => process.exit(1));
        },
        onNewLeader: (holder) => logger.info({ leader: holder, me: holder === identity }, 'leader observed'),
      });
      logger.info({ lease: `${namespace}/${config.leaseName}`, identity }, 'campaigning for leadership');
      elector.start();
    } else {
      running = s.run(work.signal);
    }

    const signal = await signalled;
    stopping = true;
    logger.info({ signal }, `received ${signal}; shutting down`);
    await elector?.stop(); // aborts run() through its signal and releases the Lease
    work.abort();
    await running;
    s.stop();
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
