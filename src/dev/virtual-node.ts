// The virtual node provider as a sandbox component (see src/sandbox/components.ts): one
// virtual node, "virtual-remote", standing for the sandbox's remote cluster.
//
// It runs as its ServiceAccounts, with exactly the RBAC users install: locally
// kube-offload-virtual-node from manifests/, remotely
// kube-offload-virtual-node-remote from manifests/virtual-node/remote-rbac.yaml. Tokens come from
// the TokenRequest API.
import path from 'node:path';
import type { ComponentSpec, SandboxContext } from '../sandbox/components.ts';
import { cliArgv } from '../sandbox/components.ts';
import { twoClusterServiceAccounts } from '../sandbox/identity.ts';

/** The local cluster's name in the sandbox; the syncer must use the same one. */
export const SANDBOX_CLUSTER_NAME = 'local';
export const SANDBOX_REMOTE_NAME = 'remote';
export const SANDBOX_VIRTUAL_NODE = `virtual-${SANDBOX_REMOTE_NAME}`;
export const SYSTEM_NAMESPACE = 'kube-offload-system';
export const LOCAL_SERVICE_ACCOUNT = 'kube-offload-virtual-node';
export const REMOTE_SERVICE_ACCOUNT = 'kube-offload-virtual-node-remote';

export interface VirtualNodeComponentOptions {
  clusterName?: string;
  /** Extra flags, e.g. ['--probe-interval', '2s']. */
  args?: string[];
  name?: string;
  /** Run as the ServiceAccounts of manifests/ (default true); false runs as admin. */
  serviceAccounts?: boolean;
}

export async function virtualNodeComponent(ctx: SandboxContext, options: VirtualNodeComponentOptions = {}): Promise<ComponentSpec> {
  const name = options.name ?? 'virtual-node';
  const port = await ctx.freePort();
  const asServiceAccounts = options.serviceAccounts ?? true;
  const accounts = twoClusterServiceAccounts({
    dir: path.join(ctx.componentsDir, name),
    namespace: SYSTEM_NAMESPACE,
    local: LOCAL_SERVICE_ACCOUNT,
    remote: REMOTE_SERVICE_ACCOUNT,
    remoteRbacFile: path.join(ctx.repoRoot, 'manifests', 'virtual-node', 'remote-rbac.yaml'),
  });
  const localKc = asServiceAccounts ? accounts.localKubeconfig : ctx.local.kubeconfigPath;
  const remoteKc = asServiceAccounts ? accounts.remoteKubeconfig : ctx.remote.kubeconfigPath;
  return {
    name,
    argv: cliArgv(
      ctx,
      'virtual-node',
      '--cluster-name', options.clusterName ?? SANDBOX_CLUSTER_NAME,
      '--remote', `${SANDBOX_REMOTE_NAME}=${remoteKc}`,
      '--kubeconfig', localKc,
      '--metrics-port', String(port),
      '--metrics-host', '127.0.0.1',
      ...(options.args ?? []),
    ),
    before: async () => {
      if (asServiceAccounts) await accounts.write(ctx.local, ctx.remote);
    },
    // Ready once the virtual node is registered (the remote may still be syncing).
    ready: { url: `http://127.0.0.1:${port}/readyz` },
  };
}
