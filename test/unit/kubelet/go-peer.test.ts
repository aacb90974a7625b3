// The kubelet API against client-go's own SPDY clients (the code kube-apiserver and kubectl use
// towards a kubelet), built from test/peers/spdyclient. Without a Go toolchain they fail (Go is
// part of the test environment), they are not skipped.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { echoServer, localBackend, startTestServer } from './fixtures.ts';
import type { LocalBackend, TestServer } from './fixtures.ts';
import { runPeer, spdyClientBinary } from './go-peer.ts';

describe('kubelet API with client-go SPDY clients (Go peer)', function () {
  this.timeout(120_000);
  let binary: string;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let backend: LocalBackend;
  let server: TestServer;
  let dir: string;
  let files: { ca: string; cert: string; key: string; strangerCert: string; strangerKey: string };

  before(async () => {
    binary = await spdyClientBinary();
    echo = await echoServer();
    backend = localBackend({
      pods: { 'default/web': { namespace: 'default-local', name: 'web' } },
      ports: { 80: echo.port },
    });
    server = await startTestServer(backend);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-peer-'));
    files = {
      ca: path.join(dir, 'ca.pem'),
      cert: path.join(dir, 'client.pem'),
      key: path.join(dir, 'client-key.pem'),
      strangerCert: path.join(dir, 'stranger.pem'),
      strangerKey: path.join(dir, 'stranger-key.pem'),
    };
    fs.writeFileSync(files.ca, server.serving.ca);
    fs.writeFileSync(files.cert, server.clients.cert);
    fs.writeFileSync(files.key, server.clients.key);
    fs.writeFileSync(files.strangerCert, server.clients.strangerCert);
    fs.writeFileSync(files.strangerKey, server.clients.strangerKey);
  });

  after(async () => {
    await server?.close();
    await echo?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const base = (): string => `https://127.0.0.1:${server.port}`;
  const tlsArgs = (): string[] => ['-ca', files.ca, '-cert', files.cert, '-key', files.key];
  const execUrl = (command: string[], streams = 'output=1&error=1', pod = 'web'): string =>
    `${base()}/exec/default/${pod}/main?${command.map((c) => `command=${encodeURIComponent(c)}`).join('&')}&${streams}`;

  it('exec: stdout and stderr apart, exit code 3 reaches the client', async () => {
    const url = execUrl(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    const result = await runPeer(binary, ['exec', '-url', url, ...tlsArgs()]);
    expect(result.stdout.toString()).to.equal('out\n');
    expect(result.stderr).to.equal('err\n');
    expect(result.code).to.equal(3);
  });

  it('exec: exit code 0 on success', async () => {
    const result = await runPeer(binary, ['exec', '-url', execUrl(['true']), ...tlsArgs()]);
    expect(result.code, result.stderr).to.equal(0);
  });

  it('exec: 1 MiB through stdin comes back on stdout, and stdin EOF ends the command', async () => {
    const input = randomBytes(1 << 20);
    const url = execUrl(['cat'], 'input=1&output=1&error=1');
    const result = await runPeer(binary, ['exec', '-stdin', '-url', url, ...tlsArgs()], input);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.length).to.equal(input.length);
    expect(result.stdout.equals(input)).to.equal(true);
  });

  for (const protocol of ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io']) {
    it(`exec over ${protocol}`, async () => {
      const url = execUrl(['sh', '-c', 'echo hi; exit 4']);
      const result = await runPeer(binary, ['exec', '-protocol', protocol, '-url', url, ...tlsArgs()]);
      expect(result.stdout.toString()).to.equal('hi\n');
      if (protocol.startsWith('v4')) expect(result.code).to.equal(4);
      else expect(result.stderr).to.match(/command terminated with non-zero exit code: exit status 4/);
    });
  }

  it('exec with a tty: resize events reach the backend', async () => {
    backend.resizes.length = 0;
    const url = execUrl(['sh', '-c', 'sleep 0.3; echo tty'], 'output=1&tty=1');
    const result = await runPeer(binary, ['exec', '-tty', '-url', url, ...tlsArgs()]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.toString()).to.equal('tty\n');
    expect(backend.resizes).to.deep.equal([{ width: 100, height: 40 }]);
  });

  it('attach: stdin goes in, output comes out', async () => {
    const url = `${base()}/attach/default/web/main?input=1&output=1&error=1`;
    const result = await runPeer(binary, ['exec', '-stdin', '-url', url, ...tlsArgs()], Buffer.from('attached\n'));
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.toString()).to.equal('attached\n');
  });

  it('port-forward: 10 MiB each way on each of 3 concurrent connections, nothing left open', async () => {
    const url = `${base()}/portForward/default/web`;
    const args = ['portforward', '-url', url, '-port', '80', '-bytes', String(10 << 20), '-conns', '3', ...tlsArgs()];
    const result = await runPeer(binary, args);
    expect(result.code, result.stderr).to.equal(0);
    const conns = JSON.parse(result.stdout.toString()) as Array<{
      sent: number;
      received: number;
      match: boolean;
      error?: string;
    }>;
    expect(conns).to.have.length(3);
    for (const c of conns) expect(c).to.deep.equal({ sent: 10 << 20, received: 10 << 20, match: true });
    await waitFor(() => backend.open.size === 0 && echo.connections() === 0);
  });

  it('port-forward: 50 sequential connections on one session leave no upstream behind', async () => {
    const url = `${base()}/portForward/default/web`;
    for (let round = 0; round < 5; round++) {
      const args = ['portforward', '-url', url, '-port', '80', '-bytes', '1000', '-conns', '10', ...tlsArgs()];
      const result = await runPeer(binary, args);
      expect(result.code, result.stderr).to.equal(0);
    }
    await waitFor(() => backend.open.size === 0 && echo.connections() === 0);
  });

  it('killing the client mid-command kills the command, with no stray rejections', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): number => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const url = execUrl(['sh', '-c', 'while true; do echo x; echo y >&2; sleep 0.02; done']);
      const child = spawn(binary, ['exec', '-url', url, ...tlsArgs()], { stdio: ['ignore', 'pipe', 'ignore'] });
      await once(child.stdout, 'data');
      expect(backend.open.size).to.equal(1);
      child.kill('SIGKILL');
      await waitFor(() => backend.open.size === 0);
      await new Promise((r) => setTimeout(r, 100));
      expect(rejections).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('a pod not bound to this node is 404', async () => {
    const result = await runPeer(binary, ['exec', '-url', execUrl(['true'], 'output=1', 'elsewhere'), ...tlsArgs()]);
    expect(result.code).to.equal(125);
    expect(result.stderr).to.match(/pod "elsewhere" does not exist/);
  });

  it('no credentials, or a certificate from another CA, is 401', async () => {
    const anonymous = await runPeer(binary, ['exec', '-url', execUrl(['true']), '-ca', files.ca]);
    expect(anonymous.code).to.equal(125);
    expect(anonymous.stderr).to.match(/Unauthorized/);
    const stranger = await runPeer(binary, [
      'exec',
      '-url',
      execUrl(['true']),
      '-ca',
      files.ca,
      '-cert',
      files.strangerCert,
      '-key',
      files.strangerKey,
    ]);
    expect(stranger.stderr).to.match(/Unauthorized/);
  });

  it('a user without nodes/proxy is 403', async () => {
    const result = await runPeer(binary, ['exec', '-url', execUrl(['true']), '-ca', files.ca, '-token', 'good']);
    expect(result.code).to.equal(125);
    expect(result.stderr).to.match(/Forbidden \(user=alice, verb=create, resource=nodes, subresource\(s\)=\[proxy\]\)/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
