// Assembles the admission webhook from config: certificates, optional cluster awareness, the
// request listener on node:https, health checks and shutdown. The CLI command and tests both
// use it.
import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { handlers as defaultHandlers } from '../../../webhooks/index.ts';
import type { AdmissionContext } from '../../../webhooks/types.ts';
import type { KubeClient } from '../../kube/client.ts';
import type { KubeConfigLike } from '../../kube/kubeconfig.ts';
import type { CaBundleKeeper } from '../cluster/connect.ts';
import type { InformerFactory } from '../cluster/state.ts';
import type { ClusterState } from '../cluster/state.ts';
import type { WebhookConfig } from '../config.ts';
import type { Logger } from '../../common/log.ts';
import type { WebhookMetrics } from '../metrics.ts';
import { createWebhookMetrics } from '../metrics.ts';
import { servingNames } from '../tls/generate.ts';
import type { ServingCertSource } from '../tls/serving-cert.ts';
import { startServingCert } from '../tls/serving-cert.ts';
import type { AppDeps } from './app.ts';
import { createProbeListener, createRequestListener } from './app.ts';
import type { ProbeDeps } from './app.ts';
import { createHttpsServer, drain, listen, swapCertificate } from './https.ts';

export interface StartOptions {
  logger: Logger;
  metrics?: WebhookMetrics;
  /** Defaults to webhooks/index.ts; tests inject slow or failing handlers. */
  handlers?: AppDeps['handlers'];
  /** Cluster mode: overrides --kubeconfig / in-cluster loading. */
  kubeConfig?: KubeConfigLike;
  /** Cluster mode: overrides src/kube/informer.ts. */
  informerFactory?: InformerFactory;
}

export interface RunningWebhook {
  /** https://host:port */
  url: string;
  port: number;
  server: Server;
  /** http://host:port of --metrics-port, when given. */
  metricsUrl?: string;
  certs: ServingCertSource;
  metrics: WebhookMetrics;
  /** Stops accepting, drains in-flight requests (up to --drain-timeout), stops background work. */
  shutdown(): Promise<'drained' | 'forced'>;
}

