// Kubernetes Events on local objects (Replicated, ReplicationConflict, ReplicationFailed).
//
// A controller in a hot loop must not flood the apiserver with Events, so:
// - the same (object uid, reason, message) is written at most once per `dedupeMs` (10 min);
// - writes go through a bounded queue drained by one writer with its own token bucket; when the
//   queue is full new Events are dropped (and counted), never blocking reconciles.
// Messages never contain object data (Secret values): callers pass names and statuses only.
import os from 'node:os';
import type { KubeClient } from './client.ts';
import { TokenBucket } from './ratelimit.ts';
import type { KubernetesObject } from './client.ts';

export type EventReason = 'Replicated' | 'ReplicationConflict' | 'ReplicationFailed';

export interface EventRecorderOptions {
  client: KubeClient;
  component: string;
  /** Dedupe window; default 10 minutes. */
  dedupeMs?: number;
  /** Pending events kept at most; default 1000. */
  maxQueue?: number;
  /** Event writes per second; default 10, burst 50. */
  qps?: number;
  burst?: number;
  onDrop?: () => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

interface PendingEvent {
  body: Record<string, unknown>;
  namespace: string;
}

const MAX_MESSAGE = 1024;
const API_VERSIONS: Record<string, string> = { EndpointSlice: 'discovery.k8s.io/v1' };

export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #seen = new Map<string, number>();
  readonly #queue: PendingEvent[] = [];
  readonly #bucket: TokenBucket;
  readonly #instance = os.hostname();
  readonly #now: () => number;
  #draining = false;
  #stopped = false;

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#bucket = new TokenBucket({ qps: options.qps ?? 10, burst: options.burst ?? 50 });
  }

  /** Records an Event about `object` (needs kind, name, uid; namespace unless cluster-scoped). */
  record(object: KubernetesObject, type: 'Normal' | 'Warning', reason: EventReason, message: string): void {
    if (this.#stopped) return;
    const meta = object.metadata ?? {};
    const uid = meta.uid ?? '';
    const name = meta.name ?? '';
    if (!name) return;
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
    const key = `${uid}|${reason}|${text}`;
    const now = this.#now();
    const last = this.#seen.get(key);
    if (last !== undefined && now - last < (this.#o.dedupeMs ?? 600_000)) return;
    this.#seen.set(key, now);
    if (this.#seen.size > 20_000) this.#prune(now);
    if (this.#queue.length >= (this.#o.maxQueue ?? 1000)) {
      this.#o.onDrop?.();
      return;
    }
    const kind = object.kind ?? '';
    // Events about cluster-scoped objects (Namespaces) go to "default", as client-go's recorder
    // does (the apiserver requires event.namespace to match involvedObject.namespace).
    const namespace = meta.namespace ?? 'default';
    const ts = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.#queue.push({
      namespace,
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${name}.`, namespace },
        involvedObject: {
          apiVersion: object.apiVersion ?? API_VERSIONS[kind] ?? 'v1',
          kind,
          name,
          ...(meta.namespace ? { namespace: meta.namespace } : {}),
          ...(uid ? { uid } : {}),
        },
        reason,
        message: text,
        type,
        count: 1,
        firstTimestamp: ts,
        lastTimestamp: ts,
        source: { component: this.#o.component, host: this.#instance },
        reportingComponent: this.#o.component,
        reportingInstance: this.#instance,
      },
    });
    void this.#drain();
  }

  /** Pending events (for tests). */
  pending(): number {
    return this.#queue.length;
  }

  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
  }

  #prune(now: number): void {
    const window = this.#o.dedupeMs ?? 600_000;
    for (const [k, t] of this.#seen) if (now - t >= window) this.#seen.delete(k);
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (!this.#stopped && this.#queue.length > 0) {
        await this.#bucket.take();
        const ev = this.#queue.shift();
        if (!ev) break;
        try {
          await this.#o.client.create(
            `/api/v1/namespaces/${encodeURIComponent(ev.namespace)}/events`,
            ev.body as never,
          );
        } catch (err) {
          this.#o.onError?.(err);
        }
      }
    } finally {
      this.#draining = false;
    }
  }
}
