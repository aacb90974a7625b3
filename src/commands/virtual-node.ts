// `kube-offload virtual-node`: one virtual node per remote (--remote, and the peer Secrets,
// followed while running), run until SIGTERM/SIGINT.
// Exit 2 on bad flags, 1 when a kubeconfig cannot be loaded or leadership is lost.
import http from 'node:http';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { parseCommandFlags } from '../common/flags.ts';
import { KubeClient, resourcePath } from '../kube/client.ts';
import type { KubernetesObject } from '../kube/client.ts';
import { createInformer } from '../kube/informer.ts';
import { loadKubeClientConfig } from '../kube/kubeconfig.ts';
import type { KubeConfigLike } from '../kube/kubeconfig.ts';
import { PeerWatcher } from '../kube/peer-watcher.ts';
import { peerSecretSelector } from '../common/peer-secret.ts';
import { LeaderElector } from '../kube/leader.ts';
import { TokenBucket } from '../kube/ratelimit.ts';
import { errorMessage } from '../common/errors.ts';
import { createLogger, flushLogger } from '../common/log.ts';
import { VIRTUAL_NODE_USAGE, parseVirtualNodeArgs } from '../virtualnode/config.ts';
import type { VirtualNodeCommandConfig } from '../virtualnode/config.ts';
import { createProviderMetrics } from '../virtualnode/metrics.ts';
import type { ProviderMetrics } from '../virtualnode/metrics.ts';
import { createVirtualNodeProvider } from '../virtualnode/provider.ts';
import type { VirtualNodeProvider } from '../virtualnode/provider.ts';
import { ProviderSet } from '../virtualnode/provider-set.ts';
import type { BuiltProvider } from '../virtualnode/provider-set.ts';
import { listenForShutdown, logUnhandledRejections } from '../common/process-events.ts';

const VERSION = '0.1.0';

type Check = { ok: boolean; reason?: string };

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('virtual-node', argv, parseVirtualNodeArgs, VIRTUAL_NODE_USAGE);
  if (typeof config === 'number') return config;

  const logger = createLogger(config.logLevel);
  logUnhandledRejections(logger);
  const shutdown = listenForShutdown<'leadership-lost'>();

  const metrics = createProviderMetrics();
  let built: Built;
  try {
    built = await buildProviders(config, logger, metrics);
  } catch (error) {
    const message = errorMessage(error);
    logger.fatal({ err: message }, 'cannot load kubeconfigs or serve the kubelet API');
    await flushLogger(logger);
    process.stderr.write(`kube-offload virtual-node: ${message}\n`);
    return 1;
  }
  const { providers, peers, localClient, clients } = built;
  const startAll = (): void => providers.startAll();
  peers.start().then(
    () => logger.info({ remotes: peers.remotes() }, 'peer Secrets read'),
    (err: unknown) => logger.error({ err: errorMessage(err) }, 'peer Secrets cannot be watched'),
  );

  const server =
    config.metricsPort === undefined
      ? undefined
      : await serveMetrics(config, logger, metrics, () => ({
          started: providers.started,
          providers: providers.list(),
        }));

  const elector = config.leaderElect
    ? electLeader(config, localClient, logger, startAll, () => shutdown.request('leadership-lost'))
    : undefined;
  if (!elector) startAll();

  const signal = await shutdown.requested;
  logger.info({ event: 'shutdown', signal }, `stopping (${signal}); virtual nodes and pods stay`);
  await peers.stop();
  await providers.stopAll();
  await elector?.stop();
  server?.close();
  for (const client of clients) client.close();
  await flushLogger(logger);
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  return signal === 'leadership-lost' ? 1 : 0;
}

/** Runs `startAll` once this replica holds the Lease; `lost` when it no longer does. */
function electLeader(
  config: VirtualNodeCommandConfig,
  client: KubeClient,
  logger: Logger,
  startAll: () => void,
  lost: () => void,
): LeaderElector {
  const elector = new LeaderElector({
    client,
    namespace: config.leaseNamespace,
    name: `kube-offload-virtual-node-${config.clusterName}`,
    identity: `${os.hostname()}_${randomUUID()}`,
    logger,
    onStartedLeading: () => startAll(),
    onStoppedLeading: lost,
  });
  elector.start();
  return elector;
}

interface Built {
  providers: ProviderSet;
  /** Adds and removes providers as peer Secrets come and go. */
  peers: PeerWatcher;
  localClient: KubeClient;
  /** Every client made, to close at shutdown. */
  clients: KubeClient[];
}

interface RemoteSource {
  kubeConfig: KubeConfigLike;
  nodeName: string;
}

/**
 * One provider per remote: those of --remote now, those of the peer Secrets as they come and go.
 * Throws when a --remote kubeconfig cannot be loaded or a kubelet port bound.
 */
