// Lease-based leader election (coordination.k8s.io/v1), the client-go leaderelection algorithm.
//
// client-node has no leader election helper, so this is a direct port of the essentials:
// - acquire: create the Lease, or take it over once the holder has not renewed for
//   leaseDuration *as observed on our own clock* (we never compare our clock with the holder's
//   renewTime, clocks may skew);
// - every write is a PUT carrying the resourceVersion we read, so two candidates racing for the
//   same Lease cannot both win (the loser gets 409);
// - the leader renews every retryPeriod; if it cannot renew for renewDeadline it stops leading
//   (signal aborted, onStoppedLeading) *before* leaseDuration runs out for the others;
// - stop() releases the Lease (empty holder) so a successor need not wait for expiry.
import { sleep } from '../common/async.ts';
import { KubeClient, isAlreadyExists, isConflict, isNotFound, resourcePath } from './client.ts';
import type { Logger } from './informer.ts';

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
    [k: string]: unknown;
  };
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** Lease name, e.g. "kube-offload-syncer". */
  name: string;
  /** Unique per candidate, e.g. `${hostname}_${randomUUID()}`. */
  identity: string;
  /** How long others wait after the last renewal before taking over; default 15 s. */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long; default 10 s (< leaseDuration). */
  renewDeadlineMs?: number;
  /** Interval between acquire attempts and renewals; default 2 s. */
  retryPeriodMs?: number;
  /** Start work here; `signal` aborts when leadership is lost or the elector stops. */
  onStartedLeading: (signal: AbortSignal) => void;
  onStoppedLeading?: () => void;
  /** Called when the observed holder changes (including to us). */
  onNewLeader?: (identity: string) => void;
  logger?: Logger;
  now?: () => number;
  random?: () => number;
}

/** meta/v1 MicroTime wants exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  readonly #o: LeaderElectionOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #path: string;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  #stopped = false;
  #leading: AbortController | undefined;
  #observed: { holder: string; renewTime: string; at: number } | undefined;
  #lastRenew = 0;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.#leaseDurationMs > this.#renewDeadlineMs && this.#renewDeadlineMs > this.#retryPeriodMs)) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod');
    }
    this.#path = resourcePath({
      group: 'coordination.k8s.io',
      version: 'v1',
      resource: 'leases',
      namespace: options.namespace,
    });
  }

  isLeader(): boolean {
    return this.#leading !== undefined;
  }

  /** The holder we last observed ("" if none). */
  leader(): string {
    return this.#observed?.holder ?? '';
  }

  /** Starts campaigning in the background; returns at once. Rejoins the election after losing. */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Stops campaigning; if leading, stops leading and releases the Lease. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      // Acquire: retry every retryPeriod with 20% jitter so candidates don't collide.
      while (!this.#stopped && !(await this.#tryAcquireOrRenew())) {
        await this.#sleep(this.#retryPeriodMs * (1 + 0.2 * this.#random()));
      }
      if (this.#stopped) break;
      this.#lastRenew = this.#now();
      const leading = new AbortController();
      this.#leading = leading;
      this.#o.logger?.info({ lease: this.#o.name, identity: this.#o.identity }, 'started leading');
      try {
        this.#o.onStartedLeading(leading.signal);
      } catch (err) {
        this.#o.logger?.warn({ err: String(err) }, 'onStartedLeading threw');
      }
      // Renew until we can't (or are stopped).
      while (!this.#stopped) {
        await this.#sleep(this.#retryPeriodMs);
        if (this.#stopped) break;
        const ok = await this.#tryAcquireOrRenew();
        if (ok) this.#lastRenew = this.#now();
        else if (this.#observed?.holder !== this.#o.identity || this.#now() - this.#lastRenew >= this.#renewDeadlineMs)
          break;
      }
      this.#leading = undefined;
      leading.abort(new Error('leadership lost'));
      if (this.#stopped) await this.#release();
      this.#o.logger?.warn({ lease: this.#o.name, identity: this.#o.identity }, 'stopped leading');
      try {
        this.#o.onStoppedLeading?.();
      } catch (err) {
        this.#o.logger?.warn({ err: String(err) }, 'onStoppedLeading threw');
      }
    }
  }

  /** A sleep that #wake() cuts short. */
  #sleep(ms: number): Promise<void> {
    const controller = new AbortController();
    this.#wake = () => controller.abort();
    return sleep(ms, controller.signal);
  }

  #observe(lease: Lease): void {
    const holder = lease.spec?.holderIdentity ?? '';
    const renewTime = lease.spec?.renewTime ?? '';
    const prev = this.#observed;
    if (!prev || prev.holder !== holder || prev.renewTime !== renewTime) {
      this.#observed = { holder, renewTime, at: this.#now() };
      if (holder && prev?.holder !== holder) this.#o.onNewLeader?.(holder);
    }
  }

  #spec(previous: Lease['spec'] | undefined): NonNullable<Lease['spec']> {
    const now = microTime(this.#now());
    const takeover = previous?.holderIdentity !== this.#o.identity;
    return {
      ...previous,
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
      acquireTime: takeover || !previous?.acquireTime ? now : previous.acquireTime,
      renewTime: now,
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (takeover && previous?.holderIdentity ? 1 : 0),
    };
  }

  /** One attempt; true when we hold the Lease afterwards. Errors count as "no". */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const signal = AbortSignal.timeout(Math.max(1000, this.#renewDeadlineMs / 2));
    const path = `${this.#path}/${encodeURIComponent(this.#o.name)}`;
    try {
      const lease = await this.#o.client.getOrUndefined<Lease>(path, { signal });
      if (!lease) {
        const created = await this.#o.client.create<Lease>(
          this.#path,
          {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.#o.name, namespace: this.#o.namespace },
            spec: this.#spec(undefined),
          },
          { signal },
        );
        this.#observe(created);
        return true;
      }
      this.#observe(lease);
      const holder = lease.spec?.holderIdentity ?? '';
      const observedAt = this.#observed?.at ?? 0;
      // Someone else holds it and renewed (as far as we can tell) within leaseDuration.
      if (holder && holder !== this.#o.identity && this.#now() - observedAt < this.#leaseDurationMs) return false;
      const updated = await this.#o.client.replace<Lease>(path, { ...lease, spec: this.#spec(lease.spec) }, { signal });
      this.#observe(updated);
      return true;
    } catch (err) {
      if (!(isConflict(err) || isAlreadyExists(err) || isNotFound(err))) {
        this.#o.logger?.warn(
          { lease: this.#o.name, err: err instanceof Error ? err.message : String(err) },
          'lease update failed',
        );
      }
      return false;
    }
  }

  /** Gives the Lease up (holder "", 1 s duration) so the next candidate takes over at once. */
  async #release(): Promise<void> {
    const path = `${this.#path}/${encodeURIComponent(this.#o.name)}`;
    try {
      const lease = await this.#o.client.get<Lease>(path, { signal: AbortSignal.timeout(5000) });
      if (lease.spec?.holderIdentity !== this.#o.identity) return;
      const now = microTime(this.#now());
      await this.#o.client.replace<Lease>(
        path,
        {
          ...lease,
          spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
        },
        { signal: AbortSignal.timeout(5000) },
      );
    } catch (err) {
      this.#o.logger?.warn(
        { lease: this.#o.name, err: err instanceof Error ? err.message : String(err) },
        'lease release failed',
      );
    }
  }
}
