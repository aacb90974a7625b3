// One sandbox cluster: etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok,
// all bound to 127.0.0.1 on free ports, in a directory of their own (pki, data, logs, pidfile).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBinaries } from './binaries.ts';
import { kwokConfigYaml, MANAGED_NODE_SELECTOR, nodeManifest, NODE_LEASE_SECONDS, type NodeSpec } from './kwok.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { createClusterPki, type ClusterPki } from './pki.ts';
import {
  isAlive,
  readStat,
  spawnManaged,
  terminateRecord,
  onExitCleanup,
  type ManagedProcess,
  type ProcessRecord,
} from './procs.ts';
import { freePort, isHealthy, poll, request } from './util.ts';

export type { NodeSpec } from './kwok.ts';

export interface AuditOptions {
  /** Audit policy YAML; default: Metadata level for every request, RequestReceived stage omitted. */
  policy?: string;
  /** Default: <cluster dir>/logs/audit.log */
  logPath?: string;
}

export interface ClusterOptions {
  /** "local" and "remote" get the presets below; any other name needs podCIDR/serviceClusterIPRange/nodes. */
  name: string;
  /** Working directory of the cluster. Default: a fresh directory under <os tmp>/kube-offload-sandbox/. */
  dir?: string;
  /** Where the control-plane binaries are. Default: ensureBinaries() (controlplane/build.sh cache). */
  binDir?: string;
  /** Where to write the admin kubeconfig. Default: <dir>/admin.kubeconfig */
  kubeconfigPath?: string;
  serviceClusterIPRange?: string;
  podCIDR?: string;
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
  kwok: number;
}

