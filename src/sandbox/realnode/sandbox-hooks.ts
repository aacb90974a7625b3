// How startSandbox() and stopSandboxDir() (sandbox.ts) bring real nodes in: prepare them before
// the clusters start (and give the apiservers the flag they need), start them once both clusters
// run, and tear them down with the sandbox.
import type { Cluster, ClusterOptions } from '../cluster.ts';
import { kwokPodCIDRBesideRealNode } from './plan.ts';
import {
  prepareRealNodes,
  realNodeApiserverArgs,
  startRealNodes,
  stopRealNodes,
  type PreparedRealNodes,
  type RealNodes,
  type TeardownReport,
} from './index.ts';

export type { PreparedRealNodes, RealNodes } from './index.ts';

export function prepareRealNodesFor(
  sandboxDir: string,
  binDir: string,
  opts: { persistent: boolean; log: (line: string) => void },
): Promise<PreparedRealNodes> {
  return prepareRealNodes(sandboxDir, binDir, opts);
}

/** A cluster's options with the apiserver flags real nodes need, and kwok's pod range away from theirs. */
export function withRealNodeFlags(
  cluster: 'local' | 'remote',
  options: Partial<ClusterOptions> | undefined,
): Partial<ClusterOptions> {
  return {
    kwokPodCIDR: kwokPodCIDRBesideRealNode(cluster),
    ...options,
    apiserverArgs: [...(options?.apiserverArgs ?? []), ...realNodeApiserverArgs()],
  };
}

export function startRealNodesIn(
  prepared: PreparedRealNodes,
  local: Cluster,
  remote: Cluster,
  opts: { persistent: boolean; log: (line: string) => void },
): Promise<RealNodes> {
  const joining = (cluster: Cluster, name: 'local' | 'remote') => ({
    name,
    dir: cluster.dir,
    api: cluster.api,
    apiserverPort: cluster.ports.apiserver,
  });
  return startRealNodes(prepared, [joining(local, 'local'), joining(remote, 'remote')], opts);
}

/** Tears down the real nodes of the sandbox in `dir` (if it has them); throws if something is left. */
export async function stopRealNodesOf(dir: string): Promise<void> {
  const report = await stopRealNodes(dir);
  if (!report) return;
  throwIfLeft(report);
}

function throwIfLeft(report: TeardownReport): void {
  const left = [...report.processes, ...report.mounts, ...report.cgroups, ...report.errors];
  if (left.length) throw new Error(`real nodes: not everything was undone: ${left.join('; ')}`);
}

/** Stops started real nodes; throws if something is left. */
export async function stopStartedRealNodes(realNodes: RealNodes | undefined): Promise<void> {
  if (!realNodes) return;
  throwIfLeft(await realNodes.stop());
}
