// exec and attach on the remote apiserver over a WebSocket: v5.channel.k8s.io when it speaks it
// (stdin EOF travels as [255, 0]), v4.channel.k8s.io otherwise. The remote's final Status
// (channel 3) is kept verbatim for the client, so its exit code reaches kubectl unchanged.
import type { ExecOptions, ExecSession, RemotePodTarget, StreamOptions, TerminalSize } from '../backend.ts';
import { WsChannels } from '../websocket/channels.ts';
import { dialRemoteWebSocket, podSubresourcePath } from './remote-api.ts';
import type { RemoteApi } from './remote-api.ts';

export const UPSTREAM_EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;

function streamQuery(container: string, options: StreamOptions): URLSearchParams {
  const query = new URLSearchParams({ container });
  // The apiserver wants at least one stream; false values may simply be left out.
  if (options.stdin) query.set('stdin', 'true');
  if (options.stdout) query.set('stdout', 'true');
  if (options.stderr) query.set('stderr', 'true');
  if (options.tty) query.set('tty', 'true');
  return query;
}

export async function openRemoteExec(
  api: RemoteApi,
  target: RemotePodTarget,
  container: string,
  options: ExecOptions,
  signal: AbortSignal,
): Promise<ExecSession> {
  const query = streamQuery(container, options);
  for (const arg of options.command) query.append('command', arg);
  return openRemoteStreams(api, podSubresourcePath(target.namespace, target.name, 'exec'), query, options, signal);
}

export async function openRemoteAttach(
  api: RemoteApi,
  target: RemotePodTarget,
  container: string,
  options: StreamOptions,
  signal: AbortSignal,
): Promise<ExecSession> {
  const path = podSubresourcePath(target.namespace, target.name, 'attach');
  return openRemoteStreams(api, path, streamQuery(container, options), options, signal);
}

async function openRemoteStreams(
  api: RemoteApi,
  path: string,
  query: URLSearchParams,
  options: StreamOptions,
  signal: AbortSignal,
): Promise<ExecSession> {
  // The session is put together in 'open': output may come with the upgrade answer.
  return dialRemoteWebSocket(api, { path, query, protocols: UPSTREAM_EXEC_PROTOCOLS }, signal, (ws) =>
    execSession(new WsChannels(ws, { closeSignal: ws.protocol === 'v5.channel.k8s.io' }), options, signal),
  );
}

function execSession(channels: WsChannels, options: StreamOptions, signal: AbortSignal): ExecSession {
  const abort = (): void => channels.terminate();
  signal.addEventListener('abort', abort, { once: true });
  const status = collect(channels.reader(ERROR));
  const stdout = options.stdout ? channels.reader(STDOUT) : undefined;
  const stderr = options.stderr && !options.tty ? channels.reader(STDERR) : undefined;
  const done = channels.closed.then(async ({ code }) => {
    signal.removeEventListener('abort', abort);
    const json = await status;
    if (json.length > 0) return json;
    if (code !== 1000 && code !== 1005) throw new Error(`connection to the remote pod closed (${code})`);
    return undefined;
  });
  return {
    ...(options.stdin ? { stdin: channels.writer(STDIN, true) } : {}),
    ...(stdout ? { stdout } : {}),
    ...(stderr ? { stderr } : {}),
    resize: (size: TerminalSize) => {
      const json = JSON.stringify({ Width: size.width, Height: size.height });
      void channels.send(RESIZE, Buffer.from(json)).catch(() => undefined);
    },
    done,
    abort,
  };
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
