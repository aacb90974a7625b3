// The remote cluster's PodMetrics (metrics.k8s.io/v1beta1, served by its metrics-server), read
// per namespace. A remote without that API (discovery answers 404: not registered, or 503: the
// APIService is there but its server is not) is remembered for a while, so that scrapes of an
// idle virtual node do not ask the remote apiserver every time.
import type { KubeClient } from '../../kube/client.ts';
import { statusCodeOf } from '../../kube/client.ts';

export const METRICS_API_PATH = '/apis/metrics.k8s.io/v1beta1';

/** One PodMetrics object, as far as it is read here. */
export interface PodMetricsItem {
  metadata: { name: string; namespace: string };
  /** When the usage was measured (the end of the window). */
  timestamp?: string;
  /** The window the usage is averaged over, a Go duration ("15.012s"). */
  window?: string;
  containers?: Array<{ name: string; usage?: { cpu?: string; memory?: string } }>;
}

export interface RemotePodMetricsOptions {
  client: Pick<KubeClient, 'request'>;
  /** How long an answer of discovery is kept; default 30 s. */
  discoveryTtlMs?: number;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

const DISCOVERY_TIMEOUT_MS = 10_000;

/** The answers meaning "this cluster serves no metrics API" (rather than "something broke"). */
function meansNoMetricsApi(err: unknown): boolean {
  const code = statusCodeOf(err);
  return code === 404 || code === 503;
}

export class RemotePodMetrics {
  readonly #client: Pick<KubeClient, 'request'>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #known: { available: boolean; until: number } | undefined;
  #discovering: Promise<boolean> | undefined;

  constructor(options: RemotePodMetricsOptions) {
    this.#client = options.client;
    this.#ttlMs = options.discoveryTtlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The PodMetrics of these namespaces, or undefined when the remote has no metrics API. Other
   * failures (403 for want of RBAC, 500, an unreachable remote) reject.
   */
  async list(namespaces: string[], signal: AbortSignal): Promise<PodMetricsItem[] | undefined> {
    if (!(await this.#available())) return undefined;
    try {
      const lists = await Promise.all(namespaces.map((namespace) => this.#listNamespace(namespace, signal)));
      return lists.flat();
    } catch (err) {
      if (!meansNoMetricsApi(err)) throw err;
      this.#remember(false);
      return undefined;
    }
  }

  async #listNamespace(namespace: string, signal: AbortSignal): Promise<PodMetricsItem[]> {
    const path = `${METRICS_API_PATH}/namespaces/${encodeURIComponent(namespace)}/pods`;
    const list = await this.#client.request<{ items?: PodMetricsItem[] }>('GET', path, { signal });
    return list?.items ?? [];
  }

  /** Whether the remote serves metrics.k8s.io, from the cache or one (shared) discovery call. */
  #available(): Promise<boolean> {
    if (this.#known && this.#now() < this.#known.until) return Promise.resolve(this.#known.available);
    this.#discovering ??= this.#discover().finally(() => (this.#discovering = undefined));
    return this.#discovering;
  }

  async #discover(): Promise<boolean> {
    try {
      await this.#client.request('GET', METRICS_API_PATH, { timeoutMs: DISCOVERY_TIMEOUT_MS });
      return this.#remember(true);
    } catch (err) {
      if (meansNoMetricsApi(err)) return this.#remember(false);
      throw err;
    }
  }

  #remember(available: boolean): boolean {
    this.#known = { available, until: this.#now() + this.#ttlMs };
    return available;
  }
}
