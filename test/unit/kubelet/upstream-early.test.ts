// The remote may send its first WebSocket messages in the same packet as its upgrade answer (a
// real kubelet sends both port-forward port prefixes at once): they must reach the session, not
// be dropped before anyone listens. A raw TLS server answers the upgrade and the first messages
// in one write, so the client reads them together.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { generateServingCert } from '../../../src/kubelet/tls.ts';
import { openRemoteExec } from '../../../src/kubelet/upstream/exec.ts';
import { openRemotePortForward } from '../../../src/kubelet/upstream/portforward.ts';
import type { RemoteApi } from '../../../src/kubelet/upstream/remote-api.ts';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One unmasked binary frame (server to client) on `channel`. */
function frame(channel: number, payload: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from([channel]), payload]);
  if (body.length > 125) throw new Error('test frames stay small');
  return Buffer.concat([Buffer.from([0x82, body.length]), body]);
}

/** Answers every upgrade with 101 and `messages`, all in one write, then keeps the socket open. */
async function eagerRemote(protocol: string, messages: Buffer[]): Promise<{ api: RemoteApi; close(): void }> {
  const cert = await generateServingCert(['127.0.0.1']);
  const sockets = new Set<Duplex>();
  const server = https.createServer({ cert: cert.cert, key: cert.key });
  server.on('upgrade', (req, socket: Duplex) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const key = String(req.headers['sec-websocket-key']);
    const accept = createHash('sha1')
      .update(key + WEBSOCKET_GUID)
      .digest('base64');
    const head =
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`;
    socket.write(Buffer.concat([Buffer.from(head), ...messages]));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    api: { server: `https://127.0.0.1:${port}`, connectOptions: async () => ({ ca: cert.ca }) },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

async function firstBytes(stream: NodeJS.ReadableStream, count: number): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length >= count) break;
  }
  return text;
}

describe('kubelet upstream: messages that come with the upgrade answer', function () {
  // Bytes lost would leave the reads below waiting: fail soon.
  this.timeout(10_000);
  it('port-forward: the port prefixes are stripped and the data that follows is kept whole', async () => {
    const prefix = Buffer.from([0x90, 0x1f]); // 8080, little endian
    const remote = await eagerRemote('v4.channel.k8s.io', [
      frame(0, prefix),
      frame(1, prefix),
      frame(0, Buffer.from('HTTP/1.0 200 OK')),
    ]);
    const abort = new AbortController();
    try {
      const session = await openRemotePortForward(remote.api, { namespace: 'ns', name: 'pod' }, 8080, abort.signal);
      expect(await firstBytes(session.stream, 15)).to.equal('HTTP/1.0 200 OK');
      session.abort();
    } finally {
      abort.abort();
      remote.close();
    }
  });

  it('exec: output sent with the upgrade answer reaches stdout', async () => {
    const remote = await eagerRemote('v5.channel.k8s.io', [frame(1, Buffer.from('early output'))]);
    const abort = new AbortController();
    try {
      const options = { stdin: false, stdout: true, stderr: false, tty: false, command: ['echo'] };
      const session = await openRemoteExec(remote.api, { namespace: 'ns', name: 'pod' }, 'c', options, abort.signal);
      expect(await firstBytes(session.stdout!, 12)).to.equal('early output');
      session.abort();
      // Aborted mid-stream, the session ends as a dropped connection (1006), never as success.
      const ended = await session.done.then(
        () => 'resolved',
        (error: unknown) => String(error),
      );
      expect(ended).to.match(/connection to the remote pod closed \(1006\)/);
    } finally {
      abort.abort();
      remote.close();
    }
  });
});
