// The kubelet API of one virtual node, assembled: serving certificate (kept in a directory),
// client CA, TokenReview and SubjectAccessReview against the local apiserver, and the remote
// cluster as the backend. The provider supplies which pods are bound to its node and where
// they run remotely; with the list of those pods, stats and resource metrics come from the
// remote's PodMetrics.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { KubeClient } from '../kube/client.ts';
import { KubeletAuth } from './auth/auth.ts';
import { apiserverAccessReviewer, apiserverTokenReviewer } from './auth/reviews.ts';
import type { RemotePodTarget } from './backend.ts';
import type { LocalPod } from './metrics/usage.ts';
import type { RemoteStatsOptions } from './metrics/remote-stats.ts';
import { remoteClusterBackend } from './remote-backend.ts';
import { KubeletServer } from './server.ts';
import { loadOrCreateServingCert } from './tls.ts';
import { remoteApiFromKubeConfig } from './upstream/remote-api.ts';

export interface KubeletEndpointSettings {
  /** 0: an ephemeral port (the bound one is what the node publishes). */
  port: number;
  /** Bind address; default all interfaces. */
  address?: string;
  /** Where kubelet.crt/kubelet.key are kept (a subdirectory per node); absent: in memory. */
  certDir?: string;
  /** PEM bundle that client certificates are verified against (the kubelet's --client-ca-file). */
  clientCaFile?: string;
}

export interface NodeKubeletOptions {
  nodeName: string;
  /** The node's InternalIP: the serving certificate's SAN. */
  nodeIP: string;
  settings: KubeletEndpointSettings;
  /** The local apiserver: TokenReview and SubjectAccessReview (needs create on both). */
  local: Pick<KubeClient, 'create'>;
  /** The remote apiserver: logs through it, and its credentials for the streaming subresources. */
  remote: KubeClient;
  /** The remote pod of a local pod bound to this node; undefined answers 404. */
  resolvePod(namespace: string, name: string): RemotePodTarget | undefined;
  /**
   * The local pods bound to this node, for /stats/summary and /metrics/resource (read from the
   * remote's metrics.k8s.io PodMetrics). Absent: both answer empty documents.
   */
  listPods?(): LocalPod[];
  onError?: (err: unknown, what: string) => void;
}

function statsOptions(options: NodeKubeletOptions, listPods: () => LocalPod[]): Omit<RemoteStatsOptions, 'resolvePod'> {
  return {
    nodeName: options.nodeName,
    client: options.remote,
    listPods,
    ...(options.onError ? { onError: options.onError } : {}),
  };
}

/** Starts the node's kubelet API; `server.port` is the port to publish. */
export async function startNodeKubelet(options: NodeKubeletOptions): Promise<KubeletServer> {
  const { nodeName, settings } = options;
  const certDir = settings.certDir ? path.join(settings.certDir, nodeName) : undefined;
  const [serving, clientCa] = await Promise.all([
    loadOrCreateServingCert(certDir, [options.nodeIP, nodeName]),
    settings.clientCaFile ? fs.readFile(settings.clientCaFile, 'utf8') : Promise.resolve(undefined),
  ]);
  const server = new KubeletServer({
    nodeName,
    backend: remoteClusterBackend({
      remote: remoteApiFromKubeConfig(options.remote.kubeConfig),
      logs: options.remote,
      resolvePod: async (namespace, name) => options.resolvePod(namespace, name),
      ...(options.listPods ? { stats: statsOptions(options, options.listPods) } : {}),
    }),
    auth: new KubeletAuth({
      nodeName,
      reviewToken: apiserverTokenReviewer(options.local),
      reviewAccess: apiserverAccessReviewer(options.local),
    }),
    tls: { cert: serving.cert, key: serving.key, ...(clientCa ? { clientCa } : {}) },
    ...(options.onError ? { onError: options.onError } : {}),
  });
  await server.listen(settings.port, settings.address);
  return server;
}
