// The virtual node provider as a sandbox component (see src/sandbox/components.ts): one
// virtual node, "virtual-remote", standing for the sandbox's remote cluster.
import type { ComponentSpec, SandboxContext } from '../sandbox/components.ts';
import { cliArgv } from '../sandbox/components.ts';

/** The local cluster's name in the sandbox; the syncer must use the same one. */
export const SANDBOX_CLUSTER_NAME = 'local';
export const SANDBOX_REMOTE_NAME = 'remote';
export const SANDBOX_VIRTUAL_NODE = `virtual-${SANDBOX_REMOTE_NAME}`;

export interface VirtualNodeComponentOptions {
  clusterName?: string;
  /** Extra flags, e.g. ['--probe-interval', '2s']. */
  args?: string[];
  name?: string;
}

export async function virtualNodeComponent(ctx: SandboxContext, options: VirtualNodeComponentOptions = {}): Promise<ComponentSpec> {
  const port = await ctx.freePort();
  return {
    name: options.name ?? 'virtual-node',
    argv: cliArgv(
      ctx,
      'virtual-node',
      '--cluster-name', options.clusterName ?? SANDBOX_CLUSTER_NAME,
      '--remote', `${SANDBOX_REMOTE_NAME}=${ctx.remote.kubeconfigPath}`,
      '--kubeconfig', ctx.local.kubeconfigPath,
      '--metrics-port', String(port),
      '--metrics-host', '127.0.0.1',
      ...(options.args ?? []),
    ),
    // Ready once the virtual node is registered (the remote may still be syncing).
    ready: { url: `http://127.0.0.1:${port}/readyz` },
  };
}
