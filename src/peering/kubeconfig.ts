// The kubeconfig a component uses in a remote cluster: the remote's API server and CA (as the
// admin kubeconfig given to `peer` has them, or --remote-server) and the component's token.
import { parse, stringify } from 'yaml';
import type { ServiceAccountRef } from './manifests.ts';

/** How the local components reach a remote API server. */
export interface RemoteEndpoint {
  server: string;
  /** Base64 PEM of the CA, when the kubeconfig names one. */
  caData?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
}

/** The kubeconfig text for `account` in remote `remote`. */
export function componentKubeconfig(
  remote: string,
  endpoint: RemoteEndpoint,
  account: ServiceAccountRef,
  token: string,
): string {
  const user = `system:serviceaccount:${account.namespace}:${account.name}`;
  const cluster: Record<string, unknown> = { server: endpoint.server };
  if (endpoint.caData) cluster['certificate-authority-data'] = endpoint.caData;
  if (endpoint.insecureSkipTlsVerify) cluster['insecure-skip-tls-verify'] = true;
  if (endpoint.tlsServerName) cluster['tls-server-name'] = endpoint.tlsServerName;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: remote, cluster }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: remote, context: { cluster: remote, user, namespace: account.namespace } }],
    'current-context': remote,
  });
}

/** The endpoint a kubeconfig we wrote points at (to tell whether it still matches). */
export function endpointOf(kubeconfig: string): RemoteEndpoint | undefined {
  try {
    const doc = parse(kubeconfig) as { clusters?: Array<{ cluster?: Record<string, unknown> }> } | null;
    const cluster = doc?.clusters?.[0]?.cluster;
    if (!cluster || typeof cluster.server !== 'string') return undefined;
    const endpoint: RemoteEndpoint = { server: cluster.server };
    if (typeof cluster['certificate-authority-data'] === 'string')
      endpoint.caData = cluster['certificate-authority-data'];
    if (cluster['insecure-skip-tls-verify'] === true) endpoint.insecureSkipTlsVerify = true;
    if (typeof cluster['tls-server-name'] === 'string') endpoint.tlsServerName = cluster['tls-server-name'];
    return endpoint;
  } catch {
    return undefined;
  }
}

/** Same server, CA and TLS settings. */
export function sameEndpoint(a: RemoteEndpoint | undefined, b: RemoteEndpoint): boolean {
  return (
    a !== undefined &&
    a.server === b.server &&
    (a.caData ?? '') === (b.caData ?? '') &&
    !!a.insecureSkipTlsVerify === !!b.insecureSkipTlsVerify &&
    (a.tlsServerName ?? '') === (b.tlsServerName ?? '')
  );
}
