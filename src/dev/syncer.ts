// The syncer as a sandbox component (see src/sandbox/components.ts). It runs as its
// ServiceAccounts with exactly the RBAC users install: locally kube-offload-syncer from
// manifests/, remotely kube-offload-syncer-remote from manifests/syncer/remote-rbac.yaml.
import path from 'node:path';
import type { ComponentSpec, SandboxContext } from '../sandbox/components.ts';
import { cliArgv } from '../sandbox/components.ts';
import { twoClusterServiceAccounts } from '../sandbox/identity.ts';
import { SANDBOX_CLUSTER_NAME, SANDBOX_REMOTE_NAME, SYSTEM_NAMESPACE } from './virtual-node.ts';

export const LOCAL_SERVICE_ACCOUNT = 'kube-offload-syncer';
export const REMOTE_SERVICE_ACCOUNT = 'kube-offload-syncer-remote';

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
  const accounts = twoClusterServiceAccounts({
    dir: path.join(ctx.componentsDir, name),
    namespace: SYSTEM_NAMESPACE,
    local: LOCAL_SERVICE_ACCOUNT,
    remote: REMOTE_SERVICE_ACCOUNT,
    remoteRbacFile: path.join(ctx.repoRoot, 'manifests', 'syncer', 'remote-rbac.yaml'),
  });
  return {
    name,
    metricsPort,
    argv: cliArgv(
      ctx,
      'syncer',
      '--cluster-name',
      SANDBOX_CLUSTER_NAME,
      '--remote',
      `${SANDBOX_REMOTE_NAME}=${accounts.remoteKubeconfig}`,
      '--kubeconfig',
      accounts.localKubeconfig,
      '--metrics-port',
      String(metricsPort),
      '--lease-namespace',
      SYSTEM_NAMESPACE,
      ...(options.args ?? []),
    ),
    // The same heap settings as the Deployment in manifests/syncer/.
    env: { NODE_OPTIONS: '--max-semi-space-size=2 --max-old-space-size=384', ...(options.env ?? {}) },
    before: () => accounts.write(ctx.local, ctx.remote),
    ready: { url: `http://127.0.0.1:${metricsPort}/readyz` },
  };
}
