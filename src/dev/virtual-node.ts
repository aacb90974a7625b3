// The virtual node provider as a sandbox component (see src/sandbox/components.ts): one
// virtual node, "virtual-remote", standing for the sandbox's remote cluster.
//
// It runs as its ServiceAccounts, with exactly the RBAC users install: locally
// kube-offload-virtual-node from manifests/, remotely
// kube-offload-virtual-node-remote from manifests/virtual-node/remote-rbac.yaml. Tokens come from
// the TokenRequest API.
//
// Its kubelet API listens on an ephemeral port of 127.0.0.1 (the node's InternalIP), where the
// local apiserver dials it with its kubelet client certificate; client certificates are checked
// against the local cluster's CA.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
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
  /** Run as the ServiceAccounts of manifests/ (default true); false runs as admin. */
  serviceAccounts?: boolean;
}

export async function virtualNodeComponent(
  ctx: SandboxContext,
  options: VirtualNodeComponentOptions = {},
): Promise<ComponentSpec> {
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
      '--cluster-name',
      options.clusterName ?? SANDBOX_CLUSTER_NAME,
      '--remote',
      `${SANDBOX_REMOTE_NAME}=${remoteKc}`,
      '--kubeconfig',
      localKc,
      '--metrics-port',
      String(port),
      '--metrics-host',
      '127.0.0.1',
      '--node-ip',
      SANDBOX_NODE_IP,
      ...(await kubeletApiArgs(ctx, path.join(ctx.componentsDir, name))),
      ...(options.args ?? []),
    ),
    before: async () => {
      if (asServiceAccounts) await accounts.write(ctx.local, ctx.remote);
    },
    // Ready once the virtual node is registered (the remote may still be syncing).
    ready: { url: `http://127.0.0.1:${port}/readyz` },
  };
}
