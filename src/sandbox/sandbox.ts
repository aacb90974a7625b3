// The sandbox: the local cluster and one or two remote clusters side by side, plus the components
// its caller hosts (kube-offload's, see src/dev/components.ts).
//
// <dir>/state.json           what is running (pids + argv, ports, kubeconfigs, readiness URLs)
// <dir>/local.kubeconfig     admin kubeconfig of the local cluster
// <dir>/remote.kubeconfig    admin kubeconfig of the remote cluster (region eu-west)
// <dir>/remote-us.kubeconfig admin kubeconfig of the second remote (region us-east), with remotes: 2
// <dir>/<cluster>/           cluster directories (pki, etcd data, logs/, pids.json)
// <dir>/components/          component logs (<name>.log), scratch dirs and pids.json
import fs from 'node:fs';
import path from 'node:path';
import { clearStaleDir, startCluster, type AuditOptions, type Cluster, type ClusterOptions } from './cluster.ts';
import {
  makeContext,
  startComponent,
  type ComponentHost,
  type ComponentSpec,
  type RunningComponent,
  type SandboxContext,
} from './components.ts';
import { ensureBinaries } from './binaries.ts';
import { SECOND_REMOTE } from './network.ts';
import { isAlive, isOurs, terminateRecord, type ProcessRecord } from './procs.ts';
import { CLUSTER_NAMES, recordedProcesses, STATE_FILE, writeState, type SandboxRun } from './sandbox-state.ts';
import {
  prepareRealNodesFor,
  startRealNodesIn,
  stopRealNodesOf,
  stopStartedRealNodes,
  withRealNodeFlags,
  type PreparedRealNodes,
  type RealNodes,
} from './realnode/sandbox-hooks.ts';

export type { RunningComponent } from './components.ts';
export { readState, recordedProcesses, STATE_FILE } from './sandbox-state.ts';
export { SECOND_REMOTE } from './network.ts';
export type { ClusterState, SandboxState } from './sandbox-state.ts';
export { sandboxStatus } from './sandbox-status.ts';
export type { ProcessStatus } from './sandbox-status.ts';

