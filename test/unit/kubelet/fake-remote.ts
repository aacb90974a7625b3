// A stand-in for the remote cluster's apiserver: the pod subresources exec, attach, portforward
// (WebSocket, as an apiserver proxies them to a kubelet; portforward also over SPDY) and log, served from a local backend,
// and the metrics.k8s.io/v1beta1 PodMetrics a metrics-server would serve (or its absence).
// It insists on a bearer token, so tests see the remote credentials travel.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { KubeClient } from '../../../src/kube/client.ts';
import type { KubeConfigLike } from '../../../src/kube/kubeconfig.ts';
import type { ExecOptions, KubeletBackend, StreamOptions } from '../../../src/kubelet/backend.ts';
import type { PodMetricsItem } from '../../../src/kubelet/metrics/remote-pod-metrics.ts';
import { serveSpdyPortForward, type OpenPortForward } from '../../../src/kubelet/portforward/spdy.ts';
import { parsePorts, serveWebSocketPortForward } from '../../../src/kubelet/portforward/websocket.ts';
import { SpdyConnection } from '../../../src/kubelet/spdy/connection.ts';
import { relayExec } from '../../../src/kubelet/remotecommand/relay.ts';
import { webSocketExecStreams } from '../../../src/kubelet/remotecommand/websocket.ts';
import { generateServingCert } from '../../../src/kubelet/tls.ts';
import { remoteApiFromKubeConfig } from '../../../src/kubelet/upstream/remote-api.ts';
import type { RemoteApi } from '../../../src/kubelet/upstream/remote-api.ts';

export const REMOTE_TOKEN = 'remote-secret-token';

export interface FakeRemote {
  api: RemoteApi;
  client: KubeClient;
  /** What the remote saw: method, path and query of every request. */
  requests: string[];
  /** The WebSocket subprotocols the remote accepts for exec/attach. */
  execProtocols: string[];
  /** The remote's metrics API; change it at will. */
  metrics: FakeMetricsApi;
  close(): Promise<void>;
}

export interface FakeMetricsApi {
  /** What discovery of /apis/metrics.k8s.io/v1beta1 answers: 200, or 404 (no such API), 503, ... */
  discovery: number;
  /** What a PodMetrics list answers when not 200 (e.g. 403 for want of RBAC). */
  listStatus: number;
  /** PodMetrics by namespace. */
  pods: Record<string, PodMetricsItem[]>;
}

const METRICS_PATH = /^\/apis\/metrics\.k8s\.io\/v1beta1(?:\/namespaces\/([^/]+)\/pods)?$/;

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code });
}

const DISCOVERY = JSON.stringify({
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: 'metrics.k8s.io/v1beta1',
  resources: [
    { name: 'nodes', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
    { name: 'pods', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
  ],
});

/** The metrics API's answer to one GET, as the apiserver aggregating a metrics-server gives it. */
function serveMetrics(metrics: FakeMetricsApi, namespace: string | undefined, res: ServerResponse): void {
  const json = { 'Content-Type': 'application/json' };
  if (metrics.discovery !== 200) {
    const reason = metrics.discovery === 404 ? 'NotFound' : 'ServiceUnavailable';
    return void res.writeHead(metrics.discovery, json).end(status(metrics.discovery, reason, 'metrics API'));
  }
  if (namespace === undefined) return void res.writeHead(200, json).end(DISCOVERY);
  if (metrics.listStatus !== 200) {
    const forbidden = `pods.metrics.k8s.io is forbidden: cannot list resource "pods" in namespace "${namespace}"`;
    return void res.writeHead(metrics.listStatus, json).end(status(metrics.listStatus, 'Forbidden', forbidden));
  }
  const items = metrics.pods[decodeURIComponent(namespace)] ?? [];
  res.writeHead(200, json).end(JSON.stringify({ kind: 'PodMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', items }));
}

const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach|portforward|log)$/;

function notFound(name: string): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message: `pods "${name}" not found`,
    reason: 'NotFound',
    code: 404,
  });
}

