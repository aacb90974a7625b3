// A SPDY/3.1 connection over an upgraded socket, as moby/spdystream (kube-apiserver, kubectl)
// expects it: streams are Node Duplexes (remote FIN ends the readable side, end() sends FIN),
// PINGs from the peer are echoed, RST_STREAM and GOAWAY are honoured, flow control is ignored
// (spdystream never sends WINDOW_UPDATE). Backpressure comes from the socket instead: a stream
// whose reader falls behind pauses reading the socket, and writes wait for the socket to drain.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import {
  ControlType,
  FrameSplitter,
  GoAwayStatus,
  RstStatus,
  decodeFrame,
  decodeHeaderBlock,
  encodeDataHeader,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeStreamHeaders,
  encodeSynStream,
  headerValue,
} from './frames.ts';
import type { Frame, SpdyHeaders } from './frames.ts';
import { HeaderZlib } from './header-zlib.ts';

/** Payloads larger than this go out as several DATA frames, so PINGs and other streams interleave. */
const MAX_DATA_FRAME = 64 * 1024;
/**
 * Writers wait for the socket only above this many unsent bytes. Waiting whenever write() says
 * false (16 KiB, less than one frame) would stop every stream at every frame until the socket
 * drained: one frame in flight at a time.
 */
const SEND_BUFFER = 512 * 1024;

export interface SpdyConnectionOptions {
  /** The server side accepts odd (client) stream ids and opens even ones. Default true. */
  server?: boolean;
  /** Streams open at once beyond this are refused with RST_STREAM REFUSED_STREAM. */
  maxConcurrentStreams?: number;
  /** How long close() waits for the peer to hang up before dropping the socket. */
  closeTimeoutMs?: number;
}

interface ConnectionEvents {
  stream: [SpdyStream];
  goaway: [];
  /** Bad framing or a broken header context: the connection is going away. */
  protocolError: [unknown];
  close: [];
}

/** A multiplexed SPDY/3.1 session over one socket. */
export class SpdyConnection extends EventEmitter<ConnectionEvents> {
  readonly #socket: Duplex;
  readonly #server: boolean;
  readonly #maxStreams: number;
  readonly #closeTimeoutMs: number;
  readonly #splitter = new FrameSplitter();
  readonly #deflate = HeaderZlib.compressor();
  readonly #inflate = HeaderZlib.decompressor();
  readonly #streams = new Map<number, SpdyStream>();
  readonly #pendingReplies = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  readonly #pendingPings = new Map<number, () => void>();
  readonly #blockedBy = new Set<SpdyStream>();
  #outTail: Promise<void> = Promise.resolve();
  #busy = false;
  #pumping = false;
  #peerEnded = false;
  /** Highest stream id the peer used (ids must grow) and the last one we took on (for GOAWAY). */
  #highestPeerStreamId = 0;
  #lastAcceptedPeerStreamId = 0;
  #nextStreamId: number;
  #nextPingId: number;
  #sentGoAway = false;
  #receivedGoAway = false;
  #closing = false;
  #closed = false;
  readonly closed: Promise<void>;

