// An upgraded SPDY/3.1 connection to the remote apiserver, requested the way kubectl requests one
// (client-go's SPDY round tripper): an HTTP/1.1 request with `Upgrade: SPDY/3.1` offering protocols
// in X-Stream-Protocol-Version. The apiserver proxies it byte for byte to the kubelet of the pod's
// node, so whoever holds the socket speaks SPDY with that kubelet.
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { UpgradedConnection } from '../backend.ts';
import { UpstreamError } from '../backend.ts';
import { HANDSHAKE_TIMEOUT_MS, refusal } from './remote-api.ts';
import type { RemoteApi } from './remote-api.ts';

/**
 * Upgrades `GET path?query` on the remote apiserver (GET needs the same `get` permission on the
 * subresource as the WebSocket path). A refused upgrade rejects with an UpstreamError carrying the
 * remote's status code and Status body.
 */
export async function dialRemoteSpdy(
  api: RemoteApi,
  path: string,
  query: URLSearchParams,
  protocols: string[],
  signal: AbortSignal,
): Promise<UpgradedConnection> {
  const options = await api.connectOptions();
  const search = query.toString();
  const url = new URL(`${api.server}${path}${search ? `?${search}` : ''}`);
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      ...options,
      method: 'GET',
      agent: false,
      timeout: HANDSHAKE_TIMEOUT_MS,
      headers: {
        ...(options.headers as Record<string, string> | undefined),
        Connection: 'Upgrade',
        Upgrade: 'SPDY/3.1',
        'X-Stream-Protocol-Version': protocols,
      },
    });
    const onAbort = (): void => void req.destroy(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => signal.removeEventListener('abort', onAbort);
    req.once('timeout', () => req.destroy(new Error(`no upgrade from ${url.host} within ${HANDSHAKE_TIMEOUT_MS} ms`)));
    req.once('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
      settle();
      const protocol = String(response.headers['x-stream-protocol-version'] ?? '');
      if (!protocols.includes(protocol)) {
        socket.destroy();
        return reject(new UpstreamError(502, `the remote upgraded to protocol "${protocol}", not one of ${protocols}`));
      }
      // Small writes (a request, the first bytes of an answer) must not wait for Nagle.
      socket.setNoDelay(true);
      socket.setTimeout(0);
      resolve({ socket, head, protocol });
    });
    req.once('response', (response: IncomingMessage) => {
      settle();
      void refusal(response).then(reject);
    });
    req.once('error', (err) => {
      settle();
      reject(err);
    });
    req.end();
  });
}
