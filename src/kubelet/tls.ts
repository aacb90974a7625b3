// The kubelet API's serving certificate. Like a kubelet without serving-certificate bootstrap,
// it makes its own: a small CA and a leaf for the node's address, kept in a directory so
// restarts keep them (kubelet.crt holds the leaf and then the CA, kubelet.key the leaf's key),
// and made again when missing, near expiry or not covering the node's current address.
// kube-apiserver checks it only when given --kubelet-certificate-authority; then that
// file must hold this CA (or the caller brings its own certificate files).
import fs from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface ServingCert {
  /** PEM: the leaf, then the CA that signed it. */
  cert: string;
  key: string;
  /** PEM of the CA alone, for clients that want to verify. */
  ca: string;
}

const DAY_MS = 86_400_000;
const LIFETIME_MS = 365 * DAY_MS;
/** Renewed when less than this is left, at the next start. */
const RENEW_BEFORE_MS = 30 * DAY_MS;

function validity(now: number, lifetimeMs: number): { notBeforeDate: Date; notAfterDate: Date } {
  // A minute back-dated: a peer whose clock is slightly behind still accepts a fresh certificate.
  return { notBeforeDate: new Date(now - 60_000), notAfterDate: new Date(now + lifetimeMs) };
}

function altName(name: string): { type: 7; ip: string } | { type: 2; value: string } {
  return isIP(name) ? { type: 7, ip: name } : { type: 2, value: name };
}

/** A fresh CA and a leaf for `names` (IP addresses and DNS names; Go clients look only at SANs). */
export async function generateServingCert(names: string[], now = Date.now()): Promise<ServingCert> {
  const [first] = names;
  if (!first) throw new Error('a serving certificate needs at least one name');
  const ca = await generate([{ name: 'commonName', value: `${first}-ca@${Math.floor(now / 1000)}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    ...validity(now, LIFETIME_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: `${first}@${Math.floor(now / 1000)}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    ...validity(now, LIFETIME_MS),
    ca: { cert: ca.cert, key: ca.private },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map(altName) },
    ],
  });
  const pem = (text: string): string => `${text.replace(/\r\n/g, '\n').trim()}\n`;
  return { cert: pem(leaf.cert) + pem(ca.cert), key: pem(leaf.private), ca: pem(ca.cert) };
}

/** The certificate (first in the PEM) is valid for a while yet and names every one of `names`. */
export function certificateCovers(certPem: string, names: string[], now = Date.now()): boolean {
  try {
    const cert = new X509Certificate(certPem);
    if (Date.parse(cert.validTo) - now < RENEW_BEFORE_MS) return false;
    return names.every((name) => (isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name) !== undefined));
  } catch {
    return false;
  }
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * kubelet.crt and kubelet.key from `dir` when they still serve `names`, else new ones written
 * there (key 0600). Without a directory, a certificate for this process only.
 */
export async function loadOrCreateServingCert(dir: string | undefined, names: string[]): Promise<ServingCert> {
  if (!dir) return generateServingCert(names);
  const certFile = path.join(dir, 'kubelet.crt');
  const keyFile = path.join(dir, 'kubelet.key');
  const [cert, key] = await Promise.all([readIfPresent(certFile), readIfPresent(keyFile)]);
  if (cert && key && certificateCovers(cert, names)) return { cert, key, ca: lastCertificate(cert) };
  const fresh = await generateServingCert(names);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(keyFile, fresh.key, { mode: 0o600 });
  await fs.writeFile(certFile, fresh.cert);
  return fresh;
}

function lastCertificate(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return `${blocks.at(-1) ?? ''}\n`;
}