  constructor(socket: Duplex, head: Buffer | undefined, options: SpdyConnectionOptions = {}) {
    super();
    this.#socket = socket;
    this.#server = options.server ?? true;
    this.#maxStreams = options.maxConcurrentStreams ?? 1000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.#nextStreamId = this.#server ? 2 : 1;
    this.#nextPingId = this.#server ? 2 : 1;
    this.closed = new Promise((resolve) => this.once('close', resolve));
    if (head?.length) this.#splitter.push(head);
    socket.on('data', (chunk: Buffer) => {
      this.#splitter.push(chunk);
      this.#pump();
    });
    socket.on('error', () => this.destroy());
    socket.on('end', () => {
      // Frames may still wait in the splitter behind a slow reader: handle them first.
      this.#peerEnded = true;
      this.#pump();
    });
    socket.on('close', () => this.destroy());
    queueMicrotask(() => this.#pump());
  }

  /** Streams open in either direction. */
  get streamCount(): number {
    return this.#streams.size;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Opens a stream (client side of a protocol, and tests); resolves once the peer replied. */
  async createStream(headers: Iterable<[string, string | string[]]>, fin = false): Promise<SpdyStream> {
    if (this.#closing || this.#receivedGoAway) throw new Error('SPDY connection is closing');
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const list = [...headers];
    const stream = new SpdyStream(this, id, new Map(list.map(([k, v]) => [k.toLowerCase(), [v].flat()])), false);
    this.#streams.set(id, stream);
    const replied = new Promise<void>((resolve, reject) => this.#pendingReplies.set(id, { resolve, reject }));
    const block = encodeHeaderBlock(list);
    void this.#send(async () => encodeSynStream(id, await this.#deflate.process(block), fin)).catch(() => undefined);
    if (fin) stream.markLocalFinished();
    await replied;
    return stream;
  }

  /** Sends a PING and resolves with the round trip in milliseconds. */
  ping(): Promise<number> {
    const id = this.#nextPingId;
    this.#nextPingId = this.#nextPingId >= 0x7ffffffe ? this.#nextPingId - 0x7ffffffe : this.#nextPingId + 2;
    const started = performance.now();
    const answered = new Promise<number>((resolve) =>
      this.#pendingPings.set(id, () => resolve(performance.now() - started)),
    );
    void this.#send(() => encodePing(id)).catch(() => undefined);
    return answered;
  }

  /**
   * Ends every stream still open for writing (FIN), then GOAWAY (spdystream stops reading at
   * GOAWAY, so it must come last), then waits for the peer to hang up: closing first could reset
   * the connection before the peer has read the tail of the output.
   */
  async close(): Promise<void> {
    if (this.#closed || this.#closing) return this.closed;
    this.#closing = true;
    for (const stream of this.#streams.values()) if (!stream.writableEnded && !stream.destroyed) stream.end();
    await this.#send(() => this.#goAwayFrame()).catch(() => undefined);
    const timer = setTimeout(() => this.destroy(), this.#closeTimeoutMs);
    timer.unref();
    await this.closed;
    clearTimeout(timer);
  }

  /** Drops the socket and every stream at once. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    const gone = new Error('SPDY connection closed');
    for (const pending of this.#pendingReplies.values()) pending.reject(gone);
    this.#pendingReplies.clear();
    for (const stream of [...this.#streams.values()]) stream.destroyQuietly();
    this.#streams.clear();
    this.#blockedBy.clear();
    this.#deflate.close();
    this.#inflate.close();
    this.#socket.destroy();
    this.emit('close');
  }

  // ---- used by SpdyStream ----

  /** @internal */
  sendReply(stream: SpdyStream, headers: Iterable<[string, string | string[]]>, fin: boolean): Promise<void> {
    const block = encodeHeaderBlock(headers);
    const type = ControlType.synReply;
    return this.#send(async () => encodeStreamHeaders(type, stream.id, await this.#deflate.process(block), fin));
  }

  /** @internal Writes `data` as DATA frames; resolves once the socket took them. */
  sendData(stream: SpdyStream, data: Buffer, fin: boolean): Promise<void> {
    return this.#send(() => dataFrames(stream.id, data, fin));
  }

  /** @internal */
  sendReset(stream: SpdyStream, status: number): void {
    void this.#send(() => encodeRstStream(stream.id, status)).catch(() => undefined);
  }

  /** @internal Called when a stream's reader wants more: resume reading the socket. */
  unblock(stream: SpdyStream): void {
    if (this.#blockedBy.delete(stream)) this.#pump();
  }

  /** @internal Both sides of the stream are done (FINs or a reset): no more frames for it. */
  forget(stream: SpdyStream): void {
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
    if (this.#streams.size === 0 && this.#receivedGoAway) this.destroy();
    else if (this.#blockedBy.delete(stream)) this.#pump();
  }

  // ---- writing ----

  /** Serialises every frame: header blocks must leave in the order they were compressed. */
  #send(build: () => Buffer | Buffer[] | Promise<Buffer>): Promise<void> {
    const written = this.#outTail.then(async () => {
      if (this.#closed) throw new Error('SPDY connection closed');
      const bytes = await build();
      const pieces = Array.isArray(bytes) ? bytes : [bytes];
      // Corked, the pieces (a DATA header and its payload, ...) leave in one writev.
      this.#socket.cork();
      for (const piece of pieces) this.#socket.write(piece);
      this.#socket.uncork();
      if (this.#socket.writableLength > SEND_BUFFER && !this.#closed) await this.#drained();
    });
    this.#outTail = written.catch(() => undefined);
    return written;
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#socket.off('drain', done);
        this.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.on('close', done);
    });
  }

  #goAwayFrame(): Buffer {
    this.#sentGoAway = true;
    return encodeGoAway(this.#lastAcceptedPeerStreamId, GoAwayStatus.ok);
  }

  // ---- reading ----

  /** Handles every complete frame buffered, pausing the socket while a frame or a reader waits. */
  #pump(): void {
    // Re-entered from a reader's _read during push(): the running loop re-checks its conditions.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      this.#drainFrames();
    } finally {
      this.#pumping = false;
    }
    if (this.#closed) return;
    const waiting = this.#busy || this.#blockedBy.size > 0;
    if (this.#peerEnded && !waiting && this.#splitter.bufferedBytes === 0) return this.destroy();
    if (waiting) this.#socket.pause();
    else this.#socket.resume();
  }

  #drainFrames(): void {
    while (!this.#closed && !this.#busy && this.#blockedBy.size === 0) {
      let frame: Frame | undefined;
      try {
        const raw = this.#splitter.next();
        frame = raw && decodeFrame(raw);
      } catch (err) {
        return this.#protocolError(err);
      }
      if (!frame) break;
      const pending = this.#handle(frame);
      if (pending) {
        this.#busy = true;
        pending.then(
          () => {
            this.#busy = false;
            this.#pump();
          },
          (err: unknown) => this.#protocolError(err),
        );
      }
    }
  }

  #protocolError(err: unknown): void {
    if (this.#closed) return;
    // A broken header context or framing cannot be resynchronised: tell the peer and hang up.
    void this.#send(() => encodeGoAway(this.#lastAcceptedPeerStreamId, GoAwayStatus.protocolError)).catch(
      () => undefined,
    );
    this.emit('protocolError', err);
    setImmediate(() => this.destroy());
  }

  /** Returns a promise when the frame needs the inflate context (header blocks). */
  #handle(frame: Frame): Promise<void> | undefined {
    switch (frame.kind) {
      case 'data':
        return this.#onData(frame.streamId, frame.data, frame.fin);
      case 'synStream':
        return this.#inflate
          .process(frame.headerBlock)
          .then((block) => this.#onSynStream(frame, decodeHeaderBlock(block)));
      case 'synReply':
        return this.#inflate
          .process(frame.headerBlock)
          .then((block) => this.#onSynReply(frame, decodeHeaderBlock(block)));
      case 'headers':
        // Parsed to keep the inflate context in step; no protocol we serve sends HEADERS.
        return this.#inflate
          .process(frame.headerBlock)
          .then((block) => this.#onHeaders(frame, decodeHeaderBlock(block)));
      case 'rstStream':
        return this.#onReset(frame.streamId, frame.status);
      case 'ping':
        return this.#onPing(frame.id);
      case 'goAway':
        return this.#onGoAway();
      case 'ignored':
        return undefined;
    }
  }

  #onData(streamId: number, data: Buffer, fin: boolean): undefined {
    const stream = this.#streams.get(streamId);
    // Data for a stream we reset or never knew: spdystream drops it too.
    if (!stream || stream.remoteFinished) return;
    if (data.length > 0 && !stream.pushRemote(data)) this.#blockedBy.add(stream);
    if (fin) stream.finishRemote();
    return undefined;
  }

  #onSynStream(frame: Extract<Frame, { kind: 'synStream' }>, headers: SpdyHeaders): void {
    const id = frame.streamId;
    const fromPeer = this.#server ? id % 2 === 1 : id % 2 === 0;
    if (id === 0 || !fromPeer || id <= this.#highestPeerStreamId) {
      void this.#send(() => encodeRstStream(id, RstStatus.protocolError)).catch(() => undefined);
      return;
    }
    // Refused rather than ignored once closing: the peer learns at once instead of waiting for
    // a SYN_REPLY until its own timeout (spdystream waits 30 s).
    const refuse = this.#sentGoAway || this.#closing || this.#streams.size >= this.#maxStreams;
    this.#highestPeerStreamId = id;
    if (!refuse) this.#lastAcceptedPeerStreamId = id;
    if (refuse || this.listenerCount('stream') === 0) {
      void this.#send(() => encodeRstStream(id, RstStatus.refusedStream)).catch(() => undefined);
      return;
    }
    const stream = new SpdyStream(this, id, headers, true);
    this.#streams.set(id, stream);
    if (frame.fin) stream.finishRemote();
    this.emit('stream', stream);
  }

  #onSynReply(frame: Extract<Frame, { kind: 'synReply' }>, _headers: SpdyHeaders): void {
    const pending = this.#pendingReplies.get(frame.streamId);
    this.#pendingReplies.delete(frame.streamId);
    pending?.resolve();
    if (frame.fin) this.#streams.get(frame.streamId)?.finishRemote();
  }

  #onHeaders(frame: Extract<Frame, { kind: 'headers' }>, _headers: SpdyHeaders): void {
    if (frame.fin) this.#streams.get(frame.streamId)?.finishRemote();
  }

  #onReset(streamId: number, status: number): undefined {
    const pending = this.#pendingReplies.get(streamId);
    this.#pendingReplies.delete(streamId);
    pending?.reject(new Error(`stream ${streamId} reset by peer (status ${status})`));
    this.#streams.get(streamId)?.resetByPeer(status);
    return undefined;
  }

  #onPing(id: number): undefined {
    const ours = (id % 2 === 0) === this.#server;
    if (!ours) {
      void this.#send(() => encodePing(id)).catch(() => undefined);
      return undefined;
    }
    this.#pendingPings.get(id)?.();
    this.#pendingPings.delete(id);
    return undefined;
  }

  #onGoAway(): undefined {
    this.#receivedGoAway = true;
    this.emit('goaway');
    if (this.#streams.size === 0) this.destroy();
    return undefined;
  }
}

/** DATA frames as header and payload pieces (the payload is not copied). */
function dataFrames(streamId: number, data: Buffer, fin: boolean): Buffer[] {
  if (data.length === 0) return [encodeDataHeader(streamId, 0, fin)];
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += MAX_DATA_FRAME) {
    const payload = data.subarray(offset, offset + MAX_DATA_FRAME);
    const last = offset + MAX_DATA_FRAME >= data.length;
    pieces.push(encodeDataHeader(streamId, payload.length, fin && last), payload);
  }
  return pieces;
}

