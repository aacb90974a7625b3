// Names in a remote taken by objects kube-offload does not own. Each is reported once per
// discovery (metric + log), and with a ReplicationConflict Event on the local object every time
// a reconcile meets it (the recorder dedupes); it is forgotten once the name is ours or free.
import type { KubeObject } from '../../webhooks/types.ts';
import type { EventSink, SyncerLogger } from './api.ts';
import type { SyncerMetrics } from './metrics.ts';

export interface ConflictTrackerOptions {
  metrics: Pick<SyncerMetrics, 'conflicts'>;
  logger: SyncerLogger;
  events: EventSink;
}

/** A foreign object met under one of our names. `key` is `Kind/twin/name` or `Namespace/twin`. */
export interface ForeignObject {
  remote: string;
  kind: string;
  key: string;
  uid: string;
}

export class ConflictTracker {
  readonly #options: ConflictTrackerOptions;
  /** "remote/key" -> uid of the foreign object. */
  readonly #known = new Map<string, string>();

  constructor(options: ConflictTrackerOptions) {
    this.#options = options;
  }

  /** Reports a foreign object; `local` (if any) gets a ReplicationConflict Event saying `message`. */
  report(found: ForeignObject, local: KubeObject | undefined, message: string): void {
    const id = `${found.remote}/${found.key}`;
    if (this.#known.get(id) !== found.uid) {
      this.#known.set(id, found.uid);
      this.#options.metrics.conflicts.inc({ kind: found.kind, remote: found.remote });
      this.#options.logger.warn(
        { remote: found.remote, kind: found.kind, object: found.key },
        'name taken by an object kube-offload does not own; left untouched',
      );
    }
    if (local) this.#options.events.record(local, 'Warning', 'ReplicationConflict', message);
  }

  has(remote: string, key: string): boolean {
    return this.#known.has(`${remote}/${key}`);
  }

  clear(remote: string, key: string): void {
    this.#known.delete(`${remote}/${key}`);
  }

  /** Forgets every conflict in a remote (it was removed). */
  forgetRemote(remote: string): void {
    for (const id of this.#known.keys()) if (id.startsWith(`${remote}/`)) this.#known.delete(id);
  }

  /** Conflicts currently known: "remote/Kind/twin/name" (or "remote/Namespace/twin"). */
  list(): string[] {
    return [...this.#known.keys()];
  }
}