export interface SandboxOptions {
  dir: string;
  /** The processes to host once both clusters are ready, started in order. */
  components?: ComponentSpec[] | ((ctx: SandboxContext) => ComponentSpec[] | Promise<ComponentSpec[]>);
  binDir?: string;
  /** Processes outlive this Node process (`sandbox up`); stop them with stopSandboxDir(). */
  persistent?: boolean;
  /** Audit log on both apiservers (see Cluster.auditLogPath). */
  audit?: boolean | AuditOptions;
  /**
   * One real node per cluster (real-node-local, real-node-remote: containerd, kubelet, kube-proxy,
   * CoreDNS, see realnode/index.ts) next to the fake workers, which get a NoSchedule taint. Needs
   * root; one sandbox at a time per host. Default false: fake workers only, fast.
   */
  realNodes?: boolean;
  /**
   * How many remote clusters: 1 (default: "remote", region eu-west) or 2 (plus "remote-us", region
   * us-east, KWOK workers only, never a real node). A cluster costs an etcd, an apiserver, a
   * controller-manager, a scheduler and a kwok (~300 MiB), so tests ask for the second one only
   * when they use it.
   */
  remotes?: 1 | 2;
  /** Per-cluster overrides. */
  local?: Partial<ClusterOptions>;
  remote?: Partial<ClusterOptions>;
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface Sandbox {
  dir: string;
  local: Cluster;
  /** The first remote (remotes[0]). */
  remote: Cluster;
  /** Every remote cluster, "remote" first. */
  remotes: Cluster[];
  stateFile: string;
  components: RunningComponent[];
  context: SandboxContext;
  /** The real nodes, when SandboxOptions.realNodes asked for them. */
  readonly realNodes: RealNodes | undefined;
  /** Starts one more component (tests can add their own processes this way). */
  startComponent(spec: ComponentSpec): Promise<RunningComponent>;
  /** Stops everything; verifies no process is left. */
  stop(): Promise<void>;
}

/** Marks a directory as a sandbox directory: only such a directory is ever deleted. */
export const SANDBOX_MARKER = '.kube-offload-sandbox';

/**
 * When a recorded process is stopped: components first (they talk to the clusters), then each
 * cluster's clients, its apiserver, its etcd (both clusters at once).
 */
function stopRank(record: ProcessRecord): number {
  if (!record.name.includes('/')) return 0;
  const component = record.name.split('/').pop() ?? '';
  return component === 'etcd' ? 3 : component === 'kube-apiserver' ? 2 : 1;
}

async function terminateInRankOrder(records: ProcessRecord[]): Promise<void> {
  const byRank = new Map<number, ProcessRecord[]>();
  for (const record of records) byRank.set(stopRank(record), [...(byRank.get(stopRank(record)) ?? []), record]);
  for (const rank of [...byRank.keys()].sort((a, b) => a - b)) {
    // kube-apiserver: SIGKILL at once (its graceful shutdown takes > 5 s and buys nothing here).
    const graceMs = (record: ProcessRecord) => (record.name.endsWith('/kube-apiserver') ? 0 : 5000);
    await Promise.all(byRank.get(rank)!.map((record) => terminateRecord(record, graceMs(record))));
  }
}

function describe(records: ProcessRecord[]): string {
  return records.map((record) => `${record.name}(${record.pid})`).join(', ');
}

/** Removes a sandbox directory, refusing one that is not empty and not marked as ours. */
async function removeSandboxDir(dir: string): Promise<void> {
  const entries = fs.readdirSync(dir);
  if (entries.length > 0 && !entries.includes(SANDBOX_MARKER)) {
    throw new Error(`${dir} is not empty and is not a sandbox directory (no ${SANDBOX_MARKER}); refusing to delete it`);
  }
  for (const sub of CLUSTER_NAMES) await clearStaleDir(path.join(dir, sub));
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}

/**
 * Stops every process a sandbox directory records (after checking each pid is still that
 * process) and removes the directory. Used by `sandbox down` and before every start.
 * Returns the records that were running.
 */
export async function stopSandboxDir(dir: string, opts: { removeDir?: boolean } = {}): Promise<ProcessRecord[]> {
  await stopRealNodesOf(dir);
  const running = recordedProcesses(dir).filter(isOurs);
  await terminateInRankOrder(running);
  const left = running.filter(isOurs);
  if (left.length) throw new Error(`still running after stop: ${describe(left)}`);
  if (opts.removeDir !== false && fs.existsSync(dir)) await removeSandboxDir(dir);
  return running;
}

/** Stops what an earlier run left in `dir` (only what is provably ours), wipes it and marks it ours. */
async function prepareSandboxDir(dir: string, log: (line: string) => void): Promise<void> {
  const stale = await stopSandboxDir(dir);
  if (stale.length) log(`stopped ${stale.length} leftover process(es) of an earlier run in ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, SANDBOX_MARKER), 'kube-offload sandbox\n');
}

/** What both clusters share: where they go, which binaries, whether they outlive us. */
interface ClusterDefaults {
  dir: string;
  binDir: string;
  persistent: boolean;
  log: (line: string) => void;
}

function clusterOptions(name: string, options: SandboxOptions, defaults: ClusterDefaults): ClusterOptions {
  const overrides = name === 'local' || name === 'remote' ? options[name] : undefined;
  return {
    name,
    dir: path.join(defaults.dir, name),
    binDir: defaults.binDir,
    kubeconfigPath: path.join(defaults.dir, `${name}.kubeconfig`),
    // They belong to the sandbox directory: kept (logs included) until stopSandboxDir() clears it.
    removeDirOnStop: false,
    persistent: defaults.persistent,
    log: defaults.log,
    ...(options.audit !== undefined ? { audit: options.audit } : {}),
    ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
    ...overrides,
  };
}

/** The names of the clusters to start: local, then the remotes. */
function clusterNames(options: SandboxOptions): string[] {
  const remotes = options.remotes ?? 1;
  if (remotes !== 1 && remotes !== 2) throw new Error(`remotes: ${String(remotes)} is not one of 1, 2`);
  return ['local', 'remote', ...(remotes === 2 ? [SECOND_REMOTE] : [])];
}

/** The started clusters: the local one and the remotes. */
interface Clusters {
  local: Cluster;
  remotes: Cluster[];
}

/** Every cluster in parallel; if one fails, the others are stopped before the error is passed on. */
async function startClusters(options: SandboxOptions, defaults: ClusterDefaults): Promise<Clusters> {
  const results = await Promise.allSettled(
    clusterNames(options).map((name) => startCluster(clusterOptions(name, options, defaults))),
  );
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    const stopStarted = (result: PromiseSettledResult<Cluster>) =>
      result.status === 'fulfilled' ? result.value.stop().catch(() => {}) : undefined;
    await Promise.all(results.map(stopStarted));
    throw failed.reason;
  }
  const [local, ...remotes] = results.map((result) => (result as PromiseFulfilledResult<Cluster>).value);
  return { local: local!, remotes };
}

/** The clusters, with the apiserver flags real nodes need when they come; a failure gives the host back. */
async function startClustersFor(
  prepared: PreparedRealNodes | undefined,
  options: SandboxOptions,
  defaults: ClusterDefaults,
): Promise<Clusters> {
  if (!prepared) return startClusters(options, defaults);
  const local = withRealNodeFlags('local', options.local);
  const flagged = { ...options, local, remote: withRealNodeFlags('remote', options.remote) };
  try {
    return await startClusters(flagged, defaults);
  } catch (err) {
    await stopRealNodesOf(defaults.dir).catch(() => {});
    throw err;
  }
}

/** Components in reverse start order (they talk to the clusters), the real nodes, then every cluster. */
async function stopRun(run: SandboxRun, realNodes?: RealNodes): Promise<void> {
  for (const component of [...run.components].reverse()) await component.stop();
  try {
    await stopStartedRealNodes(realNodes);
  } finally {
    // Even when the real nodes report leftovers: clusters left running would outlive the caller.
    await Promise.all([run.local, ...run.remotes].map((cluster) => cluster.stop()));
    fs.rmSync(run.stateFile, { force: true });
  }
}

async function componentSpecs(options: SandboxOptions, context: SandboxContext): Promise<ComponentSpec[]> {
  if (!options.components) return [];
  return typeof options.components === 'function' ? await options.components(context) : options.components;
}

function sandboxHandle(
  run: SandboxRun,
  context: SandboxContext,
  host: ComponentHost,
  realNodes: () => RealNodes | undefined,
): Sandbox {
  let stopped = false;
  return {
    dir: run.dir,
    local: run.local,
    remote: run.remote,
    remotes: run.remotes,
    stateFile: run.stateFile,
    components: run.components,
    context,
    get realNodes() {
      return realNodes();
    },
    async startComponent(spec) {
      if (run.components.some((component) => component.name === spec.name))
        throw new Error(`component ${spec.name} already exists`);
      return startComponent(spec, host);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const records = recordedProcesses(run.dir);
      await stopRun(run, realNodes());
      const left = records.filter((record) => isAlive(record.pid) && isOurs(record));
      if (left.length) throw new Error(`still running after stop: ${describe(left)}`);
    },
  };
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const startedAt = Date.now();
  const dir = path.resolve(options.dir);
  const log = options.log ?? (() => {});
  const persistent = !!options.persistent;
  await prepareSandboxDir(dir, log);
  const binDir = options.binDir ?? (await ensureBinaries());
  const prepared = options.realNodes ? await prepareRealNodesFor(dir, binDir, { persistent, log }) : undefined;
  const { local, remotes } = await startClustersFor(prepared, options, { dir, binDir, persistent, log });
  const remote = remotes[0]!;
  log(`${remotes.length + 1} clusters ready (${Date.now() - startedAt} ms)`);

  const context = await makeContext(dir, local, remotes);
  const { componentsDir } = context;
  fs.mkdirSync(componentsDir, { recursive: true });
  const stateFile = path.join(dir, STATE_FILE);
  const run: SandboxRun = {
    dir,
    binDir,
    persistent,
    startedAt,
    local,
    remote,
    remotes,
    stateFile,
    componentsDir,
    components: [],
  };
  writeState(run);
  const host: ComponentHost = {
    context,
    persistent,
    log,
    onStarted: (component) => {
      run.components.push(component);
      writeState(run);
    },
    onStopped: () => writeState(run),
  };
  let realNodes: RealNodes | undefined;
  const sandbox = sandboxHandle(run, context, host, () => realNodes);
  try {
    if (prepared) realNodes = await startRealNodesIn(prepared, local, remote, { persistent, log });
    for (const spec of await componentSpecs(options, context)) await sandbox.startComponent(spec);
  } catch (err) {
    await stopRun(run, realNodes).catch(() => {});
    throw err;
  }
  writeState(run);
  log(`sandbox ready in ${Date.now() - startedAt} ms`);
  return sandbox;
}