function refuse(socket: Duplex, code: number, body: string): void {
  socket.end(
    `HTTP/1.1 ${code} Refused\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function streamOptions(query: URLSearchParams): StreamOptions {
  const on = (name: string): boolean => query.get(name) === 'true';
  return { stdin: on('stdin'), stdout: on('stdout'), stderr: on('stderr') && !on('tty'), tty: on('tty') };
}

/** Port-forward over SPDY, as the apiserver proxies kubectl's upgrade to a kubelet. */
function serveSpdy(socket: Duplex, head: Buffer, pod: string, open: OpenPortForward): void {
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
      'X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n',
  );
  serveSpdyPortForward(new SpdyConnection(socket, head), pod, open, 30_000);
}

export async function startFakeRemote(backend: KubeletBackend): Promise<FakeRemote> {
  const serving = await generateServingCert(['127.0.0.1']);
  const requests: string[] = [];
  const metrics: FakeMetricsApi = { discovery: 404, listStatus: 200, pods: {} };
  const execProtocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered, req) => {
      const supported = req.url?.includes('/portforward') ? ['v4.channel.k8s.io'] : execProtocols;
      return [...offered].find((p) => supported.includes(p)) ?? false;
    },
  });
  const server = https.createServer({ cert: serving.cert, key: serving.key });
  const authorized = (req: IncomingMessage): boolean => req.headers.authorization === `Bearer ${REMOTE_TOKEN}`;

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://remote');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const match = POD_PATH.exec(url.pathname);
    if (!authorized(req)) return void res.writeHead(401).end();
    const metricsMatch = METRICS_PATH.exec(url.pathname);
    if (metricsMatch) return serveMetrics(metrics, metricsMatch[1], res);
    if (!match || match[3] !== 'log') return void res.writeHead(404).end();
    const [, namespace, name] = match as unknown as [string, string, string];
    if (name === 'missing') return void res.writeHead(404, { 'Content-Type': 'application/json' }).end(notFound(name));
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    const query = Object.fromEntries(url.searchParams);
    const logQuery = {
      ...(query.follow ? { follow: query.follow === 'true' } : {}),
      ...(query.tailLines ? { tailLines: Number(query.tailLines) } : {}),
      ...(query.timestamps ? { timestamps: query.timestamps === 'true' } : {}),
    };
    void backend.logs({ namespace, name }, query.container ?? '', logQuery, abort.signal).then(async (logs) => {
      res.writeHead(logs.statusCode, { 'Content-Type': logs.contentType ?? 'text/plain' });
      res.flushHeaders();
      await pipeline(logs.body, res).catch(() => undefined);
    });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://remote');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const match = POD_PATH.exec(url.pathname);
    if (!authorized(req)) return refuse(socket, 401, '{}');
    if (!match || match[3] === 'log') return refuse(socket, 404, '{}');
    const [, namespace, name, subresource] = match as unknown as [string, string, string, string];
    if (name === 'missing') return refuse(socket, 404, notFound(name));
    const target = { namespace, name };
    if (subresource === 'portforward' && /spdy\/3\.1/i.test(req.headers.upgrade ?? '')) {
      return serveSpdy(socket, head, name, (port, signal) => backend.portForward(target, port, signal));
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const abort = new AbortController();
      ws.once('close', () => abort.abort());
      if (subresource === 'portforward') {
        const ports = parsePorts(url.searchParams.getAll('ports')) ?? [];
        void serveWebSocketPortForward(ws, name, ports, (port, signal) => backend.portForward(target, port, signal));
        return;
      }
      const options = streamOptions(url.searchParams);
      const container = url.searchParams.get('container') ?? '';
      const client = webSocketExecStreams(ws, ws.protocol, options);
      const session =
        subresource === 'exec'
          ? backend.exec(
              target,
              container,
              { ...options, command: url.searchParams.getAll('command') } as ExecOptions,
              abort.signal,
            )
          : backend.attach(target, container, options, abort.signal);
      void session.then((s) => relayExec(client, s));
    });
  });

  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  const kubeConfig: KubeConfigLike = {
    getCurrentCluster: () => ({ name: 'remote', server: `https://127.0.0.1:${port}`, skipTLSVerify: false }),
    applyToHTTPSOptions: async (opts) => {
      opts.ca = serving.ca;
      opts.headers = { ...(opts.headers as Record<string, string>), Authorization: `Bearer ${REMOTE_TOKEN}` };
    },
  };
  return {
    api: remoteApiFromKubeConfig(kubeConfig),
    client: new KubeClient(kubeConfig),
    requests,
    execProtocols,
    metrics,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
