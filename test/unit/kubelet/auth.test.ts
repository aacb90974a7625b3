import { expect } from 'chai';
import https from 'node:https';
import { nodeRequestAttributes, nodeSubresources } from '../../../src/kubelet/auth/attributes.ts';
import { KubeletAuth } from '../../../src/kubelet/auth/auth.ts';
import type { AccessReviewer, UserInfo } from '../../../src/kubelet/auth/auth.ts';
import { apiserverAccessReviewer, apiserverTokenReviewer } from '../../../src/kubelet/auth/reviews.ts';
import { DecisionCache } from '../../../src/kubelet/auth/ttl-cache.ts';
import { localBackend, startTestServer } from './fixtures.ts';
import type { TestServer } from './fixtures.ts';

describe('kubelet auth', () => {
  describe('request attributes (the kubelet mapping)', () => {
    const cases: Array<[string, string[]]> = [
      ['/stats/summary', ['stats']],
      ['/stats', ['stats']],
      ['/metrics', ['metrics']],
      ['/metrics/resource', ['metrics']],
      ['/logs/kubelet.log', ['log']],
      ['/containerLogs/ns/pod/c', ['proxy']],
      ['/exec/ns/pod/c', ['proxy']],
      ['/attach/ns/pod/c', ['proxy']],
      ['/portForward/ns/pod', ['proxy']],
      ['/pods', ['pods', 'proxy']],
      ['/healthz', ['healthz', 'proxy']],
      ['/runningpods/', ['pods', 'proxy']],
      ['/configz', ['configz', 'proxy']],
      ['/statsfoo', ['proxy']],
      ['/metricsfoo', ['proxy']],
    ];
    for (const [path, subresources] of cases) {
      it(`${path} → nodes/${subresources.join(' or nodes/')}`, () =>
        expect(nodeSubresources(path)).to.deep.equal(subresources));
    }

    it('verb from the method; resource nodes, name the node', () => {
      expect(nodeRequestAttributes('POST', '/exec/a/b/c', 'vk')).to.deep.equal([
        { verb: 'create', resource: 'nodes', subresource: 'proxy', name: 'vk', path: '/exec/a/b/c' },
      ]);
      expect(nodeRequestAttributes('GET', '/stats/summary', 'vk')[0]?.verb).to.equal('get');
      expect(nodeRequestAttributes('PUT', '/x', 'vk')[0]?.verb).to.equal('update');
      expect(nodeRequestAttributes('PATCH', '/x', 'vk')[0]?.verb).to.equal('patch');
      expect(nodeRequestAttributes('DELETE', '/x', 'vk')[0]?.verb).to.equal('delete');
    });
  });

  describe('decision cache', () => {
    it('keeps settled values for their TTL, shares pending ones, drops failures, stays bounded', async () => {
      let now = 0;
      const cache = new DecisionCache<boolean>(
        2,
        (allowed) => (allowed ? 300 : 30),
        () => now,
      );
      let calls = 0;
      const compute = (value: boolean) => async () => (calls++, value);
      const [a, b] = await Promise.all([cache.get('k', compute(true)), cache.get('k', compute(true))]);
      expect([a, b, calls]).to.deep.equal([true, true, 1]);
      now = 299;
      await cache.get('k', compute(false));
      expect(calls).to.equal(1);
      now = 300;
      expect(await cache.get('k', compute(false))).to.equal(false);
      expect(calls).to.equal(2);
      now = 329;
      await cache.get('k', compute(true));
      expect(calls).to.equal(2);
      await cache.get('x', async () => Promise.reject(new Error('boom'))).catch(() => undefined);
      expect(cache.size).to.equal(1);
      await cache.get('y', compute(true));
      await cache.get('z', compute(true));
      expect(cache.size).to.equal(2);
    });
  });

  describe('KubeletAuth', () => {
    const alice: UserInfo = { username: 'alice', groups: ['devs'] };

    it('caches allowed decisions 5 minutes and denied ones 30 seconds', async () => {
      let now = 0;
      const seen: string[] = [];
      let allow = false;
      const reviewAccess: AccessReviewer = async (user, attrs) => {
        seen.push(`${user.username} ${attrs.verb} ${attrs.subresource}`);
        return { allowed: allow };
      };
      const auth = new KubeletAuth({ nodeName: 'vk', reviewAccess, now: () => now });
      expect((await auth.authorize(alice, 'POST', '/exec/a/b/c')).ok).to.equal(false);
      allow = true;
      now = 29_999;
      expect((await auth.authorize(alice, 'POST', '/exec/a/b/c')).ok).to.equal(false);
      now = 30_000;
      expect((await auth.authorize(alice, 'POST', '/exec/a/b/c')).ok).to.equal(true);
      allow = false;
      now = 329_999;
      expect((await auth.authorize(alice, 'POST', '/exec/a/b/c')).ok).to.equal(true);
      now = 330_000;
      expect((await auth.authorize(alice, 'POST', '/exec/a/b/c')).ok).to.equal(false);
      expect(seen).to.deep.equal(['alice create proxy', 'alice create proxy', 'alice create proxy']);
    });

    it('one decision per user, groups and verb: another verb is reviewed again', async () => {
      const seen: string[] = [];
      const auth = new KubeletAuth({
        nodeName: 'vk',
        reviewAccess: async (user, attrs) => (
          seen.push(`${user.username}/${user.groups} ${attrs.verb}`),
          { allowed: true }
        ),
      });
      await auth.authorize(alice, 'GET', '/exec/a/b/c');
      await auth.authorize(alice, 'POST', '/exec/a/b/c');
      await auth.authorize({ ...alice, groups: ['ops'] }, 'POST', '/exec/a/b/c');
      await auth.authorize(alice, 'POST', '/attach/a/b/c');
      expect(seen).to.deep.equal(['alice/devs get', 'alice/devs create', 'alice/ops create']);
    });

    it('a denied fine-grained subresource falls back to nodes/proxy; the 403 names both', async () => {
      const auth = new KubeletAuth({
        nodeName: 'vk',
        reviewAccess: async (_u, a) => ({ allowed: a.subresource === 'proxy' }),
      });
      expect((await auth.authorize(alice, 'GET', '/healthz')).ok).to.equal(true);
      const denied = new KubeletAuth({ nodeName: 'vk', reviewAccess: async () => ({ allowed: false }) });
      expect(await denied.authorize(alice, 'GET', '/healthz')).to.deep.equal({
        ok: false,
        statusCode: 403,
        message: 'Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[healthz proxy])\n',
      });
    });

    it('a failing review is a 500, and is not cached', async () => {
      let fail = true;
      const auth = new KubeletAuth({
        nodeName: 'vk',
        reviewAccess: async () => {
          if (fail) throw new Error('apiserver down');
          return { allowed: true };
        },
      });
      expect((await auth.authorize(alice, 'GET', '/stats/summary')) as { statusCode?: number }).to.include({
        statusCode: 500,
      });
      fail = false;
      expect((await auth.authorize(alice, 'GET', '/stats/summary')).ok).to.equal(true);
    });
  });

  describe('reviews against an apiserver', () => {
    it('TokenReview and SubjectAccessReview bodies', async () => {
      const created: Array<[string, unknown]> = [];
      const client = {
        create: async (path: string, body: unknown) => {
          created.push([path, body]);
          if (path.includes('tokenreviews')) {
            return {
              ...(body as object),
              status: { authenticated: true, user: { username: 'bob', uid: 'u1', groups: ['g'] } },
            };
          }
          return { ...(body as object), status: { allowed: true, reason: 'RBAC: allowed' } };
        },
      };
      const user = await apiserverTokenReviewer(client as never, ['aud'])('tok');
      expect(user).to.deep.equal({ authenticated: true, user: { username: 'bob', groups: ['g'], uid: 'u1' } });
      const attrs = nodeRequestAttributes('POST', '/exec/a/b/c', 'vk')[0]!;
      const decision = await apiserverAccessReviewer(client as never)(
        { username: 'bob', uid: 'u1', groups: ['g'] },
        attrs,
      );
      expect(decision).to.deep.equal({ allowed: true, reason: 'RBAC: allowed' });
      expect(created).to.deep.equal([
        [
          '/apis/authentication.k8s.io/v1/tokenreviews',
          { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'tok', audiences: ['aud'] } },
        ],
        [
          '/apis/authorization.k8s.io/v1/subjectaccessreviews',
          {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: 'bob',
              groups: ['g'],
              uid: 'u1',
              resourceAttributes: {
                verb: 'create',
                version: 'v1',
                resource: 'nodes',
                subresource: 'proxy',
                name: 'vk',
              },
            },
          },
        ],
      ]);
    });
  });

  describe('over HTTPS', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(localBackend({ pods: { 'default/web': { namespace: 'r', name: 'web' } } }));
    });
    after(() => server.close());

    function get(path: string, options: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
      return new Promise((resolve, reject) => {
        https
          .get(`https://127.0.0.1:${server.port}${path}`, { ca: server.serving.ca, ...options }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
    }
    const cert = (): https.RequestOptions => ({ cert: server.clients.cert, key: server.clients.key });

    it('anonymous is 401, on every path', async () => {
      for (const path of ['/healthz', '/stats/summary', '/containerLogs/default/web/c', '/nope']) {
        expect(await get(path)).to.deep.equal({ status: 401, body: 'Unauthorized\n' });
      }
    });

    it('a client certificate from another CA is 401', async () => {
      const res = await get('/healthz', { cert: server.clients.strangerCert, key: server.clients.strangerKey });
      expect(res.status).to.equal(401);
    });

    it('the client CA certificate authenticates as its CN', async () => {
      expect(await get('/healthz', cert())).to.deep.equal({ status: 200, body: 'ok\n' });
    });

    it('bearer tokens go through TokenReview once (cached), and RBAC decides', async () => {
      server.reviews.tokens.length = 0;
      const bearer = (token: string): https.RequestOptions => ({ headers: { Authorization: `Bearer ${token}` } });
      expect((await get('/stats/summary', bearer('good'))).status).to.equal(200);
      expect((await get('/metrics/resource', bearer('good'))).status).to.equal(200);
      expect(await get('/containerLogs/default/web/c', bearer('good'))).to.deep.equal({
        status: 403,
        body: 'Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[proxy])\n',
      });
      expect((await get('/stats/summary', bearer('bad'))).status).to.equal(401);
      expect(server.reviews.tokens).to.deep.equal(['good', 'bad']);
    });

    it('unknown paths are 404 once authorized; pods not bound here are 404', async () => {
      expect((await get('/nope', cert())).status).to.equal(404);
      expect(await get('/containerLogs/default/other/c', cert())).to.deep.equal({
        status: 404,
        body: 'pod "other" does not exist\n',
      });
    });

    it('stats and metrics are valid without numbers', async () => {
      const stats = JSON.parse((await get('/stats/summary', cert())).body) as {
        node: { nodeName: string };
        pods: unknown[];
      };
      expect(stats.node.nodeName).to.equal('virtual-remote');
      expect(stats.pods).to.deep.equal([]);
      const metrics = (await get('/metrics/resource', cert())).body;
      expect(metrics).to.match(/# TYPE node_cpu_usage_seconds_total counter\n/);
      expect(metrics).to.match(/\nscrape_error 0\n$/);
    });

    it('invalid log options are 422; streaming paths without an upgrade are 400', async () => {
      expect((await get('/containerLogs/default/web/c?tailLines=-1', cert())).status).to.equal(422);
      expect(
        (await get('/containerLogs/default/web/c?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z', cert())).status,
      ).to.equal(422);
      expect((await get('/exec/default/web/c?command=ls&output=1', cert())).status).to.equal(400);
    });
  });
});
