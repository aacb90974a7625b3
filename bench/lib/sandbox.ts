// The benchmark's sandbox: both clusters (src/sandbox) and the webhook as the sandbox runs it
// (its ServiceAccount, the manifests' RBAC and webhook configurations pointed at 127.0.0.1), here
// as the image and the Deployment run it: compiled dist/ and the Deployment's NODE_OPTIONS.
// Sections that need more components (syncer, virtual node) add them with
// sandbox.startComponent(); they share this one sandbox so it starts once per run.
//
// Also a small keep-alive admin client for the apiserver: many concurrent requests over a
// pool of connections, which Cluster.api() (one connection per call) is not made for.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { ensureBinaries } from '../../src/sandbox/binaries.ts';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import { startSandbox } from '../../src/sandbox/sandbox.ts';
import type { Sandbox } from '../../src/sandbox/sandbox.ts';
import { webhookComponent } from '../../src/dev/webhook.ts';
import { buildDist } from './build.ts';
import { productionEnv } from './deployment.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

export async function startBenchSandbox(dir: string, log: (line: string) => void): Promise<Sandbox> {
  const binDir = await ensureBinaries();
  await buildDist(REPO_ROOT, log);
  const production = productionEnv(REPO_ROOT, 'webhook');
  const t0 = Date.now();
  log(`sandbox: starting the local and remote clusters and the webhook (${production.describe})`);
  const sandbox = await startSandbox({
    dir,
    binDir,
    startTimeoutMs: 300_000,
    components: async (ctx) => [{ ...(await webhookComponent(ctx)), env: production.env }],
  });
  log(`sandbox: ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return sandbox;
}

export interface ApiResponse {
  status: number;
  body: string;
  /** Milliseconds from sending to the full response. */
  ms: number;
}

export interface AdminClient {
  request(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<ApiResponse>;
  json(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<any>;
  close(): void;
}

/** The cluster's CA and its admin client certificate. */
function adminTls(cluster: Cluster): { ca: Buffer; cert: Buffer; key: Buffer } {
  const pki = path.join(cluster.dir, 'pki');
  return {
    ca: fs.readFileSync(cluster.caCertPath),
    cert: fs.readFileSync(path.join(pki, 'client-admin.crt')),
    key: fs.readFileSync(path.join(pki, 'client-admin.key')),
  };
}

/** Admin (system:masters) client with its own keep-alive connection pool of `connections`. */
export function adminClient(cluster: Cluster, connections: number): AdminClient {
  const agent = new https.Agent({ keepAlive: true, maxSockets: connections, ...adminTls(cluster) });
  const url = new URL(cluster.server);
  const request = (
    method: string,
    apiPath: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<ApiResponse> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const start = performance.now();
      const req = https.request(
        {
          host: url.hostname,
          port: url.port,
          path: apiPath,
          method,
          agent,
          headers: {
            accept: 'application/json',
            ...(payload !== undefined
              ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              ms: performance.now() - start,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  return {
    request,
    async json(method, apiPath, body, contentType) {
      const res = await request(method, apiPath, body, contentType);
      if (res.status >= 300) throw new Error(`${method} ${apiPath}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
      return res.body ? JSON.parse(res.body) : undefined;
    },
    close: () => agent.destroy(),
  };
}

/** Creates a namespace (or finds it) and waits for its default ServiceAccount, which pods need. */
export async function ensureNamespace(
  client: AdminClient,
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
): Promise<void> {
  const res = await client.request('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels, annotations },
  });
  if (res.status !== 201 && res.status !== 409)
    throw new Error(`creating namespace ${name}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  const deadline = Date.now() + 60_000;
  while ((await client.request('GET', `/api/v1/namespaces/${name}/serviceaccounts/default`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`no default ServiceAccount in ${name} after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Deletes every pod of a namespace and waits until none is left. */
export async function deleteAllPods(client: AdminClient, namespace: string, timeoutMs = 120_000): Promise<void> {
  await client.json('DELETE', `/api/v1/namespaces/${namespace}/pods`, {
    kind: 'DeleteOptions',
    apiVersion: 'v1',
    gracePeriodSeconds: 0,
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await client.json('GET', `/api/v1/namespaces/${namespace}/pods?limit=1`);
    if ((list.items ?? []).length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`pods of ${namespace} still present ${timeoutMs / 1000} s after deleting them`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export interface BenchWatch {
  /** Resolves once the watch stream is open (HTTP 200). */
  opened: Promise<void>;
  stop(): void;
}

/** Calls onEvent for each line of a watch stream, with the time its chunk arrived. */
function readEvents(
  res: NodeJS.ReadableStream,
  onEvent: (event: { type: string; object: any }, at: number) => void,
): void {
  res.setEncoding('utf8');
  let buffer = '';
  res.on('data', (chunk: string) => {
    const at = performance.now();
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.trim()) onEvent(JSON.parse(line) as { type: string; object: any }, at);
    }
  });
}

/**
 * Watches one resource of one namespace as admin and calls onEvent for every ADDED, MODIFIED and
 * DELETED event, with the time (performance.now()) it arrived. Reopens the stream when the
 * apiserver ends it, resuming from the last resourceVersion (bookmarks included); after a 410
 * it starts over (ADDED again for existing objects).
 */
export function watchNamespaced(
  cluster: Cluster,
  namespace: string,
  resource: string,
  onEvent: (type: string, object: any, at: number) => void,
): BenchWatch {
  const tls = adminTls(cluster);
  const url = new URL(cluster.server);
  let stopped = false;
  let current: ReturnType<typeof https.request> | undefined;
  let markOpened: () => void = () => undefined;
  let failOpen: (error: Error) => void = () => undefined;
  const opened = new Promise<void>((resolve, reject) => {
    markOpened = resolve;
    failOpen = reject;
  });
  let resourceVersion = '';
  const open = (): void => {
    if (stopped) return;
    const rv = resourceVersion ? `&resourceVersion=${resourceVersion}` : '';
    const req = https.request(
      {
        host: url.hostname,
        port: url.port,
        path: `/api/v1/namespaces/${namespace}/${resource}?watch=true&allowWatchBookmarks=true${rv}`,
        method: 'GET',
        agent: false,
        ...tls,
      },
      (res) => {
        if (res.statusCode !== 200) {
          failOpen(new Error(`watch ${resource} in ${cluster.name}/${namespace}: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        markOpened();
        readEvents(res, (event, at) => {
          if (event.type === 'ERROR') {
            resourceVersion = ''; // 410 Gone: start over
            return;
          }
          if (event.object?.metadata?.resourceVersion) resourceVersion = event.object.metadata.resourceVersion;
          if (event.type !== 'BOOKMARK') onEvent(event.type, event.object, at);
        });
        res.on('end', () => setTimeout(open, 50));
        res.on('error', () => undefined);
      },
    );
    req.on('error', (error) => {
      failOpen(error);
      if (!stopped) setTimeout(open, 500);
    });
    req.end();
    current = req;
  };
  open();
  return {
    opened,
    stop() {
      stopped = true;
      current?.destroy();
    },
  };
}

/** The pods of one namespace: watchNamespaced(cluster, namespace, 'pods', onPod). */
export function watchPods(
  cluster: Cluster,
  namespace: string,
  onPod: (type: string, pod: any, at: number) => void,
): BenchWatch {
  return watchNamespaced(cluster, namespace, 'pods', onPod);
}
