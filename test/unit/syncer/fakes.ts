// Fakes for the syncer shell: an in-memory cluster (objects, resourceVersions, uids, the API's
// error answers) with a client and informers over it, and an Event sink. Watch events reach the
// informers asynchronously (after the write answered), as they do from a real apiserver.
import { KubeApiError } from '../../../src/kube/client.ts';
import type { InformerEvent } from '../../../src/kube/informer.ts';
import type { SyncerClient, EventSink, SyncerLogger } from '../../../src/syncer/api.ts';
import type { Cache, CacheFactory, CacheSpec } from '../../../src/syncer/caches.ts';
import { slimLocal, slimRemote } from '../../../src/syncer/slim.ts';
import type { KubeObject } from '../../../webhooks/types.ts';

const RESOURCES: Record<string, string> = {
  Service: 'services',
  Secret: 'secrets',
  ConfigMap: 'configmaps',
  EndpointSlice: 'endpointslices',
  Namespace: 'namespaces',
  Node: 'nodes',
};

interface ParsedPath {
  resource: string;
  namespace?: string;
  name?: string;
}

const PATH = /^\/(?:api\/v1|apis\/[^/]+\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?$/;

function parsePath(path: string): ParsedPath {
  const m = PATH.exec(path);
  if (!m) throw new Error(`fake cluster: unexpected path ${path}`);
  const [, namespace, resource, name] = m;
  return {
    resource: resource as string,
    ...(namespace ? { namespace: decodeURIComponent(namespace) } : {}),
    ...(name ? { name: decodeURIComponent(name) } : {}),
  };
}

const keyOf = (resource: string, namespace: string | undefined, name: string): string =>
  `${resource}/${namespace ?? ''}/${name}`;

/** Label selectors as the syncer writes them: `k=v`, `k` (exists), `!k` (absent), comma-joined. */
export function matchesSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    if (term.startsWith('!')) return labels?.[term.slice(1)] === undefined;
    const eq = term.indexOf('=');
    if (eq < 0) return labels?.[term] !== undefined;
    return labels?.[term.slice(0, eq)] === term.slice(eq + 1);
  });
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const clone = <T>(v: T): T => structuredClone(v);

export type Verb = 'create' | 'update' | 'patch' | 'delete' | 'get' | 'list';

interface InjectedFailure {
  verb: Verb;
  code: number;
  reason: string;
  times: number;
  resource?: string;
}

