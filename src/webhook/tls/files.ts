// The cert directory on disk: ca.crt, ca.key, tls.crt, tls.key (the names of a kubernetes.io/tls
// Secret plus the CA, so a mounted Secret works as is). Writes are atomic (temp file + rename) so
// a reader never sees half a PEM; keys are written 0600.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const CA_CERT = 'ca.crt';
export const CA_KEY = 'ca.key';
export const TLS_CERT = 'tls.crt';
export const TLS_KEY = 'tls.key';

export interface CertDirContents {
  caCert?: string;
  caKey?: string;
  tlsCert?: string;
  tlsKey?: string;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function readCertDir(dir: string): Promise<CertDirContents> {
  const [caCert, caKey, tlsCert, tlsKey] = await Promise.all(
    [CA_CERT, CA_KEY, TLS_CERT, TLS_KEY].map((name) => readOptional(join(dir, name))),
  );
  const contents: CertDirContents = {};
  if (caCert !== undefined) contents.caCert = caCert;
  if (caKey !== undefined) contents.caKey = caKey;
  if (tlsCert !== undefined) contents.tlsCert = tlsCert;
  if (tlsKey !== undefined) contents.tlsKey = tlsKey;
  return contents;
}

/** Writes files atomically, private ones (keys) with mode 0600. */
export async function writeCertFiles(
  dir: string,
  files: Array<{ name: string; data: string; secret: boolean }>,
): Promise<void> {
  // A new dir holds keys: only we may list it.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const file of files) {
    const target = join(dir, file.name);
    const temp = join(dir, `.${file.name}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await writeFile(temp, file.data, { mode: file.secret ? 0o600 : 0o644, flag: 'wx' });
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
}