export async function startWebhook(config: WebhookConfig, options: StartOptions): Promise<RunningWebhook> {
  const { logger } = options;
  const metrics = options.metrics ?? createWebhookMetrics();
  const stops: Array<() => void> = [];

  // Cluster modules are loaded only when needed: standalone runs without them.
  let client: KubeClient | undefined;
  let connect: typeof import('../cluster/connect.ts') | undefined;
  if (!config.standalone) {
    connect = await import('../cluster/connect.ts');
    const kubeConfig = options.kubeConfig ?? connect.loadClusterConfig(config.kubeconfig, config.context);
    const cluster = connect.createClusterClient(kubeConfig);
    client = cluster;
    stops.push(() => cluster.close());
  }

  const certOptions: Parameters<typeof startServingCert>[0] = {
    dir: config.certDir,
    names: servingNames(config.serviceName, config.namespace),
    validityMs: config.certValidityMs,
    pollIntervalMs: config.certPollIntervalMs,
    logger,
    metrics,
  };
  const shared = connect && client ? connect.sharedCa(client, config.caSecret, logger) : undefined;
  if (shared) certOptions.resolveCa = (local) => shared.resolve(local);
  let certs: ServingCertSource;
  try {
    certs = await startServingCert(certOptions);
  } catch (error) {
    for (const stop of [...stops].reverse()) stop();
    throw error;
  }
  stops.push(() => certs.stop());

  let cluster: ClusterState | undefined;
  let caKeeper: CaBundleKeeper | undefined;
  if (connect && client) {
    const { createClusterState } = await import('../cluster/state.ts');
    const createInformer = options.informerFactory ?? (await connect.loadInformerFactory());
    const state = createClusterState({
      client,
      convention: config.convention,
      createInformer,
      logger,
      registry: metrics.registry,
    });
    cluster = state;
    stops.push(() => state.stop());
    state.start().then(
      () => logger.info({ event: 'informers' }, 'namespace and virtual node caches synced'),
      (error: Error) => logger.error({ event: 'informers', err: error.message }, 'informers failed to start'),
    );
    if (config.manageCaBundle) {
      const keeper = connect.keepCaBundle({
        client,
        selector: config.webhookSelector,
        caBundle: () => certs.caBundle(),
        ...(certs.mode === 'managed' && shared ? { verifyCa: () => shared.verify() } : {}),
        intervalMs: config.caSyncIntervalMs,
        logger,
        metrics,
      });
      caKeeper = keeper;
      stops.push(() => keeper.stop());
    } else if (certs.mode === 'managed') {
      logger.warn(
        { event: 'ca-bundle' },
        '--manage-ca-bundle=false with a generated certificate: nothing puts its CA into the webhook configurations',
      );
    }
  }

  // Built once: the handlers read it on every admission.
  const context: AdmissionContext = {
    defaultPlacement: config.defaultPlacement,
    convention: config.convention,
  };
  if (config.defaultPrefer) context.defaultPrefer = config.defaultPrefer;
  if (cluster) {
    const state = cluster;
    context.namespacePolicy = (namespace) => state.namespacePolicy(namespace);
    context.virtualNodes = () => state.virtualNodes();
  }

  let draining = false;
  const probes: ProbeDeps = {
    metrics,
    logger,
    liveness: {
      certificate: () => certs.health(),
      ...(cluster ? { watches: () => (cluster as ClusterState).health() } : {}),
      ...(caKeeper ? { ca: () => (caKeeper as CaBundleKeeper).health() } : {}),
    },
    readiness: {
      // An overdue renewal still serves fine (liveness deals with it); expired does not.
      certificate: () => certs.usable(),
      ...(cluster
        ? {
            caches: () =>
              (cluster as ClusterState).hasSynced()
                ? { ok: true }
                : { ok: false, reason: 'namespace and virtual node caches not synced yet' },
          }
        : {}),
      shutdown: () => (draining ? { ok: false, reason: 'shutting down' } : { ok: true }),
    },
  };
  const handle = createRequestListener({
    ...probes,
    handlers: options.handlers ?? defaultHandlers,
    context,
    handlerTimeoutMs: config.handlerTimeoutMs,
    limits: { maxBytes: config.maxBufferedBytes, maxWaiting: config.maxWaitingReviews },
  });

  const server = createHttpsServer({
    pair: certs.current().pair,
    requestTimeoutMs: config.requestTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    handle,
    isDraining: () => draining,
  });
  certs.onChange((pair) => swapCertificate(server, pair));
  server.on('secureConnection', (socket: TLSSocket) =>
    metrics.tlsHandshakes.labels(socket.alpnProtocol || 'http/1.1').inc(),
  );
  server.on('tlsClientError', (error) => logger.debug({ err: error.message }, 'TLS handshake failed'));

  const { address, metricsUrl } = await listenAll(server, probes, config, stops);
  const url = `https://${hostPort(address)}`;
  logger.info(
    { event: 'listening', url, metricsUrl, port: address.port, standalone: config.standalone, certMode: certs.mode },
    `listening on ${url}`,
  );

  let shutdown: Promise<'drained' | 'forced'> | undefined;
  return {
    url,
    port: address.port,
    server,
    ...(metricsUrl ? { metricsUrl } : {}),
    certs,
    metrics,
    shutdown() {
      shutdown ??= (async () => {
        draining = true;
        logger.info({ event: 'shutdown', drainTimeoutMs: config.drainTimeoutMs }, 'draining in-flight requests');
        const result = await drain(server, config.drainTimeoutMs);
        for (const stop of [...stops].reverse()) stop();
        logger.info(
          { event: 'shutdown', result },
          result === 'drained' ? 'drained' : 'drain timed out; connections cut',
        );
        return result;
      })();
      return shutdown;
    },
  };
}

function hostPort(address: AddressInfo): string {
  return `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

/** Listens on --port and --metrics-port; when either fails, stops everything started so far. */
async function listenAll(
  server: Server,
  probes: ProbeDeps,
  config: WebhookConfig,
  stops: Array<() => void>,
): Promise<{ address: AddressInfo; metricsUrl?: string }> {
  try {
    const address = await listen(server, config.port, config.host);
    if (config.metricsPort === undefined) return { address };
    return { address, metricsUrl: await servePlain(probes, config, stops) };
  } catch (error) {
    server.close();
    for (const stop of [...stops].reverse()) stop();
    throw error;
  }
}

/**
 * The plain-HTTP --metrics-port (on --host): the probes and /metrics, for Prometheus and
 * probes that do not speak TLS. It stays up while the HTTPS port drains (so the drain can be
 * watched) and is closed with the rest; returns its URL.
 */
async function servePlain(probes: ProbeDeps, config: WebhookConfig, stops: Array<() => void>): Promise<string> {
  const plain = createHttpServer(createProbeListener(probes));
  plain.keepAliveTimeout = 5000;
  const address = await listen(plain, config.metricsPort ?? 0, config.host);
  stops.push(() => {
    plain.close();
    plain.closeAllConnections();
  });
  return `http://${hostPort(address)}`;
}
