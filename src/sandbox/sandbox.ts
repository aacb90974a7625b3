// The sandbox: the local and the remote cluster side by side, plus kube-offload's components.
//
// <dir>/state.json        what is running (pids + argv, ports, kubeconfigs, readiness URLs)
// <dir>/local.kubeconfig  admin kubeconfig of the local cluster
// <dir>/remote.kubeconfig admin kubeconfig of the remote cluster
// <dir>/local/, remote/   cluster directories (pki, etcd data, logs/, pids.json)
// <dir>/components/       component logs (<name>.log), scratch dirs and pids.json
import fs from 'node:fs';
import path from 'node:path';
import { clearStaleDir, startCluster, type AuditOptions, type Cluster, type ClusterOptions, type ClusterPorts } from './cluster.ts';
import {
  makeContext,
  type ComponentSpec,
  type SandboxContext,
  type UrlReadyCheck,
} from './components.ts';
import { ensureBinaries } from './binaries.ts';
import { isAlive, isOurs, spawnManaged, terminateRecord, type ManagedProcess, type ProcessRecord } from './procs.ts';
import { isHealthy, poll } from './util.ts';

export interface SandboxOptions {
  dir: string;
  /** The processes to host once both clusters are ready, started in order. */
  components?: ComponentSpec[] | ((ctx: SandboxContext) => ComponentSpec[] | Promise<ComponentSpec[]>);
  binDir?: string;
  /** Processes outlive this Node process (`sandbox up`); stop them with stopSandboxDir(). */
  persistent?: boolean;
  /** Audit log on both apiservers (see Cluster.auditLogPath). */
  audit?: boolean | AuditOptions;
  /** Per-cluster overrides. */
  local?: Partial<ClusterOptions>;
  remote?: Partial<ClusterOptions>;
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface RunningComponent {
  name: string;
  record: ProcessRecord;
  ready?: UrlReadyCheck;
  logFile: string;
  running(): boolean;
  stop(): Promise<void>;
}

export interface Sandbox {
  dir: string;
  local: Cluster;
  remote: Cluster;
  stateFile: string;
  components: RunningComponent[];
  context: SandboxContext;
  /** Starts one more component (tests can add their own processes this way). */
  startComponent(spec: ComponentSpec): Promise<RunningComponent>;
  /** Stops everything; verifies no process is left. */
  stop(): Promise<void>;
}

export interface ClusterState {
  dir: string;
  server: string;
  kubeconfig: string;
  caFile: string;
  adminCertFile: string;
  adminKeyFile: string;
  ports: ClusterPorts;
  auditLogPath?: string;
  processes: ProcessRecord[];
}

export interface SandboxState {
  version: 1;
  dir: string;
  binDir: string;
  persistent: boolean;
  startedAt: string;
  startMs: number;
  clusters: Record<'local' | 'remote', ClusterState>;
  components: { name: string; ready?: UrlReadyCheck; logFile: string; process: ProcessRecord }[];
}

export const STATE_FILE = 'state.json';
/** Marks a directory as a sandbox directory: only such a directory is ever deleted. */
export const SANDBOX_MARKER = '.kube-offload-sandbox';
const COMPONENTS_PIDFILE = 'pids.json';

export function readState(dir: string): SandboxState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as SandboxState;
  } catch {
    return undefined;
  }
}

function writeJsonAtomic(file: string, data: unknown): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2));
  fs.renameSync(tmp, file);
}

