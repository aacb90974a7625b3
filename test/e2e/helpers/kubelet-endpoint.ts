// Straight to a node's kubelet API (where the apiserver would dial), with an identity of the
// test's choosing: how a test checks what the endpoint itself refuses, not just what the
// apiserver in front of it lets through.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { signCert } from '../../../src/sandbox/pki.ts';
import { getObject, kubectlOk, type KubectlTarget } from './kubectl.ts';

export interface KubeletEndpoint {
  host: string;
  port: number;
}

/** How a caller authenticates: a client certificate, a bearer token, or nothing. */
export type KubeletIdentity = { cert: string; key: string } | { token: string } | Record<string, never>;

interface NodeObject {
  status?: {
    addresses?: { type: string; address: string }[];
    daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
  };
}

/** The node's InternalIP and kubelet port, as the apiserver finds them; undefined without a port. */
export async function kubeletEndpoint(cluster: KubectlTarget, nodeName: string): Promise<KubeletEndpoint | undefined> {
  const node = await getObject<NodeObject>(cluster, 'node', nodeName);
  const port = node?.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0;
  const host = node?.status?.addresses?.find((address) => address.type === 'InternalIP')?.address;
  return port > 0 && host ? { host, port } : undefined;
}

/** The certificate the cluster's apiserver presents to kubelets (bound to system:kubelet-api-admin). */
export function apiserverKubeletClient(clusterDir: string): { cert: string; key: string } {
  const pki = path.join(clusterDir, 'pki');
  return {
    cert: fs.readFileSync(path.join(pki, 'client-apiserver-kubelet-client.crt'), 'utf8'),
    key: fs.readFileSync(path.join(pki, 'client-apiserver-kubelet-client.key'), 'utf8'),
  };
}

/** A client certificate for `user`, signed by the cluster's CA (so it authenticates). */
export async function clientCertificate(clusterDir: string, user: string): Promise<{ cert: string; key: string }> {
  const pki = path.join(clusterDir, 'pki');
  const ca = {
    cert: fs.readFileSync(path.join(pki, 'ca.crt'), 'utf8'),
    key: fs.readFileSync(path.join(pki, 'ca.key'), 'utf8'),
  };
  return signCert(ca, { cn: user }, { client: true });
}

/** A ServiceAccount (created if missing) and a token for it: an identity with no rights of its own. */
export async function serviceAccountToken(
  cluster: KubectlTarget,
  namespace: string,
  name: string,
): Promise<{ token: string }> {
  await cluster.kubectl(['-n', namespace, 'create', 'serviceaccount', name]);
  const token = await kubectlOk(cluster, ['-n', namespace, 'create', 'token', name, '--duration=1h']);
  return { token: token.trim() };
}

export interface KubeletAnswer {
  status: number;
  body: string;
}

/**
 * One request to the kubelet API. With `upgrade`, it asks for a SPDY stream as the apiserver
 * does for exec, attach and port-forward; a refusal comes back as a plain response, an accepted
 * upgrade as status 101 (the connection is then closed at once).
 */
export function kubeletRequest(
  endpoint: KubeletEndpoint,
  identity: KubeletIdentity,
  apiPath: string,
  opts: { upgrade?: boolean; timeoutMs?: number } = {},
): Promise<KubeletAnswer> {
  const headers: Record<string, string> = {
    ...('token' in identity ? { authorization: `Bearer ${identity.token}` } : {}),
    ...(opts.upgrade
      ? { connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io' }
      : {}),
  };
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: endpoint.host,
      port: endpoint.port,
      path: apiPath,
      method: opts.upgrade ? 'POST' : 'GET',
      headers,
      rejectUnauthorized: false,
      agent: false,
      timeout: opts.timeoutMs ?? 15_000,
      ...('cert' in identity ? { cert: identity.cert, key: identity.key } : {}),
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`kubelet ${apiPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
