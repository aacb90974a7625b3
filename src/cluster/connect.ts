// Cluster wiring for the webhook (everything --standalone leaves out): API client config, the
// shared CA Secret, caBundle upkeep and the informer-backed ClusterState.
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import type { WebhookMetrics } from '../metrics/webhook.ts';
import type { CertAuthority } from '../tls/generate.ts';
import { generateCa } from '../tls/generate.ts';
import { kubeWebhookConfigStore, syncCaBundle } from './ca-bundle.ts';
import { ensureCaSecret, kubeSecretStore } from './ca-secret.ts';
import type { InformerFactory } from './state.ts';

/** --kubeconfig, else in-cluster service account, else $KUBECONFIG / ~/.kube/config. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path !== undefined) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromDefault();
  const cluster = kubeConfig.getCurrentCluster();
  // loadFromDefault falls back to http://localhost:8080 when it finds nothing: say so instead
  // of failing later with "connection refused".
  if (!cluster || (path === undefined && cluster.name === 'cluster' && cluster.server === 'http://localhost:8080')) {
    throw new Error(path ? `kubeconfig ${path} has no current cluster` : 'no cluster access: not in a pod and no kubeconfig found (use --kubeconfig, or --standalone)');
  }
  return kubeConfig;
}

/** A resolver for startServingCert: the shared Secret's CA, published from ours if absent. */
export function sharedCaResolver(kubeConfig: KubeConfig, secret: { namespace: string; name: string }, logger: Logger) {
  const store = kubeSecretStore(kubeConfig.makeApiClient(CoreV1Api));
  return async (local: CertAuthority | undefined): Promise<CertAuthority> => {
    try {
      return await ensureCaSecret({ store, ...secret, logger, candidate: async () => local ?? (await generateCa()) });
    } catch (error) {
      throw new Error(`CA Secret ${secret.namespace}/${secret.name}: ${(error as Error).message}`, { cause: error });
    }
  };
}

/** Patches caBundle now and then every intervalMs; returns a stop function. */
export function keepCaBundle(options: {
  kubeConfig: KubeConfig;
  selector: string;
  caBundle: () => string | undefined;
  intervalMs: number;
  logger: Logger;
  metrics: WebhookMetrics;
}): () => void {
  const store = kubeWebhookConfigStore(options.kubeConfig.makeApiClient(AdmissionregistrationV1Api));
  let running = false;
  const once = async (): Promise<void> => {
    const ca = options.caBundle();
    if (ca === undefined || running) return;
    running = true;
    try {
      const patched = await syncCaBundle(store, options.selector, ca);
      if (patched.length > 0) options.logger.info({ event: 'ca-bundle', patched }, 'caBundle updated');
      else options.logger.debug({ event: 'ca-bundle' }, 'caBundle up to date');
    } catch (error) {
      // Not fatal: RBAC may be missing or the API server briefly away; try again next round.
      options.metrics.caBundleSyncErrors.inc();
      options.logger.warn({ event: 'ca-bundle', err: (error as Error).message }, 'cannot sync caBundle of our webhook configurations');
    } finally {
      running = false;
    }
  };
  void once();
  const timer = setInterval(() => void once(), options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Loads createInformer at run time: its module is written by another part of the project and
 * standalone mode must work without it.
 */
export async function loadInformerFactory(): Promise<InformerFactory> {
  const module = (await import('../kube/informer.ts')) as { createInformer?: unknown };
  if (typeof module.createInformer !== 'function') {
    throw new Error('src/kube/informer.ts does not implement createInformer yet; run with --standalone');
  }
  return module.createInformer as InformerFactory;
}
