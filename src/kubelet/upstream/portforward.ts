// One forwarded connection on the remote apiserver: a WebSocket `portforward?ports=P` with
// v4.channel.k8s.io. Channel 0 carries the data, channel 1 the error text; the first two bytes
// the remote sends on each are the port (little endian), which we strip. The protocol has no
// half-close, so when our client stops sending we keep the connection while the pod still
// answers and close it once the pod has been quiet for a moment.
import { Duplex, Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import type { PortForwardSession, RemotePodTarget } from '../backend.ts';
import { WsChannels } from '../websocket/channels.ts';
import { dialRemoteWebSocket, podSubresourcePath } from './remote-api.ts';
import type { RemoteApi } from './remote-api.ts';

export const UPSTREAM_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io'];

const DATA = 0;
const ERROR = 1;
const PORT_PREFIX = 2;

export interface RemotePortForwardOptions {
  /** After our client's FIN, close once the pod sent nothing for this long. */
  halfCloseLingerMs?: number;
}

export async function openRemotePortForward(
  api: RemoteApi,
  target: RemotePodTarget,
  port: number,
  signal: AbortSignal,
  options: RemotePortForwardOptions = {},
): Promise<PortForwardSession> {
  const path = podSubresourcePath(target.namespace, target.name, 'portforward');
  const query = new URLSearchParams({ ports: String(port) });
  // Readers attached in 'open': the remote sends the port prefixes at once.
  return dialRemoteWebSocket(api, { path, query, protocols: UPSTREAM_PORTFORWARD_PROTOCOLS }, signal, (ws) => {
    const channels = new WsChannels(ws, { closeSignal: false });
    const abort = (): void => channels.terminate();
    signal.addEventListener('abort', abort, { once: true });
    void channels.closed.then(() => signal.removeEventListener('abort', abort));
    const errors = readText(withoutPortPrefix(channels.reader(ERROR)));
    const stream = new ForwardedConnection(
      channels,
      withoutPortPrefix(channels.reader(DATA)),
      options.halfCloseLingerMs ?? 2000,
    );
    return { stream, errors: errors.then((text) => text || undefined), abort };
  });
}

/** Drops the first two bytes (the port), however the messages split them. */
function withoutPortPrefix(source: Readable): Readable {
  let skip = PORT_PREFIX;
  const strip = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const cut = Math.min(skip, chunk.length);
      skip -= cut;
      callback(null, cut === chunk.length ? undefined : chunk.subarray(cut));
    },
  });
  source.on('error', (err) => strip.destroy(err));
  return source.pipe(strip);
}

async function readText(source: Readable): Promise<string> {
  let text = '';
  for await (const chunk of source) text += (chunk as Buffer).toString('utf8');
  return text;
}

/** The pod's port as a Duplex over the channels, with the half-close linger. */
class ForwardedConnection extends Duplex {
  readonly #channels: WsChannels;
  readonly #source: Readable;
  readonly #lingerMs: number;
  #linger: NodeJS.Timeout | undefined;

  constructor(channels: WsChannels, source: Readable, lingerMs: number) {
    super({ allowHalfOpen: true });
    this.#channels = channels;
    this.#source = source;
    this.#lingerMs = lingerMs;
    source.on('data', (chunk: Buffer) => {
      if (chunk.length === 0) return;
      if (this.#linger) this.#linger.refresh();
      if (!this.push(chunk)) source.pause();
    });
    source.on('end', () => this.push(null));
    source.on('error', (err) => this.destroy(err));
    void channels.closed.then(() => {
      clearTimeout(this.#linger);
      if (!this.readableEnded) this.push(null);
    });
  }

  override _read(): void {
    this.#source.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#channels.send(DATA, chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#linger = setTimeout(() => this.#channels.close(), this.#lingerMs);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#linger);
    this.#channels.terminate();
    callback(error);
  }
}
