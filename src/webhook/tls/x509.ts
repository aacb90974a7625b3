// X.509 v3 certificates written with node:crypto and a few lines of DER: the webhook issues a CA
// and serving certificates (ECDSA P-256) and needs nothing else from a PKI library. The
// `selfsigned` package it replaces loads some 200 modules (pkijs, asn1js, @peculiar/*) for the
// same job, ~6 MiB of resident memory in a process that must stay small.
import { X509Certificate, createHash, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// DER tags.
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const NULL = 0x05;
const OBJECT_IDENTIFIER = 0x06;
const UTF8_STRING = 0x0c;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
const SEQUENCE = 0x30;
const SET = 0x31;
const BOOLEAN = 0x01;
/** Context-specific, constructed: [n] EXPLICIT. */
const explicitTag = (n: number): number => 0xa0 | n;
/** GeneralName choices, context-specific primitive: [2] dNSName, [7] iPAddress. */
const DNS_NAME = 0x82;
const IP_ADDRESS = 0x87;
/** AuthorityKeyIdentifier's keyIdentifier, [0] IMPLICIT OCTET STRING. */
const KEY_IDENTIFIER = 0x80;

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

function length(size: number): Buffer {
  if (size < 0x80) return Buffer.of(size);
  const bytes: number[] = [];
  for (let rest = size; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.of(tag), length(body.length), body]);
}

function objectIdentifier(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) base128.unshift((value & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return der(OBJECT_IDENTIFIER, Buffer.from(bytes));
}

/** A non-negative INTEGER from big-endian bytes, minimally encoded. */
function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return der(INTEGER, (trimmed[0] as number) & 0x80 ? Buffer.concat([Buffer.of(0), trimmed]) : trimmed);
}

function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return der(BIT_STRING, Buffer.of(unusedBits), bytes);
}

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 requires; whole seconds, UTC. */
function time(date: Date): Buffer {
  // 2026-12-05T17:26:00.000Z -> 20261205172600Z
  const digits = `${date.toISOString().slice(0, 19).replace(/[-:T]/g, '')}Z`;
  const year = date.getUTCFullYear();
  return year < 2050
    ? der(UTC_TIME, Buffer.from(digits.slice(2), 'latin1'))
    : der(GENERALIZED_TIME, Buffer.from(digits, 'latin1'));
}

function commonNameOnly(commonName: string): Buffer {
  return der(
    SEQUENCE,
    der(SET, der(SEQUENCE, objectIdentifier(OID.commonName), der(UTF8_STRING, Buffer.from(commonName, 'utf8')))),
  );
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der(
    SEQUENCE,
    objectIdentifier(oid),
    ...(critical ? [der(BOOLEAN, Buffer.of(0xff))] : []),
    der(OCTET_STRING, value),
  );
}

