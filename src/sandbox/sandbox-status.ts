// `sandbox status`: which recorded processes are up, and ready where a probe exists.
import fs from 'node:fs';
import { probeUrl } from './components.ts';
import { isOurs, type ProcessRecord } from './procs.ts';
import { readState, recordedProcesses, type ClusterState, type SandboxState } from './sandbox-state.ts';
import { isHealthy } from './util.ts';
import { realNodeRecordsOf } from './realnode/index.ts';

export interface ProcessStatus {
  name: string;
  pid: number;
  up: boolean;
  ready?: boolean;
  detail?: string;
}

type Probe = () => Promise<boolean>;

/** The health probes of one cluster's processes, by process name, from what state.json records. */
function clusterProbes(name: string, cluster: ClusterState): [string, Probe][] {
  const read = (file: string) => fs.readFileSync(file, 'utf8');
  const apiserverReady = async () => {
    try {
      const tls = { ca: read(cluster.caFile), cert: read(cluster.adminCertFile), key: read(cluster.adminKeyFile) };
      return await isHealthy(`${cluster.server}/readyz`, tls);
    } catch {
      return false;
    }
  };
  const { ports } = cluster;
  // controller-manager and scheduler serve a self-signed certificate of their own: not verifiable.
  const selfSigned = (port: number) => () => isHealthy(`https://127.0.0.1:${port}/healthz`, { insecure: true });
  return [
    [`${name}/kube-apiserver`, apiserverReady],
    [`${name}/etcd`, () => isHealthy(`http://127.0.0.1:${ports.etcd}/health`)],
    [`${name}/kube-controller-manager`, selfSigned(ports.controllerManager)],
    [`${name}/kube-scheduler`, selfSigned(ports.scheduler)],
    [`${name}/kwok`, () => isHealthy(`http://127.0.0.1:${ports.kwok}/healthz`)],
    [`${name}/pod-server`, () => isHealthy(`http://127.0.0.1:${ports.podServer}/sandbox/healthz`)],
  ];
}

function statusProbes(state: SandboxState | undefined): Map<string, Probe> {
  const probes = new Map<string, Probe>();
  if (!state) return probes;
  for (const [name, cluster] of Object.entries(state.clusters)) {
    for (const [processName, probe] of clusterProbes(name, cluster)) probes.set(processName, probe);
  }
  for (const component of state.components) {
    const ready = component.ready;
    if (ready) probes.set(component.name, () => probeUrl(ready));
  }
  return probes;
}

/** The latest record per name: an apiserver restart replaces its record, the old one stays on file. */
function latestRecordPerName(records: ProcessRecord[]): ProcessRecord[] {
  const latest = new Map<string, ProcessRecord>();
  for (const r of records) {
    const prev = latest.get(r.name);
    if (!prev || isOurs(r) || (!isOurs(prev) && r.startedAt > prev.startedAt)) latest.set(r.name, r);
  }
  return [...latest.values()];
}

/** Up/down (and readiness where a probe exists) of everything a sandbox directory records. */
export async function sandboxStatus(
  dir: string,
): Promise<{ state: SandboxState | undefined; processes: ProcessStatus[] }> {
  const state = readState(dir);
  const probes = statusProbes(state);
  const records = [...recordedProcesses(dir), ...realNodeRecordsOf(dir)];
  const processes = await Promise.all(
    latestRecordPerName(records).map(async (r): Promise<ProcessStatus> => {
      const up = isOurs(r);
      const probe = probes.get(r.name);
      const ready = up && probe ? await probe() : undefined;
      return { name: r.name, pid: r.pid, up, ...(ready !== undefined ? { ready } : {}) };
    }),
  );
  return { state, processes };
}
