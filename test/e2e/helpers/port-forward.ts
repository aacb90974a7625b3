// `kubectl port-forward` as users run it, and HTTP clients for what the sandbox's pod server
// answers behind it: GET / (who answers), POST /echo (the body back), GET /bytes?n= (a pattern).
import { createHash } from 'node:crypto';
import http from 'node:http';
import { spawnKubectl, type KubectlCluster, type KubectlProcess } from './kubectl-process.ts';

export interface PortForward {
  /** The local port kubectl listens on (127.0.0.1). */
  localPort: number;
  process: KubectlProcess;
  stop(): Promise<void>;
}

/** `kubectl port-forward <target> :<remotePort>`; resolves once kubectl listens. */
export async function startPortForward(
  cluster: KubectlCluster,
  opts: { namespace: string; target: string; remotePort: number; env?: Record<string, string> },
): Promise<PortForward> {
  const args = ['-n', opts.namespace, 'port-forward', '--address', '127.0.0.1', opts.target, `:${opts.remotePort}`];
  const pf = spawnKubectl(cluster, args, { env: opts.env ?? {} });
  try {
    const match = await pf.waitForOutput(/Forwarding from 127\.0\.0\.1:(\d+)/);
    return { localPort: Number(match[1]), process: pf, stop: () => pf.kill() };
  } catch (err) {
    await pf.kill('SIGKILL');
    throw err;
  }
}

export interface HttpAnswer {
  status: number;
  body: Buffer;
  /** Milliseconds from sending the request to the first byte of the response. */
  firstByteMs: number;
  ms: number;
}

/** One request on a connection of its own (no keep-alive), body streamed from a Buffer. */
export function httpRequest(
  port: number,
  opts: { method?: string; path: string; body?: Buffer; timeoutMs?: number },
): Promise<HttpAnswer> {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: opts.method ?? 'GET',
      path: opts.path,
      agent: false,
      headers: opts.body ? { 'content-length': opts.body.length } : {},
      timeout: opts.timeoutMs ?? 60_000,
    });
    req.on('response', (res) => {
      const firstByteMs = performance.now() - startedAt;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          firstByteMs,
          ms: performance.now() - startedAt,
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`HTTP ${opts.path} on :${port} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function httpText(port: number, path = '/'): Promise<string> {
  const answer = await httpRequest(port, { path });
  if (answer.status !== 200) throw new Error(`GET ${path}: HTTP ${answer.status}`);
  return answer.body.toString('utf8');
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** POSTs `body` to /echo and checks the answer is byte-identical; returns the timings. */
export async function echoRoundTrip(port: number, body: Buffer): Promise<HttpAnswer> {
  const answer = await httpRequest(port, { method: 'POST', path: '/echo', body, timeoutMs: 120_000 });
  if (answer.status !== 200) throw new Error(`POST /echo: HTTP ${answer.status}`);
  if (answer.body.length !== body.length || sha256(answer.body) !== sha256(body)) {
    throw new Error(`POST /echo: ${answer.body.length} bytes back for ${body.length}, content differs`);
  }
  return answer;
}
