// The providers of one `kube-offload virtual-node` process, one per remote, as the set of remotes
// changes at run time (peer Secrets come and go): each gets the lowest free kubelet port index,
// starts at once if the process already runs its providers (it leads), and on removal stops and
// closes its connections. The node it registered stays until `unpeer` deletes it (a provider
// cannot know whether the pods bound to it were drained).
import type { Logger } from 'pino';
import { errorMessage } from '../common/errors.ts';
import type { VirtualNodeProvider } from './provider.ts';

/** A built provider and what to close when it goes. */
export interface BuiltProvider {
  provider: VirtualNodeProvider;
  close(): void;
}

/** Builds the provider of `remote`; `portIndex` picks its kubelet port (base + index). */
export type ProviderBuilder = (remote: string, portIndex: number) => Promise<BuiltProvider>;

interface Entry extends BuiltProvider {
  portIndex: number;
}

export class ProviderSet {
  readonly #build: ProviderBuilder;
  readonly #logger: Logger;
  readonly #entries = new Map<string, Entry>();
  #started = false;

  constructor(build: ProviderBuilder, logger: Logger) {
    this.#build = build;
    this.#logger = logger;
  }

  get started(): boolean {
    return this.#started;
  }

  /** The providers, in the order they were added. */
  list(): VirtualNodeProvider[] {
    return [...this.#entries.values()].map((entry) => entry.provider);
  }

  remotes(): string[] {
    return [...this.#entries.keys()];
  }

  /** Builds and adds the provider of a remote; starts it when the set runs. */
  async add(remote: string): Promise<void> {
    if (this.#entries.has(remote)) throw new Error(`remote ${remote} already has a virtual node`);
    const portIndex = this.#freePortIndex();
    const entry = { ...(await this.#build(remote, portIndex)), portIndex };
    this.#entries.set(remote, entry);
    if (this.#started) this.#start(entry.provider);
  }

  /** Stops and removes the provider of a remote; false when there is none. */
  async remove(remote: string): Promise<boolean> {
    const entry = this.#entries.get(remote);
    if (!entry) return false;
    this.#entries.delete(remote);
    await entry.provider.stop();
    entry.close();
    this.#logger.info({ remote, node: entry.provider.nodeName }, 'virtual node provider stopped (its node stays)');
    return true;
  }

  /** Starts every provider, and those added from now on (this replica leads). */
  startAll(): void {
    this.#started = true;
    for (const provider of this.list()) this.#start(provider);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.list().map((provider) => provider.stop()));
    for (const entry of this.#entries.values()) entry.close();
  }

  #start(provider: VirtualNodeProvider): void {
    provider.start().catch((err: unknown) => {
      this.#logger.error({ node: provider.nodeName, err: errorMessage(err) }, 'provider failed to start');
    });
  }

  #freePortIndex(): number {
    const used = new Set([...this.#entries.values()].map((entry) => entry.portIndex));
    let index = 0;
    while (used.has(index)) index++;
    return index;
  }
}
