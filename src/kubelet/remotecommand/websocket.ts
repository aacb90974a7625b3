// Remote commands over a WebSocket (channel.k8s.io family), for clients that the apiserver
// proxies to the kubelet unchanged. Channel 0 stdin, 1 stdout, 2 stderr, 3 the final Status,
// 4 resizes; v5 adds the [255, channel] close signal, so stdin EOF reaches the command.
import type { WebSocket } from 'ws';
import type { StreamOptions } from '../backend.ts';
import { WsChannels } from '../websocket/channels.ts';
import type { ClientExecStreams } from './relay.ts';
import { statusForProtocol } from './status.ts';

export const WS_REMOTECOMMAND_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io'];

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;

/** The streams of an accepted WebSocket; `protocol` is the negotiated subprotocol ('' for none). */
export function webSocketExecStreams(ws: WebSocket, protocol: string, options: StreamOptions): ClientExecStreams {
  const version = protocol.startsWith('v5.') ? 5 : protocol.startsWith('v4.') ? 4 : 1;
  const channels = new WsChannels(ws, { closeSignal: version >= 5 });
  // Like the kubelet: an empty first message tells the client the streams are ready.
  const ready = options.stdout ? STDOUT : options.stderr ? STDERR : ERROR;
  void channels.send(ready, Buffer.alloc(0)).catch(() => undefined);
  return {
    ...(options.stdin ? { stdin: channels.reader(STDIN) } : {}),
    ...(options.stdout ? { stdout: channels.writer(STDOUT) } : {}),
    ...(options.stderr ? { stderr: channels.writer(STDERR) } : {}),
    ...(options.tty ? { resize: channels.reader(RESIZE) } : {}),
    writeStatus: async (status) => {
      const bytes = statusForProtocol(status, version);
      if (bytes.length > 0) await channels.send(ERROR, bytes).catch(() => undefined);
    },
    finish: async () => {
      channels.close();
      await Promise.race([channels.closed, new Promise((r) => setTimeout(r, 10_000).unref())]);
      channels.terminate();
    },
    abort: () => channels.terminate(),
    gone: channels.closed.then(() => undefined),
  };
}
