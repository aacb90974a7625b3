// Fakes for the provider's seams: an in-memory API per cluster (a tiny apiserver: uids,
// AlreadyExists, NotFound, uid preconditions, merge patches, injectable failures), caches fed by
// it like informers, and an Event sink that remembers what was recorded.
import { KubeApiError } from '../../../src/kube/client.ts';
import type { DeleteOptions } from '../../../src/kube/client.ts';
import type { InformerEvent } from '../../../src/kube/informer.ts';
import type { Cache, PodEvents, ProviderClient, ProviderReason } from '../../../src/virtualnode/api.ts';
import type { Pod } from '../../../src/virtualnode/types.ts';

export interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  spec?: any;
  status?: any;
  [field: string]: unknown;
}

export type Verb = 'create' | 'replace' | 'patch' | 'delete';

export interface Write {
  verb: Verb;
  path: string;
  body?: unknown;
  /** 'ok' or the HTTP status of the failure. */
  result: string;
}

type Listener = (event: InformerEvent, path: string, object: Obj, old?: Obj) => void;

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  422: 'Invalid',
  500: 'InternalError',
};

export function apiError(method: string, path: string, code: number, reason = REASONS[code]): KubeApiError {
  return new KubeApiError(method, path, code, { kind: 'Status', code, ...(reason ? { reason } : {}), message: 'fake' });
}

const copy = <T>(value: T): T => structuredClone(value);

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return copy(patch);
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** The object path of `object` in the collection `collectionPath`. */
const objectPathIn = (collectionPath: string, object: Obj): string => `${collectionPath}/${object.metadata?.name}`;

/** One cluster's API, kept in memory: objects by path. */
export class FakeApi implements ProviderClient {
  readonly objects = new Map<string, Obj>();
  readonly writes: Write[] = [];
  readonly gets: string[] = [];
  /** Creates in a namespace that does not exist fail with 404, as on a real apiserver. */
  requireNamespaces = false;
  #failures: Array<{ verb: Verb | 'get'; path: RegExp; code: number; reason?: string | undefined; times: number }> = [];
  #listeners: Listener[] = [];
  #uids = 0;
  #versions = 0;

  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  /** The next `times` calls of `verb` on a path matching `path` fail with `code`. */
  failNext(verb: Verb | 'get', path: RegExp, code: number, options: { reason?: string; times?: number } = {}): void {
    this.#failures.push({ verb, path, code, reason: options.reason, times: options.times ?? 1 });
  }

  watch(listener: Listener): void {
    this.#listeners.push(listener);
  }

  /** Puts an object as someone else would (no write recorded); watchers hear of it. */
  put(path: string, object: Obj): Obj {
    const old = this.objects.get(path);
    const stored = copy(object);
    stored.metadata = { ...stored.metadata, uid: stored.metadata?.uid ?? old?.metadata?.uid ?? this.#uid() };
    stored.metadata.resourceVersion = String(++this.#versions);
    this.objects.set(path, stored);
    this.#notify(old ? 'update' : 'add', path, stored, old);
    return copy(stored);
  }

  /** Removes an object as someone else would; watchers hear of it. */
  remove(path: string): void {
    const old = this.objects.get(path);
    if (!old) return;
    this.objects.delete(path);
    this.#notify('delete', path, old);
  }

  /** Writes that went through, as "verb path". */
  written(): string[] {
    return this.writes.filter((write) => write.result === 'ok').map((write) => `${write.verb} ${write.path}`);
  }

  // ---- ProviderClient ----

  async get<T>(path: string): Promise<T | undefined> {
    this.gets.push(path);
    this.#maybeFail('get', 'GET', path);
    if (path === '/version') return { gitVersion: 'v1.36.0' } as T;
    const object = this.objects.get(path);
    return object ? (copy(object) as T) : undefined;
  }

  async list<T>(collectionPath: string): Promise<T[]> {
    this.#maybeFail('get', 'GET', collectionPath);
    const prefix = `${collectionPath}/`;
    return [...this.objects.entries()]
      .filter(([path]) => path.startsWith(prefix) && !path.slice(prefix.length).includes('/'))
      .map(([, object]) => copy(object) as T);
  }

  async create<T>(collectionPath: string, object: T): Promise<T> {
    const path = objectPathIn(collectionPath, object as Obj);
    return this.#write('create', 'POST', path, object, () => {
      if (this.objects.has(path)) throw apiError('POST', path, 409, 'AlreadyExists');
      const namespace = /^\/api\/v1\/namespaces\/([^/]+)\/[^/]+$/.exec(collectionPath)?.[1];
      if (this.requireNamespaces && namespace && !this.objects.has(`/api/v1/namespaces/${namespace}`)) {
        throw apiError('POST', path, 404);
      }
      return this.put(path, object as Obj) as T;
    });
  }

