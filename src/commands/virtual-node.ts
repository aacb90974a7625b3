// `kube-offload virtual-node`: one virtual node per --remote, run until SIGTERM/SIGINT.
// Exit 2 on bad flags, 1 when a kubeconfig cannot be loaded or leadership is lost.
import http from 'node:http';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseCommandFlags } from '../shared/flags.ts';
import { KubeClient, loadKubeConfig } from '../kube/client.ts';
import { LeaderElector } from '../kube/leader.ts';
import { TokenBucket } from '../kube/ratelimit.ts';
import { createLogger, flushLogger } from '../shared/log.ts';
import { VIRTUAL_NODE_USAGE, parseVirtualNodeArgs } from '../virtualnode/config.ts';
import { createProviderMetrics } from '../virtualnode/metrics.ts';
import { VirtualNodeProvider } from '../virtualnode/provider.ts';
import { listenForShutdown, logUnhandledRejections } from '../shared/process-events.ts';

const VERSION = '0.1.0';

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('virtual-node', argv, parseVirtualNodeArgs, VIRTUAL_NODE_USAGE);
  if (typeof config === 'number') return config;

  const logger = createLogger(config.logLevel);
  logUnhandledRejections(logger);
  const shutdown = listenForShutdown<'leadership-lost'>();

  const metrics = createProviderMetrics();
  let providers: VirtualNodeProvider[];
  let localClient: KubeClient;
  const clients: KubeClient[] = [];
  try {
    const writeLimiter = (): TokenBucket => new TokenBucket({ qps: config.qps, burst: config.burst });
    const localConfig = loadKubeConfig(config.kubeconfig);
    localClient = new KubeClient(localConfig, { writeLimiter: writeLimiter(), userAgent: `kube-offload-virtual-node/${VERSION}` });
    // Events have their own (lower) rate limit in the recorder; they must not slow status writes.
    const eventsClient = new KubeClient(localConfig, { userAgent: `kube-offload-virtual-node/${VERSION}` });
    clients.push(localClient, eventsClient);
    providers = config.remotes.map((remote) => {
      const remoteClient = new KubeClient(loadKubeConfig(remote.kubeconfig), { writeLimiter: writeLimiter(), userAgent: `kube-offload-virtual-node/${VERSION}` });
      clients.push(remoteClient);
      return new VirtualNodeProvider({
        localCluster: config.clusterName,
        remoteCluster: remote.name,
        local: localClient,
        remote: remoteClient,
        events: eventsClient,
        node: { nodeName: remote.nodeName, remoteCluster: remote.name, nodeIP: config.nodeIP, convention: config.convention, extraLabels: config.extraLabels, providerVersion: VERSION },
        logger,
        metrics,
        concurrency: config.concurrency,
        probeIntervalMs: config.probeIntervalMs,
        unreachableAfter: config.unreachableAfter,
        leaseIntervalMs: config.leaseIntervalMs,
        resyncMs: config.resyncMs,
        referencesWarnAfterMs: config.referencesWarnAfterMs,
      });
    });
  } catch (error) {
    const message = (error as Error).message;
    logger.fatal({ err: message }, 'cannot load kubeconfigs');
    await flushLogger(logger);
    process.stderr.write(`kube-offload virtual-node: ${message}\n`);
    return 1;
  }

  let started = false;
  const startAll = (): void => {
    started = true;
    for (const p of providers) {
      p.start().catch((err: unknown) => logger.error({ node: p.nodeName, err: String(err) }, 'provider failed to start'));
    }
  };

  let server: http.Server | undefined;
  if (config.metricsPort !== undefined) {
    server = http.createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (url === '/metrics') {
        metrics.registry.metrics().then(
          (body) => {
            res.writeHead(200, { 'content-type': metrics.registry.contentType });
            res.end(body);
          },
          (err: unknown) => {
            res.writeHead(500);
            res.end(String(err));
          },
        );
        return;
      }
      if (url === '/healthz' || url === '/readyz') {
        // Not leading is healthy (a standby); readiness needs the nodes registered.
        const checks = started ? providers.map((p) => ({ node: p.nodeName, ...(url === '/readyz' ? readiness(p) : p.health()) })) : [];
        const ok = url === '/healthz' ? checks.every((c) => c.ok) : started && checks.every((c) => c.ok);
        const body = JSON.stringify({ status: ok ? 'ok' : 'failing', leading: started, checks });
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(body);
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server?.listen(config.metricsPort, config.metricsHost, resolve));
    const port = (server.address() as AddressInfo).port;
    logger.info({ port }, 'metrics and health on /metrics, /healthz, /readyz');
  }

  let elector: LeaderElector | undefined;
  if (config.leaderElect) {
    elector = new LeaderElector({
      client: localClient,
      namespace: config.leaderElectNamespace,
      name: `kube-offload-virtual-node-${config.clusterName}`,
      identity: `${os.hostname()}_${randomUUID()}`,
      logger,
      onStartedLeading: () => startAll(),
      onStoppedLeading: () => shutdown.request('leadership-lost'),
    });
    elector.start();
  } else {
    startAll();
  }

  const signal = await shutdown.requested;
  logger.info({ event: 'shutdown', signal }, `stopping (${signal}); virtual nodes and pods stay`);
  await Promise.all(providers.map((p) => p.stop()));
  await elector?.stop();
  server?.close();
  for (const c of clients) c.close();
  await flushLogger(logger);
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  return signal === 'leadership-lost' ? 1 : 0;
}

function readiness(p: VirtualNodeProvider): { ok: boolean; reason?: string } {
  const s = p.state();
  if (!s.registered) return { ok: false, reason: 'node not registered yet' };
  return { ok: true };
}
