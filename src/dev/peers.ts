// The sandbox's remotes, connected as users connect theirs: through `kube-offload peer`'s own code
// (its flag parsing and peerWith(), src/commands/peer.ts on src/peering/), with the sandbox's admin
// kubeconfigs. The syncer and the virtual node provider then find every remote through its peer
// Secrets, exactly as in an installed cluster, and no --remote flag is passed to them.
import fs from 'node:fs';
import path from 'node:path';
import type { Cluster } from '../sandbox/cluster.ts';
import type { SandboxContext } from '../sandbox/components.ts';
import { peerWith } from '../commands/peer.ts';
import { parsePeerArgs } from '../peering/config.ts';
import { formatSteps } from '../peering/report.ts';
import { poll } from '../common/async.ts';
import { PEER_NAMESPACE } from '../common/peer-secret.ts';
import { serviceAccountKubeconfig } from '../sandbox/identity.ts';

/** The local cluster's name in the sandbox (twin namespaces are `<namespace>-local`). */
export const SANDBOX_CLUSTER_NAME = 'local';

/** A remote's name in the local cluster: the sandbox cluster's own name (remote, remote-us). */
export const peerNameOf = (remote: Cluster): string => remote.name;

/** The virtual node standing for a remote. */
export const virtualNodeOf = (remote: Cluster): string => `virtual-${peerNameOf(remote)}`;

/** The flags `kube-offload peer` gets for one sandbox remote. */
export function sandboxPeerArgs(ctx: SandboxContext, remote: Cluster): string[] {
  return [
    '--kubeconfig',
    ctx.local.kubeconfigPath,
    '--remote-kubeconfig',
    remote.kubeconfigPath,
    '--name',
    peerNameOf(remote),
    '--cluster-name',
    SANDBOX_CLUSTER_NAME,
    '--manifests',
    path.join(ctx.repoRoot, 'manifests'),
  ];
}

/**
 * `kube-offload peer` for every remote of the sandbox. Idempotent (a second run only reads), so
 * each component that needs the peers runs it before it starts. What it did goes to
 * <componentsDir>/peer.log, in the command's own format.
 */
export async function peerSandboxRemotes(ctx: SandboxContext): Promise<void> {
  fs.mkdirSync(ctx.componentsDir, { recursive: true });
  const logFile = path.join(ctx.componentsDir, 'peer.log');
  for (const remote of ctx.remotes) {
    const args = sandboxPeerArgs(ctx, remote);
    const config = parsePeerArgs(args);
    if (config === 'help') throw new Error(`kube-offload peer ${args.join(' ')}: parsed as --help`);
    const report = await peerWith(config);
    const verdict = report.changed ? 'peered' : 'nothing changed';
    fs.appendFileSync(logFile, `$ kube-offload peer ${args.join(' ')}\n${formatSteps(report.steps)}${verdict}\n`);
  }
}

/**
 * What a component working in the remotes needs before it starts: the kubeconfig of its local
 * ServiceAccount (with the RBAC of manifests/) in `file`, and every remote peered.
 */
export async function peeredIdentity(ctx: SandboxContext, serviceAccount: string, file: string): Promise<void> {
  await serviceAccountKubeconfig(ctx.local, { namespace: PEER_NAMESPACE, name: serviceAccount, file });
  await peerSandboxRemotes(ctx);
}

interface NodeObject {
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/** Waits until the virtual node of every sandbox remote is registered and Ready. */
export async function waitVirtualNodesReady(ctx: SandboxContext, timeoutMs = 60_000): Promise<void> {
  const ready = async (node: string): Promise<boolean> => {
    const result = await ctx.local.api('GET', `/api/v1/nodes/${node}`);
    const conditions = (result.body as NodeObject | undefined)?.status?.conditions ?? [];
    return result.status === 200 && conditions.some((c) => c.type === 'Ready' && c.status === 'True');
  };
  const nodes = ctx.remotes.map(virtualNodeOf);
  await poll(async () => ((await Promise.all(nodes.map(ready))).every(Boolean) ? true : undefined), {
    timeoutMs,
    intervalMs: 250,
    description: `virtual nodes ${nodes.join(', ')} to be Ready`,
  });
}
