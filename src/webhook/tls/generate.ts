// Issues the webhook's certificates with `selfsigned`: a CA (kept, so the caBundle registered in
// the webhook configurations stays valid across renewals and restarts) and serving certs
// signed by it. ECDSA P-256 keys: generated in milliseconds and cheap in TLS handshakes.
import { generate } from 'selfsigned';

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

export async function generateCa(commonName = 'kube-offload-webhook-ca', now = Date.now()): Promise<CertAuthority> {
  const result = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    ...validity(now, CA_VALIDITY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: result.cert, key: result.private };
}

export async function issueServingCert(
  ca: CertAuthority,
  names: string[],
  lifetimeMs: number,
  now = Date.now(),
): Promise<KeyPair> {
  const [first] = names;
  if (!first) throw new Error('a serving certificate needs at least one name');
  // Go's TLS (the API server) only looks at SANs, never at the common name.
  const altNames = names.map((name) => (/^[\d.]+$|:/.test(name) ? { type: 7 as const, ip: name } : { type: 2 as const, value: name }));
  const result = await generate([{ name: 'commonName', value: names[2] ?? first }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    ...validity(now, lifetimeMs),
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: result.cert, key: result.private };
}
