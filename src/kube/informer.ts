// A list+watch cache for one resource: the client-go Reflector + Indexer pattern.
//
// LIST (paginated) → WATCH from the list's resourceVersion with bookmarks → on disconnect RESUME
// from the newest resourceVersion seen (events and bookmarks) → on 410 Gone RELIST and emit the
// add/update/delete diff against the cache, so consumers converge without a restart.
//
// Why our own watch instead of client-node's `Watch`: in 2.0.1 it aborts any stream that
// receives no bytes for `requestTimeoutMs` (30 s, a fixed inactivity timer; 2.0.0 aborted every
// watch after 30 s outright, issue #3020). An idle namespace gets no events and the apiserver
// sends bookmarks only about once a minute, so that watch would churn every 30 s. Here the
// server ends each watch after `timeoutSeconds` (5–10 min, randomised so informers don't
// reconnect in lockstep) and our stall detector only fires after that plus a grace period.
import { sleep } from '../common/async.ts';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { KubeApiError, KubeClient, objectKey } from './client.ts';
import type { KubeConfigLike } from './kubeconfig.ts';
import type { ApiStatus, KubernetesObject } from './client.ts';
import { Backoff } from './ratelimit.ts';
import type { BackoffOptions } from './ratelimit.ts';

/** Structural subset of a pino logger. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Why a watch ended and a new one started. */
export type WatchRestartReason =
  | 'closed' // server ended the stream normally (timeoutSeconds, apiserver shutdown)
  | 'expired' // 410 Gone: resourceVersion too old → relist
  | 'stalled' // no event or bookmark within the stall timeout → aborted
  | 'error' // network error, non-200 answer, ERROR event other than 410
  | 'requested'; // restartWatch() was called

export interface InformerOptions<T = unknown> {
  /** Where to connect; client-node's KubeConfig fits too. */
  kubeConfig: KubeConfigLike;
  /** Collection path, e.g. "/api/v1/namespaces" or "/api/v1/namespaces/ns/configmaps". */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Name used in logs and metrics. */
  name: string;

  // ---- optional tuning (added) ----
  /** Share one client (and its connection pool) between informers; default: one per informer. */
  client?: KubeClient;
  /** LIST page size (limit/continue); default 500. */
  pageSize?: number;
  /** Minimum server-side watch timeout; each watch asks for a random value in [t, 2t). Default 300. */
  watchTimeoutSeconds?: number;
  /** Silence tolerated beyond the watch's own timeoutSeconds before it counts as stalled; default 30. */
  stallGraceSeconds?: number;
  /** Fixed stall timeout in ms; overrides timeoutSeconds + grace. */
  stallTimeoutMs?: number;
  /** Time allowed for the watch response headers; default 30 s. */
  connectTimeoutMs?: number;
  /** Retry backoff after failures; default 800 ms doubling to 30 s, 50% jitter (like client-go). */
  backoff?: BackoffOptions;
  /** health() reports not ok after this many consecutive failures; default 3. */
  failureThreshold?: number;
  logger?: Logger;
  /**
   * Applied to every object before it is cached or handed to handlers (like client-go's
   * SetTransform): drop what the consumer never reads (managedFields, payloads it only compares)
   * so the cache holds less. It may mutate and return its argument; it must be pure and fast.
   */
  transform?: (obj: T) => T;
  /** Called on every watch restart, e.g. to feed your own metrics. */
  onWatchRestart?: (reason: WatchRestartReason, error?: Error) => void;
  /** When given, registers kube_offload_informer_watch_restarts_total{informer,reason} here. */
  registry?: Registry;
  random?: () => number;
  /**
   * Test hook, awaited before every watch request with the resourceVersion about to be used; it
   * may hold the watch back and/or return another resourceVersion (e.g. an ancient one → 410).
   */
  beforeWatch?: (resourceVersion: string) => Promise<string | void>;
}

export type InformerEvent = 'add' | 'update' | 'delete';

