// A small typed REST client for the Kubernetes API.
//
// Why not client-node's generated APIs or KubernetesObjectApi: we need (a) long-lived watch
// streams without client-node 2.0.x's fixed 30 s inactivity abort (see informer.ts), (b) one
// uniform error type carrying the HTTP status, and (c) every patch flavour and delete
// preconditions with explicit paths. A KubeClient needs only a KubeConfigLike (the current cluster
// and applyToHTTPSOptions): the light loader of kubeconfig.ts for plain kubeconfigs, client-node's
// KubeConfig where exec plugins or OIDC need it. client-node is imported here as types only and
// loaded by loadKubeConfig() on first use, so importing this module does not load it.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { KubeConfigLike } from './kubeconfig.ts';
import { loadClientNodeConfig } from './kubeconfig.ts';
import type { TokenBucket } from './ratelimit.ts';

export type { KubernetesObject };

/**
 * Loads a kubeconfig with client-node: from `file` when given, else by kubectl's rules
 * ($KUBECONFIG's files merged as kubectl merges them, ~/.kube/config, then the in-cluster service
 * account; see kubeconfig.ts). Components prefer loadKubeClientConfig() (kubeconfig.ts), which
 * needs client-node only for exec/OIDC.
 */
export function loadKubeConfig(file?: string): KubeConfig {
  return loadClientNodeConfig(file);
}

/** Subset of meta/v1 Status, the body of every API error. */
export interface ApiStatus {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: Record<string, unknown>;
}

/** Any non-2xx answer from the apiserver. `statusCode` is the uniform way to branch on errors. */
export class KubeApiError extends Error {
  readonly statusCode: number;
  /** Status.reason, e.g. NotFound, AlreadyExists, Conflict, Expired, Invalid. */
  readonly reason: string | undefined;
  readonly status: ApiStatus | undefined;
  readonly method: string;
  readonly path: string;

  constructor(method: string, path: string, statusCode: number, status?: ApiStatus, text?: string) {
    const detail = status?.message ?? text ?? http.STATUS_CODES[statusCode] ?? '';
    super(`${method} ${path}: ${statusCode}${status?.reason ? ` ${status.reason}` : ''}: ${detail}`);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = status?.reason;
    this.status = status;
    this.method = method;
    this.path = path;
  }
}

/** HTTP status of a KubeApiError (or of any error with a numeric statusCode/code), else undefined. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.statusCode;
  if (err && typeof err === 'object') {
    const candidate = err as { statusCode?: unknown; code?: unknown };
    if (typeof candidate.statusCode === 'number') return candidate.statusCode;
    if (typeof candidate.code === 'number') return candidate.code;
  }
  return undefined;
}
export const isNotFound = (err: unknown): boolean => statusCodeOf(err) === 404;
export const isConflict = (err: unknown): boolean => statusCodeOf(err) === 409;
/** 409 with reason AlreadyExists (create of an existing name), as opposed to a version conflict. */
export const isAlreadyExists = (err: unknown): boolean =>
  statusCodeOf(err) === 409 && err instanceof KubeApiError && err.reason === 'AlreadyExists';
export const isGone = (err: unknown): boolean => statusCodeOf(err) === 410;
export const isInvalid = (err: unknown): boolean => statusCodeOf(err) === 422;

export interface ResourceRef {
  /** API group; "" or undefined for the core group. */
  group?: string;
  version: string;
  /** Plural resource name, e.g. "configmaps". */
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Builds "/api/v1/namespaces/ns/configmaps/name" style paths. */
export function resourcePath(ref: ResourceRef): string {
  let p = ref.group ? `/apis/${ref.group}/${ref.version}` : `/api/${ref.version}`;
  if (ref.namespace) p += `/namespaces/${encodeURIComponent(ref.namespace)}`;
  p += `/${ref.resource}`;
  if (ref.name) p += `/${encodeURIComponent(ref.name)}`;
  if (ref.subresource) p += `/${ref.subresource}`;
  return p;
}

/** Path of one object given its collection path and object name. */
export function objectPath(collectionPath: string, name: string): string {
  return `${collectionPath.replace(/\/$/, '')}/${encodeURIComponent(name)}`;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Serialized as JSON unless it is already a string. */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Overrides the client's default timeout; 0 disables it. */
  timeoutMs?: number;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  signal?: AbortSignal;
}

export interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml', // JSON is valid YAML
};

export interface WriteOptions {
  fieldManager?: string;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface DeleteOptions {
  /** The delete fails with 409 unless the live object still has this uid / resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface KubeClientOptions {
  /** Default per-request timeout for non-streaming requests; default 30 s. */
  timeoutMs?: number;
  /** Client-side limit applied to every non-GET request (create/replace/patch/delete). */
  writeLimiter?: TokenBucket;
  userAgent?: string;
}

/** A raw streaming response (used for watches). Destroy `body` to close it. */
export interface StreamResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

interface TlsKey {
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
  pfx?: unknown;
  rejectUnauthorized?: boolean | undefined;
  servername?: string | undefined;
}
const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'rejectUnauthorized', 'servername'] as const;

