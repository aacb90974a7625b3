// The virtual node provider as a sandbox component (see src/sandbox/components.ts): one
// virtual node, "virtual-remote", standing for the sandbox's remote cluster.
//
// It runs as its ServiceAccounts, with exactly the RBAC users install: locally
// kube-offload-virtual-node from manifests/, remotely
// kube-offload-virtual-node-remote from manifests/virtual-node/remote-rbac.yaml. Tokens come from
// the TokenRequest API.
import fs from 'node:fs';
import path from 'node:path';
import type { ComponentSpec, SandboxContext } from '../sandbox/components.ts';
import { cliArgv } from '../sandbox/components.ts';
import { remoteServiceAccountKubeconfig, serviceAccountKubeconfig } from '../sandbox/identity.ts';

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
  const workDir = path.join(ctx.componentsDir, name);
  const asServiceAccounts = options.serviceAccounts ?? true;
  const localKc = asServiceAccounts ? path.join(workDir, 'local.kubeconfig') : ctx.local.kubeconfigPath;
  const remoteKc = asServiceAccounts ? path.join(workDir, 'remote.kubeconfig') : ctx.remote.kubeconfigPath;
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
      if (!asServiceAccounts) return;
      fs.mkdirSync(workDir, { recursive: true });
      await serviceAccountKubeconfig(ctx.local, { namespace: SYSTEM_NAMESPACE, name: LOCAL_SERVICE_ACCOUNT, file: localKc });
      await remoteServiceAccountKubeconfig(ctx.remote, {
        rbacFile: path.join(ctx.repoRoot, 'manifests', 'virtual-node', 'remote-rbac.yaml'),
        namespace: SYSTEM_NAMESPACE,
        name: REMOTE_SERVICE_ACCOUNT,
        file: remoteKc,
      });
    },
    // Ready once the virtual node is registered (the remote may still be syncing).
    ready: { url: `http://127.0.0.1:${port}/readyz` },
  };
}
