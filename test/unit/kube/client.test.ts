import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import {
  KubeApiError,
  KubeClient,
  isAlreadyExists,
  isConflict,
  isGone,
  isInvalid,
  isNotFound,
  objectKey,
  resourcePath,
  statusCodeOf,
} from '../../../src/kube/client.ts';
import { loadKubeClientConfig } from '../../../src/kube/kubeconfig.ts';
import { TokenBucket } from '../../../src/kube/ratelimit.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  auth: string | undefined;
  body: string;
  socketRequest: number;
}

describe('kube/client', () => {
  let server: http.Server;
  let client: KubeClient;
  let seen: Seen[];
  let respond: (s: Seen, res: http.ServerResponse) => void;
  let killReusedSockets = false;
  const perSocket = new WeakMap<Socket, number>();

  beforeEach(async () => {
    seen = [];
    killReusedSockets = false;
    respond = (_s, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"kind":"ConfigMap","metadata":{"name":"x"}}');
    };
    server = http.createServer((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (killReusedSockets && n > 1) {
        req.socket.destroy(); // the "server closed the idle keep-alive connection" race
        return;
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const s = {
          method: req.method ?? '',
          url: req.url ?? '',
          contentType: req.headers['content-type'],
          auth: req.headers.authorization,
          body,
          socketRequest: n,
        };
        seen.push(s);
        respond(s, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
      ],
      users: [{ name: 'u', token: 'secret-token' }],
      contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
      currentContext: 'c',
    });
    client = new KubeClient(kc);
  });
  afterEach(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('builds resource paths', () => {
    expect(resourcePath({ version: 'v1', resource: 'namespaces' })).to.equal('/api/v1/namespaces');
    expect(resourcePath({ version: 'v1', resource: 'configmaps', namespace: 'ns', name: 'a' })).to.equal(
      '/api/v1/namespaces/ns/configmaps/a',
    );
    expect(
      resourcePath({
        group: 'coordination.k8s.io',
        version: 'v1',
        resource: 'leases',
        namespace: 'kube-system',
        name: 'x',
        subresource: 'status',
      }),
    ).to.equal('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x/status');
    expect(objectKey({ metadata: { name: 'a', namespace: 'b' } })).to.equal('b/a');
    expect(objectKey({ metadata: { name: 'n' } })).to.equal('n');
  });

  it('sends the bearer token and parses JSON', async () => {
    const obj = await client.get('/api/v1/namespaces/ns/configmaps/x');
    expect(obj.metadata?.name).to.equal('x');
    expect(seen[0]!.auth).to.equal('Bearer secret-token');
  });

  for (const [code, reason, pred] of [
    [404, 'NotFound', isNotFound],
    [409, 'Conflict', isConflict],
    [409, 'AlreadyExists', isAlreadyExists],
    [410, 'Expired', isGone],
    [422, 'Invalid', isInvalid],
  ] as const) {
    it(`maps ${code} ${reason} to KubeApiError with statusCode/reason`, async () => {
      respond = (_s, res) => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            reason,
            code,
            message: `msg ${reason}`,
          }),
        );
      };
      const err = await client.get('/api/v1/x').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(KubeApiError);
      expect(statusCodeOf(err)).to.equal(code);
      expect((err as KubeApiError).reason).to.equal(reason);
      expect((err as Error).message).to.contain(`msg ${reason}`);
      expect(pred(err)).to.equal(true);
    });
  }

  it('keeps a non-Status error body in the message', async () => {
    respond = (_s, res) => {
      res.writeHead(503);
      res.end('upstream down');
    };
    const err = (await client.get('/x').catch((e: unknown) => e)) as KubeApiError;
    expect(err.statusCode).to.equal(503);
    expect(err.message).to.contain('upstream down');
    expect(isAlreadyExists(err)).to.equal(false);
  });

  it('getOrUndefined maps 404 to undefined', async () => {
    respond = (_s, res) => {
      res.writeHead(404);
      res.end('{"kind":"Status","code":404,"reason":"NotFound"}');
    };
    expect(await client.getOrUndefined('/x')).to.equal(undefined);
  });

  it('uses the right method and content type for every write', async () => {
    await client.create('/api/v1/namespaces/ns/configmaps', { metadata: { name: 'a' } }, { fieldManager: 'ko' });
    await client.replace('/api/v1/namespaces/ns/configmaps/a', { metadata: { name: 'a', resourceVersion: '5' } });
    await client.patch('/p', { data: { a: null } }, 'merge');
    await client.patch('/p', [{ op: 'add', path: '/data/b', value: '1' }], 'json');
    await client.patch('/p', { data: {} }, 'strategic');
    await client.patch('/p', { apiVersion: 'v1', kind: 'ConfigMap' }, 'apply', { fieldManager: 'ko', force: true });
    await client.delete('/api/v1/namespaces/ns/configmaps/a', {
      preconditions: { uid: 'u-1', resourceVersion: '7' },
      propagationPolicy: 'Background',
    });
    expect(seen.map((s) => `${s.method} ${s.url} ${s.contentType}`)).to.deep.equal([
      'POST /api/v1/namespaces/ns/configmaps?fieldManager=ko application/json',
      'PUT /api/v1/namespaces/ns/configmaps/a application/json',
      'PATCH /p application/merge-patch+json',
      'PATCH /p application/json-patch+json',
      'PATCH /p application/strategic-merge-patch+json',
      'PATCH /p?fieldManager=ko&force=true application/apply-patch+yaml',
      'DELETE /api/v1/namespaces/ns/configmaps/a application/json',
    ]);
    expect(JSON.parse(seen[6]!.body)).to.deep.equal({
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: 'u-1', resourceVersion: '7' },
      propagationPolicy: 'Background',
    });
    expect(JSON.parse(seen[3]!.body)).to.deep.equal([{ op: 'add', path: '/data/b', value: '1' }]);
  });

  it('refuses server-side apply without a field manager', () => {
    expect(() => client.patch('/p', {}, 'apply')).to.throw(/fieldManager/);
  });

  it('listAll follows continue tokens and restarts once when the token expired', async () => {
    let expireOnce = true;
    respond = (s, res) => {
      const u = new URL(s.url, 'http://x');
      const cont = u.searchParams.get('continue');
      if (cont === '2' && expireOnce) {
        expireOnce = false;
        res.writeHead(410);
        res.end('{"kind":"Status","code":410,"reason":"Expired"}');
        return;
      }
      const from = Number(cont ?? 0);
      const items = [0, 1, 2, 3, 4].slice(from, from + 2).map((i) => ({ metadata: { name: `o${i}` } }));
      res.writeHead(200);
      res.end(
        JSON.stringify({
          kind: 'ConfigMapList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '99', ...(from + 2 < 5 ? { continue: String(from + 2) } : {}) },
          items,
        }),
      );
    };
    const r = await client.listAll('/api/v1/configmaps', { limit: 2, labelSelector: 'a=b' });
    expect(r.items.map((i) => i.metadata?.name)).to.deep.equal(['o0', 'o1', 'o2', 'o3', 'o4']);
    expect(r.resourceVersion).to.equal('99');
    expect(r.kind).to.equal('ConfigMapList');
    expect(seen.map((s) => s.url)).to.deep.equal([
      '/api/v1/configmaps?limit=2&labelSelector=a%3Db',
      '/api/v1/configmaps?limit=2&labelSelector=a%3Db&continue=2',
      '/api/v1/configmaps?limit=2&labelSelector=a%3Db',
      '/api/v1/configmaps?limit=2&labelSelector=a%3Db&continue=2',
      '/api/v1/configmaps?limit=2&labelSelector=a%3Db&continue=4',
    ]);
  });

  it('reuses keep-alive connections and retries once when a reused one was closed by the server', async () => {
    await client.get('/a');
    await client.get('/b');
    expect(seen.map((s) => s.socketRequest)).to.deep.equal([1, 2]); // same socket
    killReusedSockets = true;
    const obj = await client.get('/c'); // lands on the reused socket, which dies, then retries
    expect(obj.metadata?.name).to.equal('x');
    expect(seen.at(-1)!.url).to.equal('/c');
  });

  it('applies the write limiter to writes only', async () => {
    let now = 0;
    const bucket = new TokenBucket({ qps: 1, burst: 5, now: () => now });
    const limited = new KubeClient(client.kubeConfig, { writeLimiter: bucket });
    await limited.get('/a');
    expect(bucket.tokens()).to.equal(5);
    await limited.create('/a', { metadata: { name: 'x' } });
    await limited.delete('/a/x');
    expect(bucket.tokens()).to.equal(3);
    limited.close();
    now = 0;
  });

  it('times out a request that gets no answer', async () => {
    respond = () => {}; // never answers
    const quick = new KubeClient(client.kubeConfig, { timeoutMs: 150 });
    const err = (await quick.get('/slow').catch((e: unknown) => e)) as Error;
    expect(err.name).to.equal('TimeoutError');
    quick.close();
  });
});