function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return a === b;
}

export class KubeClient {
  readonly kubeConfig: KubeConfigLike;
  readonly server: string;
  readonly #timeoutMs: number;
  readonly #writeLimiter: TokenBucket | undefined;
  readonly #userAgent: string;
  #agent: http.Agent | undefined;
  #agentTls: TlsKey | undefined;

  constructor(kubeConfig: KubeConfigLike, options: KubeClientOptions = {}) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.kubeConfig = kubeConfig;
    this.server = cluster.server.replace(/\/$/, '');
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#writeLimiter = options.writeLimiter;
    this.#userAgent = options.userAgent ?? 'kube-offload';
  }

  /**
   * Request options with auth and TLS applied. Called per request so exec/OIDC tokens refresh.
   * Without a proxy we swap client-node's agent (no keep-alive) for our own keep-alive agent with
   * the same TLS material, rebuilt if that material changes (rotated client certs).
   */
  async #requestOptions(): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(opts);
    if (!this.kubeConfig.getCurrentCluster()?.proxyUrl) {
      const tls: TlsKey = {};
      for (const field of TLS_FIELDS)
        if (opts[field] !== undefined) (tls as Record<string, unknown>)[field] = opts[field];
      const prev = this.#agentTls;
      if (!this.#agent || !prev || !TLS_FIELDS.every((field) => sameValue(prev[field], tls[field]))) {
        this.#agent?.destroy();
        const common = { keepAlive: true, keepAliveMsecs: 30_000 };
        this.#agent = this.server.startsWith('https:')
          ? new https.Agent({ ...common, ...(tls as https.AgentOptions) })
          : new http.Agent(common);
        this.#agentTls = tls;
      }
      opts.agent = this.#agent;
    }
    return opts;
  }

  /** Closes pooled keep-alive connections. */
  close(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
  }

  #url(path: string, query?: Query): URL {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /**
   * Sends one request and resolves with the response stream (any status). `timeoutMs` only
   * bounds the wait for response headers; the caller owns the body afterwards.
   */
  async stream(method: string, path: string, options: RequestOptions = {}): Promise<StreamResponse> {
    if (method !== 'GET' && this.#writeLimiter) await this.#writeLimiter.take(options.signal);
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body);
    const url = this.#url(path, options.query);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    // One retry when a pooled keep-alive socket turns out to be closed by the server before it
    // read our request (the documented Node race, `req.reusedSocket`); safe for every method.
    for (let attempt = 0; ; attempt++) {
      const base = await this.#requestOptions();
      try {
        return await this.#send({ url, method, body, timeoutMs }, base, options);
      } catch (err) {
        if (attempt === 0 && (err as { retryable?: boolean }).retryable) continue;
        throw err;
      }
    }
  }

  #send(
    request: { url: URL; method: string; body: string | undefined; timeoutMs: number },
    base: https.RequestOptions,
    options: RequestOptions,
  ): Promise<StreamResponse> {
    const { url, method, body, timeoutMs } = request;
    const headers: http.OutgoingHttpHeaders = {
      ...(base.headers as http.OutgoingHttpHeaders | undefined),
      Accept: 'application/json',
      'User-Agent': this.#userAgent,
    };
    if (body !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<StreamResponse>((resolve, reject) => {
      const req = mod.request(url, { ...base, method, headers, ...(options.signal ? { signal: options.signal } : {}) });
      let timer: NodeJS.Timeout | undefined;
      if (timeoutMs > 0) {
        timer = setTimeout(
          () =>
            req.destroy(
              new DOMException(`${method} ${url.pathname}: no response within ${timeoutMs} ms`, 'TimeoutError'),
            ),
          timeoutMs,
        );
      }
      req.on('response', (res) => {
        clearTimeout(timer);
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
          (err as { retryable?: boolean }).retryable = true;
        reject(err);
      });
      req.end(body);
    });
  }

  /** Sends a request and parses the JSON answer; non-2xx answers throw KubeApiError. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const res = await this.stream(method, path, options);
    // The header timeout is over; bound reading the body too.
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () =>
              res.body.destroy(
                new DOMException(`${method} ${path}: body not read within ${timeoutMs} ms`, 'TimeoutError'),
              ),
            timeoutMs,
          )
        : undefined;
    let text = '';
    try {
      res.body.setEncoding('utf8');
      for await (const chunk of res.body) text += chunk as string;
    } finally {
      clearTimeout(timer);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const status =
        parsed && typeof parsed === 'object' && (parsed as ApiStatus).kind === 'Status'
          ? (parsed as ApiStatus)
          : undefined;
      throw new KubeApiError(method, path, res.statusCode, status, status ? undefined : text.slice(0, 500));
    }
    return parsed as T;
  }

  get<T extends KubernetesObject = KubernetesObject>(path: string, options: { signal?: AbortSignal } = {}): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  /** GET that maps 404 to undefined. */
  async getOrUndefined<T extends KubernetesObject = KubernetesObject>(
    path: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<T | undefined> {
    try {
      return await this.get<T>(path, options);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** One page of a collection. */
  list<T extends KubernetesObject = KubernetesObject>(
    collectionPath: string,
    options: ListOptions = {},
  ): Promise<ObjectList<T>> {
    const { signal, ...q } = options;
    return this.request<ObjectList<T>>('GET', collectionPath, { query: q as Query, ...(signal ? { signal } : {}) });
  }

  /**
   * Every page of a collection (limit/continue). Returns the items and the resourceVersion of the
   * snapshot, from which a watch can start. The continue token expiring (410) mid-way restarts the
   * list from scratch once, as client-go's pager does.
   */
  /**
   * Every page of a LIST. `map` sees each item as its page arrives (with the list's kind and
   * apiVersion), so a caller that slims items never holds more than one page of whole objects.
   */
  async listAll<T extends KubernetesObject = KubernetesObject>(
    collectionPath: string,
    options: Omit<ListOptions, 'continue'> & {
      map?: (item: T, list: { kind?: string; apiVersion?: string }) => T;
    } = {},
  ): Promise<{ items: T[]; resourceVersion: string; apiVersion?: string; kind?: string }> {
    const { map, ...listOptions } = options;
    const pageSize = listOptions.limit ?? 500;
    for (let attempt = 0; ; attempt++) {
      const items: T[] = [];
      let cont: string | undefined;
      let first: ObjectList<T> | undefined;
      try {
        do {
          // resourceVersion options apply only to the first page; later pages follow the token.
          const page = await this.list<T>(
            collectionPath,
            cont
              ? {
                  ...listOptions,
                  resourceVersion: undefined,
                  resourceVersionMatch: undefined,
                  limit: pageSize,
                  continue: cont,
                }
              : { ...listOptions, limit: pageSize },
          );
          first ??= page;
          const pageItems = page.items ?? [];
          if (map) for (let i = 0; i < pageItems.length; i++) pageItems[i] = map(pageItems[i] as T, first);
          items.push(...pageItems);
          cont = page.metadata?.continue || undefined;
          if (!cont) {
            return {
              items,
              resourceVersion: page.metadata?.resourceVersion ?? '',
              ...(first.apiVersion ? { apiVersion: first.apiVersion } : {}),
              ...(first.kind ? { kind: first.kind } : {}),
            };
          }
        } while (cont);
      } catch (err) {
        if (attempt === 0 && cont && isGone(err)) continue;
        throw err;
      }
    }
  }

  create<T extends KubernetesObject>(collectionPath: string, object: T, options: WriteOptions = {}): Promise<T> {
    return this.request<T>('POST', collectionPath, {
      body: object,
      query: writeQuery(options),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** PUT; include metadata.resourceVersion for optimistic concurrency (409 on a stale version). */
  replace<T extends KubernetesObject>(path: string, object: T, options: WriteOptions = {}): Promise<T> {
    return this.request<T>('PUT', path, {
      body: object,
      query: writeQuery(options),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * PATCH. `merge` = RFC 7386 merge patch (object), `json` = RFC 6902 operations (array),
   * `strategic` = strategic merge patch, `apply` = server-side apply (needs fieldManager).
   */
  patch<T extends KubernetesObject = KubernetesObject>(
    path: string,
    patch: unknown,
    type: PatchType = 'merge',
    options: WriteOptions & { force?: boolean } = {},
  ): Promise<T> {
    if (type === 'apply' && !options.fieldManager) throw new Error('server-side apply needs options.fieldManager');
    const query: Query = { ...writeQuery(options), force: type === 'apply' ? options.force : undefined };
    return this.request<T>('PATCH', path, {
      body: patch,
      contentType: PATCH_CONTENT_TYPE[type],
      query,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * DELETE. With `preconditions.uid` the delete only hits the very object we saw (not a
   * same-named successor) and fails with 409 otherwise. Resolves with the deleted object or a
   * Status, depending on the resource.
   */
  delete<T = KubernetesObject | ApiStatus>(path: string, options: DeleteOptions = {}): Promise<T> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (options.preconditions) body.preconditions = options.preconditions;
    if (options.propagationPolicy) body.propagationPolicy = options.propagationPolicy;
    if (options.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = options.gracePeriodSeconds;
    if (options.dryRun) body.dryRun = ['All'];
    return this.request<T>('DELETE', path, { body, ...(options.signal ? { signal: options.signal } : {}) });
  }
}

function writeQuery(options: WriteOptions): Query {
  return { fieldManager: options.fieldManager, dryRun: options.dryRun ? 'All' : undefined };
}

/** "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(object: KubernetesObject): string {
  const ns = object.metadata?.namespace;
  const name = object.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}
