// The whole chain a virtual node serves: client-go (the Go peer, as kube-apiserver calls a
// kubelet) → our kubelet API → the remote cluster's apiserver (a fake speaking the apiserver's
// WebSocket subresources) → the pod (local processes and an echo server). Without a Go toolchain
// for the peer the suite fails; it is not skipped.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { remoteClusterBackend } from '../../../src/kubelet/remote-backend.ts';
import { startFakeRemote } from './fake-remote.ts';
import type { FakeRemote } from './fake-remote.ts';
import { echoServer, localBackend, startTestServer } from './fixtures.ts';
import type { LocalBackend, TestServer } from './fixtures.ts';
import { runPeer, spdyClientBinary } from './go-peer.ts';

describe('kubelet API → remote apiserver → pod (Go peer in front)', function () {
  this.timeout(120_000);
  let binary: string;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let pods: LocalBackend;
  let remote: FakeRemote;
  let server: TestServer;
  let dir: string;
  let tls: string[];

  before(async () => {
    binary = await spdyClientBinary();
    echo = await echoServer();
    pods = localBackend({ pods: {}, ports: { 8080: echo.port }, logLines: ['one', 'two', 'three'] });
    remote = await startFakeRemote(pods);
    const twins: Record<string, { namespace: string; name: string }> = {
      'shop/web': { namespace: 'shop-local', name: 'web' },
      'shop/gone': { namespace: 'shop-local', name: 'missing' },
    };
    const backend = remoteClusterBackend({
      remote: remote.api,
      logs: remote.client,
      resolvePod: async (namespace, name) => twins[`${namespace}/${name}`],
      halfCloseLingerMs: 200,
    });
    server = await startTestServer(backend);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-chain-'));
    fs.writeFileSync(path.join(dir, 'ca.pem'), server.serving.ca);
    fs.writeFileSync(path.join(dir, 'cert.pem'), server.clients.cert);
    fs.writeFileSync(path.join(dir, 'key.pem'), server.clients.key);
    tls = ['-ca', path.join(dir, 'ca.pem'), '-cert', path.join(dir, 'cert.pem'), '-key', path.join(dir, 'key.pem')];
  });

  after(async () => {
    await server?.close();
    await remote?.close();
    await echo?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const execUrl = (command: string[], streams: string, pod = 'web'): string =>
    `https://127.0.0.1:${server.port}/exec/shop/${pod}/app?` +
    `${command.map((c) => `command=${encodeURIComponent(c)}`).join('&')}&${streams}`;

  it('exec: output, stderr and exit code 3 travel back; the remote saw the twin pod and the remote token', async () => {
    const result = await runPeer(binary, [
      'exec',
      '-url',
      execUrl(['sh', '-c', 'echo out; echo err >&2; exit 3'], 'output=1&error=1'),
      ...tls,
    ]);
    expect(result.stdout.toString()).to.equal('out\n');
    expect(result.stderr).to.equal('err\n');
    expect(result.code).to.equal(3);
    const seen = remote.requests.at(-1) ?? '';
    expect(seen).to.match(
      /^GET \/api\/v1\/namespaces\/shop-local\/pods\/web\/exec\?container=app&stdout=true&stderr=true&command=sh/,
    );
  });

  it('exec: stdin EOF reaches the remote command (v5 close signal), 1 MiB round trip', async () => {
    const input = randomBytes(1 << 20);
    const result = await runPeer(
      binary,
      ['exec', '-stdin', '-url', execUrl(['cat'], 'input=1&output=1&error=1'), ...tls],
      input,
    );
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.equals(input)).to.equal(true);
  });

  it('exec: a remote that only speaks v4 still returns the exit code', async () => {
    remote.execProtocols.splice(0, remote.execProtocols.length, 'v4.channel.k8s.io');
    try {
      const result = await runPeer(binary, [
        'exec',
        '-url',
        execUrl(['sh', '-c', 'echo v4; exit 7'], 'output=1&error=1'),
        ...tls,
      ]);
      expect(result.stdout.toString()).to.equal('v4\n');
      expect(result.code).to.equal(7);
    } finally {
      remote.execProtocols.splice(0, remote.execProtocols.length, 'v5.channel.k8s.io', 'v4.channel.k8s.io');
    }
  });

  it('exec: the remote refusing (pod gone there) reaches the client as its message', async () => {
    const result = await runPeer(binary, ['exec', '-url', execUrl(['true'], 'output=1&error=1', 'gone'), ...tls]);
    expect(result.code).to.equal(125);
    expect(result.stderr).to.match(/pods "missing" not found/);
  });

  it('exec over WebSocket in front (client-go WebSocket executor, v5)', async () => {
    const url = execUrl(['sh', '-c', 'cat; echo done >&2; exit 5'], 'input=1&output=1&error=1');
    const result = await runPeer(binary, ['exec', '-websocket', '-stdin', '-url', url, ...tls], Buffer.from('typed\n'));
    expect(result.stdout.toString()).to.equal('typed\n');
    expect(result.stderr).to.equal('done\n');
    expect(result.code).to.equal(5);
  });

  it('exec over WebSocket v4 in front', async () => {
    const url = execUrl(['sh', '-c', 'echo four; exit 2'], 'output=1&error=1');
    const result = await runPeer(binary, ['exec', '-websocket', '-protocol', 'v4.channel.k8s.io', '-url', url, ...tls]);
    expect(result.stdout.toString()).to.equal('four\n');
    expect(result.code).to.equal(2);
  });

  it('attach through the remote', async () => {
    const url = `https://127.0.0.1:${server.port}/attach/shop/web/app?input=1&output=1&error=1`;
    const result = await runPeer(binary, ['exec', '-stdin', '-url', url, ...tls], Buffer.from('hello attach\n'));
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.toString()).to.equal('hello attach\n');
    expect(remote.requests.at(-1)).to.match(/\/pods\/web\/attach\?container=app&stdin=true&stdout=true&stderr=true$/);
  });

  it('port-forward: 10 MiB each way on 2 connections through one remote SPDY connection, nothing left open', async () => {
    const url = `https://127.0.0.1:${server.port}/portForward/shop/web`;
    const requestsBefore = remote.requests.length;
    const result = await runPeer(binary, [
      'portforward',
      '-url',
      url,
      '-port',
      '8080',
      '-bytes',
      String(10 << 20),
      '-conns',
      '2',
      ...tls,
    ]);
    expect(result.code, result.stderr).to.equal(0);
    const conns = JSON.parse(result.stdout.toString()) as unknown[];
    expect(conns).to.deep.equal([
      { sent: 10 << 20, received: 10 << 20, match: true },
      { sent: 10 << 20, received: 10 << 20, match: true },
    ]);
    // One upgrade for the session, however many connections it forwards.
    expect(remote.requests.slice(requestsBefore)).to.deep.equal([
      'GET /api/v1/namespaces/shop-local/pods/web/portforward',
    ]);
    await waitFor(() => pods.open.size === 0 && echo.connections() === 0);
  });

  it('port-forward: the remote refusing the upgrade (pod gone there) reaches the client as the HTTP answer', async () => {
    const url = `https://127.0.0.1:${server.port}/portForward/shop/gone`;
    const result = await runPeer(binary, ['portforward', '-url', url, '-port', '8080', '-bytes', '10', ...tls]);
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.include('pods "missing" not found');
  });

  it('logs: query passed through; a follow streams until the client leaves, then the remote one ends', async () => {
    const get = (query: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        https
          .get(`https://127.0.0.1:${server.port}/containerLogs/shop/web/app?${query}`, clientOptions(), (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
    const tail = await get('tailLines=2&timestamps=true');
    expect(tail).to.deep.equal({ status: 200, body: '2026-01-01T00:00:00Z two\n2026-01-01T00:00:00Z three\n' });
    expect(remote.requests.at(-1)).to.equal(
      'GET /api/v1/namespaces/shop-local/pods/web/log?container=app&timestamps=true&tailLines=2',
    );

    const aborts = pods.logAborts;
    const followed = await new Promise<string>((resolve, reject) => {
      const req = https.get(
        `https://127.0.0.1:${server.port}/containerLogs/shop/web/app?follow=true`,
        clientOptions(),
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
            if (body.includes('follow 5')) {
              req.destroy();
              resolve(body);
            }
          });
        },
      );
      req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
    });
    expect(followed).to.match(/^one\ntwo\nthree\nfollow 0\n/);
    await waitFor(() => pods.logAborts === aborts + 1);
  });

  function clientOptions(): https.RequestOptions {
    return { ca: server.serving.ca, cert: server.clients.cert, key: server.clients.key };
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
