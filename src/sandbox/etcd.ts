// etcd for one sandbox cluster: a single member on 127.0.0.1, plain HTTP (only kube-apiserver
// talks to it), throwaway data. Stopping it is ClusterProcesses' job (last, after kube-apiserver).
import path from 'node:path';
import type { ClusterProcesses } from './cluster-processes.ts';
import { request } from './util.ts';

export interface EtcdSettings {
  binDir: string;
  /** Member name (also the only member of --initial-cluster). */
  name: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
}

const localUrl = (port: number) => `http://127.0.0.1:${port}`;

export function etcdArgv(settings: EtcdSettings): string[] {
  const clientUrl = localUrl(settings.clientPort);
  const peerUrl = localUrl(settings.peerPort);
  return [
    path.join(settings.binDir, 'etcd'),
    `--data-dir=${settings.dataDir}`,
    `--name=${settings.name}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${settings.name}=${peerUrl}`,
    '--unsafe-no-fsync=true', // throwaway data: skip fsync, much faster
    '--quota-backend-bytes=4294967296',
    '--log-level=warn',
  ];
}

/** /health reports {"health":"true"} once the member has a leader and serves requests. */
export async function etcdHealthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await request(`${clientUrl}/health`, { timeoutMs: 1000 });
    return res.status === 200 && /"health":\s*"true"/.test(res.body);
  } catch {
    return false;
  }
}

/** Starts etcd and waits until it is healthy; returns the client URL for kube-apiserver. */
export async function startEtcd(processes: ClusterProcesses, settings: EtcdSettings): Promise<string> {
  const clientUrl = localUrl(settings.clientPort);
  await processes.launch('etcd', etcdArgv(settings));
  await processes.waitReady('etcd', () => etcdHealthy(clientUrl), 'healthy');
  return clientUrl;
}
