// Protocol edge cases of the informer against a local fake HTTP endpoint. The real behaviour
// (long idle watches, resume, 410 relist, apiserver restarts) is proven against a real
// kube-apiserver in test/integration/kube-informer.test.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { createInformer } from '../../../src/kube/informer.ts';
import type { Informer, InformerOptions, WatchRestartReason } from '../../../src/kube/informer.ts';
import { waitFor } from './helpers.ts';

interface Obj {
  kind?: string;
  apiVersion?: string;
  metadata: { name: string; namespace?: string; resourceVersion: string };
  data?: Record<string, string>;
}
const cm = (name: string, rv: string, data?: Record<string, string>): Obj => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  ...(data ? { data } : {}),
});
const line = (type: string, object: unknown): string => `${JSON.stringify({ type, object })}\n`;

type WatchHandler = (res: http.ServerResponse, url: URL) => void;

/** Serves LIST from `lists` (one snapshot per relist, last one repeats) and WATCH from `watches`. */
class FakeApi {
  server: http.Server;
  requests: URL[] = [];
  lists: Obj[][] = [];
  listRv: string[] = [];
  watches: WatchHandler[] = [];
  pageLimitSeen: string[] = [];
  #listCalls = 0;
  open = new Set<http.ServerResponse>();

  constructor() {
    this.server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      this.requests.push(url);
      if (url.searchParams.get('watch') === 'true') {
        this.open.add(res);
        res.on('close', () => this.open.delete(res));
        const h = this.watches.shift();
        if (h) return h(res, url);
        res.writeHead(200, { 'Content-Type': 'application/json' }); // idle forever
        res.flushHeaders();
        return;
      }
      // Paginated list: 2 items per page; continue token = index.
      this.pageLimitSeen.push(url.searchParams.get('limit') ?? '');
      const from = Number(url.searchParams.get('continue') ?? '0');
      if (from === 0) this.#listCalls++;
      const snapshot = this.lists[Math.min(this.#listCalls, this.lists.length) - 1] ?? [];
      const rv = this.listRv[Math.min(this.#listCalls, this.listRv.length) - 1] ?? '1';
      const items = snapshot.slice(from, from + 2);
      const next = from + 2 < snapshot.length ? String(from + 2) : undefined;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'ConfigMapList',
          apiVersion: 'v1',
          metadata: { resourceVersion: rv, ...(next ? { continue: next } : {}) },
          items,
        }),
      );
    });
  }

  async listen(): Promise<KubeConfig> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
      currentContext: 'c',
    });
    return kc;
  }

  watchRequests(): URL[] {
    return this.requests.filter((u) => u.searchParams.get('watch') === 'true');
  }

  async close(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('kube/informer (protocol edge cases, fake endpoint)', () => {
  let api: FakeApi;
  let inf: Informer<Obj> | undefined;
  const restarts: WatchRestartReason[] = [];

  async function make(extra: Partial<InformerOptions<Obj>> = {}): Promise<Informer<Obj>> {
    const kc = await api.listen();
    inf = createInformer<Obj>({
      kubeConfig: kc,
      path: '/api/v1/namespaces/ns/configmaps',
      name: 'test',
      backoff: { baseMs: 5, maxMs: 20 },
      onWatchRestart: (r) => restarts.push(r),
      ...extra,
    });
    return inf;
  }

  beforeEach(() => {
    api = new FakeApi();
    restarts.length = 0;
  });
  afterEach(async () => {
    inf?.stop();
    inf = undefined;
    await api.close();
  });

  it('lists all pages, fills kind/apiVersion, then watches from the list resourceVersion with bookmarks and a randomised timeout', async () => {
    api.lists = [[cm('a', '1'), cm('b', '2'), cm('c', '3'), cm('d', '4'), cm('e', '5')]];
    api.listRv = ['100'];
    const i = await make({ pageSize: 2, watchTimeoutSeconds: 300 });
    await i.start();
    expect(i.hasSynced()).to.equal(true);
    expect(
      i
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    expect(i.get('ns/a')?.kind).to.equal('ConfigMap');
    expect(i.get('ns/a')?.apiVersion).to.equal('v1');
    expect(api.pageLimitSeen).to.deep.equal(['2', '2', '2']);
    await waitFor(() => api.watchRequests().length === 1, 'watch request');
    const w = api.watchRequests()[0]!;
    expect(w.searchParams.get('resourceVersion')).to.equal('100');
    expect(w.searchParams.get('allowWatchBookmarks')).to.equal('true');
    expect(Number(w.searchParams.get('timeoutSeconds'))).to.be.within(300, 599);
    expect(i.health()).to.deep.equal({ ok: true });
  });

  it('parses events split at arbitrary chunk boundaries, including inside a UTF-8 character', async () => {
    api.lists = [[]];
    const payload = Buffer.from(
      line('ADDED', cm('x', '11', { greeting: 'grüße 👋' })) +
        line('MODIFIED', cm('x', '12', { greeting: 'hé' })) +
        line('BOOKMARK', { metadata: { resourceVersion: '15' } }),
    );
    api.watches.push((res) => {
      res.writeHead(200);
      // Send byte by byte so every boundary case occurs (mid-JSON, mid-character, mid-newline).
      let i = 0;
      const tick = (): void => {
        if (i >= payload.length) return;
        res.write(payload.subarray(i, i + 1));
        i++;
        setImmediate(tick);
      };
      tick();
    });
    const i = await make();
    const seen: string[] = [];
    i.on('add', (o) => seen.push(`add ${o.data?.greeting}`));
    i.on('update', (o, old) => seen.push(`update ${old?.data?.greeting} -> ${o.data?.greeting}`));
    await i.start();
    await waitFor(() => i.resourceVersion() === '15', 'bookmark applied');
    expect(seen).to.deep.equal(['add grüße 👋', 'update grüße 👋 -> hé']);
    expect(i.stats().bookmarks).to.equal(1);
  });

  it('resumes from the newest resourceVersion (bookmark included) after the server closes the watch', async () => {
    api.lists = [[cm('a', '1')]];
    api.listRv = ['10'];
    api.watches.push((res) => {
      res.writeHead(200);
      res.write(line('MODIFIED', cm('a', '12')));
      res.write(line('BOOKMARK', { kind: 'ConfigMap', apiVersion: 'v1', metadata: { resourceVersion: '20' } }));
      setTimeout(() => res.end(), 1100); // a normal, not-immediate close
    });
    const i = await make();
    await i.start();
    await waitFor(() => api.watchRequests().length === 2, 'second watch');
    expect(api.watchRequests()[1]!.searchParams.get('resourceVersion')).to.equal('20');
    expect(restarts).to.deep.equal(['closed']);
    expect(i.stats().lists, 'no relist on a plain close').to.equal(1);
  });

  it('on an ERROR 410 event relists and emits synthetic add/update/delete diffs', async () => {
    api.lists = [
      [cm('a', '1'), cm('b', '2'), cm('same', '3')],
      [cm('b', '7'), cm('c', '8'), cm('same', '3')],
    ];
    api.listRv = ['5', '9'];
    api.watches.push((res) => {
      res.writeHead(200);
      res.end(
        line('ERROR', {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'too old resource version: 5 (8)',
          reason: 'Expired',
          code: 410,
        }),
      );
    });
    const i = await make();
    const events: string[] = [];
    await i.start();
    i.on('add', (o) => events.push(`add ${o.metadata.name}`));
    i.on('update', (o, old) =>
      events.push(`update ${o.metadata.name} ${old?.metadata.resourceVersion}->${o.metadata.resourceVersion}`),
    );
    i.on('delete', (o) => events.push(`delete ${o.metadata.name}`));
    await waitFor(() => i.stats().lists === 2, 'relist');
    expect(events.sort()).to.deep.equal(['add c', 'delete a', 'update b 2->7']);
    expect(restarts).to.deep.equal(['expired']);
    await waitFor(() => api.watchRequests().length === 2, 'watch after relist');
    expect(api.watchRequests()[1]!.searchParams.get('resourceVersion')).to.equal('9');
    expect(i.health().ok).to.equal(true);
  });

  it('treats an HTTP 410 answer to the watch request the same way', async () => {
    api.lists = [[cm('a', '1')], [cm('a', '2')]];
    api.listRv = ['5', '6'];
    api.watches.push((res) => {
      res.writeHead(410, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'gone' }));
    });
    const i = await make();
    const updates: string[] = [];
    i.on('update', (o) => updates.push(o.metadata.resourceVersion));
    await i.start();
    await waitFor(() => updates.length === 1, 'update after relist');
    expect(updates).to.deep.equal(['2']);
    expect(restarts).to.deep.equal(['expired']);
  });

  it('detects a stalled stream, reports it in health(), restarts it and recovers', async () => {
    api.lists = [[cm('a', '1')]];
    api.watches.push((res) => {
      res.writeHead(200);
      res.flushHeaders(); // then silence
    });
    api.watches.push((res) => {
      res.writeHead(200);
      setTimeout(() => res.write(line('BOOKMARK', { metadata: { resourceVersion: '30' } })), 300);
    });
    const registry = new Registry();
    const i = await make({ stallTimeoutMs: 200, registry });
    await i.start();
    await waitFor(() => restarts.includes('stalled'), 'stall detected');
    expect(i.health().ok).to.equal(false);
    expect(i.health().reason).to.match(/stalled/);
    await waitFor(() => i.resourceVersion() === '30', 'bookmark on the new stream');
    expect(i.health()).to.deep.equal({ ok: true });
    const text = await registry.metrics();
    expect(text).to.match(/kube_offload_informer_watch_restarts_total\{informer="test",reason="stalled"\} [1-9]/);
  });

  it('reports unhealthy after consecutive failures and healthy once a watch is accepted again', async () => {
    api.lists = [[cm('a', '1')]];
    for (let n = 0; n < 4; n++) {
      api.watches.push((res) => {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 500, reason: 'InternalError', message: `broken ${n}` }));
      });
    }
    let unhealthy: string | undefined;
    const i = await make({ failureThreshold: 3 });
    await i.start();
    await waitFor(() => {
      const h = i.health();
      if (!h.ok) unhealthy ??= h.reason;
      return api.watchRequests().length >= 5 && i.health().ok;
    }, 'recovery');
    expect(unhealthy).to.match(/consecutive list\/watch failures.*500 InternalError: broken/);
    expect(restarts.filter((r) => r === 'error')).to.have.length(4);
  });

  it('an ERROR event with another code restarts the watch from the same resourceVersion without relisting', async () => {
    api.lists = [[cm('a', '1')]];
    api.listRv = ['40'];
    api.watches.push((res) => {
      res.writeHead(200);
      res.end(line('ERROR', { kind: 'Status', code: 500, reason: 'InternalError', message: 'etcd hiccup' }));
    });
    const i = await make();
    await i.start();
    await waitFor(() => api.watchRequests().length === 2, 'second watch');
    expect(api.watchRequests()[1]!.searchParams.get('resourceVersion')).to.equal('40');
    expect(i.stats().lists).to.equal(1);
    expect(restarts).to.deep.equal(['error']);
  });

  it('restartWatch(rv) resumes from the given version (test hook for forcing 410)', async () => {
    api.lists = [[cm('a', '1')]];
    api.listRv = ['50'];
    const i = await make();
    await i.start();
    await waitFor(() => api.watchRequests().length === 1, 'first watch');
    i.restartWatch('1');
    await waitFor(() => api.watchRequests().length === 2, 'second watch');
    expect(api.watchRequests()[1]!.searchParams.get('resourceVersion')).to.equal('1');
    expect(restarts).to.deep.equal(['requested']);
  });

  it('stop() before the first sync rejects start() and ends the loop', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'x', server: 'http://127.0.0.1:9', skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'c', cluster: 'x', user: 'u' }],
      currentContext: 'c',
    });
    const i = createInformer<Obj>({
      kubeConfig: kc,
      path: '/api/v1/configmaps',
      name: 'dead',
      backoff: { baseMs: 5, maxMs: 10 },
    });
    const p = i.start();
    await waitFor(() => /not synced yet \(last error/.test(i.health().reason ?? ''), 'first failure recorded');
    i.stop();
    let err: Error | undefined;
    await p.catch((e: Error) => (err = e));
    expect(err?.message).to.match(/stopped before sync/);
  });
});
