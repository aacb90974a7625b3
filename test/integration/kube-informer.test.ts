// The informer against a real kube-apiserver (sandbox cluster): idle watches that outlive 30 s
// and server-side timeouts, a real 410 Gone → relist with synthetic diffs, a real stall
// (SIGSTOPped apiserver), and an apiserver restart. Numbers are printed for the record.
import { expect } from 'chai';
import { Watch } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { startCluster } from '../../src/sandbox/cluster.ts';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import { KubeClient, loadKubeConfig, objectKey } from '../../src/kube/client.ts';
import { createInformer } from '../../src/kube/informer.ts';
import type { Informer, InformerOptions, WatchRestartReason } from '../../src/kube/informer.ts';

interface CM {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string };
  data?: Record<string, string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const note = (msg: string): void => void process.stdout.write(`      · ${msg}\n`);

async function until<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}

describe('kube informer on a real kube-apiserver', function () {
  this.timeout(180_000);
  let cluster: Cluster;
  let kc: KubeConfig;
  let client: KubeClient;
  const informers: Informer<CM>[] = [];

  before(async function () {
    this.timeout(3_600_000); // a cold control-plane build can take a long while
    cluster = await startCluster({ name: 'kube-informer', serviceClusterIPRange: '10.98.0.0/16', podCIDR: '10.250.0.0/16', nodes: [] });
    kc = loadKubeConfig(cluster.kubeconfigPath);
    client = new KubeClient(kc);
  });
  after(async () => {
    for (const i of informers) i.stop();
    client?.close();
    await cluster?.stop();
  });

  async function namespace(name: string): Promise<string> {
    await client.create('/api/v1/namespaces', { metadata: { name } });
    return name;
  }
  const cmPath = (ns: string): string => `/api/v1/namespaces/${ns}/configmaps`;
  const createCm = (ns: string, name: string, data: Record<string, string> = { v: '1' }): Promise<CM> =>
    client.create<CM>(cmPath(ns), { metadata: { name }, data });

  function informer(ns: string, extra: Partial<InformerOptions> = {}): { inf: Informer<CM>; restarts: WatchRestartReason[]; events: string[] } {
    const restarts: WatchRestartReason[] = [];
    const events: string[] = [];
    const inf = createInformer<CM>({ kubeConfig: kc, path: cmPath(ns), name: ns, onWatchRestart: (r) => restarts.push(r), ...extra });
    inf.on('add', (o) => events.push(`add ${o.metadata.name}`));
    inf.on('update', (o) => events.push(`update ${o.metadata.name}`));
    inf.on('delete', (o) => events.push(`delete ${o.metadata.name}`));
    informers.push(inf);
    return { inf, restarts, events };
  }

  /** The informer's cache equals a fresh LIST (names and resourceVersions). */
  async function converged(inf: Informer<CM>, ns: string): Promise<boolean> {
    const { items } = await client.listAll<CM>(cmPath(ns));
    const want = items.map((o) => `${objectKey(o)}@${o.metadata.resourceVersion}`).sort();
    const got = inf.list().map((o) => `${objectKey(o)}@${o.metadata.resourceVersion}`).sort();
    return JSON.stringify(want) === JSON.stringify(got);
  }

  it('keeps an idle watch beyond 30 s, resumes after server-side timeouts, and still delivers events (client-node Watch for comparison)', async () => {
    const ns = await namespace('inf-idle');
    await createCm(ns, 'early');
    // Short server-side timeout (15–29 s): the server closes the watch at least once in 45 s.
    const short = informer(ns, { watchTimeoutSeconds: 15 });
    // Default timeout (300–599 s): one watch connection must simply survive the whole idle time.
    const long = informer(ns);
    await Promise.all([short.inf.start(), long.inf.start()]);

    // client-node 2.0.1's Watch on the same idle collection, to document its behaviour.
    let clientNode: { ms: number; err: string } | undefined;
    const t0 = Date.now();
    await new Watch(kc).watch(cmPath(ns), { allowWatchBookmarks: true, resourceVersion: long.inf.resourceVersion() }, () => {}, (err: unknown) => {
      clientNode ??= { ms: Date.now() - t0, err: err ? `${(err as Error).name}: ${(err as Error).message}` : 'closed without error' };
    });

    await sleep(45_000); // the idle period is what is under test
    const t1 = Date.now();
    await createCm(ns, 'late');
    await until(() => short.inf.get(`${ns}/late`) && long.inf.get(`${ns}/late`), 'event after 45 s idle', 10_000);
    const latency = Date.now() - t1;

    const s = short.inf.stats();
    const l = long.inf.stats();
    note(`event delivered ${latency} ms after 45 s idle`);
    note(`short-timeout informer: watches=${s.watches} restarts=${JSON.stringify(s.restarts)} bookmarks=${s.bookmarks} lists=${s.lists}`);
    note(`default-timeout informer: watches=${l.watches} restarts=${JSON.stringify(l.restarts)} bookmarks=${l.bookmarks} lists=${l.lists}`);
    note(`client-node 2.0.1 Watch on the idle collection: ${clientNode ? `ended after ${clientNode.ms} ms (${clientNode.err})` : 'still open after 45 s'}`);

    expect(latency).to.be.lessThan(5000);
    expect(s.restarts.closed, 'server-side timeout closed the watch and we resumed').to.be.greaterThanOrEqual(1);
    expect(s.restarts.error + s.restarts.stalled + s.restarts.expired).to.equal(0);
    expect(s.lists, 'resumed from resourceVersion, no relist').to.equal(1);
    expect(l.watches, 'one watch connection survived 45 s idle').to.equal(1);
    expect(Object.values(l.restarts).reduce((a, b) => a + b, 0)).to.equal(0);
    expect(short.events).to.deep.equal(['add early', 'add late']);
    expect(short.inf.health()).to.deep.equal({ ok: true });
  });

  it('relists on a real 410 Gone and emits the add/update/delete diff it missed', async () => {
    const ns = await namespace('inf-gone');
    await createCm(ns, 'a');
    const b = await createCm(ns, 'b');
    await createCm(ns, 'same');
    let gate: Promise<void> | undefined;
    let open: () => void = () => {};
    let injected: string | undefined;
    const { inf, restarts, events } = informer(ns, {
      beforeWatch: async () => {
        if (!gate) return;
        await gate;
        gate = undefined;
        return injected; // an ancient resourceVersion
      },
    });
    await inf.start();
    await until(() => inf.stats().watches === 1, 'watching', 5000);
    // Hold the informer off the API while the world changes, then make it resume from rv "1".
    gate = new Promise((r) => (open = r));
    injected = '1';
    inf.restartWatch();
    await until(() => restarts.includes('requested'), 'watch aborted', 5000);
    await client.delete(`${cmPath(ns)}/a`);
    await client.replace(`${cmPath(ns)}/b`, { ...b, data: { v: '2' } });
    await createCm(ns, 'c');
    events.length = 0;
    const t0 = Date.now();
    open();
    await until(() => inf.stats().lists === 2, 'relist after 410', 10_000);
    await until(() => converged(inf, ns), 'cache converged', 10_000);
    note(`410 → relist → converged in ${Date.now() - t0} ms; restarts=${JSON.stringify(inf.stats().restarts)}; diff events: ${events.join(', ')}`);
    expect(restarts).to.include('expired');
    expect([...events].sort()).to.deep.equal(['add c', 'delete a', 'update b']);
    // And it watches again from the fresh list.
    await createCm(ns, 'd');
    await until(() => inf.get(`${ns}/d`), 'event after relist', 5000);
    expect(inf.health()).to.deep.equal({ ok: true });
  });

  it('detects a stalled stream (apiserver SIGSTOPped), reports it, and recovers after SIGCONT', async () => {
    const ns = await namespace('inf-stall');
    const { inf, restarts } = informer(ns, { stallTimeoutMs: 4000, connectTimeoutMs: 2000, backoff: { baseMs: 200, maxMs: 1000 } });
    await inf.start();
    await until(() => inf.stats().watches === 1, 'watching', 5000);
    const apiserver = cluster.processes().find((p) => p.name.endsWith('/kube-apiserver'));
    if (!apiserver) throw new Error('no kube-apiserver process');
    const t0 = Date.now();
    let stalledAt = 0;
    let reason = '';
    process.kill(apiserver.pid, 'SIGSTOP');
    try {
      await until(() => {
        const h = inf.health();
        if (!h.ok && /stalled/.test(h.reason ?? '')) {
          reason = h.reason ?? '';
          return true;
        }
        return false;
      }, 'health reports the stall', 20_000);
      stalledAt = Date.now() - t0;
    } finally {
      process.kill(apiserver.pid, 'SIGCONT');
    }
    const t1 = Date.now();
    await createCm(ns, 'after-stall');
    await until(() => inf.get(`${ns}/after-stall`) && inf.health().ok, 'recovered', 30_000);
    note(`stall reported after ${stalledAt} ms (stallTimeout 4000): "${reason}"; recovered ${Date.now() - t1} ms after SIGCONT; restarts=${JSON.stringify(inf.stats().restarts)}`);
    expect(restarts).to.include('stalled');
    expect(await converged(inf, ns)).to.equal(true);
  });

  it('survives an apiserver stop/start: health goes false then true, and the cache converges', async function () {
    this.timeout(240_000);
    const ns = await namespace('inf-restart');
    await createCm(ns, 'before-1');
    const b2 = await createCm(ns, 'before-2');
    const { inf, restarts } = informer(ns, { failureThreshold: 2, connectTimeoutMs: 3000, backoff: { baseMs: 200, maxMs: 2000, jitter: 0.5 } });
    await inf.start();
    const transitions: string[] = [];
    let last = true;
    const t0 = Date.now();
    const poller = setInterval(() => {
      const h = inf.health();
      if (h.ok !== last) {
        last = h.ok;
        transitions.push(`${h.ok ? 'ok' : `not ok (${h.reason})`} at ${Date.now() - t0} ms`);
      }
    }, 50);
    try {
      await cluster.stopApiserver();
      const stoppedAt = Date.now() - t0;
      await until(() => !inf.health().ok, 'health false while the apiserver is down', 60_000);
      await sleep(5000); // keep it down a while: several failed reconnects with backoff
      const restartAt = Date.now() - t0;
      await cluster.startApiserver();
      const upAt = Date.now() - t0;
      // Changes right away, while the informer is still backing off: only a correct resume
      // (or relist) can deliver them.
      await client.delete(`${cmPath(ns)}/before-1`);
      await client.replace(`${cmPath(ns)}/before-2`, { ...b2, data: { v: '2' } });
      await createCm(ns, 'after-1');
      await until(async () => inf.health().ok && (await converged(inf, ns)), 'converged and healthy', 60_000);
      const s = inf.stats();
      note(`apiserver stop took until ${stoppedAt} ms, restart at ${restartAt} ms, /readyz at ${upAt} ms; converged+healthy at ${Date.now() - t0} ms`);
      note(`health transitions: ${transitions.join('; ')}`);
      note(`restarts=${JSON.stringify(s.restarts)} lists=${s.lists} watches=${s.watches}`);
      expect(transitions[0]).to.match(/^not ok/);
      expect(transitions.at(-1)).to.match(/^ok/);
      expect(restarts.length).to.be.greaterThan(1);
    } finally {
      clearInterval(poller);
      if (!cluster.apiserverRunning()) await cluster.startApiserver();
    }
  });
});
