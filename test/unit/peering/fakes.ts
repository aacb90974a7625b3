// An in-memory cluster for peer and unpeer: any resource path, label and field selectors, delete
// preconditions, generateName, namespace deletion taking the namespace's objects with it, pods
// that stay Terminating unless someone finalizes them, and the TokenRequest API with tokens bound
// to Secrets (invalid once their Secret is gone).
import { KubeApiError } from '../../../src/kube/client.ts';
import type { DeleteOptions } from '../../../src/kube/client.ts';
import type { PeeringClient } from '../../../src/peering/api.ts';
import type { KubeObject } from '../../../webhooks/types.ts';

interface ParsedPath {
  prefix: string;
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
}

function parsePath(path: string): ParsedPath {
  const match = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)\/(.*)$/.exec(path);
  if (!match) throw new Error(`fake cluster: unexpected path ${path}`);
  const prefix = match[1] as string;
  let segments = (match[2] as string).split('/').map(decodeURIComponent);
  let namespace: string | undefined;
  if (segments[0] === 'namespaces' && segments.length >= 3) {
    namespace = segments[1];
    segments = segments.slice(2);
  }
  const [resource, name, subresource] = segments as [string, string?, string?];
  return {
    prefix,
    resource,
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
    ...(subresource ? { subresource } : {}),
  };
}

const keyOf = (p: ParsedPath, name: string): string => `${p.prefix}/${p.resource}/${p.namespace ?? ''}/${name}`;

function matchesLabels(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    if (term.startsWith('!')) return labels?.[term.slice(1)] === undefined;
    const eq = term.indexOf('=');
    if (eq < 0) return labels?.[term] !== undefined;
    return labels?.[term.slice(0, eq)] === term.slice(eq + 1);
  });
}

function matchesFields(object: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [field, value] = term.split('=') as [string, string];
    const actual = field.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], object);
    return actual === value;
  });
}

