// The kube runtime against a real kube-apiserver (etcd + kube-apiserver from controlplane/):
// - informer: idle watches that outlive 30 s and server-side timeouts, a real 410 Gone → relist
//   with synthetic diffs, a real stall (SIGSTOPped apiserver), an apiserver stop/start;
// - KubeClient: uniform error codes, patch flavours, UID-precondition deletes, pagination;
// - LeaderElector: one leader, renewals, release hand-over, expiry take-over, step-down.
// Numbers are printed for the record.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Watch } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  KubeClient,
  isAlreadyExists,
  isConflict,
  isInvalid,
  isNotFound,
  loadKubeConfig,
  objectKey,
  resourcePath,
  statusCodeOf,
} from '../../src/kube/client.ts';
import { LeaderElector, microTime } from '../../src/kube/leader.ts';
import type { Lease } from '../../src/kube/leader.ts';
import { createInformer } from '../../src/kube/informer.ts';
import type { Informer, InformerOptions, WatchRestartReason } from '../../src/kube/informer.ts';

interface CM {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    managedFields?: object[];
  };
  data?: Record<string, string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const note = (msg: string): void => void process.stdout.write(`      · ${msg}\n`);

async function until<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(25);
  }
}
const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );

// ---- a bare control plane: etcd + kube-apiserver only ------------------------------------
// (The shared sandbox starts kwok & co. too; these tests need nothing but the API, and must
// stop/start and SIGSTOP the apiserver.) Self-signed serving cert from --cert-dir (re-used on
// restart, so the kubeconfig's CA stays valid), a static admin token, RBAC, SA keys from
// node:crypto.

interface BareApiserver {
  kubeconfigPath: string;
  dir: string;
  apiserverPid(): number;
  stopApiserver(): Promise<void>;
  startApiserver(): Promise<void>;
  apiserverRunning(): boolean;
  stop(): Promise<void>;
}

