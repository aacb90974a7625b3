// Which remotes a namespace goes to. A remote's labels are those of its virtual node (if any),
// then --remote-labels, then kube-offload.io/remote-cluster=NAME; a namespace's
// kube-offload.io/clusters selector is matched against them (plan.ts: remotesForNamespace).
import { REMOTE_CLUSTER_LABEL } from '../../webhooks/keys.ts';
import type { Cache } from './caches.ts';
import { remotesForNamespace } from './plan.ts';
import type { RemoteInfo } from './plan.ts';
import { compileClusterSelector } from './rules.ts';

export interface RemoteSelectorOptions {
  /** The remotes right now (the set changes at run time). */
  remotes: () => Iterable<{ name: string; flagLabels: Record<string, string> }>;
  virtualNodes: Cache;
  localNamespaces: Cache;
}

export class RemoteSelector {
  readonly #options: RemoteSelectorOptions;
  #info: RemoteInfo[] = [];

  constructor(options: RemoteSelectorOptions) {
    this.#options = options;
    this.recompute();
  }

  /** Recomputes every remote's labels; true when they changed. */
  recompute(): boolean {
    const nodes = this.#options.virtualNodes.list();
    const next: RemoteInfo[] = [...this.#options.remotes()].map((remote) => {
      const node = nodes.find((n) => n.metadata?.labels?.[REMOTE_CLUSTER_LABEL] === remote.name);
      const labels = { ...(node?.metadata?.labels ?? {}), ...remote.flagLabels, [REMOTE_CLUSTER_LABEL]: remote.name };
      return { name: remote.name, labels };
    });
    const changed = JSON.stringify(next) !== JSON.stringify(this.#info);
    this.#info = next;
    return changed;
  }

  /** The remotes and their labels. */
  info(): RemoteInfo[] {
    return this.#info;
  }

  /** The remotes a local namespace goes to; `error` when its selector does not parse. */
  select(namespace: string): { remotes: string[]; error?: string } {
    return remotesForNamespace(this.#options.localNamespaces.get(namespace), this.#info, compileClusterSelector);
  }
}
