// The WebSocket side of the kubelet API, with a plain `ws` client speaking the channel protocol
// byte by byte (what client libraries other than client-go send through the apiserver).
import { expect } from 'chai';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { echoServer, localBackend, startTestServer } from './fixtures.ts';
import type { LocalBackend, TestServer } from './fixtures.ts';

describe('kubelet API over WebSocket', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let backend: LocalBackend;
  let server: TestServer;

  before(async () => {
    echo = await echoServer();
    backend = localBackend({
      pods: { 'default/web': { namespace: 'r', name: 'web' } },
      ports: { 80: echo.port, 81: echo.port },
    });
    server = await startTestServer(backend);
  });
  after(async () => {
    await server.close();
    await echo.close();
  });

  function connect(path: string, protocols: string[]): WebSocket {
    return new WebSocket(`wss://127.0.0.1:${server.port}${path}`, protocols, {
      ca: server.serving.ca,
      cert: server.clients.cert,
      key: server.clients.key,
    });
  }

  /** Collects channel payloads until the socket closes. */
  function collect(ws: WebSocket): Promise<{ channels: Map<number, Buffer>; code: number }> {
    const channels = new Map<number, Buffer>();
    ws.on('message', (data: Buffer) => {
      const ch = data[0] as number;
      channels.set(ch, Buffer.concat([channels.get(ch) ?? Buffer.alloc(0), data.subarray(1)]));
    });
    return once(ws, 'close').then(([code]) => ({ channels, code: code as number }));
  }

  it('exec v5: stdin, then the close signal [255, 0] is EOF; exit status on channel 3', async () => {
    const ws = connect('/exec/default/web/c?command=sh&command=-c&command=cat%3B%20exit%203&input=1&output=1&error=1', [
      'v5.channel.k8s.io',
    ]);
    const result = collect(ws);
    await once(ws, 'open');
    expect(ws.protocol).to.equal('v5.channel.k8s.io');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('hello\n')]));
    ws.send(Buffer.from([255, 0]));
    const { channels } = await result;
    expect(channels.get(1)?.toString()).to.equal('hello\n');
    const status = JSON.parse(channels.get(3)?.toString() ?? '{}') as {
      reason: string;
      details: { causes: unknown[] };
    };
    expect(status.reason).to.equal('NonZeroExitCode');
    expect(status.details.causes).to.deep.equal([{ reason: 'ExitCode', message: '3' }]);
  });

  it('exec v4: success status; the ready message comes first on stdout', async () => {
    const ws = connect('/exec/default/web/c?command=echo&command=hi&output=1', ['v4.channel.k8s.io']);
    const first = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
    const result = collect(ws);
    expect([...(await first)]).to.deep.equal([1]);
    const { channels } = await result;
    expect(channels.get(1)?.toString()).to.equal('hi\n');
    expect(JSON.parse(channels.get(3)?.toString() ?? '{}')).to.deep.include({ status: 'Success' });
  });

  it('a client hanging up mid-command kills the command, with no stray rejections', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): number => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const loop = encodeURIComponent('while true; do echo x; echo y >&2; sleep 0.02; done');
      const ws = connect(`/exec/default/web/c?command=sh&command=-c&command=${loop}&output=1&error=1`, [
        'v5.channel.k8s.io',
      ]);
      await new Promise<void>((resolve) => ws.on('message', (d: Buffer) => d[0] === 2 && resolve()));
      expect(backend.open.size).to.equal(1);
      ws.terminate();
      await waitFor(() => backend.open.size === 0);
      await new Promise((r) => setTimeout(r, 50));
      expect(rejections).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('port-forward v4: port prefix first on both channels, data echoed, two ports at once', async () => {
    const ws = connect('/portForward/default/web?port=80&port=81', ['v4.channel.k8s.io']);
    const messages: Buffer[] = [];
    ws.on('message', (d: Buffer) => messages.push(d));
    await once(ws, 'open');
    await waitFor(() => messages.length >= 4);
    const prefixes = messages.slice(0, 4).map((m) => [...m]);
    expect(prefixes).to.have.deep.members([
      [0, 80, 0],
      [1, 80, 0],
      [2, 81, 0],
      [3, 81, 0],
    ]);
    const payload = Buffer.alloc(3 << 20, 7);
    ws.send(Buffer.concat([Buffer.from([0]), payload]));
    ws.send(Buffer.concat([Buffer.from([2]), Buffer.from('second port')]));
    const echoed = (ch: number): number =>
      messages
        .slice(4)
        .filter((m) => m[0] === ch)
        .reduce((n, m) => n + m.length - 1, 0);
    await waitFor(() => echoed(0) === payload.length && echoed(2) === 'second port'.length);
    ws.close();
    await once(ws, 'close');
    await waitFor(() => backend.open.size === 0 && echo.connections() === 0);
  });

  it('port-forward to a closed port reports the error on the error channel', async () => {
    const ws = connect('/portForward/default/web?port=1', ['v4.channel.k8s.io']);
    const { channels } = await collect(ws);
    expect(channels.get(1)?.subarray(2).toString()).to.match(/^error forwarding port 1 to pod web: .*ECONNREFUSED/);
  });

  it('refuses subprotocols it does not speak, and port-forward without ports', async () => {
    for (const [path, protocols] of [
      ['/exec/default/web/c?command=ls&output=1', ['base64.channel.k8s.io']],
      ['/portForward/default/web', ['v4.channel.k8s.io']],
    ] as const) {
      const ws = connect(path, [...protocols]);
      ws.on('error', () => undefined);
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
      expect(res.statusCode).to.equal(400);
      ws.terminate();
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
