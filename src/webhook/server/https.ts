// node:https around the request listener: TLS >= 1.2, certificate swaps without a restart,
// timeouts that hold, and a graceful drain for SIGTERM.
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { KeyPair } from '../tls/generate.ts';

export interface HttpsOptions {
  pair: KeyPair;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** While draining, every response closes its connection so clients move elsewhere. */
  isDraining: () => boolean;
}

const MIN_TLS = 'TLSv1.2' as const;

/**
 * How often Node checks connections against headersTimeout and requestTimeout. Node's default,
 * 30 s, let a 10 s headers timeout take effect only after 26-29 s: a quarter of the shorter
 * timeout, at most a second, holds each within about a second.
 */
export function connectionsCheckingInterval(headersTimeoutMs: number, requestTimeoutMs: number): number {
  const timeouts = [headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0);
  if (timeouts.length === 0) return 1000;
  return Math.max(25, Math.min(1000, Math.floor(Math.min(...timeouts) / 4)));
}

export function createHttpsServer(options: HttpsOptions): Server {
  const { handle, isDraining } = options;
  const serverOptions = {
    key: options.pair.key,
    cert: options.pair.cert,
    minVersion: MIN_TLS,
    requestTimeout: options.requestTimeoutMs,
    headersTimeout: options.headersTimeoutMs,
    connectionsCheckingInterval: connectionsCheckingInterval(options.headersTimeoutMs, options.requestTimeoutMs),
  };
  const server = createServer(serverOptions, (req, res) => {
    if (isDraining()) res.setHeader('connection', 'close');
    handle(req, res);
  });
  // The API server (Go) keeps idle connections for 90 s and does not retry a POST that hits a
  // connection we just closed: keep them longer than Node's 5 s default.
  server.keepAliveTimeout = 65_000;
  return server;
}

/** New handshakes use the new pair; established connections keep theirs until they close. */
export function swapCertificate(server: Server, pair: KeyPair): void {
  server.setSecureContext({ key: pair.key, cert: pair.cert, minVersion: MIN_TLS });
}

/** Listens on host:port (HTTPS, or the plain-HTTP metrics server); rejects when it cannot. */
export function listen(server: NetServer, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Stops accepting, lets in-flight requests finish, and after timeoutMs cuts whatever is left.
 * Resolves 'drained' or 'forced'.
 */
export function drain(server: Server, timeoutMs: number): Promise<'drained' | 'forced'> {
  return new Promise((resolve) => {
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      server.closeAllConnections();
    }, timeoutMs);
    // close() waits for every connection. Idle keep-alive ones have nothing to finish, and a
    // connection whose in-flight request started before the drain becomes idle when it ends:
    // close those as they appear.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweep);
      resolve(forced ? 'forced' : 'drained');
    });
    server.closeIdleConnections();
  });
}
