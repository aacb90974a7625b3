// The Kubernetes channel protocol over one WebSocket (k8s.io/streaming wsstream): every binary
// message starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize for a
// remote command; 2i and 2i+1 for the data and error of the i-th forwarded port). v5 adds the
// message [255, channel]: "no more data on this channel" (stdin EOF). Used both as the server
// clients talk to and as the client of the remote apiserver, with backpressure both ways: a full
// reader pauses the socket, and a writer waits while the WebSocket has too much unsent.
import { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';

export const CLOSE_SIGNAL = 255;

/** Above this many unsent bytes, writers wait for the socket. */
const SEND_HIGH_WATER_MARK = 1 << 20;

export interface ChannelOptions {
  /** The peer understands [255, channel] (v5.channel.k8s.io). */
  closeSignal: boolean;
}

/** Channels multiplexed over a WebSocket; channels nobody reads are dropped. */
export class WsChannels {
  readonly #ws: WebSocket;
  readonly #closeSignal: boolean;
  readonly #readers = new Map<number, Readable>();
  readonly #blocked = new Set<number>();
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(ws: WebSocket, options: ChannelOptions) {
    this.#ws = ws;
    this.#closeSignal = options.closeSignal;
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        for (const reader of this.#readers.values()) if (!reader.readableEnded) reader.push(null);
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(isBinary ? data : Buffer.from(data)));
    ws.on('error', () => ws.terminate());
  }

  get supportsCloseSignal(): boolean {
    return this.#closeSignal;
  }

  /** The data arriving on `channel`, ended when the peer closes the channel or the socket. */
  reader(channel: number): Readable {
    let reader = this.#readers.get(channel);
    if (!reader) {
      reader = new Readable({ read: () => this.#unblock(channel) });
      reader.on('close', () => this.#unblock(channel));
      this.#readers.set(channel, reader);
    }
    return reader;
  }

  /**
   * A stream whose writes go out on `channel`. With `signalEnd`, end() sends [255, channel] (only
   * for input the peer reads, such as stdin; clients do not expect it on output channels).
   */
  writer(channel: number, signalEnd = false): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.send(channel, chunk).then(() => callback(), callback);
      },
      final: (callback) => {
        if (signalEnd && this.#closeSignal && this.#ws.readyState === this.#ws.OPEN) {
          this.#ws.send(Buffer.from([CLOSE_SIGNAL, channel]));
        }
        callback();
      },
    });
  }

  /** Sends one message on `channel`; resolves once the WebSocket's backlog is acceptable. */
  send(channel: number, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#ws.readyState !== this.#ws.OPEN) return reject(new Error('WebSocket is not open'));
      const message = Buffer.allocUnsafe(data.length + 1);
      message[0] = channel;
      data.copy(message, 1);
      // Resolve now while the backlog is small, else once this message reached the socket.
      this.#ws.send(message, { binary: true }, (err) => (err ? reject(err) : resolve()));
      if (this.#ws.bufferedAmount < SEND_HIGH_WATER_MARK) resolve();
    });
  }

  /**
   * Starts the closing handshake; drops the socket if the peer has not answered within
   * `forceAfterMs` (ws itself would wait 30 s, long for one finished connection of many).
   */
  close(code = 1000, forceAfterMs = 5000): void {
    if (this.#ws.readyState !== this.#ws.OPEN && this.#ws.readyState !== this.#ws.CONNECTING) return;
    this.#ws.close(code);
    const force = setTimeout(() => this.#ws.terminate(), forceAfterMs);
    force.unref();
    void this.closed.then(() => clearTimeout(force));
  }

  terminate(): void {
    this.#ws.terminate();
  }

  #onMessage(message: Buffer): void {
    if (message.length === 0) return;
    const channel = message[0] as number;
    if (channel === CLOSE_SIGNAL && this.#closeSignal) {
      const closing = this.#readers.get(message[1] ?? -1);
      if (closing && !closing.readableEnded) closing.push(null);
      return;
    }
    const reader = this.#readers.get(channel);
    if (!reader || reader.readableEnded || reader.destroyed || message.length === 1) return;
    if (!reader.push(message.subarray(1))) {
      this.#blocked.add(channel);
      this.#ws.pause();
    }
  }

  #unblock(channel: number): void {
    if (this.#blocked.delete(channel) && this.#blocked.size === 0) this.#ws.resume();
  }
}
