// What a real node's daemons authenticate with: client certificates signed by their cluster's CA
// (the kubelet as system:node:<name>, kube-proxy as system:kube-proxy, CoreDNS as a user of its
// own) in kubeconfigs that reach the apiserver through the relay on the host's wan leg.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { signCert, type KeyPair } from '../pki.ts';
import { WAN, type RealNodePlan } from './plan.ts';

/** The user CoreDNS reads Services and EndpointSlices as (bound in dns.ts). */
export const COREDNS_USER = 'kube-offload:coredns';

/** A name in the apiserver's serving certificate: the relay's address is not in it. */
const APISERVER_TLS_NAME = 'kubernetes';

export interface NodeKubeconfigs {
  kubelet: string;
  kubeProxy: string;
  coredns: string;
}

export interface ClusterCa {
  ca: KeyPair;
  caFile: string;
  /** https://<wan host IP>:<apiserver port>: the apiserver, from inside a node's namespace. */
  server: string;
}

/** The cluster's CA (written by the sandbox's pki.ts) and the apiserver as the nodes reach it. */
export function clusterCa(clusterDir: string, apiserverPort: number): ClusterCa {
  const caFile = path.join(clusterDir, 'pki', 'ca.crt');
  const ca = {
    cert: fs.readFileSync(caFile, 'utf8'),
    key: fs.readFileSync(path.join(clusterDir, 'pki', 'ca.key'), 'utf8'),
  };
  return { ca, caFile, server: `https://${WAN.hostIP}:${apiserverPort}` };
}

function renderKubeconfig(ca: ClusterCa, user: string, pair: KeyPair): string {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const cluster = {
    server: ca.server,
    'certificate-authority-data': b64(ca.ca.cert),
    'tls-server-name': APISERVER_TLS_NAME,
  };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sandbox', cluster }],
    users: [{ name: user, user: { 'client-certificate-data': b64(pair.cert), 'client-key-data': b64(pair.key) } }],
    contexts: [{ name: 'sandbox', context: { cluster: 'sandbox', user } }],
    'current-context': 'sandbox',
  });
}

async function writeClientKubeconfig(
  file: string,
  ca: ClusterCa,
  subject: { cn: string; o?: string },
): Promise<string> {
  const pair = await signCert(ca.ca, subject, { client: true });
  fs.writeFileSync(file, renderKubeconfig(ca, subject.cn, pair), { mode: 0o600 });
  return file;
}

export async function writeNodeKubeconfigs(plan: RealNodePlan, ca: ClusterCa): Promise<NodeKubeconfigs> {
  const file = (name: string) => path.join(plan.dir, `${name}.kubeconfig`);
  const [kubelet, kubeProxy, coredns] = await Promise.all([
    writeClientKubeconfig(file('kubelet'), ca, { cn: `system:node:${plan.nodeName}`, o: 'system:nodes' }),
    writeClientKubeconfig(file('kube-proxy'), ca, { cn: 'system:kube-proxy' }),
    writeClientKubeconfig(file('coredns'), ca, { cn: COREDNS_USER }),
  ]);
  return { kubelet, kubeProxy, coredns };
}
