// One sandbox cluster: etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok
// + the pod server, all bound to 127.0.0.1 on free ports, in a directory of their own (pki,
// data, logs, pidfile). This file puts the pieces together: cluster-dir.ts (directory, pidfile,
// reaping orphans), cluster-processes.ts (start, wait, stop), etcd.ts, apiserver.ts,
// controllers.ts, kwok.ts, and for the fake workers' kubelet API kwok-kubelet-api.ts,
// kubelet-access.ts and pod-server.ts.
import path from 'node:path';
import {
  adminApi,
  adminTls,
  apiserverArgv,
  apiserverReady,
  configureAudit,
  restartApiserver,
  startApiserver,
  type AdminApi,
  type ApiResult,
  type AuditOptions,
} from './apiserver.ts';
import { ensureBinaries } from './binaries.ts';
import { createClusterDir, reapOrphans, type ClusterDir } from './cluster-dir.ts';
import { ClusterProcesses } from './cluster-processes.ts';
import { launchControllers, waitControllersHealthy, waitDefaultServiceAccount } from './controllers.ts';
import { startEtcd } from './etcd.ts';
import { runKubectl, type KubectlOptions, type KubectlResult } from './kubectl.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { launchKwok, registerNodes, waitKwokHealthy, waitNodesUsable, type NodeSpec } from './kwok.ts';
import {
  containerFiles,
  containersPath,
  KWOK_CRD_KINDS,
  kubeletApiObjects,
  prepareContainerFiles,
  type ContainerFiles,
} from './kwok-kubelet-api.ts';
import { prepareKubeletAccess } from './kubelet-access.ts';
import { launchPodServer, podServerUrl, waitPodServerReady } from './pod-server.ts';
import { createClusterPki, type ClientName, type ClusterPki } from './pki.ts';
import { addressInCidr, resolveNetwork, type Network } from './network.ts';
import { isAlive, type ProcessRecord } from './procs.ts';
import { freePort } from './util.ts';

export type { NodeSpec } from './kwok.ts';
export type { ContainerFiles } from './kwok-kubelet-api.ts';
export { appendContainerLog, criLogLine, resourceMetricsPath } from './kwok-kubelet-api.ts';
export type { ApiResult, AuditOptions } from './apiserver.ts';
export { DEFAULT_AUDIT_POLICY } from './apiserver.ts';
export type { KubectlOptions, KubectlResult } from './kubectl.ts';
export { runKubectl } from './kubectl.ts';
export { clearStaleDir, reapOrphans, TMP_ROOT } from './cluster-dir.ts';
export { PRESETS } from './network.ts';

export interface ClusterOptions {
  /** "local", "remote" and "remote-us" get PRESETS (network.ts); any other name needs podCIDR/serviceClusterIPRange/nodes. */
  name: string;
  /** Working directory of the cluster. Default: a fresh directory under <os tmp>/kube-offload-sandbox/. */
  dir?: string;
  /** Where the control-plane binaries are. Default: ensureBinaries() (controlplane/build.sh cache). */
  binDir?: string;
  /** Where to write the admin kubeconfig. Default: <dir>/admin.kubeconfig */
  kubeconfigPath?: string;
  serviceClusterIPRange?: string;
  podCIDR?: string;
  /** The range kwok hands pod IPs from for nodes without a podCIDR of their own. Default: podCIDR. */
  kwokPodCIDR?: string;
  nodes?: NodeSpec[];
  /** Turn on the apiserver audit log (e.g. to count writes). */
  audit?: boolean | AuditOptions;
  /** Extra kube-apiserver flags (appended; a later flag wins). */
  apiserverArgs?: string[];
  /** Leave the processes running when this Node process exits (`sandbox up`). */
  persistent?: boolean;
  /** Remove the directory on stop(). Default: true when `dir` was not given. */
  removeDirOnStop?: boolean;
  /** Deadline for the whole start. Default 120 s. */
  startTimeoutMs?: number;
  /** Progress lines (default: silent). */
  log?: (line: string) => void;
}

