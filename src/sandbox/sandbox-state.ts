// What a sandbox directory records about its run, so another process (`sandbox status`,
// `sandbox down`, the next start) can find and judge it: <dir>/state.json (pids + argv, ports,
// kubeconfigs, readiness URLs) and the pidfiles each part keeps up to date while it runs.
import fs from 'node:fs';
import path from 'node:path';
import type { Cluster, ClusterPorts } from './cluster.ts';
import type { RunningComponent, UrlReadyCheck } from './components.ts';
import { PRESETS } from './network.ts';
import type { ProcessRecord } from './procs.ts';

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
  /** local, remote, and remote-us when the sandbox has a second remote. */
  clusters: { local: ClusterState; remote: ClusterState; [name: string]: ClusterState };
  components: { name: string; ready?: UrlReadyCheck; logFile: string; process: ProcessRecord }[];
}

export const STATE_FILE = 'state.json';
/** Every cluster a sandbox may have: the subdirectories of <dir> holding a cluster. */
export const CLUSTER_NAMES = Object.keys(PRESETS);
/** The components' own pidfile, in <dir>/components/ (the clusters keep theirs in their directories). */
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
  const records: ProcessRecord[] = [];
  const state = readState(dir);
  if (state) {
    for (const cluster of Object.values(state.clusters)) records.push(...cluster.processes);
    for (const component of state.components) records.push(component.process);
  }
  for (const pidfile of [
    ...CLUSTER_NAMES.map((name) => path.join(dir, name, 'pids.json')),
    path.join(dir, 'components', COMPONENTS_PIDFILE),
  ]) {
    try {
      const recorded = JSON.parse(fs.readFileSync(pidfile, 'utf8')) as { processes?: ProcessRecord[] };
      records.push(...(recorded.processes ?? []));
    } catch {
      // absent
    }
  }
  // The same process is usually in state.json and in a pidfile.
  const seen = new Set<string>();
  return records.filter((record) => {
    const key = `${record.pid}:${record.startTicks}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What state.json says of a cluster; the admin credentials are the files pki.ts wrote. */
function clusterState(cluster: Cluster): ClusterState {
  const pki = path.join(cluster.dir, 'pki');
  return {
    dir: cluster.dir,
    server: cluster.server,
    kubeconfig: cluster.kubeconfigPath,
    caFile: cluster.caCertPath,
    adminCertFile: path.join(pki, 'client-admin.crt'),
    adminKeyFile: path.join(pki, 'client-admin.key'),
    ports: cluster.ports,
    ...(cluster.auditLogPath ? { auditLogPath: cluster.auditLogPath } : {}),
    processes: cluster.processes(),
  };
}

/** A started sandbox, as its state file and its stop() need it. */
export interface SandboxRun {
  dir: string;
  binDir: string;
  persistent: boolean;
  startedAt: number;
  local: Cluster;
  remote: Cluster;
  /** Every remote, remote first. */
  remotes: Cluster[];
  stateFile: string;
  componentsDir: string;
  /** In start order. */
  components: RunningComponent[];
}

/** Rewrites state.json and the components' pidfile (only the processes still running). */
export function writeState(run: SandboxRun): void {
  const state: SandboxState = {
    version: 1,
    dir: run.dir,
    binDir: run.binDir,
    persistent: run.persistent,
    startedAt: new Date(run.startedAt).toISOString(),
    startMs: Date.now() - run.startedAt,
    clusters: {
      local: clusterState(run.local),
      remote: clusterState(run.remote),
      ...Object.fromEntries(run.remotes.slice(1).map((cluster) => [cluster.name, clusterState(cluster)])),
    },
    components: run.components.map((component) => ({
      name: component.name,
      ...(component.ready ? { ready: component.ready } : {}),
      logFile: component.logFile,
      process: component.record,
    })),
  };
  writeJsonAtomic(run.stateFile, state);
  writeJsonAtomic(path.join(run.componentsDir, COMPONENTS_PIDFILE), {
    processes: run.components.filter((component) => component.running()).map((component) => component.record),
  });
}