describe('kube/client with the light kubeconfig loader', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-client-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const kubeconfig = (name: string, server: string, user: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "' + server + '"}}]',
        `users: [{name: u, user: ${user}}]`,
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    return file;
  };

  it('talks to the cluster with a plain kubeconfig without client-node', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ metadata: { name: 'x' }, auth: req.headers.authorization }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new KubeClient(loadKubeClientConfig(kubeconfig('plain', url, '{token: light-token}')));
    try {
      const answer = await client.get<{ metadata: { name: string }; auth?: string }>(
        '/api/v1/namespaces/ns/configmaps/x',
      );
      expect(answer.auth).to.equal('Bearer light-token');
    } finally {
      client.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('importing client.ts loads no client-node; only an exec kubeconfig does, on first use', () => {
    const plain = kubeconfig('plain', 'https://127.0.0.1:6443', '{token: t}');
    const exec = kubeconfig(
      'exec',
      'https://127.0.0.1:6443',
      '{exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1}}',
    );
    // A fresh process, since this one has loaded client-node for other tests.
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({
        resolve(specifier, context, next) {
          const resolved = next(specifier, context);
          if (resolved.url.includes('@kubernetes/client-node')) loaded.push(resolved.url);
          return resolved;
        },
      });
      const { KubeClient } = await import(${JSON.stringify(path.join(ROOT, 'src/kube/client.ts'))});
      const { loadKubeClientConfig } = await import(${JSON.stringify(path.join(ROOT, 'src/kube/kubeconfig.ts'))});
      const steps = { imported: loaded.length };
      new KubeClient(loadKubeClientConfig(${JSON.stringify(plain)}));
      steps.plain = loaded.length;
      new KubeClient(loadKubeClientConfig(${JSON.stringify(exec)}));
      steps.exec = loaded.length;
      console.log(JSON.stringify(steps));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const steps = JSON.parse(out) as { imported: number; plain: number; exec: number };
    expect(steps.imported).to.equal(0);
    expect(steps.plain).to.equal(0);
    expect(steps.exec).to.be.greaterThan(0);
  });
});
