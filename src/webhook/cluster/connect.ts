// Cluster wiring for the webhook (everything --standalone leaves out): API client config, the
// shared CA Secret, caBundle upkeep and the informer-backed ClusterState. All of it speaks
// through one KubeClient (src/kube/client.ts) over the light kubeconfig loader; client-node
// (~60 MiB of resident memory for its generated APIs) is loaded only for kubeconfigs that need
// its exec or OIDC auth.
import { KubeClient } from '../../kube/client.ts';
import type { KubeConfigLike } from '../../kube/kubeconfig.ts';
import { NoKubeconfigError, loadKubeClientConfig } from '../../kube/kubeconfig.ts';
import type { Logger } from '../../common/log.ts';
import type { WebhookMetrics } from '../metrics.ts';
import type { CertAuthority } from '../tls/generate.ts';
import { generateCa } from '../tls/generate.ts';
import { kubeWebhookConfigStore, syncCaBundle } from './ca-bundle.ts';
import { ensureCaSecret, kubeSecretStore } from './ca-secret.ts';
import type { InformerFactory } from './state.ts';

/** --kubeconfig, else $KUBECONFIG, ~/.kube/config, then the in-cluster service account; --context in it. */
export function loadClusterConfig(path: string | undefined, context?: string): KubeConfigLike {
  try {
    return loadKubeClientConfig(path, { context });
  } catch (error) {
    if (!(error instanceof NoKubeconfigError)) throw error;
    throw new Error(`no cluster access: ${error.message} (use --kubeconfig, or --standalone)`, { cause: error });
  }
}

/** The one API client of a cluster-mode webhook: CA Secret, caBundle upkeep and informers share its connections. */
export function createClusterClient(kubeConfig: KubeConfigLike): KubeClient {
  return new KubeClient(kubeConfig, { userAgent: 'kube-offload-webhook' });
}

export interface SharedCa {
  /** For startServingCert: the shared Secret's CA, published from ours if absent. */
  resolve(local: CertAuthority | undefined): Promise<CertAuthority>;
  /**
   * Re-checks the Secret (re-creating it with our CA if it was deleted): undefined when it holds
   * the CA we sign with, else why not. Replicas with different CAs would otherwise overwrite each
   * other's caBundle forever.
   */
  verify(): Promise<string | undefined>;
}

export function sharedCa(client: KubeClient, secret: { namespace: string; name: string }, logger: Logger): SharedCa {
  const store = kubeSecretStore(client);
  const where = `${secret.namespace}/${secret.name}`;
  let ours: CertAuthority | undefined;
  return {
    async resolve(local) {
      try {
        ours = await ensureCaSecret({ store, ...secret, logger, candidate: async () => local ?? (await generateCa()) });
        return ours;
      } catch (error) {
        throw new Error(`CA Secret ${where}: ${(error as Error).message}`, { cause: error });
      }
    },
    async verify() {
      const mine = ours;
      if (!mine) return undefined;
      const current = await ensureCaSecret({ store, ...secret, logger, candidate: async () => mine });
      return current.cert === mine.cert
        ? undefined
        : `Secret ${where} now holds another CA than the one this replica signs with; restart to adopt it`;
    },
  };
}

export interface CaBundleKeeper {
  stop(): void;
  /** Liveness: fails while the shared CA is not ours (a restart adopts the Secret's CA). */
  health(): { ok: boolean; reason?: string };
}

/** Patches caBundle now and then every intervalMs. */
export function keepCaBundle(options: {
  client: KubeClient;
  selector: string;
  caBundle: () => string | undefined;
  /** Managed certs in cluster mode: only patch while the shared Secret holds our CA. */
  verifyCa?: () => Promise<string | undefined>;
  intervalMs: number;
  logger: Logger;
  metrics: WebhookMetrics;
}): CaBundleKeeper {
  const store = kubeWebhookConfigStore(options.client);
  let running = false;
  let mismatch: string | undefined;
  const once = async (): Promise<void> => {
    const ca = options.caBundle();
    if (ca === undefined || running) return;
    running = true;
    try {
      mismatch = await options.verifyCa?.();
      if (mismatch) {
        options.logger.error({ event: 'ca-bundle', err: mismatch }, 'not patching caBundle: the shared CA changed');
        return;
      }
      const patched = await syncCaBundle(store, options.selector, ca);
      if (patched.length > 0) options.logger.info({ event: 'ca-bundle', patched }, 'caBundle updated');
      else options.logger.debug({ event: 'ca-bundle' }, 'caBundle up to date');
    } catch (error) {
      // Not fatal: RBAC may be missing or the API server briefly away; try again next round.
      options.metrics.caBundleSyncErrors.inc();
      options.logger.warn(
        { event: 'ca-bundle', err: (error as Error).message },
        'cannot sync caBundle of our webhook configurations',
      );
    } finally {
      running = false;
    }
  };
  void once();
  const timer = setInterval(() => void once(), options.intervalMs);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    health: () => (mismatch ? { ok: false, reason: mismatch } : { ok: true }),
  };
}

/**
 * Loads createInformer at run time: its module is written by another part of the project and
 * standalone mode must work without it.
 */
export async function loadInformerFactory(): Promise<InformerFactory> {
  const module = (await import('../../kube/informer.ts')) as { createInformer?: unknown };
  if (typeof module.createInformer !== 'function') {
    throw new Error('src/kube/informer.ts does not implement createInformer yet; run with --standalone');
  }
  return module.createInformer as InformerFactory;
}