  async replace<T>(path: string, object: T): Promise<T> {
    return this.#write('replace', 'PUT', path, object, () => {
      const { base, status } = this.#existing('PUT', path);
      const next = status ? { ...base, status: (object as Obj).status } : (object as Obj);
      return this.put(path.replace(/\/status$/, ''), next) as T;
    });
  }

  async mergePatch(path: string, patch: object): Promise<void> {
    await this.#write('patch', 'PATCH', path, patch, () => {
      const { base, status } = this.#existing('PATCH', path);
      const uid = (patch as Obj).metadata?.uid;
      if (uid !== undefined && uid !== base.metadata?.uid) throw apiError('PATCH', path, 409);
      const next = status
        ? { ...base, status: mergePatch(base.status, (patch as Obj).status) }
        : (mergePatch(base, patch) as Obj);
      return this.put(path.replace(/\/status$/, ''), next);
    });
  }

  async delete(path: string, options: DeleteOptions): Promise<void> {
    await this.#write('delete', 'DELETE', path, options, () => {
      const { base } = this.#existing('DELETE', path);
      const uid = options.preconditions?.uid;
      if (uid !== undefined && uid !== base.metadata?.uid) throw apiError('DELETE', path, 409);
      this.remove(path);
    });
  }

  // ---- internals ----

  #uid(): string {
    return `${this.name}-uid-${++this.#uids}`;
  }

  #existing(method: string, path: string): { base: Obj; status: boolean } {
    const status = path.endsWith('/status');
    const base = this.objects.get(status ? path.slice(0, -'/status'.length) : path);
    if (!base) throw apiError(method, path, 404);
    return { base: copy(base), status };
  }

  async #write<R>(verb: Verb, method: string, path: string, body: unknown, apply: () => R): Promise<R> {
    try {
      this.#maybeFail(verb, method, path);
      const out = apply();
      this.writes.push({ verb, path, body: copy(body), result: 'ok' });
      return out;
    } catch (err) {
      this.writes.push({ verb, path, body: copy(body), result: String((err as KubeApiError).statusCode ?? 'network') });
      throw err;
    }
  }

  #maybeFail(verb: Verb | 'get', method: string, path: string): void {
    const failure = this.#failures.find((f) => f.verb === verb && f.path.test(path) && f.times > 0);
    if (!failure) return;
    failure.times--;
    throw apiError(method, path, failure.code, failure.reason);
  }

  #notify(event: InformerEvent, path: string, object: Obj, old?: Obj): void {
    for (const listener of this.#listeners) listener(event, path, copy(object), old && copy(old));
  }
}

/** An informer over a FakeApi: the objects whose path and content `select` accepts. */
export class FakeCache<T extends Obj | Pod> implements Cache<T> {
  readonly #items = new Map<string, T>();
  readonly #handlers: Record<InformerEvent, Set<(object: T, old?: T) => void>> = {
    add: new Set(),
    update: new Set(),
    delete: new Set(),
  };
  #synced = false;
  #stopped = false;
  /** While true, the cache does not see the API's objects or changes (a lagging list or watch). */
  paused = false;
  /** start() resolves only once this resolves (a cache that syncs late). */
  syncGate: Promise<void> = Promise.resolve();

  readonly api: FakeApi;
  readonly select: (path: string, object: Obj) => boolean;

  constructor(api: FakeApi, select: (path: string, object: Obj) => boolean) {
    this.api = api;
    this.select = select;
    api.watch((event, path, object) => {
      if (!this.#synced || this.paused || this.#stopped) return;
      if (event === 'delete' || !this.select(path, object)) this.remove(keyOf(object));
      else this.set(object as T);
    });
  }

  async start(): Promise<void> {
    await this.syncGate;
    if (this.#stopped) throw new Error('stopped');
    if (!this.paused)
      for (const [path, object] of this.api.objects) if (this.select(path, object)) this.set(copy(object) as T);
    this.#synced = true;
  }
  stop(): void {
    this.#stopped = true;
  }
  list(): T[] {
    return [...this.#items.values()];
  }
  get(key: string): T | undefined {
    return this.#items.get(key);
  }
  hasSynced(): boolean {
    return this.#synced;
  }
  health(): { ok: boolean; reason?: string } {
    return this.#synced ? { ok: true } : { ok: false, reason: 'not synced yet' };
  }
  on(event: InformerEvent, handler: (object: T, old?: T) => void): void {
    this.#handlers[event].add(handler);
  }

  /** Puts an object into the cache only (what a watch event would do). */
  set(object: T): void {
    const key = keyOf(object as Obj);
    const previous = this.#items.get(key);
    this.#items.set(key, object);
    for (const handler of this.#handlers[previous ? 'update' : 'add']) handler(object, previous);
  }

  /** Drops an object from the cache only. */
  remove(key: string): void {
    const object = this.#items.get(key);
    if (!object) return;
    this.#items.delete(key);
    for (const handler of this.#handlers.delete) handler(object);
  }
}

/** The informer's key (objectKey in src/kube/client.ts): `namespace/name`, or `name` when cluster-scoped. */
const keyOf = (object: Obj): string =>
  object.metadata?.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : `${object.metadata?.name}`;

export interface RecordedEvent {
  pod: string;
  type: 'Normal' | 'Warning';
  reason: ProviderReason;
  message: string;
}

export class FakeEvents implements PodEvents {
  readonly recorded: RecordedEvent[] = [];
  stopped = false;

  record(pod: Pod, type: 'Normal' | 'Warning', reason: ProviderReason, message: string): void {
    this.recorded.push({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, type, reason, message });
  }
  stop(): void {
    this.stopped = true;
  }
  reasons(): string[] {
    return this.recorded.map((event) => event.reason);
  }
}