async function buildProviders(
  config: VirtualNodeCommandConfig,
  logger: Logger,
  metrics: ProviderMetrics,
): Promise<Built> {
  const userAgent = `kube-offload-virtual-node/${VERSION}`;
  // The light kubeconfig loader: client-node (~60 MiB of RSS) is loaded only for exec/OIDC auth.
  const localConfig = loadKubeClientConfig(config.kubeconfig, { context: config.context });
  logger.info({ server: localConfig.getCurrentCluster()?.server }, 'local cluster');
  const localClient = new KubeClient(localConfig, { writeLimiter: writeLimiter(config), userAgent });
  // Events have their own (lower) rate limit in the recorder; they must not slow status writes.
  const eventsClient = new KubeClient(localConfig, { userAgent });
  const sources = new Map<string, RemoteSource>();
  const build = (remote: string, portIndex: number): Promise<BuiltProvider> => {
    const source = sources.get(remote);
    if (!source) throw new Error(`remote ${remote}: no kubeconfig`);
    return buildProvider(config, { remote, ...source, portIndex }, { localClient, eventsClient, logger, metrics });
  };
  const providers = new ProviderSet(build, logger);
  for (const remote of config.remotes) {
    sources.set(remote.name, { kubeConfig: loadKubeClientConfig(remote.kubeconfig), nodeName: remote.nodeName });
    await providers.add(remote.name);
  }
  const peers = watchPeers(config, localConfig, logger, {
    add: async (remote, kubeConfig) => {
      sources.set(remote, { kubeConfig, nodeName: `virtual-${remote}` });
      await providers.add(remote).catch((err: unknown) => {
        logger.error({ remote, err: errorMessage(err) }, 'cannot serve a virtual node for this peer');
      });
    },
    remove: async (remote) => {
      await providers.remove(remote);
      sources.delete(remote);
    },
  });
  return { providers, peers, localClient, clients: [localClient, eventsClient] };
}

const writeLimiter = (config: VirtualNodeCommandConfig): TokenBucket =>
  new TokenBucket({ qps: config.qps, burst: config.burst });

/** The provider of one remote; its kubelet API listens on the base port + `portIndex`. */
async function buildProvider(
  config: VirtualNodeCommandConfig,
  remote: RemoteSource & { remote: string; portIndex: number },
  shared: { localClient: KubeClient; eventsClient: KubeClient; logger: Logger; metrics: ProviderMetrics },
): Promise<BuiltProvider> {
  const kubeletPort = config.kubelet.port === 0 ? 0 : config.kubelet.port + remote.portIndex;
  if (kubeletPort > 65535) throw new Error(`--kubelet-port: no port left for remote ${remote.remote}`);
  const remoteClient = new KubeClient(remote.kubeConfig, {
    writeLimiter: writeLimiter(config),
    userAgent: `kube-offload-virtual-node/${VERSION}`,
  });
  try {
    const provider = await createVirtualNodeProvider({
      localCluster: config.clusterName,
      remoteCluster: remote.remote,
      local: shared.localClient,
      remote: remoteClient,
      events: shared.eventsClient,
      node: {
        nodeName: remote.nodeName,
        remoteCluster: remote.remote,
        nodeIP: config.nodeIP,
        convention: config.convention,
        extraLabels: config.extraLabels,
        providerVersion: VERSION,
      },
      logger: shared.logger,
      metrics: shared.metrics,
      workers: config.workers,
      probeIntervalMs: config.probeIntervalMs,
      unreachableAfter: config.unreachableAfter,
      leaseIntervalMs: config.leaseIntervalMs,
      resyncPeriodMs: config.resyncPeriodMs,
      referencesWarnAfterMs: config.referencesWarnAfterMs,
      kubelet: { ...config.kubelet, port: kubeletPort },
    });
    return { provider, close: () => remoteClient.close() };
  } catch (err) {
    remoteClient.close();
    throw err;
  }
}

/** The peer Secrets of the provider (kube-offload.io/component=virtual-node) in --peer-namespace. */
function watchPeers(
  config: VirtualNodeCommandConfig,
  localConfig: KubeConfigLike,
  logger: Logger,
  handlers: ConstructorParameters<typeof PeerWatcher>[0]['handlers'],
): PeerWatcher {
  const secrets = createInformer<KubernetesObject>({
    kubeConfig: localConfig,
    path: resourcePath({ version: 'v1', resource: 'secrets', namespace: config.peerNamespace }),
    labelSelector: peerSecretSelector('virtual-node'),
    name: 'local/peer-secrets',
    logger,
  });
  const reserved = new Set(config.remotes.map((remote) => remote.name));
  return new PeerWatcher({ secrets, component: 'virtual-node', handlers, reserved, logger });
}

/** /metrics, /healthz and /readyz; `status` tells whether this replica leads and its providers. */
async function serveMetrics(
  config: VirtualNodeCommandConfig,
  logger: Logger,
  metrics: ProviderMetrics,
  status: () => { started: boolean; providers: VirtualNodeProvider[] },
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
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
      const { ok, body } = healthReport(url, status());
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(config.metricsPort, config.metricsHost, resolve));
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, 'metrics and health on /metrics, /healthz, /readyz');
  return server;
}

/** Not leading is healthy (a standby); readiness needs the nodes registered. */
function healthReport(
  url: '/healthz' | '/readyz',
  status: { started: boolean; providers: VirtualNodeProvider[] },
): {
  ok: boolean;
  body: string;
} {
  const { started, providers } = status;
  const check = (provider: VirtualNodeProvider): Check => (url === '/readyz' ? readiness(provider) : provider.health());
  const checks = started ? providers.map((provider) => ({ node: provider.nodeName, ...check(provider) })) : [];
  const allOk = checks.every((result) => result.ok);
  const ok = url === '/healthz' ? allOk : started && allOk;
  return { ok, body: JSON.stringify({ status: ok ? 'ok' : 'failing', leading: started, checks }) };
}

function readiness(provider: VirtualNodeProvider): Check {
  if (!provider.state().registered) return { ok: false, reason: 'node not registered yet' };
  return { ok: true };
}
