// The webhook CA lives in a Secret so every replica signs with the same CA and the caBundle
// registered in the webhook configurations validates all of them. Whoever starts first creates
// the Secret; the others (and restarts) read it. Two replicas racing to create it: the loser
// gets 409 Conflict and re-reads the winner's CA.
import type { KubeClient } from '../../kube/client.ts';
import { isConflict, resourcePath } from '../../kube/client.ts';
import type { Logger } from '../../common/log.ts';
import type { CertAuthority } from '../tls/generate.ts';
import { CertError, parseCa } from '../tls/inspect.ts';

/** The two Secret operations we need, so the race logic can be tested without a cluster. */
export interface SecretStore {
  /** The Secret's data (base64 values), or undefined when it does not exist. */
  read(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** Creates the Secret; 'exists' when another writer got there first (409). */
  create(namespace: string, name: string, data: Record<string, string>): Promise<'created' | 'exists'>;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

function caFromData(data: Record<string, string>, where: string): CertAuthority {
  const cert = data['ca.crt'];
  const key = data['ca.key'];
  // Never overwrite a Secret we cannot read: it may belong to someone else.
  if (!cert || !key) throw new CertError(`Secret ${where} exists but lacks ca.crt and ca.key`);
  const ca = { cert: unb64(cert), key: unb64(key) };
  parseCa(ca, `Secret ${where}`);
  return ca;
}

export async function ensureCaSecret(options: {
  store: SecretStore;
  namespace: string;
  name: string;
  /** CA to publish when the Secret does not exist yet (e.g. the one already in the cert dir). */
  candidate: () => Promise<CertAuthority>;
  logger: Logger;
}): Promise<CertAuthority> {
  const { store, namespace, name, logger } = options;
  const where = `${namespace}/${name}`;
  const existing = await store.read(namespace, name);
  if (existing) {
    logger.debug({ event: 'ca-secret', secret: where }, 'using the CA from the shared Secret');
    return caFromData(existing, where);
  }
  const ca = await options.candidate();
  const outcome = await store.create(namespace, name, { 'ca.crt': b64(ca.cert), 'ca.key': b64(ca.key) });
  if (outcome === 'created') {
    logger.info({ event: 'ca-secret', secret: where }, 'published our CA in the shared Secret');
    return ca;
  }
  const winner = await store.read(namespace, name);
  if (!winner) throw new Error(`Secret ${where}: create said it exists, but it cannot be read`);
  logger.info({ event: 'ca-secret', secret: where }, 'another replica created the shared CA first; using theirs');
  return caFromData(winner, where);
}

interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
}

export function kubeSecretStore(client: KubeClient): SecretStore {
  return {
    async read(namespace, name) {
      const secret = await client.getOrUndefined<SecretObject>(
        resourcePath({ version: 'v1', resource: 'secrets', namespace, name }),
      );
      return secret ? (secret.data ?? {}) : undefined;
    },
    async create(namespace, name, data) {
      try {
        await client.create<SecretObject & { type: string; metadata: { labels: Record<string, string> } }>(
          resourcePath({ version: 'v1', resource: 'secrets', namespace }),
          {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'Opaque',
            metadata: {
              name,
              namespace,
              labels: { 'app.kubernetes.io/part-of': 'kube-offload', 'app.kubernetes.io/component': 'webhook-ca' },
            },
            data,
          },
        );
        return 'created';
      } catch (error) {
        if (isConflict(error)) return 'exists';
        throw error;
      }
    },
  };
}
