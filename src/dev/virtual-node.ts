// The virtual node provider as a sandbox component (see src/sandbox/components.ts): one virtual
// node per sandbox remote, "virtual-remote" (and "virtual-remote-us" with a second remote).
//
// It runs as its ServiceAccounts, with exactly the RBAC users install: locally
// kube-offload-virtual-node from manifests/, in each remote kube-offload-virtual-node-remote,
// whose token `kube-offload peer` stores in a peer Secret (peers.ts). Like the shipped Deployment,
// it gets no --remote: it finds the remotes through the peer Secrets.
//
// Its kubelet API listens on an ephemeral port of 127.0.0.1 (the node's InternalIP), where the
// local apiserver dials it with its kubelet client certificate; client certificates are checked
// against the local cluster's CA.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ComponentSpec, SandboxContext } from '../sandbox/components.ts';
import { cliArgv } from '../sandbox/components.ts';
import { peeredIdentity, SANDBOX_CLUSTER_NAME, waitVirtualNodesReady } from './peers.ts';

/** The local cluster's name in the sandbox; the syncer must use the same one. */
export { SANDBOX_CLUSTER_NAME };
/** The first remote's name (the second one's is SECOND_REMOTE, src/sandbox/network.ts). */
export const SANDBOX_REMOTE_NAME = 'remote';
export const SANDBOX_VIRTUAL_NODE = `virtual-${SANDBOX_REMOTE_NAME}`;
export const SYSTEM_NAMESPACE = 'kube-offload-system';
export const LOCAL_SERVICE_ACCOUNT = 'kube-offload-virtual-node';

/** The virtual node's InternalIP in the sandbox: where the local apiserver finds its kubelet API. */
export const SANDBOX_NODE_IP = '127.0.0.1';

let knownFlags: Promise<Set<string>> | undefined;

/** The flags `kube-offload virtual-node` takes, from its --help (read once per process). */
function providerFlags(ctx: SandboxContext): Promise<Set<string>> {
  knownFlags ??= promisify(execFile)(ctx.nodeBin, [ctx.cli, 'virtual-node', '--help']).then(
    ({ stdout }) => new Set(stdout.match(/--[a-z][a-z0-9-]*/g) ?? []),
  );
  return knownFlags;
}

/** The kubelet API's flags, as far as this provider has them (none before it serves one). */
async function kubeletApiArgs(ctx: SandboxContext, workDir: string): Promise<string[]> {
  const flags = await providerFlags(ctx);
  if (!flags.has('--kubelet-port')) return [];
  const optional = (flag: string, value: string) => (flags.has(flag) ? [flag, value] : []);
  return [
    '--kubelet-port',
    '0',
    ...optional('--kubelet-address', SANDBOX_NODE_IP),
    ...optional('--client-ca-file', ctx.local.caCertPath),
    ...optional('--kubelet-cert-dir', path.join(workDir, 'kubelet-certs')),
  ];
}

export interface VirtualNodeComponentOptions {
  clusterName?: string;
  /** Extra flags, e.g. ['--probe-interval', '2s']. */
  args?: string[];
  name?: string;
}

export async function virtualNodeComponent(
  ctx: SandboxContext,
  options: VirtualNodeComponentOptions = {},
): Promise<ComponentSpec> {
  const name = options.name ?? 'virtual-node';
  const port = await ctx.freePort();
  const kubeconfig = path.join(ctx.componentsDir, name, 'local.kubeconfig');
  return {
    name,
    argv: cliArgv(
      ctx,
      'virtual-node',
      '--cluster-name',
      options.clusterName ?? SANDBOX_CLUSTER_NAME,
      '--peer-namespace',
      SYSTEM_NAMESPACE,
      '--kubeconfig',
      kubeconfig,
      '--metrics-port',
      String(port),
      '--metrics-host',
      '127.0.0.1',
      '--node-ip',
      SANDBOX_NODE_IP,
      ...(await kubeletApiArgs(ctx, path.join(ctx.componentsDir, name))),
      ...(options.args ?? []),
    ),
    before: () => peeredIdentity(ctx, LOCAL_SERVICE_ACCOUNT, kubeconfig),
    // /readyz answers once the peer Secrets are read; `after` waits for every virtual node to be Ready.
    ready: { url: `http://127.0.0.1:${port}/readyz` },
    after: () => waitVirtualNodesReady(ctx),
  };
}
