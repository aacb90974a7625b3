// Issues the webhook's certificates: a CA (kept, so the caBundle registered in the webhook
// configurations stays valid across renewals and restarts) and serving certs signed by it.
// ECDSA P-256 keys: generated in milliseconds and cheap in TLS handshakes. Written by x509.ts
// with node:crypto alone.
import { X509Certificate, createPrivateKey, generateKeyPair } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { createCertificate } from './x509.ts';

export interface CertAuthority {
  cert: string;
  key: string;
}

export interface KeyPair {
  cert: string;
  key: string;
}

const CA_VALIDITY_MS = 10 * 365 * 86_400_000;

/** The names the API server (and local tools) use to reach the webhook. */
export function servingNames(serviceName: string, namespace: string): string[] {
  return [
    serviceName,
    `${serviceName}.${namespace}`,
    `${serviceName}.${namespace}.svc`,
    `${serviceName}.${namespace}.svc.cluster.local`,
    'localhost',
    '127.0.0.1',
  ];
}

/**
 * Back-dates notBefore a little so a peer whose clock is slightly behind accepts a fresh
 * certificate; bounded by a tenth of the lifetime so short test lifetimes stay meaningful.
 */
function validity(now: number, lifetimeMs: number): { notBeforeDate: Date; notAfterDate: Date } {
  const backdate = Math.min(60_000, Math.floor(lifetimeMs / 10));
  return { notBeforeDate: new Date(now - backdate), notAfterDate: new Date(now + lifetimeMs) };
}

const newKeyPair = promisify(generateKeyPair);

async function ecdsaKey(): Promise<{ publicKey: KeyObject; privateKey: KeyObject; pem: string }> {
  const { publicKey, privateKey } = await newKeyPair('ec', { namedCurve: 'prime256v1' });
  return { publicKey, privateKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

export async function generateCa(commonName = 'kube-offload-webhook-ca', now = Date.now()): Promise<CertAuthority> {
  const key = await ecdsaKey();
  const { notBeforeDate, notAfterDate } = validity(now, CA_VALIDITY_MS);
  const cert = createCertificate({
    commonName,
    publicKey: key.publicKey,
    notBefore: notBeforeDate,
    notAfter: notAfterDate,
    ca: true,
    signingKey: key.privateKey,
  });
  return { cert, key: key.pem };
}

export async function issueServingCert(
  ca: CertAuthority,
  names: string[],
  lifetimeMs: number,
  now = Date.now(),
): Promise<KeyPair> {
  const [first] = names;
  if (!first) throw new Error('a serving certificate needs at least one name');
  const key = await ecdsaKey();
  const { notBeforeDate, notAfterDate } = validity(now, lifetimeMs);
  const cert = createCertificate({
    // Go's TLS (the API server) only looks at SANs, never at the common name.
    commonName: names[2] ?? first,
    publicKey: key.publicKey,
    notBefore: notBeforeDate,
    notAfter: notAfterDate,
    ca: false,
    altNames: names,
    issuer: new X509Certificate(ca.cert),
    signingKey: createPrivateKey(ca.key),
  });
  return { cert, key: key.pem };
}
