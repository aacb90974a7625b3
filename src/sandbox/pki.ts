// Certificates and keys of one sandbox cluster: a CA (client-cert auth + serving cert), the
// apiserver serving cert, client certs for admin / controller-manager / scheduler / kwok /
// front-proxy / the apiserver's kubelet client, and the service-account signing key pair. EC P-256 keys: fast to generate, accepted everywhere.
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface ClusterPki {
  dir: string;
  ca: KeyPair & { certFile: string; keyFile: string };
  apiserver: KeyPair & { certFile: string; keyFile: string };
  /** client certs by user (see CLIENT_SUBJECTS) */
  clients: Record<ClientName, KeyPair & { certFile: string; keyFile: string }>;
  serviceAccount: { publicKeyFile: string; privateKeyFile: string };
}

export type ClientName =
  'admin' | 'controller-manager' | 'scheduler' | 'kwok' | 'front-proxy-client' | 'apiserver-kubelet-client';

/** The user the apiserver is to kubelets (--kubelet-client-certificate), as kubeadm names it. */
export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

/** CN / O of each client: these are the identities RBAC's bootstrap policy knows. */
const CLIENT_SUBJECTS: Record<ClientName, { cn: string; o?: string }> = {
  admin: { cn: 'admin', o: 'system:masters' },
  'controller-manager': { cn: 'system:kube-controller-manager' },
  scheduler: { cn: 'system:kube-scheduler' },
  kwok: { cn: 'kwok-controller', o: 'system:masters' },
  // The aggregation layer's proxy identity (--proxy-client-cert-file); trusted through
  // --requestheader-client-ca-file + --requestheader-allowed-names=front-proxy-client.
  'front-proxy-client': { cn: 'front-proxy-client' },
  // What kube-apiserver presents to kubelets (logs, exec, port-forward, node proxy). No group:
  // a binding to system:kubelet-api-admin (kubelet-client.ts) is all it may do there.
  'apiserver-kubelet-client': { cn: KUBELET_CLIENT_USER },
};

const CLIENT_NAMES = Object.keys(CLIENT_SUBJECTS) as ClientName[];

const YEAR_MS = 365 * 24 * 3600 * 1000;

function attrs(cn: string, o?: string) {
  return [{ name: 'commonName', value: cn }, ...(o ? [{ name: 'organizationName', value: o }] : [])];
}

export async function createCa(cn: string): Promise<KeyPair> {
  const notBefore = new Date(Date.now() - 3600 * 1000); // tolerate small clock skew
  const res = await generate(attrs(cn), {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: new Date(notBefore.getTime() + 10 * YEAR_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: res.cert, key: res.private };
}

export async function signCert(
  ca: KeyPair,
  subject: { cn: string; o?: string },
  usage: { server?: { dns: string[]; ips: string[] }; client?: boolean },
): Promise<KeyPair> {
  const notBefore = new Date(Date.now() - 3600 * 1000);
  const res = await generate(attrs(subject.cn, subject.o), {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: new Date(notBefore.getTime() + 2 * YEAR_MS),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: !!usage.server, clientAuth: !!usage.client },
      ...(usage.server
        ? [
            {
              name: 'subjectAltName' as const,
              altNames: [
                ...usage.server.dns.map((value) => ({ type: 2 as const, value })),
                ...usage.server.ips.map((ip) => ({ type: 7 as const, ip })),
              ],
            },
          ]
        : []),
    ],
  });
  return { cert: res.cert, key: res.private };
}

function write(file: string, content: string, mode = 0o600): string {
  fs.writeFileSync(file, content, { mode });
  return file;
}

/** Creates every certificate and key a cluster needs under `dir` (created if missing). */
export async function createClusterPki(dir: string, clusterName: string, serviceIP: string): Promise<ClusterPki> {
  fs.mkdirSync(dir, { recursive: true });
  const ca = await createCa(`kube-offload-sandbox-${clusterName}-ca`);
  const names = CLIENT_NAMES;
  const [apiserver, ...clientPairs] = await Promise.all([
    signCert(
      ca,
      { cn: 'kube-apiserver' },
      {
        server: {
          dns: [
            'localhost',
            'kubernetes',
            'kubernetes.default',
            'kubernetes.default.svc',
            'kubernetes.default.svc.cluster.local',
          ],
          ips: ['127.0.0.1', serviceIP],
        },
      },
    ),
    ...names.map((n) => signCert(ca, CLIENT_SUBJECTS[n], { client: true })),
  ]);
  const sa = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const withFiles = (base: string, kp: KeyPair) => ({
    ...kp,
    certFile: write(path.join(dir, `${base}.crt`), kp.cert, 0o644),
    keyFile: write(path.join(dir, `${base}.key`), kp.key),
  });
  const clients = {} as ClusterPki['clients'];
  names.forEach((n, i) => {
    clients[n] = withFiles(`client-${n}`, clientPairs[i]!);
  });
  return {
    dir,
    ca: withFiles('ca', ca),
    apiserver: withFiles('apiserver', apiserver!),
    clients,
    serviceAccount: {
      publicKeyFile: write(path.join(dir, 'sa.pub'), sa.publicKey, 0o644),
      privateKeyFile: write(path.join(dir, 'sa.key'), sa.privateKey),
    },
  };
}