export interface InformerStats {
  lists: number;
  watches: number;
  events: number;
  bookmarks: number;
  restarts: Record<WatchRestartReason, number>;
  consecutiveFailures: number;
  lastError?: string;
  /** Date.now() of the last event or bookmark, 0 if none yet. */
  lastEventAt: number;
}

export interface Informer<T> {
  /** Lists, then watches; resolves once the first list is in the cache. */
  start(): Promise<void>;
  stop(): void;
  list(): T[];
  /** Key is "namespace/name" or "name" for cluster-scoped objects. */
  get(key: string): T | undefined;
  hasSynced(): boolean;
  /** ok=false when the watch has stalled or keeps failing; reason says why. */
  health(): { ok: boolean; reason?: string };
  on(event: InformerEvent, handler: (object: T, old?: T) => void): void;

  // ---- added ----
  off(event: InformerEvent, handler: (object: T, old?: T) => void): void;
  /** The newest resourceVersion seen (list, event or bookmark); "" before the first list. */
  resourceVersion(): string;
  stats(): InformerStats;
  /**
   * Aborts the current watch and resumes from `resourceVersion` (default: the newest seen).
   * For tests and operators; an ancient version provokes the 410 → relist path.
   */
  restartWatch(resourceVersion?: string): void;
}

type Handler<T> = (object: T, old?: T) => void;
type Outcome = { reason: WatchRestartReason; error?: Error; events: number; ms: number } | { reason: 'stopped' };

const RESTARTS_METRIC = 'kube_offload_informer_watch_restarts_total';

function restartsCounter(registry: Registry): Counter<'informer' | 'reason'> {
  const existing = registry.getSingleMetric(RESTARTS_METRIC);
  if (existing) return existing as Counter<'informer' | 'reason'>;
  return new Counter({
    name: RESTARTS_METRIC,
    help: 'Watch restarts of kube-offload informers, by reason (closed, expired, stalled, error, requested)',
    labelNames: ['informer', 'reason'],
    registers: [registry],
  });
}

const errorOf = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

class InformerImpl<T extends KubernetesObject> implements Informer<T> {
  readonly #o: InformerOptions<T>;
  readonly #client: KubeClient;
  readonly #log: Logger | undefined;
  readonly #backoff: Backoff;
  readonly #random: () => number;
  readonly #counter: Counter<'informer' | 'reason'> | undefined;
  readonly #handlers: Record<InformerEvent, Set<Handler<T>>> = { add: new Set(), update: new Set(), delete: new Set() };

