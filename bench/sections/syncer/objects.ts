// The objects the syncer section writes: ConfigMaps and Secrets of 1 KiB payload, with or without
// the replicate stamp (labels + annotations, as the webhook writes them), and the namespaces they
// go to. Writes go through an admin client with a keep-alive pool.
import { poll, sleep } from '../../../src/common/async.ts';
import { REPLICATE_KEY } from '../../../webhooks/keys.ts';
import type { AdminClient } from '../../lib/sandbox.ts';

const PAYLOAD_BYTES = 1024;
const PAYLOAD = 'x'.repeat(PAYLOAD_BYTES);
const SECRET_PAYLOAD = Buffer.alloc(PAYLOAD_BYTES, 'y').toString('base64');
const STAMP = { [REPLICATE_KEY]: 'true' };

/** An object to POST: its resource (configmaps / secrets) and its body. */
export type BenchObject = [resource: string, body: Record<string, unknown>];

function metadata(name: string, stamped: boolean): Record<string, unknown> {
  const labels = { app: 'bench-syncer', ...(stamped ? STAMP : {}) };
  return { name, labels, ...(stamped ? { annotations: STAMP } : {}) };
}

export function configMap(name: string, stamped: boolean): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata(name, stamped), data: { payload: PAYLOAD } };
}

function secret(name: string, stamped: boolean): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: metadata(name, stamped),
    data: { payload: SECRET_PAYLOAD },
  };
}

/** `count` objects named `<prefix>-00000` ..., alternating ConfigMap / Secret. */
export function benchObjects(prefix: string, count: number, stamped: boolean): BenchObject[] {
  const out: BenchObject[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${String(i).padStart(5, '0')}`;
    out.push(i % 2 === 0 ? ['configmaps', configMap(name, stamped)] : ['secrets', secret(name, stamped)]);
  }
  return out;
}

/** The keys (resource/name) under which an Arrivals watch records the objects. */
export function arrivalKeys(items: BenchObject[]): string[] {
  return items.map(([resource, body]) => `${resource}/${(body.metadata as { name: string }).name}`);
}

/** POSTs one object, retrying 429 and 5xx a few times; throws on any other failure. */
async function createWithRetries(client: AdminClient, namespace: string, [resource, body]: BenchObject): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const res = await client.request('POST', `/api/v1/namespaces/${namespace}/${resource}`, body);
    if (res.status === 201) return;
    if (res.status === 409 && attempt > 0) return; // an earlier attempt landed
    if ((res.status === 429 || res.status >= 500) && attempt < 5) {
      await sleep(100 * (attempt + 1));
      continue;
    }
    throw new Error(`POST ${namespace}/${resource}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  }
}

/** POSTs every object into `namespace` with `clients` concurrent workers; throws on a failure. */
export async function createAll(
  client: AdminClient,
  namespace: string,
  items: BenchObject[],
  clients: number,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await createWithRetries(client, namespace, items[next++] as BenchObject);
  };
  await Promise.all(Array.from({ length: Math.min(clients, items.length) }, worker));
}

/** Creates a namespace (an existing one is fine). */
export async function createNamespace(
  client: AdminClient,
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
): Promise<void> {
  const body = { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels, annotations } };
  const res = await client.request('POST', '/api/v1/namespaces', body);
  if (res.status !== 201 && res.status !== 409) {
    throw new Error(`creating namespace ${name}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  }
}

/** Waits until `name` exists (e.g. the twin the syncer creates remotely). */
export async function waitForNamespace(client: AdminClient, name: string, timeoutMs = 60_000): Promise<void> {
  await poll(async () => (await client.request('GET', `/api/v1/namespaces/${name}`)).status === 200, {
    timeoutMs,
    intervalMs: 100,
    description: `namespace ${name}`,
  });
}
