// The syncer as a sandbox component (see src/sandbox/components.ts). It runs as its
// ServiceAccounts with exactly the RBAC users install: locally kube-offload-syncer from
// manifests/, in each remote kube-offload-syncer-remote, whose token `kube-offload peer` stores
// in a peer Secret (peers.ts). Like the shipped Deployment, it gets no --remote: it finds the
// remotes through the peer Secrets.
import path from 'node:path';
import type { ComponentSpec, SandboxContext } from '../sandbox/components.ts';
import { cliArgv } from '../sandbox/components.ts';
import { poll } from '../common/async.ts';
import { peerNameOf, peeredIdentity, SANDBOX_CLUSTER_NAME } from './peers.ts';
import { SYSTEM_NAMESPACE } from './virtual-node.ts';

export const LOCAL_SERVICE_ACCOUNT = 'kube-offload-syncer';

export interface SyncerComponentOptions {
  name?: string;
  /** Extra flags, e.g. ['--resync-period', '30s']. */
  args?: string[];
  /** Extra environment, e.g. { KUBE_OFFLOAD_RUN: 'dist' } to run the compiled code as the image does. */
  env?: Record<string, string>;
}

export async function syncerComponent(
  ctx: SandboxContext,
  options: SyncerComponentOptions = {},
): Promise<ComponentSpec & { metricsPort: number }> {
  const name = options.name ?? 'syncer';
  const metricsPort = await ctx.freePort();
  const kubeconfig = path.join(ctx.componentsDir, name, 'local.kubeconfig');
  return {
    name,
    metricsPort,
    argv: cliArgv(
      ctx,
      'syncer',
      '--cluster-name',
      SANDBOX_CLUSTER_NAME,
      '--peer-namespace',
      SYSTEM_NAMESPACE,
      '--kubeconfig',
      kubeconfig,
      '--metrics-port',
      String(metricsPort),
      '--lease-namespace',
      SYSTEM_NAMESPACE,
      ...(options.args ?? []),
    ),
    // The same heap settings as the Deployment in manifests/syncer/.
    env: { NODE_OPTIONS: '--max-semi-space-size=2 --max-old-space-size=384', ...(options.env ?? {}) },
    before: () => peeredIdentity(ctx, LOCAL_SERVICE_ACCOUNT, kubeconfig),
    // Ready once its local caches are synced; a peer added at run time does not count there, so
    // `after` waits until the syncer has taken up every remote (its caches show in /metrics).
    ready: { url: `http://127.0.0.1:${metricsPort}/readyz` },
    after: () => waitRemotesTakenUp(ctx, metricsPort),
  };
}

/** Waits until the syncer's /metrics shows caches of every sandbox remote. */
async function waitRemotesTakenUp(ctx: SandboxContext, metricsPort: number): Promise<void> {
  const names = ctx.remotes.map(peerNameOf);
  await poll(
    async () => {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      const text = await response.text();
      return names.every((name) => text.includes(`informer="${name}/`)) || undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250, description: `the syncer to take up remotes ${names.join(', ')}` },
  );
}