/** Every process record the directory knows about: state.json plus the live pidfiles. */
export function recordedProcesses(dir: string): ProcessRecord[] {
  const recs: ProcessRecord[] = [];
  const state = readState(dir);
  if (state) {
    for (const c of Object.values(state.clusters)) recs.push(...c.processes);
    for (const c of state.components) recs.push(c.process);
  }
  for (const pidfile of [path.join(dir, 'local', 'pids.json'), path.join(dir, 'remote', 'pids.json'), path.join(dir, 'components', COMPONENTS_PIDFILE)]) {
    try {
      const pf = JSON.parse(fs.readFileSync(pidfile, 'utf8')) as { processes?: ProcessRecord[] };
      recs.push(...(pf.processes ?? []));
    } catch {
      // absent
    }
  }
  const seen = new Set<string>();
  return recs.filter((r) => {
    const key = `${r.pid}:${r.startTicks}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Stops every process a sandbox directory records (after checking each pid is still that
 * process) and removes the directory. Used by `sandbox down` and before every start.
 * Returns the records that were running.
 */
export async function stopSandboxDir(dir: string, opts: { removeDir?: boolean } = {}): Promise<ProcessRecord[]> {
  const recs = recordedProcesses(dir);
  const running = recs.filter(isOurs);
  // Components first (they talk to the clusters), then each cluster's clients, its
  // apiserver, its etcd (both clusters at once).
  const rank = (r: ProcessRecord) => {
    if (!r.name.includes('/')) return 0;
    const comp = r.name.split('/').pop() ?? '';
    return comp === 'etcd' ? 3 : comp === 'kube-apiserver' ? 2 : 1;
  };
  const groups = new Map<number, ProcessRecord[]>();
  for (const r of running) groups.set(rank(r), [...(groups.get(rank(r)) ?? []), r]);
  for (const k of [...groups.keys()].sort((a, b) => a - b)) {
    // kube-apiserver: SIGKILL at once (its graceful shutdown takes > 5 s and buys nothing here).
    await Promise.all(groups.get(k)!.map((r) => terminateRecord(r, r.name.endsWith('/kube-apiserver') ? 0 : 5000)));
  }
  const left = running.filter(isOurs);
  if (left.length) throw new Error(`still running after stop: ${left.map((r) => `${r.name}(${r.pid})`).join(', ')}`);
  if (opts.removeDir !== false && fs.existsSync(dir)) {
    const entries = fs.readdirSync(dir);
    if (entries.length > 0 && !entries.includes(SANDBOX_MARKER)) {
      throw new Error(`${dir} is not empty and is not a sandbox directory (no ${SANDBOX_MARKER}); refusing to delete it`);
    }
    for (const sub of ['local', 'remote']) await clearStaleDir(path.join(dir, sub));
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
  return running;
}

export interface ProcessStatus {
  name: string;
  pid: number;
  up: boolean;
  ready?: boolean;
  detail?: string;
}

/** Up/down (and readiness where a probe exists) of everything a sandbox directory records. */
export async function sandboxStatus(dir: string): Promise<{ state: SandboxState | undefined; processes: ProcessStatus[] }> {
  const state = readState(dir);
  const recs = recordedProcesses(dir);
  const probes = new Map<string, () => Promise<boolean>>();
  if (state) {
    for (const [name, c] of Object.entries(state.clusters)) {
      const read = (f: string) => fs.readFileSync(f, 'utf8');
      probes.set(`${name}/kube-apiserver`, async () => {
        try {
          return await isHealthy(`${c.server}/readyz`, { ca: read(c.caFile), cert: read(c.adminCertFile), key: read(c.adminKeyFile) });
        } catch {
          return false;
        }
      });
      probes.set(`${name}/etcd`, () => isHealthy(`http://127.0.0.1:${c.ports.etcd}/health`));
      probes.set(`${name}/kube-controller-manager`, () => isHealthy(`https://127.0.0.1:${c.ports.controllerManager}/healthz`, { insecure: true }));
      probes.set(`${name}/kube-scheduler`, () => isHealthy(`https://127.0.0.1:${c.ports.scheduler}/healthz`, { insecure: true }));
      probes.set(`${name}/kwok`, () => isHealthy(`http://127.0.0.1:${c.ports.kwok}/healthz`));
    }
    for (const comp of state.components) {
      if (comp.ready) probes.set(comp.name, () => probeUrl(comp.ready!));
    }
  }
  // The latest record per name (an apiserver restart replaces its record).
  const latest = new Map<string, ProcessRecord>();
  for (const r of recs) {
    const prev = latest.get(r.name);
    if (!prev || isOurs(r) || (!isOurs(prev) && r.startedAt > prev.startedAt)) latest.set(r.name, r);
  }
  const processes = await Promise.all(
    [...latest.values()].map(async (r): Promise<ProcessStatus> => {
      const up = isOurs(r);
      const probe = probes.get(r.name);
      const ready = up && probe ? await probe() : undefined;
      return { name: r.name, pid: r.pid, up, ...(ready !== undefined ? { ready } : {}) };
    }),
  );
  return { state, processes };
}

async function probeUrl(ready: UrlReadyCheck): Promise<boolean> {
  let ca: string | undefined;
  if (ready.caFile) {
    try {
      ca = fs.readFileSync(ready.caFile, 'utf8');
    } catch {
      return false;
    }
  }
  return isHealthy(ready.url, { ...(ca ? { ca } : {}), ...(ready.insecure ? { insecure: true } : {}) });
}

