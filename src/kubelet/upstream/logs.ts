// Container logs from the remote apiserver's pod `log` subresource, streamed as they come. No
// time limit: a follow lasts as long as the client wants it; the signal ends it.
import type { KubeClient } from '../../kube/client.ts';
import type { LogQuery, LogResponse, RemotePodTarget } from '../backend.ts';
import { podSubresourcePath } from './remote-api.ts';

export type LogStreamer = Pick<KubeClient, 'stream'>;

export async function openRemoteLogs(
  client: LogStreamer,
  target: RemotePodTarget,
  container: string,
  query: LogQuery,
  signal: AbortSignal,
): Promise<LogResponse> {
  const response = await client.stream('GET', podSubresourcePath(target.namespace, target.name, 'log'), {
    query: { container, ...query },
    signal,
    timeoutMs: 0,
  });
  const contentType = response.headers['content-type'];
  return { statusCode: response.statusCode, ...(contentType ? { contentType } : {}), body: response.body };
}
