import { expect } from 'chai';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startNodeKubelet } from '../../../src/kubelet/node-endpoint.ts';
import type { KubeletServer } from '../../../src/kubelet/server.ts';
import { startFakeRemote } from './fake-remote.ts';
import type { FakeRemote } from './fake-remote.ts';
import { clientCertificates, localBackend } from './fixtures.ts';
import type { ClientCertificates } from './fixtures.ts';

describe('startNodeKubelet (the provider-facing assembly)', () => {
  let remote: FakeRemote;
  let server: KubeletServer;
  let clients: ClientCertificates;
  let dir: string;
  const created: Array<{ path: string; body: { kind: string; spec: Record<string, unknown> } }> = [];

  before(async () => {
    remote = await startFakeRemote(localBackend({ pods: {}, logLines: ['remote line'] }));
    clients = await clientCertificates();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-node-'));
    fs.writeFileSync(path.join(dir, 'client-ca.pem'), clients.ca);
    const local = {
      create: async (p: string, body: unknown) => {
        created.push({ path: p, body: body as (typeof created)[number]['body'] });
        if (p.endsWith('tokenreviews'))
          return { status: { authenticated: true, user: { username: 'sa', groups: [] } } };
        const attrs = (body as { spec: { user: string; resourceAttributes: { subresource: string } } }).spec;
        return { status: { allowed: attrs.user !== 'sa' || attrs.resourceAttributes.subresource === 'stats' } };
      },
    };
    server = await startNodeKubelet({
      nodeName: 'virtual-remote',
      nodeIP: '127.0.0.1',
      settings: {
        port: 0,
        address: '127.0.0.1',
        certDir: path.join(dir, 'certs'),
        clientCaFile: path.join(dir, 'client-ca.pem'),
      },
      local: local as never,
      remote: remote.client,
      resolvePod: (namespace, name) =>
        namespace === 'shop' && name === 'web' ? { namespace: 'shop-local', name: 'web' } : undefined,
      listPods: () => [{ metadata: { namespace: 'shop', name: 'web', uid: 'uid-web' } }],
    });
  });

  after(async () => {
    await server?.close();
    await remote?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function get(p: string, options: https.RequestOptions): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${server.port}${p}`, { rejectUnauthorized: false, ...options }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });
  }

  it('keeps its serving certificate per node, for the node IP', () => {
    const pem = fs.readFileSync(path.join(dir, 'certs', 'virtual-remote', 'kubelet.crt'), 'utf8');
    const cert = new X509Certificate(pem);
    expect(cert.checkIP('127.0.0.1')).to.equal('127.0.0.1');
    expect(cert.checkHost('virtual-remote')).to.equal('virtual-remote');
  });

  it('serves logs of a bound pod from the remote twin, for a client certificate RBAC allows', async () => {
    const res = await get('/containerLogs/shop/web/app?tailLines=1', { cert: clients.cert, key: clients.key });
    expect(res).to.deep.equal({ status: 200, body: 'remote line\n' });
    expect(remote.requests.at(-1)).to.equal('GET /api/v1/namespaces/shop-local/pods/web/log?container=app&tailLines=1');
    const review = created.find((c) => c.body.kind === 'SubjectAccessReview');
    expect(review?.body.spec).to.deep.include({ user: 'kube-apiserver-kubelet-client', groups: ['system:masters'] });
    expect(review?.body.spec.resourceAttributes).to.deep.equal({
      verb: 'get',
      version: 'v1',
      resource: 'nodes',
      subresource: 'proxy',
      name: 'virtual-remote',
    });
  });

  it('404 for a pod not bound to the node; tokens go through TokenReview and SAR; stats from the remote', async () => {
    expect((await get('/containerLogs/shop/other/app', { cert: clients.cert, key: clients.key })).status).to.equal(404);
    const bearer = { headers: { Authorization: 'Bearer sa-token' } };
    remote.metrics.discovery = 200;
    remote.metrics.pods = {
      'shop-local': [{ metadata: { namespace: 'shop-local', name: 'web' }, containers: [{ name: 'app', usage: {} }] }],
    };
    const stats = await get('/stats/summary', bearer);
    expect(stats.status).to.equal(200);
    expect(JSON.parse(stats.body).pods[0].podRef).to.deep.equal({ name: 'web', namespace: 'shop', uid: 'uid-web' });
    expect(remote.requests.at(-1)).to.equal('GET /apis/metrics.k8s.io/v1beta1/namespaces/shop-local/pods');
    expect((await get('/containerLogs/shop/web/app', bearer)).status).to.equal(403);
    expect(created.filter((c) => c.body.kind === 'TokenReview')).to.have.length(1);
  });
});