function merge(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

const clone = <T>(value: T): T => structuredClone(value);

export class FakeCluster implements PeeringClient {
  readonly name: string;
  /** Every request: "VERB path". */
  readonly requests: string[] = [];
  now = (): number => Date.parse('2026-01-01T00:00:00Z');
  /** The longest token the TokenRequest API grants, in seconds. */
  maxTokenSeconds = Infinity;
  /** Pods deleted gracefully stay (Terminating) until deleted with grace 0 or finalize(). */
  podsLinger = true;
  /** Called after every write (e.g. a provider finalizing pods). */
  afterWrite: (() => void) | undefined;
  readonly #objects = new Map<string, KubeObject>();
  readonly #tokens = new Map<string, { secret: string; uid: string }>();
  #version = 1;
  #uids = 0;
  #names = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** Write requests sent (not the test's own changes). */
  writes(): string[] {
    return this.requests.filter((r) => !r.startsWith('GET '));
  }

  /** Someone else writes an object. */
  put(path: string, object: KubeObject): KubeObject {
    const p = parsePath(path);
    const name = String(object.metadata?.name);
    const stored = this.#stamp(clone(object), p, this.#objects.get(keyOf(p, name)));
    this.#objects.set(keyOf(p, name), stored);
    return clone(stored);
  }

  read(path: string): KubeObject | undefined {
    const p = parsePath(path);
    const object = this.#objects.get(keyOf(p, p.name ?? ''));
    return object && clone(object);
  }

  /** Someone else deletes an object. */
  drop(path: string): void {
    const p = parsePath(path);
    this.#objects.delete(keyOf(p, p.name ?? ''));
  }

  /** Which Secret a token is bound to, if it is still valid. */
  tokenValid(token: string): boolean {
    const bound = this.#tokens.get(token);
    if (!bound) return false;
    const secret = [...this.#objects.values()].find((o) => o.kind === 'Secret' && o.metadata?.uid === bound.uid);
    return secret !== undefined;
  }

  /** Finalizes every Terminating pod (what the virtual node provider does). */
  finalizePods(): void {
    for (const [key, object] of this.#objects) {
      if (object.kind === 'Pod' && object.metadata?.deletionTimestamp) this.#objects.delete(key);
    }
  }

  async getOrUndefined(path: string): Promise<KubeObject | undefined> {
    this.requests.push(`GET ${path}`);
    return this.read(path);
  }

  async listAll(
    path: string,
    options: { labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<{ items: KubeObject[] }> {
    this.requests.push(`GET ${path}`);
    const p = parsePath(path);
    const items = [...this.#objects.entries()]
      .filter(([key]) => key.startsWith(`${p.prefix}/${p.resource}/${p.namespace ?? ''}`))
      .map(([, object]) => object)
      .filter(
        (o) => matchesLabels(o.metadata?.labels, options.labelSelector) && matchesFields(o, options.fieldSelector),
      );
    return { items: clone(items) };
  }

  async create(path: string, object: KubeObject): Promise<KubeObject> {
    this.requests.push(`POST ${path}`);
    const p = parsePath(path);
    if (p.subresource === 'token') return this.#tokenRequest(p, object);
    const metadata = { ...object.metadata };
    if (!metadata.name && metadata.generateName)
      metadata.name = `${metadata.generateName}${String(++this.#names).padStart(5, 'x')}`;
    const name = String(metadata.name);
    if (this.#objects.has(keyOf(p, name))) throw this.#error('POST', path, 409, 'AlreadyExists');
    if (p.namespace && !this.#objects.has(`/api/v1/namespaces//${p.namespace}`))
      throw this.#error('POST', path, 404, 'NotFound');
    return this.#store(p, name, { ...clone(object), metadata });
  }

  async replace(path: string, object: KubeObject): Promise<KubeObject> {
    this.requests.push(`PUT ${path}`);
    const { p, existing } = this.#existing('PUT', path);
    const expected = object.metadata?.resourceVersion;
    if (expected && expected !== existing.metadata?.resourceVersion) throw this.#error('PUT', path, 409, 'Conflict');
    return this.#store(p, p.name as string, clone(object), existing);
  }

  async patch(path: string, patch: unknown, type: 'merge' | 'apply'): Promise<KubeObject> {
    this.requests.push(`PATCH(${type}) ${path}`);
    const p = parsePath(path);
    const existing = this.#objects.get(keyOf(p, p.name ?? ''));
    if (!existing && type !== 'apply') throw this.#error('PATCH', path, 404, 'NotFound');
    return this.#store(p, p.name as string, merge(existing ?? {}, patch) as KubeObject, existing);
  }

  async delete(path: string, options: DeleteOptions = {}): Promise<unknown> {
    this.requests.push(`DELETE ${path}`);
    const { p, existing } = this.#existing('DELETE', path);
    const uid = options.preconditions?.uid;
    if (uid && uid !== existing.metadata?.uid) throw this.#error('DELETE', path, 409, 'Conflict');
    const key = keyOf(p, p.name as string);
    if (p.resource === 'pods' && this.podsLinger && options.gracePeriodSeconds !== 0) {
      existing.metadata = { ...existing.metadata, deletionTimestamp: new Date(this.now()).toISOString() };
    } else {
      this.#objects.delete(key);
      if (p.resource === 'namespaces') this.#deleteContents(p.name as string);
    }
    this.afterWrite?.();
    return {};
  }

  #tokenRequest(p: ParsedPath, request: KubeObject): KubeObject {
    const spec = request.spec as { expirationSeconds: number; boundObjectRef: { name: string; uid: string } };
    const account = this.#objects.get(`/api/v1/serviceaccounts/${p.namespace}/${p.name}`);
    const bound = this.#objects.get(`/api/v1/secrets/${p.namespace}/${spec.boundObjectRef.name}`);
    if (!account) throw this.#error('POST', `serviceaccounts/${p.name}/token`, 404, 'NotFound');
    if (bound?.metadata?.uid !== spec.boundObjectRef.uid) throw this.#error('POST', 'token', 422, 'Invalid');
    const token = `token-${this.name}-${++this.#names}`;
    this.#tokens.set(token, { secret: spec.boundObjectRef.name, uid: spec.boundObjectRef.uid });
    const seconds = Math.min(spec.expirationSeconds, this.maxTokenSeconds);
    const expirationTimestamp = new Date(this.now() + seconds * 1000).toISOString();
    return { ...request, status: { token, expirationTimestamp } };
  }

  #existing(verb: string, path: string): { p: ParsedPath; existing: KubeObject } {
    const p = parsePath(path);
    const existing = this.#objects.get(keyOf(p, p.name ?? ''));
    if (!existing) throw this.#error(verb, path, 404, 'NotFound');
    return { p, existing };
  }

  #stamp(object: KubeObject, p: ParsedPath, existing?: KubeObject): KubeObject {
    object.metadata = {
      ...object.metadata,
      ...(p.namespace ? { namespace: p.namespace } : {}),
      uid: existing?.metadata?.uid ?? `${this.name}-uid-${++this.#uids}`,
      creationTimestamp: existing?.metadata?.creationTimestamp ?? new Date(this.now()).toISOString(),
      resourceVersion: String(++this.#version),
    };
    return object;
  }

  #store(p: ParsedPath, name: string, object: KubeObject, existing?: KubeObject): KubeObject {
    const stored = this.#stamp(object, p, existing);
    this.#objects.set(keyOf(p, name), stored);
    this.afterWrite?.();
    return clone(stored);
  }

  #deleteContents(namespace: string): void {
    for (const [key, object] of this.#objects) if (object.metadata?.namespace === namespace) this.#objects.delete(key);
  }

  #error(verb: string, path: string, code: number, reason: string): KubeApiError {
    return new KubeApiError(verb, path, code, { kind: 'Status', code, reason, message: reason });
  }
}
