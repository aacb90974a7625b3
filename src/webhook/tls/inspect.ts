// Reads facts out of PEM certificates with node:crypto: is this key pair usable, who signed it,
// which names it covers, and when it must be renewed.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { CertAuthority, KeyPair } from './generate.ts';

export interface CertInfo {
  fingerprint256: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** 2/3 of the lifetime: when a certificate we issued is replaced. */
  renewAt: Date;
  /** 5/6 of the lifetime: renewal has been failing for a long while (health check fails). */
  overdueAt: Date;
}

export class CertError extends Error {
  override name = 'CertError';
}

export function certInfo(cert: X509Certificate): CertInfo {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return {
    fingerprint256: cert.fingerprint256,
    serialNumber: cert.serialNumber,
    notBefore,
    notAfter,
    renewAt: new Date(notBefore.getTime() + (lifetime * 2) / 3),
    overdueAt: new Date(notBefore.getTime() + (lifetime * 5) / 6),
  };
}

/** Parses a cert (the first of a chain) and its key; throws CertError unless they belong together. */
export function parseKeyPair(pair: KeyPair, what: string): { x509: X509Certificate; info: CertInfo } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pair.cert);
  } catch (error) {
    throw new CertError(`${what}: certificate is not valid PEM (${(error as Error).message})`);
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(pair.key));
  } catch (error) {
    throw new CertError(`${what}: private key is not valid PEM (${(error as Error).message})`);
  }
  // A half-swapped pair (new cert, old key) is the usual cause while files are being replaced.
  if (!matches) throw new CertError(`${what}: private key does not match the certificate`);
  return { x509, info: certInfo(x509) };
}

export function parseCa(ca: CertAuthority, what: string): X509Certificate {
  const { x509 } = parseKeyPair(ca, what);
  if (!x509.ca) throw new CertError(`${what}: certificate is not a CA (basicConstraints CA:FALSE)`);
  return x509;
}

/** True when `leaf` was signed by `ca` and covers every name in `names`. */
export function issuedFor(leaf: X509Certificate, ca: X509Certificate, names: string[]): boolean {
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return false;
  const sans = new Set((leaf.subjectAltName ?? '').split(', ').map((entry) => entry.replace(/^(DNS|IP Address):/, '')));
  return names.every((name) => sans.has(name));
}
