// Real nodes for the sandbox: one per cluster (real-node-local, real-node-remote), each in a
// network namespace of its own with containerd, a kubelet, kube-proxy and CoreDNS, next to the
// clusters' fake (kwok) workers. See plan.ts for the network, host-state.ts for what they change
// on the host and teardown.ts for how `sandbox down` undoes it.
//
//   prepareRealNodes()  before the clusters start: packages, binaries, images, the host claim
//   startRealNodes()    once both clusters run: network, then per cluster containerd, kubelet,
//                       kube-dns, kube-proxy, CoreDNS; the fake workers get a NoSchedule taint
//   stopRealNodes()     undoes everything (also what a run that died left behind)
import path from 'node:path';
import type { AdminApi } from '../apiserver.ts';
import type { ProcessRecord } from '../procs.ts';
import { ensureRealNodeBinaries, type RealNodeBinaries } from './binaries.ts';
import { createCgroups } from './cgroups.ts';
import { startContainerd } from './containerd.ts';
import { clusterCa, writeNodeKubeconfigs } from './credentials.ts';
import { createDnsObjects, startCoreDns } from './dns.ts';
import { ownerAlive, readOwner, recordedRealNodeProcesses, tryClaim } from './host-state.ts';
import { ensureImageArchive } from './images.ts';
import { startKubelet } from './kubelet.ts';
import { startKubeProxy } from './kube-proxy.ts';
import { networkPresent, setUpNetwork, tearDownNetwork } from './network.ts';
import { ensurePackages, missingPackages } from './packages.ts';
import { FAKE_WORKER_TAINT, realNodePlan, realNodePlans, realNodesDir, type RealNodePlan } from './plan.ts';
import { RealNodeProcesses } from './processes.ts';
import { startApiserverRelay } from './relay.ts';
import { isRoot } from './system.ts';
import { tearDownRealNodes, type TeardownReport } from './teardown.ts';

export { realNodeApiserverArgs, realNodePlan, REAL_NODE_LABEL, FAKE_WORKER_TAINT, WAN } from './plan.ts';
export type { RealNodePlan, RealNodeCluster } from './plan.ts';
export { SHOP_IMAGE, PAUSE_IMAGE } from './images.ts';
export { importImages, imageNames } from './containerd.ts';
export { REAL_NODE_PACKAGES } from './packages.ts';
export { HOST_STATE_DIR, KUBELET_SYSCTLS, HARDCODED_HOST_PATHS } from './host-state.ts';
export type { TeardownReport } from './teardown.ts';

/** What a cluster offers the real node that joins it. */
export interface JoiningCluster {
  name: 'local' | 'remote';
  dir: string;
  api: AdminApi;
  apiserverPort: number;
}

/** What prepareRealNodes() got ready for startRealNodes(). */
export interface PreparedRealNodes {
  sandboxDir: string;
  binaries: RealNodeBinaries;
  imageArchive: string;
}

export interface RealNodes {
  plans: RealNodePlan[];
  /** Stops and removes everything of the real nodes; what could not be removed is reported. */
  stop(): Promise<TeardownReport>;
}

export interface RealNodeOptions {
  /** The real nodes outlive this process (`sandbox up`). */
  persistent: boolean;
  log?: (line: string) => void;
  /** Where build progress goes (default stderr). */
  progress?: NodeJS.WritableStream | null;
}

/** Takes the host's real nodes for `sandboxDir`, cleaning up after a run that died holding them. */
async function claimHost(sandboxDir: string, persistent: boolean, log: (line: string) => void): Promise<void> {
  if (tryClaim(sandboxDir, persistent)) {
    // Claimed, yet a network of ours is there: its record was lost (it lives on /run). Ours by name.
    const plans = realNodePlans(sandboxDir);
    if (await networkPresent(plans)) await tearDownNetwork(plans);
    return;
  }
  const owner = readOwner();
  if (owner && owner.sandboxDir !== sandboxDir && ownerAlive(owner)) {
    throw new Error(
      `the real nodes are in use by the sandbox in ${owner.sandboxDir} (one sandbox at a time can have them): ` +
        `run "kube-offload sandbox down --dir ${owner.sandboxDir}" or start without real nodes (--no-real-nodes)`,
    );
  }
  log(`cleaning up the real nodes an earlier run left (${owner?.sandboxDir ?? 'unknown sandbox'})`);
  const left = await tearDownRealNodes(owner?.sandboxDir ?? sandboxDir);
  if (!tryClaim(sandboxDir, persistent))
    throw new Error(`could not clean up earlier real nodes: ${JSON.stringify(left)}`);
}

/**
 * Everything real nodes need before the clusters start: root, the Debian packages, the binaries
 * and images (built when missing), and the host (one sandbox at a time).
 */