/**
 * One SPDY stream. Readable side: the peer's DATA, ended by its FIN. Writable side: our DATA,
 * end() sends FIN. destroy() before both sides finished sends RST_STREAM CANCEL. A reset from the
 * peer (see `resetStatus`) destroys the stream without an 'error' event: for kubectl a reset is
 * an ordinary way to say "done".
 */
export class SpdyStream extends Duplex {
  readonly id: number;
  readonly headers: SpdyHeaders;
  readonly #connection: SpdyConnection;
  readonly #peerInitiated: boolean;
  #replied: boolean;
  #localFinished = false;
  #remoteFinished = false;
  #resetStatus: number | undefined;

  constructor(connection: SpdyConnection, id: number, headers: SpdyHeaders, peerInitiated: boolean) {
    // autoDestroy: once the peer's data is read to the end and our FIN is out, 'close' fires.
    super({ allowHalfOpen: true, autoDestroy: true });
    this.id = id;
    this.headers = headers;
    this.#connection = connection;
    this.#peerInitiated = peerInitiated;
    this.#replied = !peerInitiated;
  }

  header(name: string): string | undefined {
    return headerValue(this.headers, name);
  }

  get remoteFinished(): boolean {
    return this.#remoteFinished;
  }

  /** The RST_STREAM status the peer sent, if it reset the stream. */
  get resetStatus(): number | undefined {
    return this.#resetStatus;
  }

