import { expect } from 'chai';
import { once } from 'node:events';
import { duplexPair } from 'node:stream';
import type { Duplex } from 'node:stream';
import { SpdyConnection } from '../../../src/kubelet/spdy/connection.ts';
import type { SpdyStream } from '../../../src/kubelet/spdy/connection.ts';
import {
  FrameSplitter,
  RstStatus,
  decodeFrame,
  encodePing,
  encodeSettings,
  encodeWindowUpdate,
} from '../../../src/kubelet/spdy/frames.ts';
import type { Frame } from '../../../src/kubelet/spdy/frames.ts';

function pair(): { client: SpdyConnection; server: SpdyConnection; clientSocket: Duplex; serverSocket: Duplex } {
  const [clientSocket, serverSocket] = duplexPair();
  const server = new SpdyConnection(serverSocket, undefined, { server: true, closeTimeoutMs: 2000 });
  const client = new SpdyConnection(clientSocket, undefined, { server: false });
  return { client, server, clientSocket, serverSocket };
}

/** Accepts every stream the server sees and hands them out in order. */
function acceptAll(server: SpdyConnection): () => Promise<SpdyStream> {
  const queue: SpdyStream[] = [];
  const waiters: Array<(s: SpdyStream) => void> = [];
  server.on('stream', (s) => {
    s.accept();
    const w = waiters.shift();
    if (w) w(s);
    else queue.push(s);
  });
  return () => {
    const s = queue.shift();
    return s ? Promise.resolve(s) : new Promise((resolve) => waiters.push(resolve));
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Reads raw frames that a connection writes to `socket`'s peer. */
function frameTap(socket: Duplex): Frame[] {
  const frames: Frame[] = [];
  const splitter = new FrameSplitter();
  socket.on('data', (chunk: Buffer) => {
    splitter.push(chunk);
    for (let raw = splitter.next(); raw; raw = splitter.next()) frames.push(decodeFrame(raw));
  });
  return frames;
}

describe('kubelet SPDY connection', () => {
  it('opens streams with headers and carries data both ways with half-close', async () => {
    const { client, server } = pair();
    const next = acceptAll(server);
    const stream = await client.createStream([
      ['streamType', 'stdin'],
      ['requestID', '7'],
    ]);
    const peer = await next();
    const closed = Promise.all([once(stream, 'close'), once(peer, 'close')]);
    expect(peer.header('streamtype')).to.equal('stdin');
    expect(peer.header('requestId')).to.equal('7');
    stream.end('ping from client');
    let got = '';
    peer.on('data', (c: Buffer) => (got += c.toString()));
    await once(peer, 'end');
    expect(got).to.equal('ping from client');
    peer.end('pong from server');
    expect((await readAll(stream)).toString()).to.equal('pong from server');
    await closed;
    expect(stream.resetStatus).to.equal(undefined);
    expect(peer.resetStatus).to.equal(undefined);
    expect(server.streamCount).to.equal(0);
    expect(client.streamCount).to.equal(0);
    client.destroy();
  });

  it('keeps one header context across many streams', async () => {
    const { client, server } = pair();
    const next = acceptAll(server);
    for (let i = 0; i < 200; i++) {
      const [stream, peer] = await Promise.all([
        client.createStream([
          ['streamtype', i % 2 ? 'data' : 'error'],
          ['port', '80'],
          ['requestid', String(i)],
        ]),
        next(),
      ]);
      expect(peer.header('requestid')).to.equal(String(i));
      stream.reset();
      await once(peer, 'close');
      expect(peer.resetStatus).to.equal(RstStatus.cancel);
    }
    expect(server.streamCount).to.equal(0);
    client.destroy();
  });

  it("echoes the peer's PINGs and answers its own", async () => {
    const { client, server } = pair();
    expect(await client.ping()).to.be.a('number');
    expect(await server.ping()).to.be.a('number');
    client.destroy();
  });

  it('echoes an odd PING id verbatim and ignores SETTINGS and WINDOW_UPDATE', async () => {
    const [raw, serverSocket] = duplexPair();
    const server = new SpdyConnection(serverSocket, undefined);
    const frames = frameTap(raw);
    raw.write(Buffer.concat([encodeSettings([{ id: 7, value: 1 }]), encodeWindowUpdate(0, 5), encodePing(41)]));
    while (frames.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(frames).to.deep.equal([{ kind: 'ping', id: 41 }]);
    server.destroy();
  });

  it('resets a stream the peer opens with a server-side (even) id', async () => {
    const [raw, serverSocket] = duplexPair();
    const server = new SpdyConnection(serverSocket, undefined);
    server.on('stream', () => expect.fail('must not surface'));
    const client = new SpdyConnection(raw, undefined, { server: true }); // wrong parity on purpose
    await client.createStream([['a', 'b']]).then(
      () => expect.fail('should be reset'),
      (err: Error) => expect(err.message).to.match(/reset by peer \(status 1\)/),
    );
    server.destroy();
  });

  it('refuses streams nobody listens for', async () => {
    const { client } = pair();
    await client.createStream([['a', 'b']]).then(
      () => expect.fail('should be refused'),
      (err: Error) => expect(err.message).to.match(/status 3/),
    );
    client.destroy();
  });

  it('a local destroy sends RST_STREAM and ignores late data', async () => {
    const { client, server } = pair();
    const next = acceptAll(server);
    const stream = await client.createStream([['streamtype', 'data']]);
    const peer = await next();
    peer.destroy();
    await once(stream, 'close');
    expect(stream.resetStatus).to.equal(RstStatus.cancel);
    expect(server.streamCount).to.equal(0);
    // The server must survive data for the forgotten stream.
    const again = await client.createStream([['streamtype', 'data']]);
    const peer2 = await next();
    again.end('still alive');
    expect((await readAll(peer2)).toString()).to.equal('still alive');
    client.destroy();
  });

  it('moves 10 MiB each way through a slow reader without losing bytes', async function () {
    this.timeout(30_000);
    const { client, server } = pair();
    const next = acceptAll(server);
    const stream = await client.createStream([['streamtype', 'data']]);
    const peer = await next();
    const payload = Buffer.alloc(10 << 20);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    // Server echoes through a reader that pauses now and then.
    peer.on('data', (chunk: Buffer) => {
      if (!peer.write(chunk)) {
        peer.pause();
        peer.once('drain', () => peer.resume());
      }
    });
    peer.on('end', () => peer.end());
    const received = readAll(stream);
    for (let i = 0; i < payload.length; i += 1 << 20) {
      if (!stream.write(payload.subarray(i, i + (1 << 20)))) await once(stream, 'drain');
    }
    stream.end();
    const echoed = await received;
    expect(echoed.length).to.equal(payload.length);
    expect(echoed.equals(payload)).to.equal(true);
    client.destroy();
  });

  it('close() ends open streams, sends GOAWAY last and waits for the peer to hang up', async () => {
    const { client, server, clientSocket } = pair();
    const next = acceptAll(server);
    const stream = await client.createStream([['streamtype', 'stdout']]);
    const peer = await next();
    peer.write('tail before goaway');
    const closing = server.close();
    expect((await readAll(stream)).toString()).to.equal('tail before goaway');
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).to.equal(false);
    clientSocket.destroy();
    await closing;
    expect(server.isClosed).to.equal(true);
  });

  it('refuses streams opened after close() began instead of leaving them unanswered', async () => {
    const { client, server, clientSocket } = pair();
    acceptAll(server);
    void server.close();
    await client.createStream([['streamtype', 'late']]).then(
      () => expect.fail('should be refused'),
      (err: Error) => expect(err.message).to.match(/status 3/),
    );
    clientSocket.destroy();
  });

  it('destroys every stream when the socket goes away', async () => {
    const { client, server, clientSocket } = pair();
    const next = acceptAll(server);
    await client.createStream([['streamtype', 'data']]);
    const peer = await next();
    clientSocket.destroy();
    await once(peer, 'close');
    await server.closed;
    expect(server.streamCount).to.equal(0);
  });
});
