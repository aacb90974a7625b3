// Small helpers shared by the sandbox modules: free ports, HTTP(S) probes.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

// Ports handed out by this process, so two parallel clusters never get the same one.
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.on('error', reject);
      server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
        const address = server.address();
        const p = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free port');
}

export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  return ports;
}

export interface ProbeOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Skip TLS verification (self-signed serving certs of controller-manager/scheduler). */
  insecure?: boolean;
  timeoutMs?: number;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
}

export interface ProbeResult {
  status: number;
  body: string;
}

/** One HTTP(S) request; rejects on connection errors and timeouts. */
export function request(url: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const common = {
      method: opts.method ?? 'GET',
      headers: { ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      timeout: opts.timeoutMs ?? 3000,
    };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req =
      u.protocol === 'https:'
        ? https.request(
            u,
            {
              ...common,
              ...(opts.ca ? { ca: opts.ca } : {}),
              ...(opts.cert ? { cert: opts.cert } : {}),
              ...(opts.key ? { key: opts.key } : {}),
              rejectUnauthorized: !opts.insecure,
              agent: false,
            },
            onResponse,
          )
        : http.request(u, { ...common, agent: false }, onResponse);
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

/** True when `url` answers 200 (any error or other status: false). */
export async function isHealthy(url: string, opts: ProbeOptions = {}): Promise<boolean> {
  try {
    const res = await request(url, { timeoutMs: 2000, ...opts });
    return res.status === 200;
  } catch {
    return false;
  }
}