function clusterState(c: Cluster): ClusterState {
  const pki = path.join(c.dir, 'pki');
  return {
    dir: c.dir,
    server: c.server,
    kubeconfig: c.kubeconfigPath,
    caFile: c.caCertPath,
    adminCertFile: path.join(pki, 'client-admin.crt'),
    adminKeyFile: path.join(pki, 'client-admin.key'),
    ports: c.ports,
    ...(c.auditLogPath ? { auditLogPath: c.auditLogPath } : {}),
    processes: c.processes(),
  };
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const t0 = Date.now();
  const dir = path.resolve(options.dir);
  const log = options.log ?? (() => {});
  const persistent = !!options.persistent;

  // Leftovers of an earlier run in this directory: stop what is provably ours, then wipe.
  const stale = await stopSandboxDir(dir);
  if (stale.length) log(`stopped ${stale.length} leftover process(es) of an earlier run in ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, SANDBOX_MARKER), 'kube-offload sandbox\n');

  const binDir = options.binDir ?? (await ensureBinaries());
  const common = (name: 'local' | 'remote'): ClusterOptions => ({
    name,
    dir: path.join(dir, name),
    binDir,
    kubeconfigPath: path.join(dir, `${name}.kubeconfig`),
    removeDirOnStop: false,
    persistent,
    log,
    ...(options.audit !== undefined ? { audit: options.audit } : {}),
    ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
    ...options[name],
  });
  // Both clusters in parallel; if one fails, stop the other.
  const results = await Promise.allSettled([startCluster(common('local')), startCluster(common('remote'))]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.stop().catch(() => {}) : undefined)));
    throw failed.reason;
  }
  const [local, remote] = results.map((r) => (r as PromiseFulfilledResult<Cluster>).value) as [Cluster, Cluster];
  log(`both clusters ready (${Date.now() - t0} ms)`);

  const context = await makeContext(dir, local, remote);
  const components: RunningComponent[] = [];
  const managed = new Map<string, ManagedProcess>();
  const stateFile = path.join(dir, STATE_FILE);
  const componentsDir = context.componentsDir;
  fs.mkdirSync(componentsDir, { recursive: true });

  const writeState = () => {
    const state: SandboxState = {
      version: 1,
      dir,
      binDir,
      persistent,
      startedAt: new Date(t0).toISOString(),
      startMs: Date.now() - t0,
      clusters: { local: clusterState(local), remote: clusterState(remote) },
      components: components.map((c) => ({ name: c.name, ...(c.ready ? { ready: c.ready } : {}), logFile: c.logFile, process: c.record })),
    };
    writeJsonAtomic(stateFile, state);
    writeJsonAtomic(path.join(componentsDir, COMPONENTS_PIDFILE), {
      processes: [...managed.values()].filter((m) => !m.exitStatus()).map((m) => m.record),
    });
  };
  writeState();

  let stopped = false;
  const stopAll = async () => {
    for (const c of [...components].reverse()) await c.stop();
    await Promise.all([local.stop(), remote.stop()]);
    fs.rmSync(stateFile, { force: true });
  };

  const startComponent = async (spec: ComponentSpec): Promise<RunningComponent> => {
    if (managed.has(spec.name)) throw new Error(`component ${spec.name} already exists`);
    fs.mkdirSync(path.join(componentsDir, spec.name), { recursive: true });
    await spec.before?.(context);
    const logFile = spec.logFile ?? path.join(componentsDir, `${spec.name}.log`);
    const p = await spawnManaged({
      name: spec.name,
      argv: spec.argv,
      logFile,
      cwd: spec.cwd ?? context.repoRoot,
      ...(spec.env ? { env: spec.env } : {}),
    });
    managed.set(spec.name, p);
    const comp: RunningComponent = {
      name: spec.name,
      record: p.record,
      ...(spec.ready && 'url' in spec.ready ? { ready: spec.ready } : {}),
      logFile,
      running: () => !p.exitStatus(),
      async stop() {
        await p.stop();
        writeState();
      },
    };
    components.push(comp);
    writeState();
    const ready = spec.ready;
    if (ready) {
      const check = 'check' in ready ? ready.check : () => probeUrl(ready);
      await poll(async () => (await check()) || undefined, {
        timeoutMs: spec.readyTimeoutMs ?? 60_000,
        intervalMs: 200,
        description: `component ${spec.name} to be ready`,
        abortIf: () => {
          const st = p.exitStatus();
          if (st) throw new Error(`component ${spec.name} exited (code ${st.code}, signal ${st.signal}); ${logFile}:\n${p.logTail(25)}`);
        },
      });
    }
    await spec.after?.(context);
    if (persistent) p.release();
    log(`component ${spec.name} ready (pid ${p.record.pid})`);
    return comp;
  };

  try {
    const specs: ComponentSpec[] = [];
    if (options.components) {
      specs.push(...(typeof options.components === 'function' ? await options.components(context) : options.components));
    }
    for (const spec of specs) await startComponent(spec);
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
  writeState();
  log(`sandbox ready in ${Date.now() - t0} ms`);

  return {
    dir,
    local,
    remote,
    stateFile,
    components,
    context,
    startComponent,
    async stop() {
      if (stopped) return;
      stopped = true;
      const recs = recordedProcesses(dir);
      await stopAll();
      const left = recs.filter((r) => isAlive(r.pid) && isOurs(r));
      if (left.length) throw new Error(`still running after stop: ${left.map((r) => `${r.name}(${r.pid})`).join(', ')}`);
    },
  };
}
