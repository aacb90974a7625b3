// The benchmark's sandbox: both clusters (src/sandbox) and the webhook as the sandbox runs it
// (its ServiceAccount, the manifests' RBAC and webhook configurations pointed at 127.0.0.1).
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
import { webhookComponent } from '../../src/sandbox/webhook-component.ts';

export async function startBenchSandbox(dir: string, log: (line: string) => void): Promise<Sandbox> {
  const binDir = await ensureBinaries();
  const t0 = Date.now();
  log('sandbox: starting the local and remote clusters and the webhook');
  const sandbox = await startSandbox({
    dir,
    binDir,
    startTimeoutMs: 300_000,
    components: async (ctx) => [await webhookComponent(ctx)],
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

/** Admin (system:masters) client with its own keep-alive connection pool of `connections`. */
export function adminClient(cluster: Cluster, connections: number): AdminClient {
  const pki = path.join(cluster.dir, 'pki');
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: connections,
    ca: fs.readFileSync(cluster.caCertPath),
    cert: fs.readFileSync(path.join(pki, 'client-admin.crt')),
    key: fs.readFileSync(path.join(pki, 'client-admin.key')),
  });
  const url = new URL(cluster.server);
  const request = (method: string, apiPath: string, body?: unknown, contentType = 'application/json'): Promise<ApiResponse> =>
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
          headers: { accept: 'application/json', ...(payload !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}) },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - start }));
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
