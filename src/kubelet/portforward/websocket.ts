// Port forwarding over a WebSocket (v4.channel.k8s.io), for clients the apiserver proxies to
// the kubelet unchanged (client libraries other than kubectl). The ports come from the query;
// the i-th port gets channel 2i for data and 2i+1 for errors, and the first message on each
// starts with the port in two little-endian bytes. One connection per port, opened at once.
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { WsChannels } from '../websocket/channels.ts';
import { forwardErrorMessage, relayForward } from './relay.ts';
import type { OpenPortForward } from './spdy.ts';

export const WS_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'portforward.k8s.io'];

/** The `ports` query values (repeated and/or comma-separated); undefined when any is invalid. */
export function parsePorts(values: string[]): number[] | undefined {
  const ports = values.flatMap((v) => v.split(','));
  if (ports.length === 0) return undefined;
  const parsed = ports.map((p) => (/^\d{1,5}$/.test(p) ? Number(p) : NaN));
  return parsed.every((p) => p >= 1 && p <= 65535) ? parsed : undefined;
}

function portPrefix(port: number): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16LE(port, 0);
  return prefix;
}

/** Relays every port of an accepted WebSocket; closes it when all are done. */
export async function serveWebSocketPortForward(
  ws: WebSocket,
  podName: string,
  ports: number[],
  open: OpenPortForward,
): Promise<void> {
  const channels = new WsChannels(ws, { closeSignal: false });
  const abort = new AbortController();
  void channels.closed.then(() => abort.abort());
  const forward = { channels, podName, open, signal: abort.signal };
  await Promise.all(ports.map((port, i) => forwardOne(forward, i, port)));
  channels.close();
}

interface Forward {
  channels: WsChannels;
  podName: string;
  open: OpenPortForward;
  signal: AbortSignal;
}

async function forwardOne({ channels, podName, open, signal }: Forward, index: number, port: number): Promise<void> {
  const dataChannel = 2 * index;
  const errorChannel = dataChannel + 1;
  await Promise.all([
    channels.send(dataChannel, portPrefix(port)),
    channels.send(errorChannel, portPrefix(port)),
  ]).catch(() => undefined);
  const data = channelDuplex(channels.reader(dataChannel), channels.writer(dataChannel));
  const endError = (message?: string): void => {
    if (message) void channels.send(errorChannel, Buffer.from(message)).catch(() => undefined);
  };
  try {
    const session = await open(port, signal);
    await relayForward({ data, endError, resetData: () => data.destroy() }, session);
  } catch (err) {
    endError(forwardErrorMessage(port, podName, err));
  }
}

/** One channel as a Duplex: reads what the client sent on it, writes go back on it. */
function channelDuplex(reader: Readable, writer: Writable): Duplex {
  return Duplex.from({ readable: reader, writable: writer });
}
