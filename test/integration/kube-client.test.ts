// KubeClient error mapping / write flavours and Lease leader election against a real
// kube-apiserver (sandbox cluster).
import { expect } from 'chai';
import { startCluster } from '../../src/sandbox/cluster.ts';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import { KubeClient, isAlreadyExists, isConflict, isInvalid, isNotFound, loadKubeConfig, resourcePath, statusCodeOf } from '../../src/kube/client.ts';
import { LeaderElector, microTime } from '../../src/kube/leader.ts';
import type { Lease } from '../../src/kube/leader.ts';

interface CM {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string> };
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
    await sleep(25);
  }
}
const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e);

describe('kube client and leader election on a real kube-apiserver', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let client: KubeClient;
  const ns = 'kube-client-it';
  const cms = `/api/v1/namespaces/${ns}/configmaps`;

  before(async function () {
    this.timeout(3_600_000); // a cold control-plane build can take a long while
    cluster = await startCluster({ name: 'kube-client', serviceClusterIPRange: '10.99.0.0/16', podCIDR: '10.251.0.0/16', nodes: [] });
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
      expect(isInvalid(await failure(client.create<CM>(cms, { metadata: { name: 'Not_A_Valid_Name' } })))).to.equal(true);
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
      cm = await client.patch<CM>(`${cms}/p`, [{ op: 'test', path: '/data/b', value: '2' }, { op: 'replace', path: '/data/b', value: '20' }], 'json');
      expect(cm.data).to.deep.equal({ b: '20', c: '3' });
      const failedTest = await failure(client.patch<CM>(`${cms}/p`, [{ op: 'test', path: '/data/b', value: 'x' }], 'json'));
      expect(statusCodeOf(failedTest)).to.be.oneOf([409, 422]);
      cm = await client.patch<CM>(`${cms}/p`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'p' }, data: { d: '4' } }, 'apply', { fieldManager: 'kube-offload-test' });
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
      const stale = await failure(client.delete(`${cms}/del`, { preconditions: { uid: successor.metadata.uid!, resourceVersion: '1' } }));
      expect(isConflict(stale)).to.equal(true);
      await client.delete(`${cms}/del`, { preconditions: { uid: successor.metadata.uid!, resourceVersion: successor.metadata.resourceVersion! } });
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

    function candidate(name: string, identity: string, extra: Partial<ConstructorParameters<typeof LeaderElector>[0]> = {}) {
      const state = { leading: false, starts: 0, stops: 0, signal: undefined as AbortSignal | undefined };
      const e = new LeaderElector({
        client, namespace: ns, name, identity, ...timing,
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
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'le-2' },
        spec: { holderIdentity: 'ghost', leaseDurationSeconds: 3, renewTime: microTime(Date.now()), acquireTime: microTime(Date.now()), leaseTransitions: 4 },
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
      await client.replace<Lease>(`${leases}/le-3`, { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: microTime(Date.now()) } });
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