export async function prepareRealNodes(
  sandboxDir: string,
  binDir: string,
  opts: RealNodeOptions,
): Promise<PreparedRealNodes> {
  const log = opts.log ?? (() => {});
  if (!isRoot()) {
    const missing = missingPackages();
    const packages = missing.length ? `, and these Debian packages: ${missing.join(' ')}` : '';
    throw new Error(
      `real nodes need root (network namespaces, cgroups, mounts)${packages}; without, use --no-real-nodes`,
    );
  }
  await ensurePackages(log);
  const binaries = await ensureRealNodeBinaries(binDir, opts.progress === undefined ? process.stderr : opts.progress);
  const imageArchive = await ensureImageArchive(binaries.shop, path.join(path.dirname(binDir), 'images'));
  await claimHost(sandboxDir, opts.persistent, log);
  return { sandboxDir, binaries, imageArchive };
}

async function taintFakeWorkers(api: AdminApi): Promise<void> {
  const res = await api('GET', '/api/v1/nodes?labelSelector=type%3Dkwok');
  for (const node of (res.body?.items ?? []) as { metadata: { name: string }; spec?: { taints?: unknown[] } }[]) {
    const taints = [...(node.spec?.taints ?? []), FAKE_WORKER_TAINT];
    const patch = await api(
      'PATCH',
      `/api/v1/nodes/${node.metadata.name}`,
      { spec: { taints } },
      'application/merge-patch+json',
    );
    if (patch.status !== 200) throw new Error(`tainting ${node.metadata.name}: HTTP ${patch.status}`);
  }
}

async function startNode(
  prepared: PreparedRealNodes,
  cluster: JoiningCluster,
  processes: RealNodeProcesses,
  log: (line: string) => void,
): Promise<RealNodePlan> {
  const startedAt = Date.now();
  const step = (what: string) => log(`${cluster.name}: real node: ${what} (${Date.now() - startedAt} ms)`);
  const plan = realNodePlan(cluster.name, prepared.sandboxDir);
  const { binaries } = prepared;
  createCgroups(plan.cgroupRoot);
  await startContainerd(plan, processes, prepared.imageArchive);
  step('containerd up, images imported');
  const ca = clusterCa(cluster.dir, cluster.apiserverPort);
  const kubeconfigs = await writeNodeKubeconfigs(plan, ca);
  await startApiserverRelay(cluster.name, cluster.apiserverPort, path.join(plan.dir, 'logs'), processes);
  await Promise.all([createDnsObjects(cluster.api, plan), taintFakeWorkers(cluster.api)]);
  const kubeletSettings = { plan, binary: binaries.kubelet, kubeconfig: kubeconfigs.kubelet, caFile: ca.caFile };
  await startKubelet({ ...kubeletSettings, api: cluster.api }, processes);
  step(`node ${plan.nodeName} Ready`);
  await Promise.all([
    startKubeProxy({ plan, binary: binaries['kube-proxy'], kubeconfig: kubeconfigs.kubeProxy }, processes),
    startCoreDns({ plan, binary: binaries.coredns, kubeconfig: kubeconfigs.coredns }, processes),
  ]);
  step('kube-proxy and CoreDNS ready');
  return plan;
}

/** Starts both real nodes; on failure removes whatever was started before passing the error on. */
export async function startRealNodes(
  prepared: PreparedRealNodes,
  clusters: [JoiningCluster, JoiningCluster],
  opts: { persistent: boolean; log?: (line: string) => void },
): Promise<RealNodes> {
  const log = opts.log ?? (() => {});
  const processes = new RealNodeProcesses(opts.persistent);
  try {
    await setUpNetwork(realNodePlans(prepared.sandboxDir));
    const plans = await Promise.all(clusters.map((cluster) => startNode(prepared, cluster, processes, log)));
    return { plans, stop: () => stopRealNodesOf(prepared.sandboxDir, processes) };
  } catch (err) {
    await stopRealNodesOf(prepared.sandboxDir, processes).catch(() => {});
    throw err;
  }
}

async function stopRealNodesOf(sandboxDir: string, processes: RealNodeProcesses): Promise<TeardownReport> {
  processes.forget();
  return tearDownRealNodes(sandboxDir);
}

/**
 * Tears down the real nodes of the sandbox in `sandboxDir`, if it has them (from any process:
 * `sandbox down`). Undefined when they belong to no sandbox, or to another one.
 */
export async function stopRealNodes(sandboxDir: string): Promise<TeardownReport | undefined> {
  const owner = readOwner();
  if (!owner || path.resolve(owner.sandboxDir) !== path.resolve(sandboxDir)) return undefined;
  return tearDownRealNodes(sandboxDir);
}

/** The process records of the sandbox's real nodes (none when they belong to no sandbox, or another). */
export function realNodeRecordsOf(sandboxDir: string): ProcessRecord[] {
  const owner = readOwner();
  if (!owner || path.resolve(owner.sandboxDir) !== path.resolve(sandboxDir)) return [];
  return recordedRealNodeProcesses();
}

/** The directory the real nodes of a sandbox keep their files in (logs under <cluster>/logs). */
export function realNodesDirOf(sandboxDir: string): string {
  return realNodesDir(sandboxDir);
}
