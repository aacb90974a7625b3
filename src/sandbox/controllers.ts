// kube-controller-manager and kube-scheduler of one sandbox cluster: flags, start, health.
// Both serve /healthz on 127.0.0.1 with a self-signed certificate of their own (hence the
// unverified probes) and run without leader election: there is only one of each.
import path from 'node:path';
import type { AdminApi } from './apiserver.ts';
import type { ClusterProcesses } from './cluster-processes.ts';
import type { ClusterPki } from './pki.ts';
import { isHealthy } from './util.ts';

export interface ControllerManagerSettings {
  binDir: string;
  /** The cluster directory (for the certificates the controller-manager writes itself). */
  dir: string;
  clusterName: string;
  kubeconfig: string;
  port: number;
  pki: ClusterPki;
}

export interface SchedulerSettings {
  binDir: string;
  /** The cluster directory (for the certificates the scheduler writes itself). */
  dir: string;
  kubeconfig: string;
  port: number;
}

export function controllerManagerArgv(settings: ControllerManagerSettings): string[] {
  const { kubeconfig, pki } = settings;
  return [
    path.join(settings.binDir, 'kube-controller-manager'),
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${settings.port}`,
    `--cert-dir=${path.join(settings.dir, 'controller-manager-certs')}`,
    '--controllers=*',
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.serviceAccount.privateKeyFile}`,
    `--root-ca-file=${pki.ca.certFile}`,
    `--cluster-signing-cert-file=${pki.ca.certFile}`,
    `--cluster-signing-key-file=${pki.ca.keyFile}`,
    '--allocate-node-cidrs=false',
    `--cluster-name=${settings.clusterName}`,
    '--leader-elect=false',
    '--profiling=false',
    '--v=1',
  ];
}

export function schedulerArgv(settings: SchedulerSettings): string[] {
  const { kubeconfig } = settings;
  return [
    path.join(settings.binDir, 'kube-scheduler'),
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${settings.port}`,
    `--cert-dir=${path.join(settings.dir, 'scheduler-certs')}`,
    '--leader-elect=false',
    '--profiling=false',
    '--v=1',
  ];
}

/** Spawns both without waiting for them: waitControllersHealthy does, once the caller is done. */
export async function launchControllers(
  processes: ClusterProcesses,
  controllerManager: ControllerManagerSettings,
  scheduler: SchedulerSettings,
): Promise<void> {
  await Promise.all([
    processes.launch('kube-controller-manager', controllerManagerArgv(controllerManager)),
    processes.launch('kube-scheduler', schedulerArgv(scheduler)),
  ]);
}

function healthz(port: number): Promise<boolean> {
  return isHealthy(`https://127.0.0.1:${port}/healthz`, { insecure: true });
}

export async function waitControllersHealthy(
  processes: ClusterProcesses,
  ports: { controllerManager: number; scheduler: number },
): Promise<void> {
  await Promise.all([
    processes.waitReady('kube-controller-manager', () => healthz(ports.controllerManager), '/healthz ok'),
    processes.waitReady('kube-scheduler', () => healthz(ports.scheduler), '/healthz ok'),
  ]);
}

/** The controller-manager creates the default ServiceAccount; until it exists no pod is admitted. */
export async function waitDefaultServiceAccount(processes: ClusterProcesses, api: AdminApi): Promise<void> {
  const exists = async () => (await api('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200;
  await processes.waitReady('kube-controller-manager', exists, 'the default ServiceAccount exists');
}