  /** Accepts a stream the peer opened (SYN_REPLY); writes queued before it still follow it. */
  accept(headers: Iterable<[string, string | string[]]> = []): void {
    if (this.#replied || this.destroyed) return;
    this.#replied = true;
    void this.#connection.sendReply(this, headers, false).catch(() => undefined);
  }

  /** Refuses or aborts the stream with RST_STREAM. */
  reset(status: number = RstStatus.cancel): void {
    if (this.destroyed) return;
    this.#replied = true;
    this.#localFinished = true;
    this.#remoteFinished = true;
    this.#connection.sendReset(this, status);
    this.#connection.forget(this);
    this.destroy();
  }

  // ---- called by the connection ----

  /** @internal */
  pushRemote(data: Buffer): boolean {
    return this.push(data);
  }

  /** @internal */
  finishRemote(): void {
    if (this.#remoteFinished) return;
    this.#remoteFinished = true;
    this.push(null);
    if (this.#localFinished) this.#connection.forget(this);
  }

  /** @internal */
  markLocalFinished(): void {
    this.#localFinished = true;
  }

  /** @internal */
  resetByPeer(status: number): void {
    this.#resetStatus = status;
    this.#localFinished = true;
    this.#remoteFinished = true;
    this.#connection.forget(this);
    if (!this.destroyed) this.destroy();
  }

  /** @internal The connection is gone: no frames to send. */
  destroyQuietly(): void {
    this.#localFinished = true;
    this.#remoteFinished = true;
    if (!this.destroyed) this.destroy();
  }

  // ---- Duplex ----

  override _read(): void {
    this.#connection.unblock(this);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#localFinished) return callback();
    if (this.#peerInitiated && !this.#replied) this.accept();
    this.#connection.sendData(this, chunk, false).then(
      () => callback(),
      () => callback(), // the connection is gone; 'close' tells the owner
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#localFinished) return callback();
    if (this.#peerInitiated && !this.#replied) this.accept();
    this.#localFinished = true;
    this.#connection.sendData(this, Buffer.alloc(0), true).then(
      () => callback(),
      () => callback(),
    );
    if (this.#remoteFinished) this.#connection.forget(this);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#localFinished || !this.#remoteFinished) {
      this.#localFinished = true;
      this.#remoteFinished = true;
      this.#connection.sendReset(this, RstStatus.cancel);
    }
    this.#connection.forget(this);
    callback(error);
  }
}