function binDir(): string {
  const override = process.env.KUBE_OFFLOAD_BIN_DIR;
  if (override) return override;
  const res = spawnSync('bash', [path.join(import.meta.dirname, '../../controlplane/build.sh'), '--print-bin-dir'], {
    encoding: 'utf8',
  });
  return res.stdout.trim().split('\n').pop() ?? '';
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function launch(bin: string, args: string[], log: string): ChildProcess {
  const out = fs.openSync(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGCONT'); // in case a test left it stopped
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000); // open watches can hold a graceful stop for long
  await exited;
  clearTimeout(timer);
}

async function startBareApiserver(name: string): Promise<BareApiserver> {
  const bin = binDir();
  for (const b of ['etcd', 'kube-apiserver']) {
    if (!fs.existsSync(path.join(bin, b))) throw new Error(`${b} not found in ${bin}: run controlplane/build.sh first`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kube-offload-${name}-`));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcd = launch(
    path.join(bin, 'etcd'),
    [
      `--data-dir=${dir}/etcd`,
      `--name=${name}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=${name}=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    `${dir}/etcd.log`,
  );
  const token = `admin-${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(`${dir}/tokens.csv`, `${token},admin,admin-uid,"system:masters"\n`);
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  fs.writeFileSync(`${dir}/sa.pub`, publicKey);
  fs.writeFileSync(`${dir}/sa.key`, privateKey);
  const apiArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--cert-dir=${dir}/certs`,
    `--token-auth-file=${dir}/tokens.csv`,
    '--authorization-mode=RBAC',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--service-account-issuer=https://kubernetes.default.svc',
    '--api-audiences=https://kubernetes.default.svc',
    `--service-account-key-file=${dir}/sa.pub`,
    `--service-account-signing-key-file=${dir}/sa.key`,
    '--profiling=false',
  ];
  let apiserver: ChildProcess | undefined;
  const kubeconfigPath = `${dir}/admin.kubeconfig`;
  const startApiserver = async (): Promise<void> => {
    apiserver = launch(path.join(bin, 'kube-apiserver'), apiArgs, `${dir}/kube-apiserver.log`);
    const child = apiserver;
    const deadline = Date.now() + 90_000;
    const alive = (): void => {
      if (child.exitCode !== null)
        throw new Error(`kube-apiserver exited (${child.exitCode}); see ${dir}/kube-apiserver.log`);
      if (Date.now() > deadline) throw new Error(`kube-apiserver not ready after 90 s; see ${dir}/kube-apiserver.log`);
    };
    const certFile = `${dir}/certs/apiserver.crt`;
    while (!fs.existsSync(certFile) || fs.statSync(certFile).size === 0) {
      alive();
      await sleep(100);
    }
    if (!fs.existsSync(kubeconfigPath)) {
      const ca = fs.readFileSync(certFile).toString('base64'); // serving cert + its self-signed CA
      fs.writeFileSync(
        kubeconfigPath,
        [
          'apiVersion: v1',
          'kind: Config',
          'current-context: admin',
          `clusters: [{name: ${name}, cluster: {server: "https://127.0.0.1:${apiPort}", certificate-authority-data: "${ca}"}}]`,
          `users: [{name: admin, user: {token: "${token}"}}]`,
          `contexts: [{name: admin, context: {cluster: ${name}, user: admin}}]`,
          '',
        ].join('\n'),
      );
    }
    const probe = new KubeClient(loadKubeConfig(kubeconfigPath), { timeoutMs: 2000 });
    try {
      for (;;) {
        alive();
        try {
          await probe.request('GET', '/readyz');
          break;
        } catch {
          await sleep(100);
        }
      }
    } finally {
      probe.close();
    }
  };
  await startApiserver();
  return {
    kubeconfigPath,
    dir,
    apiserverPid: () => apiserver?.pid ?? 0,
    apiserverRunning: () => !!apiserver && apiserver.exitCode === null && apiserver.signalCode === null,
    stopApiserver: () => terminate(apiserver),
    startApiserver,
    stop: async () => {
      await terminate(apiserver);
      await terminate(etcd);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('kube informer on a real kube-apiserver', function () {
  this.timeout(180_000);
  let cluster: BareApiserver;
  let kc: KubeConfig;
  let client: KubeClient;
  const informers: Informer<CM>[] = [];

  before(async function () {
    this.timeout(120_000);
    cluster = await startBareApiserver('kube-informer');
    kc = loadKubeConfig(cluster.kubeconfigPath);
    client = new KubeClient(kc);
  });
  afterEach(() => {
    // Open watches would also hold up a graceful apiserver shutdown in later tests.
    for (const i of informers.splice(0)) i.stop();
  });
  after(async () => {
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

  function informer(
    ns: string,
    extra: Partial<InformerOptions<CM>> = {},
  ): { inf: Informer<CM>; restarts: WatchRestartReason[]; events: string[] } {
    const restarts: WatchRestartReason[] = [];
    const events: string[] = [];
    const inf = createInformer<CM>({
      kubeConfig: kc,
      path: cmPath(ns),
      name: ns,
      onWatchRestart: (r) => restarts.push(r),
      ...extra,
    });
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
    const got = inf
      .list()
      .map((o) => `${objectKey(o)}@${o.metadata.resourceVersion}`)
      .sort();
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
    await new Watch(kc).watch(
      cmPath(ns),
      { allowWatchBookmarks: true, resourceVersion: long.inf.resourceVersion() },
      () => {},
      (err: unknown) => {
        clientNode ??= {
          ms: Date.now() - t0,
          err: err ? `${(err as Error).name}: ${(err as Error).message}` : 'closed without error',
        };
      },
    );

    await sleep(45_000); // the idle period is what is under test
    const t1 = Date.now();
    await createCm(ns, 'late');
    await until(() => short.inf.get(`${ns}/late`) && long.inf.get(`${ns}/late`), 'event after 45 s idle', 10_000);
    const latency = Date.now() - t1;

    const s = short.inf.stats();
    const l = long.inf.stats();
    note(`event delivered ${latency} ms after 45 s idle`);
    note(
      `short-timeout informer: watches=${s.watches} restarts=${JSON.stringify(s.restarts)} bookmarks=${s.bookmarks} lists=${s.lists}`,
    );
    note(
      `default-timeout informer: watches=${l.watches} restarts=${JSON.stringify(l.restarts)} bookmarks=${l.bookmarks} lists=${l.lists}`,
    );
    note(
      `client-node 2.0.1 Watch on the idle collection: ${clientNode ? `ended after ${clientNode.ms} ms (${clientNode.err})` : 'still open after 45 s'}`,
    );

    expect(latency).to.be.lessThan(5000);
    expect(s.restarts.closed, 'server-side timeout closed the watch and we resumed').to.be.greaterThanOrEqual(1);
    expect(s.restarts.error + s.restarts.stalled + s.restarts.expired).to.equal(0);
    expect(s.lists, 'resumed from resourceVersion, no relist').to.equal(1);
    expect(l.watches, 'one watch connection survived 45 s idle').to.equal(1);
    expect(Object.values(l.restarts).reduce((a, b) => a + b, 0)).to.equal(0);
    expect(short.events).to.deep.equal(['add early', 'add late']);
    expect(short.inf.health()).to.deep.equal({ ok: true });
  });

  it('applies the transform to listed and watched objects before caching and handing them out', async () => {
    const ns = await namespace('inf-transform');
    await createCm(ns, 'listed', { v: 'big' });
    await createCm(ns, 'listed-2', { v: 'big' });
    const seen: CM[] = [];
    const kindsSeenByTransform = new Set<string | undefined>();
    const { inf } = informer(ns, {
      pageSize: 1, // the LIST arrives in two pages; the transform runs page by page
      transform: (o) => {
        kindsSeenByTransform.add(o.kind); // list items get their kind before the transform
        delete o.metadata.managedFields;
        if (o.data) o.data = { size: String(JSON.stringify(o.data).length) };
        return o;
      },
    });
    inf.on('add', (o) => seen.push(o));
    inf.on('update', (o) => seen.push(o));
    await inf.start();
    await createCm(ns, 'watched', { v: 'bigger' });
    const deadline = Date.now() + 30_000;
    while (!inf.get(`${ns}/watched`) && Date.now() < deadline) await sleep(50);
    expect([...kindsSeenByTransform]).to.deep.equal(['ConfigMap']);
    for (const name of ['listed', 'listed-2', 'watched']) {
      const cached = inf.get(`${ns}/${name}`) as CM;
      expect(cached.metadata.managedFields, name).to.equal(undefined);
      expect(cached.data, name).to.deep.equal({
        size: String(JSON.stringify({ v: name === 'watched' ? 'bigger' : 'big' }).length),
      });
      expect(
        seen.find((o) => o.metadata.name === name),
        name,
      ).to.equal(cached);
    }
  });

  it('relists on a real 410 Gone and emits the add/update/delete diff it missed', async () => {
    const ns = await namespace('inf-gone');
    await createCm(ns, 'a');
    const b = await createCm(ns, 'b');
    await createCm(ns, 'same');
    let gate: Promise<void> | undefined;
    let open: () => void = () => {};
    let expiredError = '';
    const { inf, restarts, events } = informer(ns, {
      onWatchRestart: (r, err) => {
        restarts.push(r);
        if (r === 'expired') expiredError = err?.message ?? '';
      },
      beforeWatch: async () => {
        if (!gate) return;
        await gate;
        gate = undefined;
      },
    });
    await inf.start();
    await until(() => inf.stats().watches === 1, 'watching', 5000);
    // Hold the informer off the API while the world changes, then make it resume from rv "1".
    gate = new Promise((r) => (open = r));
    inf.restartWatch();
    await until(() => restarts.includes('requested'), 'watch aborted', 5000);
    await client.delete(`${cmPath(ns)}/a`);
    await client.replace(`${cmPath(ns)}/b`, { ...b, data: { v: '2' } });
    await createCm(ns, 'c');
    // A resourceVersion older than the apiserver's watch cache window gets 410. On a fresh
    // apiserver that window reaches back to its start (a watch from rv "1" is *replayed*, even
    // after an etcd compaction), so restart the apiserver: its new watch cache begins now, and
    // the informer's last resourceVersion (from before our writes) is too old for it.
    const rvBefore = inf.resourceVersion();
    await cluster.stopApiserver();
    await cluster.startApiserver();
    events.length = 0;
    const t0 = Date.now();
    open();
    await until(() => inf.stats().lists === 2, 'relist after 410', 10_000);
    await until(() => converged(inf, ns), 'cache converged', 10_000);
    note(`resume from rv ${rvBefore} after an apiserver restart: ${expiredError}`);
    note(
      `410 → relist → converged in ${Date.now() - t0} ms; restarts=${JSON.stringify(inf.stats().restarts)}; diff events: ${events.join(', ')}`,
    );
    expect(restarts).to.include('expired');
    expect([...events].sort()).to.deep.equal(['add c', 'delete a', 'update b']);
    // And it watches again from the fresh list.
    await createCm(ns, 'd');
    await until(() => inf.get(`${ns}/d`), 'event after relist', 5000);
    expect(inf.health()).to.deep.equal({ ok: true });
  });

  it('detects a stalled stream (apiserver SIGSTOPped), reports it, and recovers after SIGCONT', async () => {
    const ns = await namespace('inf-stall');
    const { inf, restarts } = informer(ns, {
      stallTimeoutMs: 4000,
      connectTimeoutMs: 2000,
      backoff: { baseMs: 200, maxMs: 1000 },
    });
    await inf.start();
    await until(() => inf.stats().watches === 1, 'watching', 5000);
    const apiserver = { pid: cluster.apiserverPid() };
    const t0 = Date.now();
    let stalledAt = 0;
    let reason = '';
    process.kill(apiserver.pid, 'SIGSTOP');
    try {
      await until(
        () => {
          const h = inf.health();
          if (!h.ok && /stalled/.test(h.reason ?? '')) {
            reason = h.reason ?? '';
            return true;
          }
          return false;
        },
        'health reports the stall',
        20_000,
      );
      stalledAt = Date.now() - t0;
    } finally {
      process.kill(apiserver.pid, 'SIGCONT');
    }
    const t1 = Date.now();
    await createCm(ns, 'after-stall');
    await until(() => inf.get(`${ns}/after-stall`) && inf.health().ok, 'recovered', 30_000);
    note(
      `stall reported after ${stalledAt} ms (stallTimeout 4000): "${reason}"; recovered ${Date.now() - t1} ms after SIGCONT; restarts=${JSON.stringify(inf.stats().restarts)}`,
    );
    expect(restarts).to.include('stalled');
    expect(await converged(inf, ns)).to.equal(true);
  });

  it('survives an apiserver stop/start: health goes false then true, and the cache converges', async function () {
    this.timeout(240_000);
    const ns = await namespace('inf-restart');
    await createCm(ns, 'before-1');
    const b2 = await createCm(ns, 'before-2');
    const { inf, restarts } = informer(ns, {
      failureThreshold: 2,
      connectTimeoutMs: 3000,
      backoff: { baseMs: 200, maxMs: 2000, jitter: 0.5 },
    });
    await inf.start();
    const transitions: string[] = [];
    let last = true;
    const t0 = Date.now();
    const sampleHealth = (): void => {
      const h = inf.health();
      if (h.ok !== last) {
        last = h.ok;
        transitions.push(`${h.ok ? 'ok' : `not ok (${h.reason})`} at ${Date.now() - t0} ms`);
      }
    };
    const poller = setInterval(sampleHealth, 50);
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
      // The poller samples every 50 ms: record the healthy state the wait just saw, so a recovery
      // between two samples is not missed.
      sampleHealth();
      const s = inf.stats();
      note(
        `apiserver stop took until ${stoppedAt} ms, restart at ${restartAt} ms, /readyz at ${upAt} ms; converged+healthy at ${Date.now() - t0} ms`,
      );
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

describe('kube client and leader election on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cluster: BareApiserver;
  let client: KubeClient;
  const ns = 'kube-client-it';
  const cms = `/api/v1/namespaces/${ns}/configmaps`;

  before(async function () {
    this.timeout(120_000);
    cluster = await startBareApiserver('kube-client');
    client = new KubeClient(loadKubeConfig(cluster.kubeconfigPath));
    await client.create('/api/v1/namespaces', { metadata: { name: ns } });
  });
  after(async () => {
    client?.close();
    await cluster?.stop();
  });

  describe('KubeClient', () => {
    it('create / get / AlreadyExists / NotFound / Invalid', async () => {
      const created = await client.create<CM>(cms, { metadata: { name: 'one' }, data: { a: '1' } });
      expect(created.metadata.uid).to.be.a('string');
      expect((await client.get<CM>(`${cms}/one`)).data).to.deep.equal({ a: '1' });
      const dup = await failure(client.create<CM>(cms, { metadata: { name: 'one' } }));
      expect(statusCodeOf(dup)).to.equal(409);
      expect(isAlreadyExists(dup)).to.equal(true);
      expect(isNotFound(await failure(client.get(`${cms}/nope`)))).to.equal(true);
      expect(await client.getOrUndefined(`${cms}/nope`)).to.equal(undefined);
      expect(isInvalid(await failure(client.create<CM>(cms, { metadata: { name: 'Not_A_Valid_Name' } })))).to.equal(
        true,
      );
    });

    it('replace with a stale resourceVersion is a 409 Conflict (optimistic concurrency)', async () => {
      const v1 = await client.create<CM>(cms, { metadata: { name: 'occ' }, data: { n: '1' } });
      const v2 = await client.replace<CM>(`${cms}/occ`, { ...v1, data: { n: '2' } });
      expect(v2.metadata.resourceVersion).to.not.equal(v1.metadata.resourceVersion);
      const err = await failure(client.replace<CM>(`${cms}/occ`, { ...v1, data: { n: '3' } }));
      expect(isConflict(err)).to.equal(true);
      expect(isAlreadyExists(err)).to.equal(false);
    });

    it('merge, JSON and server-side apply patches', async () => {
      await client.create<CM>(cms, { metadata: { name: 'p' }, data: { a: '1', b: '2' } });
      let cm = await client.patch<CM>(`${cms}/p`, { data: { a: null, c: '3' } }, 'merge');
      expect(cm.data).to.deep.equal({ b: '2', c: '3' });
      cm = await client.patch<CM>(
        `${cms}/p`,
        [
          { op: 'test', path: '/data/b', value: '2' },
          { op: 'replace', path: '/data/b', value: '20' },
        ],
        'json',
      );
      expect(cm.data).to.deep.equal({ b: '20', c: '3' });
      const failedTest = await failure(
        client.patch<CM>(`${cms}/p`, [{ op: 'test', path: '/data/b', value: 'x' }], 'json'),
      );
      expect(statusCodeOf(failedTest)).to.be.oneOf([409, 422]);
      cm = await client.patch<CM>(
        `${cms}/p`,
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'p' }, data: { d: '4' } },
        'apply',
        { fieldManager: 'kube-offload-test' },
      );
      expect(cm.data?.d).to.equal('4');
      cm = await client.patch<CM>(`${cms}/p`, { metadata: { labels: { x: 'y' } } }, 'strategic');
      expect(cm.metadata.labels).to.deep.equal({ x: 'y' });
    });

    it('delete with a UID precondition hits only the object we saw', async () => {
      const old = await client.create<CM>(cms, { metadata: { name: 'del' } });
      await client.delete(`${cms}/del`);
      const successor = await client.create<CM>(cms, { metadata: { name: 'del' } });
      // A delete meant for the old object must not remove its same-named successor.
      const err = await failure(client.delete(`${cms}/del`, { preconditions: { uid: old.metadata.uid! } }));
      expect(isConflict(err)).to.equal(true);
      expect(await client.getOrUndefined(`${cms}/del`)).to.not.equal(undefined);
      const stale = await failure(
        client.delete(`${cms}/del`, { preconditions: { uid: successor.metadata.uid!, resourceVersion: '1' } }),
      );
      expect(isConflict(stale)).to.equal(true);
      await client.delete(`${cms}/del`, {
        preconditions: { uid: successor.metadata.uid!, resourceVersion: successor.metadata.resourceVersion! },
      });
      expect(await client.getOrUndefined(`${cms}/del`)).to.equal(undefined);
    });

    it('listAll pages with limit/continue and returns a resourceVersion', async () => {
      const page = `/api/v1/namespaces/${ns}/secrets`;
      for (let i = 0; i < 7; i++) await client.create(page, { metadata: { name: `s${i}`, labels: { page: 'yes' } } });
      const r = await client.listAll(page, { limit: 3, labelSelector: 'page=yes' });
      expect(r.items.map((o) => o.metadata?.name).sort()).to.deep.equal(['s0', 's1', 's2', 's3', 's4', 's5', 's6']);
      expect(r.resourceVersion).to.match(/^\d+$/);
      expect(r.kind).to.equal('SecretList');
    });
  });

  describe('LeaderElector', () => {
    const leases = resourcePath({ group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespace: ns });
    const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 400 };

    function candidate(
      name: string,
      identity: string,
      extra: Partial<ConstructorParameters<typeof LeaderElector>[0]> = {},
    ) {
      const state = { leading: false, starts: 0, stops: 0, signal: undefined as AbortSignal | undefined };
      const e = new LeaderElector({
        client,
        namespace: ns,
        name,
        identity,
        ...timing,
        onStartedLeading: (signal) => {
          state.leading = true;
          state.starts++;
          state.signal = signal;
        },
        onStoppedLeading: () => {
          state.leading = false;
          state.stops++;
        },
        ...extra,
      });
      return { e, state };
    }

    it('elects exactly one of two candidates, renews, and hands over fast on release', async () => {
      const a = candidate('le-1', 'a');
      const b = candidate('le-1', 'b');
      a.e.start();
      b.e.start();
      await until(() => a.state.leading || b.state.leading, 'a leader', 10_000);
      // Watch for 3 lease durations: never two leaders, always the same one, renewTime advancing.
      const first = a.state.leading ? a : b;
      const other = first === a ? b : a;
      const renewTimes = new Set<string>();
      const end = Date.now() + 3 * timing.leaseDurationMs;
      while (Date.now() < end) {
        expect(a.state.leading && b.state.leading, 'two leaders').to.equal(false);
        expect(first.state.leading).to.equal(true);
        const lease = await client.get<Lease>(`${leases}/le-1`);
        renewTimes.add(lease.spec?.renewTime ?? '');
        await sleep(100);
      }
      expect(renewTimes.size, 'renewTime advanced').to.be.greaterThan(5);
      const lease = await client.get<Lease>(`${leases}/le-1`);
      expect(lease.spec?.holderIdentity).to.equal(first === a ? 'a' : 'b');
      expect(other.e.leader()).to.equal(lease.spec?.holderIdentity);
      // Graceful stop releases the Lease: the other takes over well before leaseDuration.
      const t0 = Date.now();
      await first.e.stop();
      expect(first.state.signal?.aborted).to.equal(true);
      expect(first.state.stops).to.equal(1);
      await until(() => other.state.leading, 'takeover', 10_000);
      const handover = Date.now() - t0;
      note(`handover after release: ${handover} ms (leaseDuration ${timing.leaseDurationMs} ms)`);
      expect(handover).to.be.lessThan(timing.leaseDurationMs);
      await other.e.stop();
    });

    it('takes over an abandoned Lease only after leaseDuration, and counts the transition', async () => {
      await client.create<Lease>(leases, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'le-2' },
        spec: {
          holderIdentity: 'ghost',
          leaseDurationSeconds: 3,
          renewTime: microTime(Date.now()),
          acquireTime: microTime(Date.now()),
          leaseTransitions: 4,
        },
      });
      const c = candidate('le-2', 'c');
      const t0 = Date.now();
      c.e.start();
      await until(() => c.state.leading, 'takeover of an abandoned lease', 15_000);
      const waited = Date.now() - t0;
      note(`abandoned lease taken over after ${waited} ms (leaseDuration ${timing.leaseDurationMs} ms)`);
      expect(waited).to.be.greaterThanOrEqual(timing.leaseDurationMs);
      const lease = await client.get<Lease>(`${leases}/le-2`);
      expect(lease.spec?.holderIdentity).to.equal('c');
      expect(lease.spec?.leaseTransitions).to.equal(5);
      await c.e.stop();
    });

    it('a leader whose Lease is taken stops leading (signal aborted) and re-acquires after expiry', async () => {
      const d = candidate('le-3', 'd');
      d.e.start();
      await until(() => d.state.leading, 'leading', 10_000);
      const lease = await client.get<Lease>(`${leases}/le-3`);
      await client.replace<Lease>(`${leases}/le-3`, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: microTime(Date.now()) },
      });
      const t0 = Date.now();
      await until(() => !d.state.leading, 'stepped down', 10_000);
      const stepDown = Date.now() - t0;
      expect(d.state.signal?.aborted).to.equal(true);
      await until(() => d.state.leading, 're-acquired after the intruder stopped renewing', 15_000);
      note(`stepped down ${stepDown} ms after losing the Lease; re-acquired after ${Date.now() - t0} ms`);
      expect(d.state.starts).to.equal(2);
      await d.e.stop();
      const released = await client.get<Lease>(`${leases}/le-3`);
      expect(released.spec?.holderIdentity ?? '').to.equal('');
    });
  });
});
