// The lease controller: the node's heartbeat, a Lease in kube-node-lease renewed every lease
// interval as the kubelet's (the node lifecycle controller reads it), owned by the Node.
import { isAlreadyExists, resourcePath } from '../kube/client.ts';
import type { Clock } from '../kube/workqueue.ts';
import type { ProviderClient } from './api.ts';
import { NODE_LEASE_NAMESPACE, buildNodeLease, renewNodeLease } from './node.ts';
import type { Lease } from './types.ts';

export interface LeaseControllerOptions {
  local: ProviderClient;
  nodeName: string;
  /** The node the Lease belongs to: nothing is renewed before it is registered. */
  node: { readonly registered: boolean; readonly uid: string | undefined };
  clock: Clock;
  /** Default: the kubelet's 40 s. */
  leaseDurationSeconds?: number;
}

const leasesPath = (name?: string): string =>
  resourcePath({
    group: 'coordination.k8s.io',
    version: 'v1',
    resource: 'leases',
    namespace: NODE_LEASE_NAMESPACE,
    ...(name ? { name } : {}),
  });

export class LeaseController {
  readonly #opts: LeaseControllerOptions;
  readonly #leasePath: string;

  constructor(options: LeaseControllerOptions) {
    this.#opts = options;
    this.#leasePath = leasesPath(options.nodeName);
  }

  /** Creates or renews the Lease. */
  async renew(): Promise<void> {
    const { local, node, nodeName, leaseDurationSeconds: duration } = this.#opts;
    if (!node.registered) return;
    const nowMs = this.#opts.clock.now();
    const lease = await local.get<Lease>(this.#leasePath);
    if (lease) {
      await local.replace<Lease>(this.#leasePath, renewNodeLease(lease, nodeName, node.uid, nowMs, duration));
      return;
    }
    try {
      await local.create<Lease>(leasesPath(), buildNodeLease(nodeName, node.uid, nowMs, duration));
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
}
