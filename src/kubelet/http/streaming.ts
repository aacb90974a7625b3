// The upgrade requests: exec, attach and portForward over SPDY/3.1 (what kube-apiserver sends a
// kubelet) or over a WebSocket (clients the apiserver proxies unchanged). The route, pod and
// options are settled before switching protocols, so their errors are ordinary HTTP answers.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ExecOptions, KubeletBackend, RemotePodTarget, StreamOptions } from '../backend.ts';
import { UpstreamError } from '../backend.ts';
import { relayUpgraded } from '../portforward/passthrough.ts';
import { serveSpdyPortForward, SPDY_PORTFORWARD_PROTOCOLS } from '../portforward/spdy.ts';
import type { OpenPortForward } from '../portforward/spdy.ts';
import { parsePorts, serveWebSocketPortForward, WS_PORTFORWARD_PROTOCOLS } from '../portforward/websocket.ts';
import { relayExec } from '../remotecommand/relay.ts';
import type { ClientExecStreams } from '../remotecommand/relay.ts';
import { acceptSpdyExecStreams, remoteCommandVersion, SPDY_REMOTECOMMAND_PROTOCOLS } from '../remotecommand/spdy.ts';
import { failureStatus, internalErrorStatus } from '../remotecommand/status.ts';
import { webSocketExecStreams, WS_REMOTECOMMAND_PROTOCOLS } from '../remotecommand/websocket.ts';
import { SpdyConnection } from '../spdy/connection.ts';
import { negotiateProtocol, pickWebSocketProtocol } from './negotiate.ts';
import { refuseUpgrade } from './respond.ts';
import { parseExecOptions, parseStreamOptions } from './routes.ts';
import type { Route } from './routes.ts';

type StreamingRoute = Extract<Route, { kind: 'exec' | 'attach' | 'portForward' }>;

export interface StreamingContext {
  backend: KubeletBackend;
  streamCreationTimeoutMs: number;
  webSockets: WebSocketServer;
  /** The subprotocols the WebSocket server may accept for a request (its handleProtocols reads it). */
  webSocketProtocols: WeakMap<IncomingMessage, string[]>;
  onError(err: unknown, what: string): void;
}

interface Upgrade {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  query: URLSearchParams;
}

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

function isSpdyUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase().includes('spdy/3.1');
}

/** Serves an authorized upgrade request for a pod bound to this node. */
export function serveStreamingUpgrade(
  ctx: StreamingContext,
  route: StreamingRoute,
  target: RemotePodTarget,
  up: Upgrade,
): void {
  const websocket = isWebSocketUpgrade(up.req);
  if (!websocket && !isSpdyUpgrade(up.req)) {
    return refuseUpgrade(up.socket, 400, 'unable to upgrade: missing upgrade headers in request');
  }
  if (route.kind === 'portForward') return servePortForward(ctx, route, target, up, websocket);
  const options = route.kind === 'exec' ? parseExecOptions(up.query) : parseStreamOptions(up.query);
  if (typeof options === 'string') return refuseUpgrade(up.socket, 400, options);
  const run = (client: ClientExecStreams): Promise<void> => runCommand(ctx, route, target, options, client);
  if (websocket)
    return acceptWebSocket(ctx, up, WS_REMOTECOMMAND_PROTOCOLS, (ws) =>
      run(webSocketExecStreams(ws, ws.protocol, options)),
    );
  const negotiated = negotiateSpdy(up, SPDY_REMOTECOMMAND_PROTOCOLS);
  if (!negotiated) return;
  const connection = switchToSpdy(up, negotiated);
  acceptSpdyExecStreams(connection, remoteCommandVersion(negotiated), options, ctx.streamCreationTimeoutMs).then(
    run,
    (err: unknown) => ctx.onError(err, `${route.kind} ${route.namespace}/${route.pod}`),
  );
}

function servePortForward(
  ctx: StreamingContext,
  route: Extract<Route, { kind: 'portForward' }>,
  target: RemotePodTarget,
  up: Upgrade,
  websocket: boolean,
): void {
  const open: OpenPortForward = (port, signal) => ctx.backend.portForward(target, port, signal);
  if (websocket) {
    // The kubelet reads `port`; clients calling the apiserver write `ports`.
    const ports = parsePorts([...up.query.getAll('port'), ...up.query.getAll('ports')]);
    if (!ports) return refuseUpgrade(up.socket, 400, 'query parameter "port" is required and must be 1-65535');
    return acceptWebSocket(ctx, up, WS_PORTFORWARD_PROTOCOLS, (ws) =>
      serveWebSocketPortForward(ws, route.pod, ports, open),
    );
  }
  const negotiated = negotiateSpdy(up, SPDY_PORTFORWARD_PROTOCOLS);
  if (!negotiated) return;
  if (ctx.backend.portForwardUpgrade) return void passThroughPortForward(ctx, route, target, up, negotiated);
  serveSpdyPortForward(switchToSpdy(up, negotiated), route.pod, open, ctx.streamCreationTimeoutMs);
}