export interface ClusterPorts {
  etcd: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  /** kwok's server: /healthz and the fake workers' kubelet API. */
  kwok: number;
  /** The pod server's shared listener (pod-server.ts). */
  podServer: number;
}

export interface Cluster {
  readonly name: string;
  readonly dir: string;
  readonly binDir: string;
  /** Admin (system:masters) kubeconfig with embedded client cert. */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  readonly server: string;
  readonly caCertPath: string;
  readonly ports: ClusterPorts;
  readonly podCIDR: string;
  readonly serviceClusterIPRange: string;
  readonly nodeNames: string[];
  /** Set when the audit option was on. */
  readonly auditLogPath: string | undefined;
  readonly logDir: string;
  /** The files behind every container's logs and exec (see kwok-kubelet-api.ts). */
  readonly containers: ContainerFiles;
  /** http://127.0.0.1:PORT of the pod server: /sandbox/connections counts forwarded connections. */
  readonly podServerUrl: string;
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** A raw API request as admin; `body` is JSON-encoded, the response JSON-decoded when possible. */
  api(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<ApiResult>;
  /** The running processes (for state files / status). */
  processes(): ProcessRecord[];
  apiserverRunning(): boolean;
  /**
   * Stops kube-apiserver only, to simulate an outage (etcd and the rest keep running).
   * Default SIGKILL, like a crash; `{ graceful: true }` sends SIGTERM first (slow: > 5 s).
   */
  stopApiserver(opts?: { graceful?: boolean }): Promise<void>;
  /** Starts kube-apiserver again with the same flags and port; resolves when /readyz is ok. */
  startApiserver(): Promise<void>;
  /** Stops everything (verifying every pid is gone); removes the dir when configured to. */
  stop(): Promise<void>;
}

/** What every step of the start needs. */
interface StartContext {
  name: string;
  options: ClusterOptions;
  network: Network;
  clusterDir: ClusterDir;
  processes: ClusterProcesses;
  log: (line: string) => void;
  /** Logs "<name>: <what> (<ms since the start began> ms)". */
  progress: (what: string) => void;
}

/** The running control plane, as the Cluster handle needs it. */
interface ControlPlane {
  binDir: string;
  pki: ClusterPki;
  ports: ClusterPorts;
  server: string;
  api: AdminApi;
  apiserverArgv: string[];
  apiserverReady: () => Promise<boolean>;
  auditLogPath: string | undefined;
}

async function allocatePorts(): Promise<ClusterPorts> {
  return {
    etcd: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    controllerManager: await freePort(),
    scheduler: await freePort(),
    kwok: await freePort(),
    podServer: await freePort(),
  };
}

/** Writes a kubeconfig for `user` with its client certificate embedded; returns its path. */
function writeUserKubeconfig(ctx: StartContext, plane: ControlPlane, file: string, user: ClientName): string {
  return writeKubeconfig(file, {
    clusterName: ctx.name,
    server: plane.server,
    caCert: plane.pki.ca.cert,
    user: user === 'admin' ? `${ctx.name}-admin` : user,
    clientCert: plane.pki.clients[user].cert,
    clientKey: plane.pki.clients[user].key,
  });
}

/** Certificates, ports, etcd and kube-apiserver: everything up to a ready API. */
async function startControlPlane(ctx: StartContext): Promise<ControlPlane> {
  const { name, options, network, clusterDir, processes } = ctx;
  const binDir = options.binDir ?? (await ensureBinaries());
  // The apiserver's serving certificate must name the `kubernetes` Service's address.
  const serviceIP = addressInCidr(network.serviceClusterIPRange, 1);
  const [pki, ports] = await Promise.all([
    createClusterPki(path.join(clusterDir.path, 'pki'), name, serviceIP),
    allocatePorts(),
  ]);
  const dataDir = path.join(clusterDir.path, 'etcd');
  const etcdUrl = await startEtcd(processes, {
    binDir,
    name,
    dataDir,
    clientPort: ports.etcd,
    peerPort: ports.etcdPeer,
  });
  ctx.progress(`etcd ready on ${ports.etcd}`);

  const audit = configureAudit(options.audit, clusterDir.path, clusterDir.logDir);
  const argv = apiserverArgv({
    binDir,
    dir: clusterDir.path,
    etcdUrl,
    port: ports.apiserver,
    pki,
    serviceClusterIPRange: network.serviceClusterIPRange,
    auditFlags: audit?.flags ?? [],
    extraArgs: options.apiserverArgs ?? [],
  });
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const tls = adminTls(pki);
  const ready = () => apiserverReady(server, tls);
  await startApiserver(processes, argv, ready);
  ctx.progress(`kube-apiserver ready on ${ports.apiserver}`);
  const api = adminApi(server, tls);
  return { binDir, pki, ports, server, api, apiserverArgv: argv, apiserverReady: ready, auditLogPath: audit?.logPath };
}

/** kwok and the pod server: the fake workers and the kubelet API they answer. */
async function launchFakeWorkers(ctx: StartContext, plane: ControlPlane, kwokKubeconfig: string): Promise<void> {
  const { name, network, clusterDir, processes } = ctx;
  const { binDir, pki, ports, api, server } = plane;
  const containers = containerFiles(clusterDir.path);
  prepareContainerFiles(containers, name);
  await prepareKubeletAccess(api, name);
  await Promise.all([
    launchPodServer(processes, { clusterName: name, server, pki, port: ports.podServer, logFile: containers.logFile }),
    launchKwok(processes, {
      binDir,
      dir: clusterDir.path,
      kubeconfig: kwokKubeconfig,
      podCIDR: ctx.options.kwokPodCIDR ?? network.podCIDR,
      nodeIP: network.nodes[0]?.ip ?? '10.0.0.1',
      port: ports.kwok,
      kubeletApiObjects: kubeletApiObjects(containers, ports.podServer),
      crdKinds: KWOK_CRD_KINDS,
      env: { PATH: containersPath(containers) },
    }),
  ]);
}

/**
 * Controller-manager, scheduler, kwok and the pod server (started together; the nodes are
 * registered while they come up), then waits until the cluster is usable: every worker Ready
 * and schedulable and the default ServiceAccount there (pods need it).
 */
async function startWorkers(ctx: StartContext, plane: ControlPlane): Promise<void> {
  const { name, network, clusterDir, processes } = ctx;
  const { binDir, pki, ports, api } = plane;
  const dir = clusterDir.path;
  const kubeconfigOf = (user: ClientName) =>
    writeUserKubeconfig(ctx, plane, path.join(dir, `${user}.kubeconfig`), user);
  const controllerManagerKubeconfig = kubeconfigOf('controller-manager');
  const schedulerKubeconfig = kubeconfigOf('scheduler');
  const kwokKubeconfig = kubeconfigOf('kwok');
  await Promise.all([
    launchControllers(
      processes,
      { binDir, dir, clusterName: name, kubeconfig: controllerManagerKubeconfig, port: ports.controllerManager, pki },
      { binDir, dir, kubeconfig: schedulerKubeconfig, port: ports.scheduler },
    ),
    launchFakeWorkers(ctx, plane, kwokKubeconfig),
  ]);
  await registerNodes(api, network.nodes, { name, kubeletPort: ports.kwok });
  await Promise.all([
    waitControllersHealthy(processes, ports),
    waitKwokHealthy(processes, ports.kwok),
    waitPodServerReady(processes, ports.podServer),
  ]);
  ctx.progress('controller-manager, scheduler, kwok, pod server healthy');
  await waitNodesUsable(
    processes,
    api,
    network.nodes.map((node) => node.name),
  );
  ctx.progress('nodes Ready');
  await waitDefaultServiceAccount(processes, api);
  ctx.progress('ready');
}

async function stopApiserver(ctx: StartContext, graceful: boolean): Promise<void> {
  // A crash is what the callers simulate; a graceful stop takes > 5 s and is opt-in.
  if (!(await ctx.processes.stop('kube-apiserver', graceful ? 15_000 : 0))) return;
  ctx.log(`${ctx.name}: kube-apiserver stopped`);
}

async function startApiserverAgain(ctx: StartContext, plane: ControlPlane): Promise<void> {
  if (ctx.processes.isRunning('kube-apiserver')) return;
  const restartedAt = Date.now();
  const restarted = await restartApiserver(ctx.processes, plane.apiserverArgv, plane.apiserverReady, ctx.name);
  if (ctx.options.persistent) restarted.release();
  ctx.log(`${ctx.name}: kube-apiserver restarted (${Date.now() - restartedAt} ms)`);
}

/** Stops every process, checks none survived, then forgets (and maybe removes) the directory. */
async function stopCluster(ctx: StartContext): Promise<void> {
  const records = ctx.processes.records();
  await ctx.processes.stopAll();
  const left = records.filter((record) => isAlive(record.pid));
  if (left.length) {
    const names = left.map((record) => `${record.name}(${record.pid})`).join(', ');
    throw new Error(`${ctx.name}: processes still alive after stop: ${names}`);
  }
  ctx.clusterDir.removePidfile();
  ctx.clusterDir.close();
}

function clusterHandle(ctx: StartContext, plane: ControlPlane, kubeconfigPath: string): Cluster {
  const { clusterDir, processes } = ctx;
  const kubectlCache = path.join(clusterDir.path, 'kubectl-cache');
  let stopped = false;
  return {
    name: ctx.name,
    dir: clusterDir.path,
    binDir: plane.binDir,
    kubeconfigPath,
    server: plane.server,
    caCertPath: plane.pki.ca.certFile,
    ports: plane.ports,
    podCIDR: ctx.network.podCIDR,
    serviceClusterIPRange: ctx.network.serviceClusterIPRange,
    nodeNames: ctx.network.nodes.map((node) => node.name),
    auditLogPath: plane.auditLogPath,
    logDir: clusterDir.logDir,
    containers: containerFiles(clusterDir.path),
    podServerUrl: podServerUrl(plane.ports.podServer),
    kubectl: (args, opts) => runKubectl(plane.binDir, kubeconfigPath, kubectlCache, args, opts),
    api: plane.api,
    processes: () => processes.records(),
    apiserverRunning: () => processes.isRunning('kube-apiserver'),
    stopApiserver: (opts = {}) => stopApiserver(ctx, !!opts.graceful),
    startApiserver: () => startApiserverAgain(ctx, plane),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopCluster(ctx);
    },
  };
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const startedAt = Date.now();
  const { name } = options;
  const log = options.log ?? (() => {});
  const network = resolveNetwork(options.name, options);
  const deadline = startedAt + (options.startTimeoutMs ?? 120_000);

  await reapOrphans();
  const persistent = !!options.persistent;
  const clusterDir = await createClusterDir({
    name,
    dir: options.dir,
    removeOnClose: options.removeDirOnStop,
    persistent,
  });
  const processes = new ClusterProcesses({
    clusterName: name,
    dir: clusterDir.path,
    logDir: clusterDir.logDir,
    deadline,
    onChange: (records) => clusterDir.writePidfile(records),
  });
  const progress = (what: string) => log(`${name}: ${what} (${Date.now() - startedAt} ms)`);
  const ctx: StartContext = { name, options, network, clusterDir, processes, log, progress };
  try {
    const plane = await startControlPlane(ctx);
    const kubeconfigPath = path.resolve(options.kubeconfigPath ?? path.join(clusterDir.path, 'admin.kubeconfig'));
    writeUserKubeconfig(ctx, plane, kubeconfigPath, 'admin');
    await startWorkers(ctx, plane);
    if (persistent) processes.releaseAll();
    return clusterHandle(ctx, plane, kubeconfigPath);
  } catch (err) {
    await processes.stopAll().catch(() => {});
    clusterDir.close();
    throw err;
  }
}
