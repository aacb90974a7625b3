// `kube-offload webhook` as a child process: flag errors exit 2, the listening address is
// logged, and SIGTERM drains an in-flight request, refuses new connections and exits 0.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import type { ClientRequest } from 'node:http';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { removeDir, review, send, tempDir, unhandledRejections, waitFor } from './helpers.ts';

const ROOT = join(import.meta.dirname, '../../..');
const CLI = join(ROOT, 'src/cli.ts');

interface Child {
  process: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  lines(): Array<Record<string, unknown>>;
}

const children = new Set<ChildProcess>();

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const child = spawn(process.execPath, [CLI, 'webhook', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const result: Child = {
    process: child,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve) =>
      child.on('exit', (code, signal) => (children.delete(child), resolve({ code, signal }))),
    ),
    lines: () =>
      result.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
  child.stdout?.on('data', (chunk: Buffer) => (result.stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (result.stderr += chunk.toString()));
  return result;
}

async function listening(child: Child): Promise<string> {
  const line = await waitFor(
    () => child.lines().find((entry) => entry.event === 'listening'),
    `the listening line (stderr: ${child.stderr})`,
    20_000,
  );
  return line.url as string;
}

/** Starts a POST whose body is only partly sent; `finish()` sends the rest. */
function inFlight(url: string, ca: string) {
  const body = JSON.stringify(review({ uid: 'uid-drain' }));
  let req: ClientRequest | undefined;
  const reply = new Promise<{ status: number; uid: string }>((resolve, reject) => {
    req = request(
      new URL('/validate', url),
      {
        method: 'POST',
        ca,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, uid: JSON.parse(Buffer.concat(chunks).toString()).response?.uid }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
  const sent = new Promise<void>((resolve) => req?.write(body.slice(0, 10), () => resolve()));
  return { reply, sent, finish: () => req?.end(body.slice(10)) };
}

describe('kube-offload webhook (CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async function () {
    dir = await tempDir();
  });
  afterEach(async function () {
    for (const child of children) child.kill('SIGKILL');
    await removeDir(dir);
  });
  after(function () {
    expect(unhandledRejections()).to.deep.equal([]);
  });

  it('exits 2 with a clear message on bad flags', async function () {
    const cases: Array<[string[], string]> = [
      [['--cert-dir', dir, '--prot', '1'], "Unknown option '--prot'"],
      [['--port', '8443'], '--cert-dir is required'],
      [
        ['--cert-dir', dir, '--default-placement', 'Remot'],
        '--default-placement: "Remot" is not one of Local, Remote, LocalAndRemote',
      ],
      [['--cert-dir', dir, '--cert-validity', '2 minutes'], '--cert-validity: "2 minutes" is not a duration'],
      [['--cert-dir', dir, '--port', '99999'], '--port: "99999" is not a port number'],
      [['--cert-dir', dir, '--host', 'example.com'], '--host: "example.com" is not an IP address'],
    ];
    const children = cases.map(([args]) => run(args));
    const exits = await Promise.all(children.map((child) => child.exit));
    cases.forEach(([args, message], index) => {
      expect(exits[index]?.code, args.join(' ')).to.equal(2);
      expect(children[index]?.stderr, args.join(' ')).to.include(message).and.include('usage: kube-offload webhook');
    });
  });

  it('prints usage and exits 0 on --help', async function () {
    const child = run(['--help']);
    expect((await child.exit).code).to.equal(0);
    expect(child.stdout).to.include('--cert-validity DUR');
  });

  it('exits 1 with a clear message when not standalone and no cluster is reachable', async function () {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, KUBECONFIG: '' };
    delete env.KUBERNETES_SERVICE_HOST;
    const child = run(['--cert-dir', dir, '--port', '0', '--host', '127.0.0.1'], env);
    expect((await child.exit).code).to.equal(1);
    expect(child.stderr).to.include('no cluster access');
  });

  it('logs where it listens, drains an in-flight request on SIGTERM, refuses connections, exits 0', async function () {
    // Debug level: the drained admission's own line (allowed admissions are debug lines) must be flushed before exit.
    const child = run([
      '--cert-dir',
      dir,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--standalone',
      '--log-level',
      'debug',
    ]);
    const url = await listening(child);
    expect(url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    expect((await send(url, { path: '/readyz', ca })).status).to.equal(200);

    const pending = inFlight(url, ca);
    await pending.sent;
    const started = Date.now();
    child.process.kill('SIGTERM');
    // New connections are refused while the in-flight request is still being drained.
    await waitFor(
      () =>
        send(url, { path: '/healthz', ca, timeoutMs: 2000 }).then(
          () => false,
          (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED',
        ),
      'connections to be refused',
    );
    expect(child.process.exitCode).to.equal(null);
    pending.finish();
    expect(await pending.reply).to.deep.equal({ status: 200, uid: 'uid-drain' });
    const { code, signal } = await child.exit;
    expect({ code, signal }).to.deep.equal({ code: 0, signal: null });
    expect(Date.now() - started).to.be.lessThan(10_000);
    const messages = child.lines().map((line) => line.msg);
    expect(messages).to.include.members(['received SIGTERM', 'drained']);
    expect(child.lines().find((line) => line.msg === 'admission')).to.include({
      uid: 'uid-drain',
      decision: 'allowed',
    });
  });

  it('cuts a request that outlives --drain-timeout and still exits 0', async function () {
    const child = run([
      '--cert-dir',
      dir,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--standalone',
      '--drain-timeout',
      '500ms',
    ]);
    const url = await listening(child);
    const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    const stuck = inFlight(url, ca);
    await stuck.sent;
    const failed = stuck.reply.then(
      () => 'answered',
      () => 'cut',
    );
    const started = Date.now();
    child.process.kill('SIGTERM');
    const { code } = await child.exit;
    expect(code).to.equal(0);
    expect(Date.now() - started).to.be.lessThan(5000);
    expect(await failed).to.equal('cut');
    expect(child.lines().map((line) => line.msg)).to.include('drain timed out; connections cut');
  });
});