/**
 * The session goes to the pod's kubelet as it is (portforward/passthrough.ts). The client is
 * told to switch protocols only once the upstream has: a refusal there (pod gone, forbidden)
 * reaches it as an ordinary HTTP answer.
 */
async function passThroughPortForward(
  ctx: StreamingContext,
  route: Extract<Route, { kind: 'portForward' }>,
  target: RemotePodTarget,
  up: Upgrade,
  protocol: string,
): Promise<void> {
  const abort = new AbortController();
  const gone = (): void => abort.abort();
  up.socket.once('close', gone);
  let upstream;
  try {
    upstream = await ctx.backend.portForwardUpgrade!(target, [protocol], abort.signal);
  } catch (err) {
    if (abort.signal.aborted) return;
    const [status, message] =
      err instanceof UpstreamError
        ? [err.statusCode, err.message]
        : [500, err instanceof Error ? err.message : String(err)];
    ctx.onError(err, `portForward ${route.namespace}/${route.pod}`);
    return refuseUpgrade(up.socket, status, `error forwarding to pod ${route.pod}: ${message}`);
  } finally {
    up.socket.off('close', gone);
  }
  if (abort.signal.aborted) return void upstream.socket.destroy();
  writeSpdySwitch(up.socket, upstream.protocol);
  (up.socket as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
  await relayUpgraded(up.socket, up.head, upstream);
}

function negotiateSpdy(up: Upgrade, supported: string[]): string | undefined {
  const negotiation = negotiateProtocol(up.req.headers['x-stream-protocol-version'], supported);
  if (negotiation.ok) return negotiation.protocol;
  const accepted: Record<string, string> =
    negotiation.statusCode === 403 ? { 'X-Accepted-Stream-Protocol-Versions': supported.join(', ') } : {};
  refuseUpgrade(up.socket, negotiation.statusCode, negotiation.message, accepted);
  return undefined;
}

function writeSpdySwitch(socket: Duplex, protocol: string): void {
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Connection: Upgrade\r\n' +
      'Upgrade: SPDY/3.1\r\n' +
      `X-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
  );
}

function switchToSpdy(up: Upgrade, protocol: string): SpdyConnection {
  writeSpdySwitch(up.socket, protocol);
  return new SpdyConnection(up.socket, up.head);
}

function acceptWebSocket(
  ctx: StreamingContext,
  up: Upgrade,
  supported: string[],
  serve: (ws: WebSocket) => Promise<void>,
): void {
  const offered = (up.req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (pickWebSocketProtocol(offered, supported) === undefined) {
    return refuseUpgrade(
      up.socket,
      400,
      `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${supported.join(' ')}]`,
    );
  }
  ctx.webSocketProtocols.set(up.req, supported);
  ctx.webSockets.handleUpgrade(up.req, up.socket, up.head, (ws) => {
    serve(ws).catch((err: unknown) => {
      ctx.onError(err, 'websocket session');
      ws.terminate();
    });
  });
}

async function runCommand(
  ctx: StreamingContext,
  route: Extract<Route, { kind: 'exec' | 'attach' }>,
  target: RemotePodTarget,
  options: ExecOptions | StreamOptions,
  client: ClientExecStreams,
): Promise<void> {
  const abort = new AbortController();
  void client.gone.then(() => abort.abort());
  let session;
  try {
    session =
      route.kind === 'exec'
        ? await ctx.backend.exec(target, route.container, options as ExecOptions, abort.signal)
        : await ctx.backend.attach(target, route.container, options, abort.signal);
  } catch (err) {
    if (abort.signal.aborted) return;
    await client.writeStatus(statusFromError(err)).catch(() => undefined);
    await client.finish();
    return;
  }
  await relayExec(client, session);
}

/** The remote's own Status when it refused, else an internal error (what a kubelet reports). */
function statusFromError(err: unknown): Buffer {
  if (err instanceof UpstreamError) {
    return err.status ? Buffer.from(JSON.stringify(err.status)) : failureStatus(err.statusCode, err.message);
  }
  return internalErrorStatus(err instanceof Error ? err.message : String(err));
}