/** The signature algorithm for a signing key: ECDSA and RSA with SHA-256, or Ed25519. */
function signatureAlgorithm(key: KeyObject): { identifier: Buffer; digest: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { identifier: der(SEQUENCE, objectIdentifier(OID.ecdsaWithSha256)), digest: 'sha256' };
    case 'rsa':
      return { identifier: der(SEQUENCE, objectIdentifier(OID.sha256WithRsa), der(NULL)), digest: 'sha256' };
    case 'ed25519':
      return { identifier: der(SEQUENCE, objectIdentifier(OID.ed25519)), digest: null };
    default:
      throw new Error(`cannot sign certificates with a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
}

/** Reads one DER element at `offset`: where its contents start and end. */
function element(bytes: Buffer, offset: number): { tag: number; start: number; end: number } {
  const tag = bytes[offset] as number;
  let size = bytes[offset + 1] as number;
  let start = offset + 2;
  if (size & 0x80) {
    const count = size & 0x7f;
    size = 0;
    for (let index = 0; index < count; index++) size = size * 256 + (bytes[start + index] as number);
    start += count;
  }
  if (start + size > bytes.length) throw new Error('truncated DER');
  return { tag, start, end: start + size };
}

/** The offsets of the TBSCertificate fields from the subject on: subject, SPKI, extensions. */
function tbsFields(bytes: Buffer): { subject: number; extensions: number | undefined } {
  const tbs = element(bytes, element(bytes, 0).start);
  let offset = tbs.start;
  // version [0] (optional), serialNumber, signature, issuer, validity, then subject.
  if (bytes[offset] === explicitTag(0)) offset = element(bytes, offset).end;
  for (let skip = 0; skip < 4; skip++) offset = element(bytes, offset).end;
  const subject = offset;
  // subject, subjectPublicKeyInfo, then optional [1], [2] and [3] extensions.
  offset = element(bytes, element(bytes, subject).end).end;
  while (offset < tbs.end && bytes[offset] !== explicitTag(3)) offset = element(bytes, offset).end;
  return { subject, extensions: offset < tbs.end ? offset : undefined };
}

/** The subject Name of a certificate, byte for byte: the issuer field of what it signs. */
export function subjectOf(certificate: X509Certificate): Buffer {
  const bytes = certificate.raw;
  const { subject } = tbsFields(bytes);
  if (bytes[subject] !== SEQUENCE) throw new Error('certificate has no subject Name');
  return bytes.subarray(subject, element(bytes, subject).end);
}

/** The subjectKeyIdentifier of a certificate, or undefined when it carries none. */
export function subjectKeyIdentifierOf(certificate: X509Certificate): Buffer | undefined {
  const bytes = certificate.raw;
  const { extensions } = tbsFields(bytes);
  if (extensions === undefined) return undefined;
  const list = element(bytes, element(bytes, extensions).start);
  const wanted = objectIdentifier(OID.subjectKeyIdentifier);
  for (let offset = list.start; offset < list.end; offset = element(bytes, offset).end) {
    const entry = element(bytes, offset);
    const id = element(bytes, entry.start);
    if (!bytes.subarray(entry.start, id.end).equals(wanted)) continue;
    // extnID, [critical], extnValue: an OCTET STRING holding the OCTET STRING keyIdentifier.
    let value = id.end;
    if (bytes[value] === BOOLEAN) value = element(bytes, value).end;
    const keyIdentifier = element(bytes, element(bytes, value).start);
    return bytes.subarray(keyIdentifier.start, keyIdentifier.end);
  }
  return undefined;
}

export interface CertificateRequest {
  /** Subject common name. */
  commonName: string;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** A CA may sign certificates (pathLen 0: not other CAs); otherwise a TLS server cert. */
  ca: boolean;
  /** Server certificates: DNS names and IP addresses. */
  altNames?: string[];
  /** The signer: omitted for a self-signed certificate (then signingKey is the subject's). */
  issuer?: X509Certificate;
  signingKey: KeyObject;
}

/** Writes and signs the certificate; returns it as PEM. */
export function createCertificate(request: CertificateRequest): string {
  const algorithm = signatureAlgorithm(request.signingKey);
  const spki = request.publicKey.export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  // Positive and 16 bytes long without a leading zero byte.
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40;

  const extensions: Buffer[] = [];
  if (request.ca) {
    extensions.push(
      extension(
        OID.basicConstraints,
        true,
        der(SEQUENCE, der(BOOLEAN, Buffer.of(0xff)), unsignedInteger(Buffer.of(0))),
      ),
    );
    // digitalSignature (bit 0), keyCertSign (5), cRLSign (6): 1000 0110, the last bit unused.
    extensions.push(extension(OID.keyUsage, true, bitString(Buffer.of(0x86), 1)));
    // SHA-1 of the public key, RFC 5280 method 1: lets verifiers match issuers quickly.
    const publicKeyBits = spki.subarray(element(spki, element(spki, element(spki, 0).start).end).start + 1);
    extensions.push(
      extension(OID.subjectKeyIdentifier, false, der(OCTET_STRING, createHash('sha1').update(publicKeyBits).digest())),
    );
  } else {
    extensions.push(extension(OID.basicConstraints, true, der(SEQUENCE)));
    // digitalSignature only: 1000 0000, seven bits unused.
    extensions.push(extension(OID.keyUsage, true, bitString(Buffer.of(0x80), 7)));
    extensions.push(extension(OID.extKeyUsage, false, der(SEQUENCE, objectIdentifier(OID.serverAuth))));
  }
  // Points at the issuer's key by its own identifier; an issuer without one gets no pointer.
  const issuerKeyIdentifier = request.issuer ? subjectKeyIdentifierOf(request.issuer) : undefined;
  if (issuerKeyIdentifier) {
    extensions.push(
      extension(OID.authorityKeyIdentifier, false, der(SEQUENCE, der(KEY_IDENTIFIER, issuerKeyIdentifier))),
    );
  }
  if (request.altNames && request.altNames.length > 0) {
    const names = request.altNames.map((name) =>
      isIP(name) ? der(IP_ADDRESS, ipBytes(name)) : der(DNS_NAME, Buffer.from(name, 'latin1')),
    );
    extensions.push(extension(OID.subjectAltName, false, der(SEQUENCE, ...names)));
  }

  const subject = commonNameOnly(request.commonName);
  const tbs = der(
    SEQUENCE,
    der(explicitTag(0), unsignedInteger(Buffer.of(2))), // v3
    unsignedInteger(serial),
    algorithm.identifier,
    request.issuer ? subjectOf(request.issuer) : subject,
    der(SEQUENCE, time(request.notBefore), time(request.notAfter)),
    subject,
    spki,
    der(explicitTag(3), der(SEQUENCE, ...extensions)),
  );
  const signature = sign(algorithm.digest, tbs, request.signingKey);
  const certificate = der(SEQUENCE, tbs, algorithm.identifier, bitString(signature));
  const base64 = certificate.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${base64}${base64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

function ipBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  // IPv6: expand "::" and write eight 16-bit groups (a dotted IPv4 tail is not supported).
  if (address.includes('.')) throw new Error(`IPv6 address ${address} with an IPv4 tail is not supported`);
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  return bytes;
}
