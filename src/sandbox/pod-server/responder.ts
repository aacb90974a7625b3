// What the pod server answers on a forwarded connection, in the name of one pod (or of "some
// pod" on the shared listener):
//   GET /            who answers: the pod, its port and IP, the cluster (and a line in the log)
//   POST /echo       the request body, streamed back as it arrives
//   GET /bytes?n=N   N bytes of a fixed pattern (byte i is i mod 251)
// plus, on every listener, GET /sandbox/healthz (200 once the pods are known) and
// GET /sandbox/connections (the connection counts, for tests and benchmarks).
import type http from 'node:http';
import { Readable } from 'node:stream';

export interface PodIdentity {
  cluster: string;
  /** Undefined on the shared listener: the pod has no PortForward of its own (yet). */
  namespace?: string;
  name?: string;
  podIP?: string;
  nodeName?: string;
  /** The pod's port this listener stands for. */
  port?: number;
}

export function describeIdentity(identity: PodIdentity): string {
  if (!identity.name) return `a pod of cluster ${identity.cluster} (the pod server's shared listener)`;
  const where = [identity.podIP ? `IP ${identity.podIP}` : '', identity.nodeName ? `node ${identity.nodeName}` : '']
    .filter(Boolean)
    .join(', ');
  return `pod ${identity.namespace}/${identity.name} port ${identity.port} in cluster ${identity.cluster} (${where})`;
}

const PATTERN_PERIOD = 251;
const PATTERN = Buffer.from(Array.from({ length: PATTERN_PERIOD * 256 }, (_, i) => i % PATTERN_PERIOD));

/** The fixed pattern /bytes sends, for a receiver to check against. */
export function patternBytes(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += PATTERN.length) PATTERN.copy(out, offset, 0, length - offset);
  return out;
}

function patternStream(length: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= length) {
        this.push(null);
        return;
      }
      const chunk = PATTERN.subarray(0, Math.min(PATTERN.length, length - sent));
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

export interface ResponderHooks {
  /** Called for GET / with the text of the answer (the pod server logs it as the container). */
  onHello: (text: string) => void;
  ready: () => boolean;
  /** JSON for /sandbox/connections. */
  connections: () => unknown;
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendBytes(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
  const length = Number(url.searchParams.get('n') ?? '0');
  if (!Number.isSafeInteger(length) || length < 0) return sendText(res, 400, 'n: a number of bytes\n');
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': length });
  patternStream(length).pipe(res);
}

function echo(req: http.IncomingMessage, res: http.ServerResponse): void {
  const length = req.headers['content-length'];
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    ...(length === undefined ? {} : { 'content-length': length }),
  });
  req.pipe(res);
}

export function responder(identity: PodIdentity, hooks: ResponderHooks): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://pod');
    if (req.method === 'POST' && url.pathname === '/echo') return echo(req, res);
    req.resume();
    if (url.pathname === '/bytes') return sendBytes(req, res, url);
    if (url.pathname === '/sandbox/connections') return sendText(res, 200, `${JSON.stringify(hooks.connections())}\n`);
    if (url.pathname === '/sandbox/healthz') return sendText(res, hooks.ready() ? 200 : 503, 'ok\n');
    const text = `Hello from ${describeIdentity(identity)}: the sandbox's pod server answers for it.\n`;
    if (url.pathname === '/') hooks.onHello(`${req.method} ${req.url}: ${text.trim()}`);
    sendText(res, 200, text);
  };
}
