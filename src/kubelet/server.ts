// The kubelet API of a virtual node: an HTTPS server (TLS 1.2+, its own serving certificate,
// client certificates checked against the client CA) that authenticates and authorizes every
// request like a kubelet, then serves logs, exec, attach, port-forward, stats and resource
// metrics from a backend (backend.ts) that knows where the pods really run.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { KubeletAuth } from './auth/auth.ts';
import type { KubeletBackend } from './backend.ts';
import { serveContainerLogs } from './http/logs.ts';
import { refuseUpgrade, replyJson, replyText } from './http/respond.ts';
import { matchRoute } from './http/routes.ts';
import type { Route } from './http/routes.ts';
import { serveStreamingUpgrade } from './http/streaming.ts';
import type { StreamingContext } from './http/streaming.ts';
import { emptyResourceMetrics } from './metrics/resource-metrics.ts';
import { emptyStatsSummary } from './metrics/summary.ts';

export interface KubeletServerOptions {
  nodeName: string;
  backend: KubeletBackend;
  auth: KubeletAuth;
  /** PEM serving certificate (chain) and key; PEM client CA bundle for client certificates. */
  tls: { cert: string; key: string; clientCa?: string };
  /** How long a streaming client may take to open its streams (the kubelet's 30 s). */
  streamCreationTimeoutMs?: number;
  /** Reports failures nobody else sees (a stream that never completed, a backend error). */
  onError?: (err: unknown, what: string) => void;
}

export class KubeletServer {
  readonly #options: KubeletServerOptions;
  readonly #server: https.Server;
  readonly #sockets = new Set<Duplex>();
  readonly #streaming: StreamingContext;
  readonly #startedAt = new Date();

  constructor(options: KubeletServerOptions) {
    this.#options = options;
    this.#server = https.createServer({
      cert: options.tls.cert,
      key: options.tls.key,
      minVersion: 'TLSv1.2',
      // Verified against the client CA, but optional: bearer tokens authenticate too.
      ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
    });
    const webSocketProtocols = new WeakMap<IncomingMessage, string[]>();
    this.#streaming = {
      backend: options.backend,
      streamCreationTimeoutMs: options.streamCreationTimeoutMs ?? 30_000,
      webSocketProtocols,
      webSockets: new WebSocketServer({
        noServer: true,
        perMessageDeflate: false,
        maxPayload: 16 << 20,
        handleProtocols: (offered, req) => {
          const supported = webSocketProtocols.get(req) ?? [];
          return [...offered].find((p) => supported.includes(p)) ?? false;
        },
      }),
      onError: (err, what) => options.onError?.(err, what),
    };
    this.#server.on('secureConnection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#onRequest(req, res).catch((err: unknown) =>
        this.#fail(err, req, () => replyText(res, 500, 'Internal Server Error')),
      );
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      this.#onUpgrade(req, socket, head).catch((err: unknown) =>
        this.#fail(err, req, () => refuseUpgrade(socket, 500, 'Internal Server Error')),
      );
    });
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listens; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve(this.port);
      });
    });
  }

  get port(): number {
    return (this.#server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Stops listening and drops every connection, streaming sessions included. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    this.#streaming.webSockets.close();
    return closed;
  }

  #fail(err: unknown, req: IncomingMessage, answer: () => void): void {
    this.#options.onError?.(err, `${req.method} ${req.url}`);
    answer();
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const auth = await this.#options.auth.check(req);
    if (!auth.ok) return replyText(res, auth.statusCode, auth.message);
    const route = matchRoute(url.pathname);
    if (route.kind === 'notFound') return replyText(res, 404, '404 page not found');
    if (req.method !== 'GET' && req.method !== 'POST') return replyText(res, 405, 'Method Not Allowed');
    return this.#serve(route, req, res);
  }

  async #serve(route: Exclude<Route, { kind: 'notFound' }>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    switch (route.kind) {
      case 'healthz':
        return replyText(res, 200, 'ok');
      case 'statsSummary': {
        const summary = this.#options.backend.statsSummary
          ? await this.#options.backend.statsSummary(abort.signal)
          : emptyStatsSummary(this.#options.nodeName, this.#startedAt);
        return replyJson(res, 200, summary);
      }
      case 'metricsResource': {
        const text = this.#options.backend.metricsResource
          ? await this.#options.backend.metricsResource(abort.signal)
          : emptyResourceMetrics();
        return replyText(res, 200, text, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      }
      case 'containerLogs': {
        const target = await this.#options.backend.resolvePod(route.namespace, route.pod);
        if (!target) return replyText(res, 404, `pod "${route.pod}" does not exist`);
        return serveContainerLogs(this.#options.backend, target, route.container, req, res);
      }
      default:
        return replyText(res, 400, 'unable to upgrade: missing upgrade headers in request');
    }
  }

  async #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const auth = await this.#options.auth.check(req);
    if (!auth.ok) return refuseUpgrade(socket, auth.statusCode, auth.message);
    const route = matchRoute(url.pathname);
    if (route.kind !== 'exec' && route.kind !== 'attach' && route.kind !== 'portForward') {
      return refuseUpgrade(
        socket,
        route.kind === 'notFound' ? 404 : 400,
        route.kind === 'notFound' ? '404 page not found' : 'not a streaming endpoint',
      );
    }
    const target = await this.#options.backend.resolvePod(route.namespace, route.pod);
    if (!target) return refuseUpgrade(socket, 404, `pod "${route.pod}" does not exist`);
    serveStreamingUpgrade(this.#streaming, route, target, { req, socket, head, query: url.searchParams });
  }
}