export interface KubectlOptions {
  input?: string;
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ApiResult {
  status: number;
  body: any;
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

interface Preset {
  serviceClusterIPRange: string;
  podCIDR: string;
  nodes: NodeSpec[];
}

export const PRESETS: Record<'local' | 'remote', Preset> = {
  local: {
    serviceClusterIPRange: '10.96.0.0/16',
    podCIDR: '10.244.0.0/16',
    nodes: [1, 2].map((i) => ({
      name: `worker-node-${i}`,
      ip: `10.10.0.${10 + i}`,
      podCIDR: `10.244.${i}.0/24`,
      labels: { 'topology.kubernetes.io/region': 'local', 'topology.kubernetes.io/zone': `local-${'ab'[i - 1]}` },
    })),
  },
  remote: {
    serviceClusterIPRange: '10.97.0.0/16',
    podCIDR: '172.16.0.0/16',
    nodes: [1, 2, 3].map((i) => ({
      name: `remote-node-${i}`,
      ip: `10.20.0.${10 + i}`,
      podCIDR: `172.16.${i}.0/24`,
      labels: { 'topology.kubernetes.io/region': 'eu-west', 'topology.kubernetes.io/zone': `eu-west-${'abc'[i - 1]}` },
    })),
  },
};

export const DEFAULT_AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`;

const MARKER = '.kube-offload-sandbox';
const PIDFILE = 'pids.json';
export const TMP_ROOT = path.join(os.tmpdir(), 'kube-offload-sandbox');

interface Pidfile {
  cluster: string;
  owner: { pid: number; startTicks?: number };
  persistent: boolean;
  processes: ProcessRecord[];
}

function ownerIsAlive(owner: Pidfile['owner']): boolean {
  const st = readStat(owner.pid);
  if (!st || !isAlive(owner.pid)) return false;
  return owner.startTicks === undefined || owner.startTicks === st.startTicks;
}

/**
 * Clears a directory left by an earlier run: stops the processes its pidfile records (only
 * those that are still the very same processes), then removes it. Refuses to delete a
 * non-empty directory that is not ours.
 */
export async function clearStaleDir(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const pidfile = path.join(dir, PIDFILE);
  if (fs.existsSync(pidfile)) {
    try {
      const pf = JSON.parse(fs.readFileSync(pidfile, 'utf8')) as Pidfile;
      await Promise.all((pf.processes ?? []).map((rec) => terminateRecord(rec, 3000)));
    } catch {
      // unreadable pidfile: nothing we can safely kill
    }
  }
  const entries = fs.readdirSync(dir);
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new Error(`${dir} exists and is not a sandbox cluster directory (no ${MARKER}); refusing to delete it`);
  }
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}

/**
 * Every non-persistent cluster registers its directory here while it runs, so a later start
 * can find (and clean) clusters whose Node process was SIGKILLed, wherever their directory is.
 */
const REGISTRY = path.join(TMP_ROOT, 'registry');

async function reapIfOrphan(dir: string): Promise<boolean> {
  let pf: Pidfile;
  try {
    pf = JSON.parse(fs.readFileSync(path.join(dir, PIDFILE), 'utf8')) as Pidfile;
  } catch {
    return !fs.existsSync(dir); // no pidfile: being created (keep) or gone (forget)
  }
  if (pf.persistent || ownerIsAlive(pf.owner)) return false;
  await clearStaleDir(dir);
  return true;
}

/**
 * Stops and removes clusters whose owning Node process died without cleaning up (crashed or
 * SIGKILLed test runs): every registered cluster and every directory under TMP_ROOT.
 * Processes are only killed after checking they are still the recorded ones.
 */
export async function reapOrphans(root = TMP_ROOT): Promise<void> {
  const registry = path.join(root, 'registry');
  const dirs: { dir: string; reg?: string }[] = [];
  for (const [base, isRegistry] of [[root, false], [registry, true]] as const) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(base);
    } catch {
      continue;
    }
    for (const n of names) {
      if (!isRegistry) {
        if (n !== 'registry') dirs.push({ dir: path.join(base, n) });
        continue;
      }
      try {
        const { dir } = JSON.parse(fs.readFileSync(path.join(base, n), 'utf8')) as { dir: string };
        dirs.push({ dir, reg: path.join(base, n) });
      } catch {
        // half-written entry: ignore
      }
    }
  }
  await Promise.all(
    dirs.map(async ({ dir, reg }) => {
      try {
        if ((await reapIfOrphan(dir)) && reg) fs.rmSync(reg, { force: true });
      } catch {
        // not ours to delete (no marker) or already being cleaned: leave it
        if (reg) fs.rmSync(reg, { force: true });
      }
    }),
  );
}

function selfOwner(): Pidfile['owner'] {
  const st = readStat(process.pid);
  return { pid: process.pid, ...(st ? { startTicks: st.startTicks } : {}) };
}

function firstIP(cidr: string, offset: number): string {
  const [base] = cidr.split('/');
  const parts = base!.split('.').map(Number);
  parts[3] = (parts[3] ?? 0) + offset;
  return parts.join('.');
}

/** Runs kubectl against a kubeconfig (shared by Cluster.kubectl and the CLI). */
export function runKubectl(
  binDir: string,
  kubeconfigPath: string,
  cacheDir: string,
  args: string[],
  opts: KubectlOptions = {},
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.KUBECONFIG;
    const child = spawn(path.join(binDir, 'kubectl'), [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${cacheDir}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr: sig === 'SIGKILL' ? `${stderr}\nkubectl timed out` : stderr });
    });
    child.stdin.on('error', () => {}); // kubectl may exit before reading stdin
    child.stdin.end(opts.input ?? '');
  });
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const name = options.name;
  const preset = (PRESETS as Record<string, Preset | undefined>)[name];
  const serviceClusterIPRange = options.serviceClusterIPRange ?? preset?.serviceClusterIPRange;
  const podCIDR = options.podCIDR ?? preset?.podCIDR;
  const nodes = options.nodes ?? preset?.nodes;
  if (!serviceClusterIPRange || !podCIDR || !nodes) {
    throw new Error(`cluster "${name}": no preset; give serviceClusterIPRange, podCIDR and nodes`);
  }
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const deadline = started + timeoutMs;
  const remaining = () => Math.max(1000, deadline - Date.now());

  // --- directory ---------------------------------------------------------------------------
  await reapOrphans();
  let dir: string;
  if (options.dir) {
    dir = path.resolve(options.dir);
    await clearStaleDir(dir);
  } else {
    fs.mkdirSync(TMP_ROOT, { recursive: true });
    dir = fs.mkdtempSync(path.join(TMP_ROOT, `${name}-`));
  }
  const removeDirOnStop = options.removeDirOnStop ?? !options.dir;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, MARKER), `kube-offload sandbox cluster "${name}"\n`);
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const persistent = !!options.persistent;

  const procs = new Map<string, ManagedProcess>();
  const writePidfile = () => {
    const pf: Pidfile = { cluster: name, owner: selfOwner(), persistent, processes: [...procs.values()].map((p) => p.record) };
    const tmp = path.join(dir, `${PIDFILE}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(pf, null, 2));
    fs.renameSync(tmp, path.join(dir, PIDFILE));
  };
  writePidfile();
  let registryEntry: string | undefined;
  if (!persistent) {
    fs.mkdirSync(REGISTRY, { recursive: true });
    registryEntry = path.join(REGISTRY, `${process.pid}-${randomBytes(4).toString('hex')}.json`);
    fs.writeFileSync(registryEntry, JSON.stringify({ dir }));
  }
  const unregister = () => {
    if (registryEntry) fs.rmSync(registryEntry, { force: true });
  };
  // An exit before stop() must not leave anything behind (processes die by procs.ts' hook).
  const dirCleanup = persistent
    ? undefined
    : onExitCleanup(() => {
        unregister();
        if (removeDirOnStop) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      });

  // Throwaway clusters: no need for kube-apiserver's slow graceful shutdown (> 5 s).
  const GRACE_MS: Record<string, number> = { kwok: 3000, 'kube-scheduler': 3000, 'kube-controller-manager': 3000, 'kube-apiserver': 0, etcd: 5000 };
  const stopAll = async () => {
    // Clients first (in parallel), then kube-apiserver, then etcd.
    for (const batch of [['kwok', 'kube-scheduler', 'kube-controller-manager'], ['kube-apiserver'], ['etcd']]) {
      await Promise.all(
        batch.map(async (comp) => {
          const p = procs.get(comp);
          if (!p) return;
          await p.stop(GRACE_MS[comp]);
          procs.delete(comp);
        }),
      );
    }
    writePidfile();
  };

  const launch = async (component: string, argv: string[], env?: Record<string, string>) => {
    const p = await spawnManaged({
      name: `${name}/${component}`,
      argv,
      logFile: path.join(logDir, `${component}.log`),
      cwd: dir,
      ...(env ? { env } : {}),
    });
    procs.set(component, p);
    writePidfile();
    return p;
  };

  /** Waits for `check`, failing fast (with the log tail) if the process exits. */
  const waitReady = async (component: string, check: () => Promise<boolean>, what: string) => {
    const p = procs.get(component)!;
    await poll(async () => (await check()) || undefined, {
      timeoutMs: remaining(),
      intervalMs: 100,
      description: `${name}/${component} ${what}`,
      abortIf: () => {
        const st = p.exitStatus();
        if (st) {
          throw new Error(
            `${name}/${component} exited (code ${st.code}, signal ${st.signal}) before ${what}; ${p.record.logFile}:\n${p.logTail(25)}`,
          );
        }
      },
    }).catch((err: Error) => {
      if (err.message.startsWith('timed out')) err.message += `\n${p.record.logFile}:\n${p.logTail(25)}`;
      throw err;
    });
  };

  try {
    const binDir = options.binDir ?? (await ensureBinaries());
    const bin = (b: string) => path.join(binDir, b);

    const serviceIP = firstIP(serviceClusterIPRange, 1);
    const [pki, ports] = await Promise.all([
      createClusterPki(path.join(dir, 'pki'), name, serviceIP),
      (async (): Promise<ClusterPorts> => ({
        etcd: await freePort(),
        etcdPeer: await freePort(),
        apiserver: await freePort(),
        controllerManager: await freePort(),
        scheduler: await freePort(),
        kwok: await freePort(),
      }))(),
    ]);
    const server = `https://127.0.0.1:${ports.apiserver}`;
    const adminTls = { ca: pki.ca.cert, cert: pki.clients.admin.cert, key: pki.clients.admin.key };

    // --- etcd ----------------------------------------------------------------------------
    const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
    const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
    const etcdArgv = [
      bin('etcd'),
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--name=${name}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${name}=${peerUrl}`,
      '--unsafe-no-fsync=true', // throwaway data: skip fsync, much faster
      '--quota-backend-bytes=4294967296',
      '--log-level=warn',
    ];
    await launch('etcd', etcdArgv);
    await waitReady('etcd', async () => {
      try {
        const res = await request(`${etcdUrl}/health`, { timeoutMs: 1000 });
        return res.status === 200 && /"health":\s*"true"/.test(res.body);
      } catch {
        return false;
      }
    }, 'healthy');
    log(`${name}: etcd ready on ${ports.etcd} (${Date.now() - started} ms)`);

    // --- kube-apiserver ------------------------------------------------------------------
    let auditLogPath: string | undefined;
    const auditArgs: string[] = [];
    if (options.audit) {
      const audit = typeof options.audit === 'object' ? options.audit : {};
      const policyFile = path.join(dir, 'audit-policy.yaml');
      fs.writeFileSync(policyFile, audit.policy ?? DEFAULT_AUDIT_POLICY);
      auditLogPath = audit.logPath ?? path.join(logDir, 'audit.log');
      auditArgs.push(`--audit-policy-file=${policyFile}`, `--audit-log-path=${auditLogPath}`, '--audit-log-maxbackup=1', '--audit-log-maxsize=200');
    }
    const issuer = 'https://kubernetes.default.svc.cluster.local';
    const apiserverArgv = [
      bin('kube-apiserver'),
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=127.0.0.1`,
      `--advertise-address=127.0.0.1`,
      `--secure-port=${ports.apiserver}`,
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki.apiserver.certFile}`,
      `--tls-private-key-file=${pki.apiserver.keyFile}`,
      `--client-ca-file=${pki.ca.certFile}`,
      '--authorization-mode=Node,RBAC',
      `--service-cluster-ip-range=${serviceClusterIPRange}`,
      `--service-account-issuer=${issuer}`,
      `--api-audiences=${issuer}`,
      `--service-account-key-file=${pki.serviceAccount.publicKeyFile}`,
      `--service-account-signing-key-file=${pki.serviceAccount.privateKeyFile}`,
      // Front-proxy (aggregation layer) settings: they also fill the requestheader CA in the
      // extension-apiserver-authentication ConfigMap that controller-manager/scheduler read.
      `--requestheader-client-ca-file=${pki.ca.certFile}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki.clients['front-proxy-client'].certFile}`,
      `--proxy-client-key-file=${pki.clients['front-proxy-client'].keyFile}`,
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
      ...auditArgs,
      ...(options.apiserverArgs ?? []),
    ];
    const apiserverReady = () => isHealthy(`${server}/readyz`, adminTls);
    await launch('kube-apiserver', apiserverArgv);
    await waitReady('kube-apiserver', apiserverReady, '/readyz ok');
    log(`${name}: kube-apiserver ready on ${ports.apiserver} (${Date.now() - started} ms)`);

    // --- kubeconfigs ---------------------------------------------------------------------
    const kc = (file: string, user: Exclude<keyof ClusterPki['clients'], 'front-proxy-client'>) =>
      writeKubeconfig(file, {
        clusterName: name,
        server,
        caCert: pki.ca.cert,
        user: user === 'admin' ? `${name}-admin` : user,
        clientCert: pki.clients[user].cert,
        clientKey: pki.clients[user].key,
      });
    const kubeconfigPath = path.resolve(options.kubeconfigPath ?? path.join(dir, 'admin.kubeconfig'));
    kc(kubeconfigPath, 'admin');
    const kcmKubeconfig = kc(path.join(dir, 'controller-manager.kubeconfig'), 'controller-manager');
    const schedKubeconfig = kc(path.join(dir, 'scheduler.kubeconfig'), 'scheduler');
    const kwokKubeconfig = kc(path.join(dir, 'kwok.kubeconfig'), 'kwok');

    // --- controller-manager, scheduler, kwok (in parallel) -------------------------------
    const kcmArgv = [
      bin('kube-controller-manager'),
      `--kubeconfig=${kcmKubeconfig}`,
      `--authentication-kubeconfig=${kcmKubeconfig}`,
      `--authorization-kubeconfig=${kcmKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.controllerManager}`,
      `--cert-dir=${path.join(dir, 'controller-manager-certs')}`,
      '--controllers=*',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccount.privateKeyFile}`,
      `--root-ca-file=${pki.ca.certFile}`,
      `--cluster-signing-cert-file=${pki.ca.certFile}`,
      `--cluster-signing-key-file=${pki.ca.keyFile}`,
      '--allocate-node-cidrs=false',
      `--cluster-name=${name}`,
      '--leader-elect=false',
      '--profiling=false',
      '--v=1',
    ];
    const schedArgv = [
      bin('kube-scheduler'),
      `--kubeconfig=${schedKubeconfig}`,
      `--authentication-kubeconfig=${schedKubeconfig}`,
      `--authorization-kubeconfig=${schedKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.scheduler}`,
      `--cert-dir=${path.join(dir, 'scheduler-certs')}`,
      '--leader-elect=false',
      '--profiling=false',
      '--v=1',
    ];
    const kwokConfig = path.join(dir, 'kwok.yaml');
    fs.writeFileSync(kwokConfig, kwokConfigYaml());
    const kwokHome = path.join(dir, 'kwok-home');
    fs.mkdirSync(kwokHome, { recursive: true });
    const kwokArgv = [
      bin('kwok'),
      `--config=${kwokConfig}`,
      `--kubeconfig=${kwokKubeconfig}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-label-selector=${MANAGED_NODE_SELECTOR}`,
      `--cidr=${podCIDR}`,
      `--node-ip=${nodes[0]?.ip ?? '10.0.0.1'}`,
      `--node-lease-duration-seconds=${NODE_LEASE_SECONDS}`,
      `--server-address=127.0.0.1:${ports.kwok}`,
    ];
    await Promise.all([
      launch('kube-controller-manager', kcmArgv),
      launch('kube-scheduler', schedArgv),
      // kwok always reads ~/.kwok/kwok.yaml when it exists: give it an empty HOME of its own.
      launch('kwok', kwokArgv, { HOME: kwokHome }),
    ]);

    // Nodes, while those start. Status (addresses, capacity, nodeInfo) is kept on create.
    const version = await api('GET', '/version');
    const kubeletVersion = String(version.body?.gitVersion ?? 'v0.0.0');
    await Promise.all(
      nodes.map(async (n) => {
        const res = await api('POST', '/api/v1/nodes', nodeManifest(n, kubeletVersion));
        if (res.status !== 201 && res.status !== 409) {
          throw new Error(`${name}: creating node ${n.name}: HTTP ${res.status}: ${JSON.stringify(res.body)}`);
        }
      }),
    );

    await Promise.all([
      waitReady('kube-controller-manager', () => isHealthy(`https://127.0.0.1:${ports.controllerManager}/healthz`, { insecure: true }), '/healthz ok'),
      waitReady('kube-scheduler', () => isHealthy(`https://127.0.0.1:${ports.scheduler}/healthz`, { insecure: true }), '/healthz ok'),
      waitReady('kwok', () => isHealthy(`http://127.0.0.1:${ports.kwok}/healthz`), '/healthz ok'),
    ]);
    log(`${name}: controller-manager, scheduler, kwok healthy (${Date.now() - started} ms)`);

    // Usable means: every worker Ready and schedulable (the node lifecycle controller has
    // removed its not-ready taint) and the default ServiceAccount exists (pods need it).
    const nodeNames = nodes.map((n) => n.name);
    await waitReady('kwok', async () => {
      const res = await api('GET', '/api/v1/nodes');
      if (res.status !== 200) return false;
      const items = (res.body.items ?? []) as any[];
      return nodeNames.every((nn) => {
        const node = items.find((i) => i.metadata?.name === nn);
        const ready = node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
        const tainted = (node?.spec?.taints ?? []).some((t: any) => String(t.key).startsWith('node.kubernetes.io/'));
        return ready && !tainted;
      });
    }, `nodes ${nodeNames.join(', ')} Ready and untainted`);
    log(`${name}: nodes Ready (${Date.now() - started} ms)`);
    await waitReady('kube-controller-manager', async () => (await api('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200, 'the default ServiceAccount exists');
    log(`${name}: ready (${Date.now() - started} ms)`);

    if (persistent) {
      for (const p of procs.values()) p.release();
    }

    const kubectlCache = path.join(dir, 'kubectl-cache');
    let stopped = false;
    const cluster: Cluster = {
      name,
      dir,
      binDir,
      kubeconfigPath,
      server,
      caCertPath: pki.ca.certFile,
      ports,
      podCIDR,
      serviceClusterIPRange,
      nodeNames,
      auditLogPath,
      logDir,
      kubectl: (args, opts) => runKubectl(binDir, kubeconfigPath, kubectlCache, args, opts),
      api,
      processes: () => [...procs.values()].map((p) => p.record),
      apiserverRunning: () => {
        const p = procs.get('kube-apiserver');
        return !!p && !p.exitStatus();
      },
      async stopApiserver(opts = {}) {
        const p = procs.get('kube-apiserver');
        if (!p) return;
        await p.stop(opts.graceful ? 15_000 : 0);
        procs.delete('kube-apiserver');
        writePidfile();
        log(`${name}: kube-apiserver stopped`);
      },
      async startApiserver() {
        if (procs.get('kube-apiserver') && !procs.get('kube-apiserver')!.exitStatus()) return;
        const t0 = Date.now();
        const p = await launch('kube-apiserver', apiserverArgv);
        await poll(async () => (await apiserverReady()) || undefined, {
          timeoutMs: 60_000,
          intervalMs: 100,
          description: `${name}/kube-apiserver /readyz after restart`,
          abortIf: () => {
            if (p.exitStatus()) throw new Error(`${name}/kube-apiserver exited after restart:\n${p.logTail(25)}`);
          },
        });
        if (persistent) p.release();
        log(`${name}: kube-apiserver restarted (${Date.now() - t0} ms)`);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        const records = cluster.processes();
        await stopAll();
        const left = records.filter((r) => isAlive(r.pid));
        if (left.length) throw new Error(`${name}: processes still alive after stop: ${left.map((r) => `${r.name}(${r.pid})`).join(', ')}`);
        fs.rmSync(path.join(dir, PIDFILE), { force: true });
        dirCleanup?.remove();
        unregister();
        if (removeDirOnStop) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
      },
    };
    return cluster;

    async function api(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<ApiResult> {
      const res = await request(`${server}${apiPath}`, {
        ...adminTls,
        method,
        timeoutMs: 30_000,
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
        ...(contentType ? { headers: { 'content-type': contentType } } : {}),
      });
      let parsed: unknown = res.body;
      try {
        parsed = JSON.parse(res.body);
      } catch {
        // not JSON
      }
      return { status: res.status, body: parsed };
    }
  } catch (err) {
    await stopAll().catch(() => {});
    dirCleanup?.remove();
    unregister();
    if (removeDirOnStop) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    throw err;
  }
}
