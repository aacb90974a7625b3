// Remotes found at run time: watches the peer Secrets of one component (src/common/peer-secret.ts)
// and turns their changes into remotes added, removed or given new credentials, without a
// restart. A remote's kubeconfig is handed out as a SwappableKubeConfig, so new credentials for
// the same API server (`peer --rotate`) reach every client and informer of that remote from their
// next request on, with no relist; another API server means remove, then add.
//
// Changes are applied one at a time, in the order the Secrets changed; a burst of events is
// coalesced into one pass. An unreadable Secret leaves its remote as it is (and says why).
import { createHash } from 'node:crypto';
import { errorMessage } from '../common/errors.ts';
import { PEER_REMOTE_LABEL, planPeerChanges, readPeerSecret } from '../common/peer-secret.ts';
import type { PeerComponent, PeerEntry, PeerFingerprint } from '../common/peer-secret.ts';
import type { KubernetesObject } from './client.ts';
import type { Informer, Logger } from './informer.ts';
import { SwappableKubeConfig, liteFromText } from './kubeconfig.ts';
import type { KubeConfigLike } from './kubeconfig.ts';

/** The part of an informer on Secrets the watcher uses. */
export type SecretCache = Pick<Informer<KubernetesObject>, 'start' | 'stop' | 'list' | 'on' | 'hasSynced'>;

/** What the component does when the set of remotes changes. */
export interface PeerHandlers {
  /** A new remote. `kubeConfig` follows later credential rotations by itself. Return promptly. */
  add(remote: string, kubeConfig: KubeConfigLike): void | Promise<void>;
  /** A remote whose Secret is gone: stop using it. */
  remove(remote: string): void | Promise<void>;
  /** Told after a remote's credentials were swapped in place. */
  rotated?(remote: string): void;
}

export interface PeerWatcherOptions {
  secrets: SecretCache;
  component: PeerComponent;
  handlers: PeerHandlers;
  /** Remotes given otherwise (--remote flags): a Secret for one of them is ignored, with a warning. */
  reserved?: ReadonlySet<string>;
  logger: Logger;
}

interface RunningPeer {
  fingerprint: PeerFingerprint;
  kubeConfig: SwappableKubeConfig;
}

interface DesiredPeer {
  fingerprint: PeerFingerprint;
  kubeConfig: KubeConfigLike;
}

const digestOf = (text: string): string => createHash('sha256').update(text).digest('hex');

export class PeerWatcher {
  readonly #options: PeerWatcherOptions;
  readonly #running = new Map<string, RunningPeer>();
  /** Problems already logged (secret + message), so a resync does not repeat them. */
  readonly #warned = new Set<string>();
  #chain: Promise<void> = Promise.resolve();
  #pending = false;
  #stopped = false;

  constructor(options: PeerWatcherOptions) {
    this.#options = options;
    const changed = (): void => void this.#schedule();
    for (const event of ['add', 'update', 'delete'] as const) options.secrets.on(event, changed);
  }

  /** Lists the Secrets and applies them; resolves once the remotes they name were added. */
  async start(): Promise<void> {
    await this.#options.secrets.start();
    await this.#schedule();
  }

  hasSynced(): boolean {
    return this.#options.secrets.hasSynced();
  }

