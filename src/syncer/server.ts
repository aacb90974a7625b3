// /metrics, /healthz and /readyz of the syncer (plain HTTP, like kube-controller-manager's
// insecure health port; nothing sensitive is served).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

export interface HealthServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  healthz: () => ProbeResult;
  readyz: () => ProbeResult;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

const PROBES = new Map<string, 'healthz' | 'readyz'>([
  ['/healthz', 'healthz'],
  ['/livez', 'healthz'],
  ['/readyz', 'readyz'],
]);

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (url.pathname === '/metrics') {
      options.registry.metrics().then(
        (text) => send(200, text, options.registry.contentType),
        (err: unknown) => send(500, `${String(err)}\n`),
      );
      return;
    }
    const probe = PROBES.get(url.pathname);
    if (!probe) return send(404, 'not found\n');
    const result = options[probe]();
    const verbose = url.searchParams.has('verbose');
    send(result.ok ? 200 : 503, result.ok && !verbose ? 'ok\n' : `${result.detail}\n`);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
