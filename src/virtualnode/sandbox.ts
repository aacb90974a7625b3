// The virtual node provider as a sandbox component (see src/sandbox/components.ts): one
// virtual node, "virtual-remote", standing for the sandbox's remote cluster.
//
// It runs as its ServiceAccounts, with exactly the RBAC users install: locally
// kube-offload-virtual-node from manifests/ (once manifests/kustomization.yaml lists
// manifests/virtual-node/; until then it runs as admin and says so), remotely
// kube-offload-virtual-node-remote from manifests/virtual-node/remote-rbac.yaml. Tokens come from
// the TokenRequest API.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Cluster } from '../sandbox/cluster.ts';
import type { ComponentSpec, SandboxContext } from '../sandbox/components.ts';
import { cliArgv } from '../sandbox/components.ts';
import { serviceAccountKubeconfig } from '../sandbox/identity.ts';
import { buildManifests } from '../sandbox/manifests.ts';

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

async function kubectlOk(cluster: Cluster, args: string[]): Promise<string> {
  const r = await cluster.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} on ${cluster.name}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Applies remote-rbac.yaml in the remote cluster and writes a kubeconfig for its ServiceAccount. */
async function remoteKubeconfig(repoRoot: string, remote: Cluster, file: string): Promise<void> {
  await kubectlOk(remote, ['apply', '-f', path.join(repoRoot, 'manifests', 'virtual-node', 'remote-rbac.yaml')]);
  const token = (await kubectlOk(remote, ['create', 'token', REMOTE_SERVICE_ACCOUNT, '-n', SYSTEM_NAMESPACE, '--duration=48h'])).trim();
  const user = `system:serviceaccount:${SYSTEM_NAMESPACE}:${REMOTE_SERVICE_ACCOUNT}`;
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: remote.name, cluster: { server: remote.server, 'certificate-authority-data': fs.readFileSync(remote.caCertPath).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: remote.name, context: { cluster: remote.name, user } }],
    'current-context': remote.name,
  };
  fs.writeFileSync(file, stringify(kubeconfig), { mode: 0o600 });
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
      const manifests = await buildManifests(ctx.local);
      if (manifests.some((m) => m.kind === 'ServiceAccount' && m.metadata.name === LOCAL_SERVICE_ACCOUNT)) {
        await serviceAccountKubeconfig(ctx.local, { namespace: SYSTEM_NAMESPACE, name: LOCAL_SERVICE_ACCOUNT, file: localKc });
      } else {
        process.stderr.write(`sandbox: ${name}: manifests/kustomization.yaml does not list manifests/virtual-node/ yet; running as admin in the local cluster\n`);
        fs.copyFileSync(ctx.local.kubeconfigPath, localKc);
      }
      await remoteKubeconfig(ctx.repoRoot, ctx.remote, remoteKc);
    },
    // Ready once the virtual node is registered (the remote may still be syncing).
    ready: { url: `http://127.0.0.1:${port}/readyz` },
  };
}
