// Starting a cluster's pod server (pod-server/main.ts): the process that answers, through
// kwok's port-forward, in the name of the cluster's pods. It runs on the Node.js running us,
// as the sandbox's admin, and is ready once it has listed the pods.
import path from 'node:path';
import type { ClusterProcesses } from './cluster-processes.ts';
import type { ClusterPki } from './pki.ts';
import { isHealthy } from './util.ts';

export interface PodServerSettings {
  clusterName: string;
  server: string;
  pki: ClusterPki;
  port: number;
  /** The cluster's container log (kwok-kubelet-api.ts): GET / is logged there. */
  logFile: string;
}

const MAIN = path.join(import.meta.dirname, 'pod-server', 'main.ts');

export function podServerArgv(settings: PodServerSettings): string[] {
  const admin = settings.pki.clients.admin;
  return [
    process.execPath,
    '--disable-warning=ExperimentalWarning',
    MAIN,
    `--cluster=${settings.clusterName}`,
    `--port=${settings.port}`,
    `--server=${settings.server}`,
    `--ca=${settings.pki.ca.certFile}`,
    `--cert=${admin.certFile}`,
    `--key=${admin.keyFile}`,
    `--log-file=${settings.logFile}`,
  ];
}

export function podServerUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

export async function launchPodServer(processes: ClusterProcesses, settings: PodServerSettings): Promise<void> {
  await processes.launch('pod-server', podServerArgv(settings));
}

export async function waitPodServerReady(processes: ClusterProcesses, port: number): Promise<void> {
  const ready = () => isHealthy(`${podServerUrl(port)}/sandbox/healthz`);
  await processes.waitReady('pod-server', ready, '/sandbox/healthz ok');
}
