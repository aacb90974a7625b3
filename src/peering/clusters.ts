// The two clusters as the user names them: a kubeconfig (the given file, else $KUBECONFIG, else
// ~/.kube/config, else in-cluster, with kubectl's merge: src/kube/kubeconfig.ts) and a context in
// it. client-node's KubeConfig handles every kind of kubeconfig (exec plugins, OIDC); commands are
// short-lived, so its memory does not matter here.
import fs from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../kube/client.ts';
import { loadClientNodeConfig } from '../kube/kubeconfig.ts';
import type { RemoteEndpoint } from './kubeconfig.ts';

/** Which kubeconfig and context, and the flags that named them (for messages). */
export interface ClusterRef {
  kubeconfig?: string;
  context?: string;
  flags: { kubeconfig: string; context: string };
}

/** Loads a kubeconfig and selects the context; errors name the flag and the contexts there are. */
export function loadCluster(ref: ClusterRef): KubeConfig {
  return loadClientNodeConfig(ref.kubeconfig, { context: ref.context, flags: ref.flags });
}

/** A client for one of the clusters. */
export function clientFor(kubeConfig: KubeConfig, userAgent: string): KubeClient {
  return new KubeClient(kubeConfig, { userAgent });
}

/** The API server and CA of the selected context, as the local components will reach it. */
export function endpointOf(kubeConfig: KubeConfig, serverOverride?: string): RemoteEndpoint {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const endpoint: RemoteEndpoint = { server: serverOverride ?? cluster.server.replace(/\/$/, '') };
  const caData = cluster.caData ?? (cluster.caFile ? fs.readFileSync(cluster.caFile).toString('base64') : undefined);
  if (caData) endpoint.caData = caData;
  if (cluster.skipTLSVerify) endpoint.insecureSkipTlsVerify = true;
  if (cluster.tlsServerName) endpoint.tlsServerName = cluster.tlsServerName;
  return endpoint;
}