  #cache = new Map<string, T>();
  #rv = '';
  #needList = true;
  #synced = false;
  #started = false;
  #stopped = false;
  #stalled = false;
  #expiredStreak = 0;
  /** When we last heard from the server (list, accepted watch, event); for health messages. */
  #lastHeardAt = 0;
  #watchAbort: AbortController | undefined;
  #requested: { rv: string | undefined } | undefined;
  #sleepCancel: (() => void) | undefined;
  #syncWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #stats: InformerStats = {
    lists: 0,
    watches: 0,
    events: 0,
    bookmarks: 0,
    consecutiveFailures: 0,
    lastEventAt: 0,
    restarts: { closed: 0, expired: 0, stalled: 0, error: 0, requested: 0 },
  };

  constructor(options: InformerOptions<T>) {
    this.#o = options;
    this.#client = options.client ?? new KubeClient(options.kubeConfig);
    this.#log = options.logger;
    this.#random = options.random ?? Math.random;
    this.#backoff = new Backoff(options.backoff ?? { baseMs: 800, maxMs: 30_000, jitter: 0.5 }, this.#random);
    this.#counter = options.registry ? restartsCounter(options.registry) : undefined;
  }

  start(): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error(`informer ${this.#o.name} was stopped`));
    const p = this.#synced
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => this.#syncWaiters.push({ resolve, reject }));
    if (!this.#started) {
      this.#started = true;
      void this.#run();
    }
    return p;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#watchAbort?.abort();
    this.#sleepCancel?.();
    for (const w of this.#syncWaiters.splice(0)) w.reject(new Error(`informer ${this.#o.name} stopped before sync`));
    if (!this.#o.client) this.#client.close();
  }

  list(): T[] {
    return [...this.#cache.values()];
  }
  get(key: string): T | undefined {
    return this.#cache.get(key);
  }
  hasSynced(): boolean {
    return this.#synced;
  }
  resourceVersion(): string {
    return this.#rv;
  }
  stats(): InformerStats {
    return { ...this.#stats, restarts: { ...this.#stats.restarts } };
  }
  on(event: InformerEvent, handler: Handler<T>): void {
    this.#handlers[event].add(handler);
  }
  off(event: InformerEvent, handler: Handler<T>): void {
    this.#handlers[event].delete(handler);
  }

  health(): { ok: boolean; reason?: string } {
    const last = this.#stats.lastError ? ` (last error: ${this.#stats.lastError})` : '';
    if (this.#stopped) return { ok: false, reason: 'stopped' };
    if (!this.#synced) return { ok: false, reason: `not synced yet${last}` };
    if (this.#stalled) {
      const age = Math.round((Date.now() - this.#lastHeardAt) / 1000);
      return { ok: false, reason: `watch stalled: no event or bookmark for ${age}s` };
    }
    const threshold = this.#o.failureThreshold ?? 3;
    if (this.#stats.consecutiveFailures >= threshold) {
      return { ok: false, reason: `${this.#stats.consecutiveFailures} consecutive list/watch failures${last}` };
    }
    return { ok: true };
  }

  restartWatch(resourceVersion?: string): void {
    this.#requested = { rv: resourceVersion };
    this.#watchAbort?.abort();
  }

  // ---- the loop ----

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let outcome: Outcome;
      try {
        if (this.#needList) await this.#relist();
        outcome = await this.#watch();
      } catch (err) {
        outcome = { reason: 'error', error: errorOf(err), events: 0, ms: 0 };
      }
      if (outcome.reason === 'stopped' || this.#stopped) break;
      this.#restarted(outcome.reason, outcome.error);

      let failed = outcome.reason === 'error' || outcome.reason === 'stalled';
      // A watch the server ends at once without a single event is a failure too, else a
      // misbehaving server/proxy makes us spin without backoff.
      if (outcome.reason === 'closed' && outcome.events === 0 && outcome.ms < 1000) {
        failed = true;
        outcome.error = new Error('watch closed immediately by the server');
      }
      // A watch the server ended on schedule proves it alive even if nothing happened.
      if (outcome.reason === 'closed' && !failed) this.#stalled = false;
      if (outcome.reason === 'expired') {
        this.#needList = true; // relist right away, like client-go...
        // ...unless the fresh list's version expired again at once: then back off, don't spin.
        if (++this.#expiredStreak > 1) await this.#sleep(this.#backoff.next());
      } else if (failed) {
        this.#stats.consecutiveFailures++;
        if (outcome.error) this.#stats.lastError = outcome.error.message;
        const delay = this.#backoff.next();
        this.#log?.warn(
          {
            informer: this.#o.name,
            reason: outcome.reason,
            err: outcome.error?.message,
            failures: this.#stats.consecutiveFailures,
            retryInMs: delay,
          },
          'watch failed; backing off',
        );
        await this.#sleep(delay);
      }
    }
  }

  #restarted(reason: WatchRestartReason, error?: Error): void {
    this.#stats.restarts[reason]++;
    this.#counter?.inc({ informer: this.#o.name, reason });
    try {
      this.#o.onWatchRestart?.(reason, error);
    } catch {
      // a metrics hook must not break the loop
    }
    this.#log?.debug({ informer: this.#o.name, reason, rv: this.#rv }, 'watch restart');
  }

  /** A sleep that #sleepCancel() cuts short. */
  #sleep(ms: number): Promise<void> {
    const controller = new AbortController();
    this.#sleepCancel = () => controller.abort();
    return sleep(ms, controller.signal);
  }

  #success(): void {
    this.#stats.consecutiveFailures = 0;
    this.#stats.lastError = undefined;
  }

  async #relist(): Promise<void> {
    const transform = this.#o.transform;
    const { items, resourceVersion } = await this.#client.listAll<T>(this.#o.path, {
      ...(this.#o.labelSelector ? { labelSelector: this.#o.labelSelector } : {}),
      ...(this.#o.fieldSelector ? { fieldSelector: this.#o.fieldSelector } : {}),
      limit: this.#o.pageSize ?? 500,
      // Page by page, so a relist never holds more than one page of untransformed objects.
      map: (item, list) => {
        // List items carry no kind/apiVersion; fill them in so consumers see what a watch delivers.
        if (!item.kind && list.kind?.endsWith('List')) item.kind = list.kind.slice(0, -4);
        if (!item.apiVersion && list.apiVersion) item.apiVersion = list.apiVersion;
        return transform ? transform(item) : item;
      },
    });
    if (this.#stopped) return;
    this.#stats.lists++;
    const fresh = new Map<string, T>();
    for (const item of items) fresh.set(objectKey(item), item);
    const old = this.#cache;
    this.#cache = fresh;
    this.#rv = resourceVersion;
    this.#needList = false;
    this.#stalled = false;
    this.#lastHeardAt = Date.now();
    this.#success();
    this.#backoff.reset();
    // Synthetic diff: after a relist handlers see exactly what changed while we were away.
    for (const [key, prev] of old) if (!fresh.has(key)) this.#emit('delete', prev);
    for (const [key, obj] of fresh) {
      const prev = old.get(key);
      if (!prev) this.#emit('add', obj);
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#emit('update', obj, prev);
    }
    this.#log?.info({ informer: this.#o.name, objects: fresh.size, rv: resourceVersion }, 'listed');
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w.resolve();
    }
  }

  #emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of this.#handlers[event]) {
      try {
        h(obj, old);
      } catch (err) {
        this.#log?.warn({ informer: this.#o.name, event, err: errorOf(err).message }, 'informer handler threw');
      }
    }
  }

  #timeoutSeconds(): number {
    const min = this.#o.watchTimeoutSeconds ?? 300;
    return Math.max(1, Math.floor(min * (1 + this.#random())));
  }

  /** One watch request, from open to end. Never rejects for stream problems: returns an Outcome. */
  async #watch(): Promise<Outcome> {
    const requested = this.#requested;
    this.#requested = undefined;
    if (requested?.rv !== undefined) this.#rv = requested.rv;
    if (this.#o.beforeWatch) {
      const rv = await this.#o.beforeWatch(this.#rv);
      if (typeof rv === 'string') this.#rv = rv;
    }
    const abort = new AbortController();
    this.#watchAbort = abort;
    if (this.#stopped) return { reason: 'stopped' };
    const timeoutSeconds = this.#timeoutSeconds();
    const stallMs = this.#o.stallTimeoutMs ?? (timeoutSeconds + (this.#o.stallGraceSeconds ?? 30)) * 1000;
    const began = Date.now();
    this.#stats.watches++;
    const query = {
      watch: 'true',
      resourceVersion: this.#rv,
      allowWatchBookmarks: 'true',
      timeoutSeconds,
      labelSelector: this.#o.labelSelector,
      fieldSelector: this.#o.fieldSelector,
    };
    let res;
    try {
      res = await this.#client.stream('GET', this.#o.path, {
        query,
        signal: abort.signal,
        timeoutMs: this.#o.connectTimeoutMs ?? 30_000,
      });
    } catch (err) {
      if (this.#stopped) return { reason: 'stopped' };
      if (abort.signal.aborted && this.#requested) return { reason: 'requested', events: 0, ms: Date.now() - began };
      return { reason: 'error', error: errorOf(err), events: 0, ms: Date.now() - began };
    }
    if (res.statusCode !== 200) {
      let text = '';
      try {
        for await (const c of res.body) text += String(c);
      } catch {
        // ignore: we report the status code
      }
      let status: ApiStatus | undefined;
      try {
        status = JSON.parse(text) as ApiStatus;
      } catch {
        status = undefined;
      }
      const error = new KubeApiError('WATCH', this.#o.path, res.statusCode, status, text.slice(0, 300));
      return { reason: res.statusCode === 410 ? 'expired' : 'error', error, events: 0, ms: Date.now() - began };
    }
    // The apiserver accepted our resourceVersion: it is reachable and we are caught up.
    this.#success();
    this.#lastHeardAt = Date.now();
    return this.#consume(res.body, abort, stallMs, began);
  }

  #consume(
    body: NodeJS.ReadableStream & { destroy(): void },
    abort: AbortController,
    stallMs: number,
    began: number,
  ): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let events = 0;
      let buf = '';
      let settled = false;
      let stallTimer: NodeJS.Timeout | undefined;
      const finish = (o: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(stallTimer);
        abort.signal.removeEventListener('abort', onAbort);
        body.destroy();
        resolve(o);
      };
      const end = (reason: WatchRestartReason, error?: Error): void =>
        finish({ reason, ...(error ? { error } : {}), events, ms: Date.now() - began });
      const armStall = (): void => {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(() => {
          this.#stalled = true;
          end('stalled', new Error(`no event or bookmark for ${stallMs} ms`));
        }, stallMs);
      };
      const onAbort = (): void => {
        if (this.#stopped) finish({ reason: 'stopped' });
        else end('requested');
      };
      abort.signal.addEventListener('abort', onAbort);
      armStall();

      const onLine = (line: string): void => {
        if (!line.trim()) return;
        let ev: { type?: string; object?: T & ApiStatus };
        try {
          ev = JSON.parse(line) as typeof ev;
        } catch {
          end('error', new Error(`undecodable watch event: ${line.slice(0, 200)}`));
          return;
        }
        events++;
        armStall();
        this.#stalled = false;
        this.#stats.lastEventAt = this.#lastHeardAt = Date.now();
        if (ev.type === 'ERROR') {
          const code = ev.object?.code;
          const error = new KubeApiError('WATCH', this.#o.path, typeof code === 'number' ? code : 500, ev.object);
          end(code === 410 ? 'expired' : 'error', error);
          return;
        }
        // First real event on this stream: the failure streak is over.
        if (events === 1) this.#backoff.reset();
        this.#expiredStreak = 0;
        if (!ev.object) return;
        const rv = ev.object.metadata?.resourceVersion;
        if (ev.type === 'BOOKMARK') {
          this.#stats.bookmarks++;
          if (rv) this.#rv = rv;
          return;
        }
        const obj = this.#o.transform ? this.#o.transform(ev.object) : ev.object;
        this.#stats.events++;
        const key = objectKey(obj);
        const prev = this.#cache.get(key);
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
          this.#cache.set(key, obj);
          if (rv) this.#rv = rv;
          if (prev) this.#emit('update', obj, prev);
          else this.#emit('add', obj);
        } else if (ev.type === 'DELETED') {
          this.#cache.delete(key);
          if (rv) this.#rv = rv;
          this.#emit('delete', obj);
        }
      };

      body.setEncoding('utf8'); // decodes multi-byte characters split across chunks
      body.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while (!settled && (nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          onLine(line);
        }
      });
      body.on('end', () => {
        if (!settled && buf.trim()) onLine(buf); // a final event without newline
        end('closed');
      });
      body.on('error', (err) => {
        if (abort.signal.aborted) return onAbort();
        end('error', errorOf(err));
      });
      // 'close' without 'end' = connection dropped mid-stream (apiserver killed).
      body.on('close', () => end('error', new Error('watch connection closed before the end of the stream')));
    });
  }
}

export function createInformer<T>(options: InformerOptions<T>): Informer<T> {
  return new InformerImpl<T & KubernetesObject>(
    options as InformerOptions<T & KubernetesObject>,
  ) as unknown as Informer<T>;
}