/** A cache over a FakeCluster: lists on start(), then hears every change. */
export class FakeInformer implements Cache {
  readonly spec: CacheSpec;
  readonly #cluster: FakeCluster;
  readonly #items = new Map<string, KubeObject>();
  readonly #handlers: Record<InformerEvent, Array<(o: KubeObject, old?: KubeObject) => void>> = {
    add: [],
    update: [],
    delete: [],
  };
  #started = false;

  constructor(cluster: FakeCluster, spec: CacheSpec) {
    this.#cluster = cluster;
    this.spec = spec;
  }

  get resource(): string {
    return parsePath(this.spec.path).resource;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    for (const object of this.#cluster.objectsOf(this.resource)) this.observe(object);
  }

  stop(): void {
    this.#started = false;
  }

  list(): KubeObject[] {
    return [...this.#items.values()];
  }

  get(key: string): KubeObject | undefined {
    return this.#items.get(key);
  }

  hasSynced(): boolean {
    return this.#started;
  }

  health(): { ok: boolean; reason?: string } {
    return this.#started ? { ok: true } : { ok: false, reason: 'not synced yet' };
  }

  on(event: InformerEvent, handler: (o: KubeObject, old?: KubeObject) => void): void {
    this.#handlers[event].push(handler);
  }

  /** A change of one object in the cluster (`gone`: deleted). */
  observe(object: KubeObject, gone = false): void {
    if (!this.#started) return;
    const { namespace, name } = object.metadata ?? {};
    const key = namespace ? `${namespace}/${name}` : String(name);
    const old = this.#items.get(key);
    const selected = !gone && matchesSelector(object.metadata?.labels, this.spec.labelSelector);
    if (selected) {
      const cached = (this.spec.remote ? slimRemote : slimLocal)(clone(object));
      this.#items.set(key, cached);
      this.#emit(old ? 'update' : 'add', cached, old);
    } else if (old) {
      this.#items.delete(key);
      this.#emit('delete', old);
    }
  }

  #emit(event: InformerEvent, object: KubeObject, old?: KubeObject): void {
    for (const handler of this.#handlers[event]) handler(object, old);
  }
}

/** One cluster in memory. */
export class FakeCluster {
  readonly name: string;
  /** Every request the client sent, in order ("verb path"), and when (by `now`). */
  readonly requests: string[] = [];
  readonly requestTimes: number[] = [];
  now: () => number = () => 0;
  readonly #objects = new Map<string, KubeObject>();
  readonly #informers: FakeInformer[] = [];
  readonly #failures: InjectedFailure[] = [];
  #pending: Array<{ object: KubeObject; gone: boolean }> = [];
  #paused = false;
  #scheduled = false;
  #version = 1000;
  #uids = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** Write requests sent through the client (not the test's own changes). */
  writes(): string[] {
    return this.requests.filter((r) => /^(create|update|patch|delete) /.test(r));
  }

  /** The next `times` requests of `verb` (on `resource`, if given) fail with this status. */
  failNext(verb: Verb, code: number, reason: string, options: { times?: number; resource?: string } = {}): void {
    this.#failures.push({ verb, code, reason, times: options.times ?? 1, ...options });
  }

  /** A cache factory for the syncer (the informers see this cluster). */
  readonly caches: CacheFactory = (spec) => {
    const informer = new FakeInformer(this, spec);
    this.#informers.push(informer);
    return informer;
  };

  objectsOf(resource: string): KubeObject[] {
    return [...this.#objects.entries()].filter(([k]) => k.startsWith(`${resource}/`)).map(([, o]) => clone(o));
  }

  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const object = this.#objects.get(keyOf(RESOURCES[kind] as string, namespace, name));
    return object && clone(object);
  }

  /** Someone else writes the object (no request of ours is recorded). */
  put(object: KubeObject): KubeObject {
    const { namespace, name } = object.metadata ?? {};
    const key = keyOf(RESOURCES[object.kind ?? ''] as string, namespace, String(name));
    const existing = this.#objects.get(key);
    const stored = clone(object);
    stored.metadata = {
      ...stored.metadata,
      uid: existing?.metadata?.uid ?? stored.metadata?.uid ?? this.#uid(),
      resourceVersion: this.#nextVersion(),
    };
    this.#objects.set(key, stored);
    this.#changed(stored, false);
    return clone(stored);
  }

  /** Someone else deletes the object. */
  remove(kind: string, namespace: string | undefined, name: string): void {
    const key = keyOf(RESOURCES[kind] as string, namespace, name);
    const existing = this.#objects.get(key);
    if (!existing) return;
    this.#objects.delete(key);
    this.#changed(existing, true);
  }

  readonly client: SyncerClient = {
    getOrUndefined: async (path) => {
      this.#request('get', path);
      const { resource, namespace, name } = parsePath(path);
      const object = this.#objects.get(keyOf(resource, namespace, name ?? ''));
      return object && clone(object);
    },
    listAll: async (path, options) => {
      this.#request('list', path);
      const { resource, namespace } = parsePath(path);
      const items = this.objectsOf(resource).filter(
        (o) =>
          (namespace === undefined || o.metadata?.namespace === namespace) &&
          matchesSelector(o.metadata?.labels, options.labelSelector),
      );
      return { items };
    },
    create: async (path, object) => {
      const { resource, namespace } = this.#request('create', path);
      const name = String(object.metadata?.name);
      const key = keyOf(resource, namespace, name);
      if (this.#objects.has(key)) throw this.#error('create', path, 409, 'AlreadyExists');
      if (namespace && !this.#objects.has(keyOf('namespaces', undefined, namespace))) {
        throw this.#error('create', path, 404, 'NotFound');
      }
      const stored = clone(object);
      stored.metadata = { ...stored.metadata, uid: this.#uid(), resourceVersion: this.#nextVersion() };
      if (namespace) stored.metadata.namespace = namespace;
      return this.#store(key, stored);
    },
    replace: async (path, object) => {
      const { key, existing } = this.#existing('update', path);
      const expected = object.metadata?.resourceVersion;
      if (expected && expected !== existing.metadata?.resourceVersion)
        throw this.#error('update', path, 409, 'Conflict');
      const stored = clone(object);
      stored.metadata = { ...stored.metadata, uid: existing.metadata?.uid, resourceVersion: this.#nextVersion() };
      return this.#store(key, stored);
    },
    patch: async (path, patch) => {
      const { key, existing } = this.#existing('patch', path);
      const expected = (patch as KubeObject).metadata?.resourceVersion;
      if (expected && expected !== existing.metadata?.resourceVersion)
        throw this.#error('patch', path, 409, 'Conflict');
      const stored = mergePatch(existing, patch) as KubeObject;
      stored.metadata = { ...stored.metadata, resourceVersion: this.#nextVersion() };
      return this.#store(key, stored);
    },
    delete: async (path, options) => {
      const { key, existing } = this.#existing('delete', path);
      const uid = options.preconditions?.uid;
      if (uid && uid !== existing.metadata?.uid) throw this.#error('delete', path, 409, 'Conflict');
      this.#objects.delete(key);
      this.#changed(existing, true);
      if (parsePath(path).resource === 'namespaces') this.#deleteContents(String(existing.metadata?.name));
      return {};
    },
  };

  #request(verb: Verb, path: string): ParsedPath {
    this.requests.push(`${verb} ${path}`);
    this.requestTimes.push(this.now());
    const parsed = parsePath(path);
    const failure = this.#failures.find((f) => f.verb === verb && (!f.resource || f.resource === parsed.resource));
    if (failure) {
      if (--failure.times <= 0) this.#failures.splice(this.#failures.indexOf(failure), 1);
      throw this.#error(verb, path, failure.code, failure.reason);
    }
    return parsed;
  }

  #existing(verb: Verb, path: string): { key: string; existing: KubeObject } {
    const { resource, namespace, name } = this.#request(verb, path);
    const key = keyOf(resource, namespace, name ?? '');
    const existing = this.#objects.get(key);
    if (!existing) throw this.#error(verb, path, 404, 'NotFound');
    return { key, existing };
  }

  #store(key: string, stored: KubeObject): KubeObject {
    this.#objects.set(key, stored);
    this.#changed(stored, false);
    return clone(stored);
  }

  #deleteContents(namespace: string): void {
    for (const [key, object] of this.#objects) {
      if (object.metadata?.namespace !== namespace) continue;
      this.#objects.delete(key);
      this.#changed(object, true);
    }
  }

  #error(verb: string, path: string, code: number, reason: string): KubeApiError {
    return new KubeApiError(verb.toUpperCase(), path, code, { kind: 'Status', code, reason, message: reason });
  }

  #uid(): string {
    return `${this.name}-uid-${++this.#uids}`;
  }

  #nextVersion(): string {
    return String(++this.#version);
  }

  /** Holds watch events back (a watch that lags) until resumeWatch(). */
  pauseWatch(): void {
    this.#paused = true;
  }

  resumeWatch(): void {
    this.#paused = false;
    this.#scheduleDelivery();
  }

  /** Watch events go out after the current request answered, in order. */
  #changed(object: KubeObject, gone: boolean): void {
    this.#pending.push({ object: clone(object), gone });
    this.#scheduleDelivery();
  }

  #scheduleDelivery(): void {
    if (this.#paused || this.#scheduled || this.#pending.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#paused) this.#deliver();
    });
  }

  #deliver(): void {
    const batch = this.#pending;
    this.#pending = [];
    for (const { object, gone } of batch) {
      const resource = RESOURCES[object.kind ?? ''];
      for (const informer of this.#informers) if (informer.resource === resource) informer.observe(object, gone);
    }
  }
}

export interface RecordedEvent {
  kind?: string;
  name?: string;
  type: string;
  reason: string;
  message: string;
}

export class FakeEvents implements EventSink {
  readonly recorded: RecordedEvent[] = [];

  record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.recorded.push({ kind: object.kind, name: object.metadata?.name, type, reason, message });
  }

  reasons(): string[] {
    return this.recorded.map((e) => e.reason);
  }
}

/** A logger that keeps what it was told (for assertions on warnings). */
export class MemoryLogger implements SyncerLogger {
  readonly lines: Array<{ level: string; msg?: string; obj: object }> = [];
  debug = (obj: object, msg?: string): void => void this.lines.push({ level: 'debug', obj, ...(msg ? { msg } : {}) });
  info = (obj: object, msg?: string): void => void this.lines.push({ level: 'info', obj, ...(msg ? { msg } : {}) });
  warn = (obj: object, msg?: string): void => void this.lines.push({ level: 'warn', obj, ...(msg ? { msg } : {}) });
  error = (obj: object, msg?: string): void => void this.lines.push({ level: 'error', obj, ...(msg ? { msg } : {}) });
}