  /** The remotes currently running from Secrets. */
  remotes(): string[] {
    return [...this.#running.keys()];
  }

  /** Resolves once every change seen so far was applied. */
  async whenIdle(): Promise<void> {
    await this.#chain;
  }

  /** Stops watching; the remotes stay as they are (their owner stops them). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#options.secrets.stop();
    await this.#chain;
  }

  #schedule(): Promise<void> {
    if (this.#pending) return this.#chain;
    this.#pending = true;
    this.#chain = this.#chain
      .then(() => {
        this.#pending = false;
        return this.#reconcile();
      })
      .catch((err: unknown) => this.#options.logger.warn({ err: errorMessage(err) }, 'applying peer Secrets failed'));
    return this.#chain;
  }

  async #reconcile(): Promise<void> {
    if (this.#stopped) return;
    const { desired, keep } = this.#desired();
    const current = new Map([...this.#running].map(([remote, peer]) => [remote, peer.fingerprint]));
    const fingerprints = new Map([...desired].map(([remote, peer]) => [remote, peer.fingerprint]));
    for (const change of planPeerChanges(current, fingerprints, keep)) {
      const next = desired.get(change.remote);
      if (change.type === 'remove' || change.type === 'replace') await this.#remove(change.remote);
      if ((change.type === 'add' || change.type === 'replace') && next) await this.#add(change.remote, next);
      if (change.type === 'rotate' && next) this.#rotate(change.remote, next);
    }
  }

  async #add(remote: string, peer: DesiredPeer): Promise<void> {
    const kubeConfig = new SwappableKubeConfig(peer.kubeConfig);
    this.#running.set(remote, { fingerprint: peer.fingerprint, kubeConfig });
    this.#options.logger.info({ remote, server: peer.fingerprint.server }, 'remote added from its peer Secret');
    await this.#options.handlers.add(remote, kubeConfig);
  }

  async #remove(remote: string): Promise<void> {
    this.#running.delete(remote);
    this.#options.logger.info({ remote }, 'remote removed (its peer Secret is gone)');
    await this.#options.handlers.remove(remote);
  }

  #rotate(remote: string, peer: DesiredPeer): void {
    const running = this.#running.get(remote);
    if (!running) return;
    running.kubeConfig.swap(peer.kubeConfig);
    running.fingerprint = peer.fingerprint;
    this.#options.logger.info({ remote }, 'remote credentials rotated');
    this.#options.handlers.rotated?.(remote);
  }

  /** The remotes the Secrets name, and those whose Secret cannot be read (kept as they are). */
  #desired(): { desired: Map<string, DesiredPeer>; keep: Set<string> } {
    const desired = new Map<string, DesiredPeer>();
    const keep = new Set<string>();
    const secrets = this.#options.secrets.list();
    secrets.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    for (const secret of secrets) {
      const entry = readPeerSecret(secret as Parameters<typeof readPeerSecret>[0]);
      if ('error' in entry) {
        this.#warnOnce(entry.secret, entry.error);
        const remote = secret.metadata?.labels?.[PEER_REMOTE_LABEL];
        if (remote) keep.add(remote);
        continue;
      }
      if (!this.#accepts(entry, desired)) continue;
      const peer = this.#parse(entry);
      if (peer) desired.set(entry.remote, peer);
      else keep.add(entry.remote);
    }
    return { desired, keep };
  }

  /** False (with a warning) for another component's Secret, a flag's remote, or a second Secret. */
  #accepts(entry: PeerEntry, desired: ReadonlyMap<string, DesiredPeer>): boolean {
    if (entry.component !== this.#options.component) return false;
    if (this.#options.reserved?.has(entry.remote)) {
      this.#warnOnce(entry.secret, `remote ${entry.remote} is given with --remote; the flag wins`);
      return false;
    }
    if (desired.has(entry.remote)) {
      this.#warnOnce(entry.secret, `a second peer Secret for remote ${entry.remote}; the first by name wins`);
      return false;
    }
    return true;
  }

  #parse(entry: PeerEntry): DesiredPeer | undefined {
    let kubeConfig: KubeConfigLike | undefined;
    try {
      kubeConfig = liteFromText(entry.kubeconfig);
    } catch (err) {
      this.#warnOnce(entry.secret, `data.kubeconfig is not YAML: ${errorMessage(err)}`);
      return undefined;
    }
    const server = kubeConfig?.getCurrentCluster()?.server;
    if (!kubeConfig || !server) {
      const allowed = 'a current context with a server, and a token or client certificate';
      this.#warnOnce(entry.secret, `data.kubeconfig is not a kubeconfig this component can use (needs ${allowed})`);
      return undefined;
    }
    return { fingerprint: { server, digest: digestOf(entry.kubeconfig) }, kubeConfig };
  }

  #warnOnce(secret: string, problem: string): void {
    const key = `${secret}\u0000${problem}`;
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#options.logger.warn({ secret, problem }, 'peer Secret ignored');
  }
}
