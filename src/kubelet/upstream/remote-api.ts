// How the kubelet API reaches the apiserver of the cluster where pods really run: its URL and,
// per connection, the TLS material and Authorization header of its kubeconfig (read afresh each
// time, so rotated tokens and certificates are picked up).
import type https from 'node:https';
import { WebSocket } from 'ws';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { KubeConfigLike } from '../../kube/kubeconfig.ts';
import { UpstreamError } from '../backend.ts';

export interface RemoteApi {
  /** e.g. https://10.0.0.1:6443 */
  server: string;
  /** ca, cert, key, servername, rejectUnauthorized and headers (Authorization). */
  connectOptions(): Promise<https.RequestOptions>;
}

export function remoteApiFromKubeConfig(kubeConfig: KubeConfigLike): RemoteApi {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  return {
    server: cluster.server.replace(/\/$/, ''),
    connectOptions: async () => {
      const options: https.RequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(options);
      return options;
    },
  };
}

/** /api/v1/namespaces/{ns}/pods/{name}/{subresource} */
export function podSubresourcePath(namespace: string, name: string, subresource: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/${subresource}`;
}

export const HANDSHAKE_TIMEOUT_MS = 30_000;
const MAX_ERROR_BODY = 64 * 1024;

export interface RemoteWebSocketRequest {
  path: string;
  query: URLSearchParams;
  /** The subprotocols offered, preferred first. */
  protocols: string[];
}

/**
 * Opens a WebSocket to the remote apiserver offering `protocols` and resolves with what `attach`
 * made of it. `attach` runs in the 'open' event itself, so its listeners and channel readers are
 * there before the first message: the remote may send one together with the upgrade answer (a
 * real kubelet sends the port-forward port prefixes at once), and ws emits it right after 'open',
 * before any awaiting caller could listen. A refused upgrade (403, 404, 400 "container not
 * found", ...) rejects with an UpstreamError that carries the remote's status code and Status body.
 */
export async function dialRemoteWebSocket<T>(
  api: RemoteApi,
  request: RemoteWebSocketRequest,
  signal: AbortSignal,
  attach: (ws: WebSocket) => T,
): Promise<T> {
  const { path, query, protocols } = request;
  const options = await api.connectOptions();
  const url = `${api.server.replace(/^http/, 'ws')}${path}?${query.toString()}`;
  const ws = new WebSocket(url, protocols, {
    ...(options as Record<string, unknown>),
    headers: { ...(options.headers as Record<string, string> | undefined) },
    perMessageDeflate: false,
    followRedirects: false,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
  return new Promise((resolve, reject) => {
    const onAbort = (): void => ws.terminate();
    signal.addEventListener('abort', onAbort, { once: true });
    ws.once('open', () => {
      signal.removeEventListener('abort', onAbort);
      try {
        resolve(attach(ws));
      } catch (err) {
        ws.terminate();
        reject(err as Error);
      }
    });
    ws.once('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
      signal.removeEventListener('abort', onAbort);
      void refusal(response).then((err) => {
        request.destroy();
        reject(err);
      });
    });
    ws.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(signal.aborted ? new Error('aborted') : err);
    });
  });
}

/** The remote's answer to a refused upgrade, as an UpstreamError with its status code and Status. */
export async function refusal(response: IncomingMessage): Promise<UpstreamError> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response) {
      size += (chunk as Buffer).length;
      if (size > MAX_ERROR_BODY) break;
      chunks.push(chunk as Buffer);
    }
  } catch {
    // a partial body still says something
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const statusCode = response.statusCode ?? 502;
  const status = parseApiStatus(text);
  const message = typeof status?.message === 'string' ? status.message : text.trim() || `HTTP ${statusCode}`;
  return new UpstreamError(statusCode, message, status);
}

function parseApiStatus(text: string): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    return parsed && parsed.kind === 'Status' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
