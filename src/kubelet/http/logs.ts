// GET /containerLogs/{namespace}/{pod}/{container}: the backend's log stream passed through as
// it comes (follow included), with backpressure, no time limit, and the upstream aborted as
// soon as the client goes away.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { KubeletBackend, RemotePodTarget } from '../backend.ts';
import { UpstreamError } from '../backend.ts';
import { replyText } from './respond.ts';
import { parseLogQuery } from './routes.ts';

export async function serveContainerLogs(
  backend: KubeletBackend,
  target: RemotePodTarget,
  container: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const query = parseLogQuery(new URL(req.url ?? '/', 'https://kubelet').searchParams);
  if (typeof query === 'string') return replyText(res, 422, `{"message": "Invalid request: ${query}."}`);
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  let upstream;
  try {
    upstream = await backend.logs(target, container, query, abort.signal);
  } catch (err) {
    if (abort.signal.aborted) return;
    const statusCode = err instanceof UpstreamError ? err.statusCode : 502;
    return replyText(res, statusCode, err instanceof Error ? err.message : String(err));
  }
  res.writeHead(upstream.statusCode, {
    'Content-Type': upstream.contentType ?? 'text/plain',
    'X-Content-Type-Options': 'nosniff',
  });
  // Headers out now: a follow with no new lines must not look like a hung kubelet.
  res.flushHeaders();
  await pipeline(upstream.body, res, { signal: abort.signal }).catch(() => upstream.body.destroy());
}
