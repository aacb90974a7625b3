// The syncer shell's reconcile decisions, against in-memory clusters and a fake clock: what it
// writes (and, as much, what it does not), how failures are retried or dropped, and that a
// resync or a restart over an agreeing state writes nothing.
import { expect } from 'chai';
import { Registry } from 'prom-client';
import type { Counter, Histogram } from 'prom-client';
import { localCaches, remoteCaches } from '../../../src/syncer/caches.ts';
import { Syncer } from '../../../src/syncer/controller.ts';
import { createMetrics } from '../../../src/syncer/metrics.ts';
import type { SyncerMetrics } from '../../../src/syncer/metrics.ts';
import { desiredTwinNamespace } from '../../../src/common/ownership.ts';
import { twinNamespaceName } from '../../../src/common/twin.ts';
import {
  ENABLED_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_ANNOTATION,
  ORIGIN_CLUSTER_LABEL,
  REPLICATE_KEY,
  TWIN_NAME_ANNOTATION,
} from '../../../webhooks/keys.ts';
import type { KubeObject } from '../../../webhooks/types.ts';
import { FakeClock } from '../kube/helpers.ts';
import { FakeCluster, FakeEvents, MemoryLogger } from './fakes.ts';

const CLUSTER = 'local';
const REMOTE = 'remote';
const NS = 'shop';
const TWIN = twinNamespaceName(NS, CLUSTER);
const COPIES = `/api/v1/namespaces/${TWIN}/configmaps`;

const namespace = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels: { [ENABLED_LABEL]: 'true' } },
});

/** A local ConfigMap; `stamp` is its replication label ('none': not stamped yet). */
const configMap = (
  name: string,
  data: Record<string, string>,
  stamp: 'true' | 'false' | 'none' = 'true',
): KubeObject => {
  const marks: Record<string, string> = stamp === 'none' ? {} : { [REPLICATE_KEY]: stamp };
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: NS, labels: { app: 'web', ...marks } },
    data,
  };
};

/** A ConfigMap in the twin that kube-offload did not write. */
const foreignConfigMap = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: TWIN, labels: { owner: 'someone-else' } },
  data: { theirs: 'yes' },
});

async function counterValue(counter: Counter<string>, labels: Record<string, string>): Promise<number> {
  const { values } = await counter.get();
  const match = (l: Record<string, unknown>): boolean => Object.entries(labels).every(([k, v]) => l[k] === v);
  return values.filter((v) => match(v.labels)).reduce((sum, v) => sum + v.value, 0);
}

async function reconcileCount(metrics: SyncerMetrics, labels: Record<string, string>): Promise<number> {
  const { values } = await (metrics.reconcileDuration as Histogram<string>).get();
  const match = (l: Record<string, unknown>): boolean => Object.entries(labels).every(([k, v]) => l[k] === v);
  return values.filter((v) => v.metricName?.endsWith('_count') && match(v.labels)).reduce((s, v) => s + v.value, 0);
}

/** A Syncer on two fake clusters with a fake clock, and the means to run it. */
function harness(local: FakeCluster, remote: FakeCluster) {
  const clock = new FakeClock();
  const events = new FakeEvents();
  const logger = new MemoryLogger();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const syncer = new Syncer({
    clusterName: CLUSTER,
    local: { client: local.client, caches: localCaches(local.caches) },
    remotes: [
      { name: REMOTE, labels: {}, client: remote.client, caches: remoteCaches(REMOTE, CLUSTER, remote.caches) },
    ],
    events,
    metrics,
    logger,
    clock,
  });
  const leadership = new AbortController();
  let running: Promise<void> = Promise.resolve();
  /** Lets time pass (`ms`) and everything that became due run to its end. */
  const settle = async (ms = 0): Promise<void> => {
    await clock.advance(ms);
    for (let i = 0; i < 10; i++) await clock.advance(0);
  };
  return {
    syncer,
    clock,
    events,
    logger,
    metrics,
    settle,
    async start(): Promise<void> {
      running = syncer.run(leadership.signal);
      await settle();
    },
    async stop(): Promise<void> {
      leadership.abort();
      await running;
      syncer.stop();
    },
  };
}

describe('syncer shell (fake clusters)', () => {
  let local: FakeCluster;
  let remote: FakeCluster;
  let h: ReturnType<typeof harness>;

  beforeEach(() => {
    local = new FakeCluster('local');
    remote = new FakeCluster('remote');
    local.put(namespace(NS));
    local.put(configMap('settings', { mode: 'fast' }));
  });

  afterEach(async () => {
    await h?.stop();
  });

  async function converged(): Promise<void> {
    h = harness(local, remote);
    await h.start();
    expect(remote.get('ConfigMap', TWIN, 'settings'), 'converged').to.not.equal(undefined);
  }

  it('creates the twin namespace, then the copy, with ownership marks and an Event', async () => {
    h = harness(local, remote);
    await h.start();
    expect(remote.writes()).to.deep.equal(['create /api/v1/namespaces', `create ${COPIES}`]);
    const twin = remote.get('Namespace', undefined, TWIN);
    expect(twin?.metadata?.labels).to.include({
      [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
      [ORIGIN_CLUSTER_LABEL]: CLUSTER,
    });
    const copy = remote.get('ConfigMap', TWIN, 'settings');
    expect(copy?.data).to.deep.equal({ mode: 'fast' });
    expect(copy?.metadata?.labels).to.include({ app: 'web', [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });
    expect(copy?.metadata?.labels).to.not.have.property(REPLICATE_KEY);
    expect(copy?.metadata?.annotations?.[ORIGIN_ANNOTATION]).to.equal(`${CLUSTER}/${NS}/settings`);
    expect(h.events.recorded).to.deep.include({
      kind: 'ConfigMap',
      name: 'settings',
      type: 'Normal',
      reason: 'Replicated',
      message: `copied to remote ${REMOTE} as ${TWIN}/settings`,
    });
    expect(local.writes(), 'nothing to backfill').to.deep.equal([]);
  });

  it('updates the copy in place when the local object changes', async () => {
    await converged();
    const before = remote.get('ConfigMap', TWIN, 'settings');
    local.put(configMap('settings', { mode: 'slow' }));
    await h.settle();
    expect(remote.writes().slice(2)).to.deep.equal([`update ${COPIES}/settings`]);
    const after = remote.get('ConfigMap', TWIN, 'settings');
    expect(after?.data).to.deep.equal({ mode: 'slow' });
    expect(after?.metadata?.uid, 'the same object, not a recreate').to.equal(before?.metadata?.uid);
  });

  it('deletes the copy when the local object is deleted, and when it opts out', async () => {
    local.put(configMap('flags', { beta: 'on' }));
    await converged();
    local.remove('ConfigMap', NS, 'settings');
    local.put(configMap('flags', { beta: 'on' }, 'false'));
    await h.settle();
    expect(remote.writes().slice(3)).to.have.members([`delete ${COPIES}/settings`, `delete ${COPIES}/flags`]);
    expect(remote.get('ConfigMap', TWIN, 'settings')).to.equal(undefined);
    expect(remote.get('ConfigMap', TWIN, 'flags')).to.equal(undefined);
    expect(remote.get('Namespace', undefined, TWIN), 'the twin stays').to.not.equal(undefined);
  });

  it('leaves a foreign object under the copy’s name alone (409 AlreadyExists), reports it once', async () => {
    await converged();
    remote.put(foreignConfigMap('taken'));
    local.put(configMap('taken', { ours: 'yes' }));
    await h.settle();
    expect(remote.writes().filter((w) => w.endsWith('/configmaps'))).to.have.length(2); // settings, then the 409
    expect(remote.get('ConfigMap', TWIN, 'taken')?.data, 'untouched').to.deep.equal({ theirs: 'yes' });
    expect(h.syncer.conflicts()).to.deep.equal([`${REMOTE}/ConfigMap/${TWIN}/taken`]);
    expect(await counterValue(h.metrics.conflicts, { kind: 'ConfigMap', remote: REMOTE })).to.equal(1);
    expect(h.events.reasons()).to.include('ReplicationConflict');

    // A resync looks (a GET), but neither writes nor counts the same conflict again.
    const writes = remote.writes().length;
    await h.settle(5 * 60_000);
    expect(remote.writes()).to.have.length(writes);
    expect(await counterValue(h.metrics.conflicts, { kind: 'ConfigMap', remote: REMOTE })).to.equal(1);

    remote.remove('ConfigMap', TWIN, 'taken');
    await h.settle(5 * 60_000); // the foreign object is not in our caches: the next resync notices
    expect(remote.get('ConfigMap', TWIN, 'taken')?.data).to.deep.equal({ ours: 'yes' });
    expect(h.syncer.conflicts()).to.deep.equal([]);
  });

  it('restores drift: a copy edited or deleted in the remote is put back', async () => {
    await converged();
    const copy = remote.get('ConfigMap', TWIN, 'settings') as KubeObject;
    remote.put({ ...copy, data: { mode: 'tampered' } });
    await h.settle();
    expect(remote.get('ConfigMap', TWIN, 'settings')?.data).to.deep.equal({ mode: 'fast' });
    expect(remote.writes().at(-1)).to.equal(`update ${COPIES}/settings`);

    remote.remove('ConfigMap', TWIN, 'settings');
    await h.settle();
    expect(remote.get('ConfigMap', TWIN, 'settings')?.data).to.deep.equal({ mode: 'fast' });
    expect(remote.writes().at(-1)).to.equal(`create ${COPIES}`);
  });

  it('retries a failed write with growing backoff until it succeeds', async () => {
    await converged();
    remote.now = () => h.clock.now();
    remote.failNext('create', 500, 'InternalError', { resource: 'configmaps', times: 2 });
    local.put(configMap('fresh', { v: '1' }));
    await h.settle();
    const attempts = (): number[] =>
      remote.requests.flatMap((r, i) => (r === `create ${COPIES}` ? [remote.requestTimes[i] as number] : [])).slice(1);
    expect(attempts()).to.have.length(1);
    await h.settle(1_000);
    const [first, second, third] = attempts() as [number, number, number];
    expect(attempts()).to.have.length(3);
    expect(second - first, 'first backoff: 200 ms minus up to 30% jitter').to.be.within(140, 200);
    expect(third - second, 'then twice as long').to.be.within(280, 400);
    expect(remote.get('ConfigMap', TWIN, 'fresh')?.data).to.deep.equal({ v: '1' });
    const failures = { verb: 'create', kind: 'ConfigMap', remote: REMOTE, code: '500' };
    expect(await counterValue(h.metrics.writeFailures, failures)).to.equal(2);
    expect(h.events.reasons(), 'transient failures are not reported as Events').to.not.include('ReplicationFailed');
  });

  it('retries an update that lost a race (409 Conflict on a stale resourceVersion)', async () => {
    await converged();
    remote.failNext('update', 409, 'Conflict', { resource: 'configmaps' });
    local.put(configMap('settings', { mode: 'slow' }));
    await h.settle();
    expect(remote.get('ConfigMap', TWIN, 'settings')?.data).to.deep.equal({ mode: 'fast' });
    await h.settle(200);
    expect(remote.get('ConfigMap', TWIN, 'settings')?.data).to.deep.equal({ mode: 'slow' });
    const failures = { verb: 'update', kind: 'ConfigMap', remote: REMOTE, code: '409' };
    expect(await counterValue(h.metrics.writeFailures, failures)).to.equal(1);
  });

  it('does not retry a copy rejected as Invalid (422): reported at once, tried again at the next resync', async () => {
    await converged();
    remote.failNext('create', 422, 'Invalid', { resource: 'configmaps', times: 100 });
    local.put(configMap('fresh', { v: '1' }));
    await h.settle();
    const attempts = (): number =>
      remote
        .writes()
        .slice(2)
        .filter((w) => w === `create ${COPIES}`).length;
    expect(attempts()).to.equal(1);
    await h.settle(4 * 60_000);
    expect(attempts(), 'no retry with backoff').to.equal(1);
    const failed = h.events.recorded.filter((e) => e.reason === 'ReplicationFailed');
    expect(failed).to.have.length(1);
    expect(failed[0]?.message).to.match(/^copy to remote remote failed: .*rejected by remote remote/);
    expect(h.logger.lines.some((l) => l.level === 'warn' && l.msg?.includes('not retried'))).to.equal(true);
    await h.settle(60_000); // the periodic resync (5 min) looks again
    expect(attempts()).to.equal(2);
  });

  it('reads its own writes: a change before the watch caught up updates the new copy, no second create', async () => {
    await converged();
    remote.pauseWatch();
    local.put(configMap('fresh', { v: '1' }));
    await h.settle();
    local.put(configMap('fresh', { v: '2' }));
    await h.settle();
    expect(remote.writes().slice(2)).to.deep.equal([`create ${COPIES}`, `update ${COPIES}/fresh`]);
    remote.resumeWatch();
    await h.settle();
    expect(remote.writes()).to.have.length(4);
    expect(remote.get('ConfigMap', TWIN, 'fresh')?.data).to.deep.equal({ v: '2' });
  });

  it('reconciling twice is reconciling once: a resync over an agreeing state writes nothing', async () => {
    local.put(configMap('flags', { beta: 'on' }));
    await converged();
    const writes = [...local.writes(), ...remote.writes()];
    h.syncer.resyncAll();
    await h.settle();
    await h.settle(5 * 60_000); // and the periodic resync
    expect([...local.writes(), ...remote.writes()]).to.deep.equal(writes);
    expect(await reconcileCount(h.metrics, { kind: 'ConfigMap', result: 'ok' })).to.be.greaterThan(4);
  });

  it('a restart over an agreeing state (a known conflict included) writes nothing', async () => {
    await converged();
    remote.put(foreignConfigMap('taken'));
    local.put(configMap('taken', { ours: 'yes' }));
    await h.settle();
    expect(h.syncer.conflicts()).to.have.length(1);
    await h.stop();
    const writes = [...local.writes(), ...remote.writes()];
    const requests = remote.requests.length;

    h = harness(local, remote); // new caches, nothing remembered
    await h.start();
    expect([...local.writes(), ...remote.writes()]).to.deep.equal(writes);
    expect(remote.requests.slice(requests), 'one look at the taken name').to.deep.equal([`get ${COPIES}/taken`]);
    expect(h.syncer.conflicts()).to.deep.equal([`${REMOTE}/ConfigMap/${TWIN}/taken`]);
  });

  it('waits for a terminating twin, looking again every 5 s, and recreates it once it is gone', async () => {
    const twin = desiredTwinNamespace(namespace(NS), { localCluster: CLUSTER, twinNamespace: TWIN });
    remote.put({ ...twin, metadata: { ...twin.metadata, deletionTimestamp: '2024-01-01T00:00:00Z' } });
    h = harness(local, remote);
    await h.start();
    expect(remote.writes()).to.deep.equal([]);
    const waits = (): Promise<number> => reconcileCount(h.metrics, { kind: 'Namespace', result: 'wait' });
    const first = await waits();
    expect(first).to.be.greaterThan(0);
    await h.settle(4_999);
    expect(await waits()).to.equal(first);
    await h.settle(1);
    expect(await waits()).to.equal(first + 1);

    remote.remove('Namespace', undefined, TWIN);
    await h.settle();
    expect(remote.writes()).to.deep.equal(['create /api/v1/namespaces', `create ${COPIES}`]);
  });

  it("exports both work queues under controller-runtime's names, and unprefixed process metrics", async () => {
    h = harness(local, remote);
    await h.start();
    const text = await h.metrics.registry.metrics();
    for (const queue of ['syncer', 'syncer-backfill']) {
      const labels = `name="${queue}",controller="${queue}"`;
      expect(text, queue).to.match(new RegExp(`^workqueue_adds_total\\{${labels}\\} [1-9]`, 'm'));
      expect(text, queue).to.match(new RegExp(`^workqueue_depth\\{${labels}\\} 0$`, 'm'));
      expect(text, queue).to.match(new RegExp(`^workqueue_work_duration_seconds_count\\{${labels}\\} [1-9]`, 'm'));
      expect(text, queue).to.match(
        new RegExp(`^controller_runtime_reconcile_total\\{controller="${queue}",result="[a-z_]+"\\} [1-9]`, 'm'),
      );
    }
    for (const family of [
      'workqueue_queue_duration_seconds',
      'workqueue_retries_total',
      'workqueue_unfinished_work_seconds',
    ])
      expect(text).to.include(`# TYPE ${family} `);
    const withDefaults = createMetrics(new Registry());
    const names = withDefaults.registry.getMetricsAsArray().map((m) => m.name);
    withDefaults.registry.clear();
    expect(names).to.include.members([
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ]);
    expect(
      names.filter((n) => n.startsWith('kube_offload_syncer_process') || n.startsWith('kube_offload_syncer_nodejs')),
    ).to.deep.equal([]);
  });

  it('backfill stamps unstamped objects of opted-in namespaces, and looks again every period', async () => {
    local.put(configMap('legacy', { old: 'yes' }, 'none'));
    h = harness(local, remote);
    await h.start();
    expect(local.writes()).to.deep.equal(['patch /api/v1/namespaces/shop/configmaps/legacy']);
    expect(local.get('ConfigMap', NS, 'legacy')?.metadata?.labels).to.include({ [REPLICATE_KEY]: 'true' });
    expect(remote.get('ConfigMap', TWIN, 'legacy')?.data, 'and then replicated').to.deep.equal({ old: 'yes' });
    expect(await counterValue(h.metrics.writes, { verb: 'patch', kind: 'ConfigMap', remote: 'local' })).to.equal(1);

    local.put(configMap('later', { old: 'too' }, 'none')); // written while the webhook was down
    await h.settle(59_000);
    expect(local.writes()).to.have.length(1);
    await h.settle(1_000);
    expect(local.writes().at(-1)).to.equal('patch /api/v1/namespaces/shop/configmaps/later');
  });
});

describe('syncer shell: kube-offload.io/twin-name', () => {
  let local: FakeCluster;
  let remote: FakeCluster;
  let h: ReturnType<typeof harness>;
  const sameName = (): KubeObject => {
    const ns = namespace(NS);
    ns.metadata!.annotations = { [TWIN_NAME_ANNOTATION]: 'SameName' };
    return ns;
  };

  beforeEach(() => {
    local = new FakeCluster('local');
    remote = new FakeCluster('remote');
    local.put(configMap('settings', { mode: 'fast' }));
  });

  afterEach(async () => {
    await h?.stop();
  });

  it('makes the twin of a SameName namespace under the same name, with the copies in it', async () => {
    local.put(sameName());
    h = harness(local, remote);
    await h.start();
    expect(remote.writes()).to.deep.equal(['create /api/v1/namespaces', `create /api/v1/namespaces/${NS}/configmaps`]);
    expect(remote.get('Namespace', undefined, NS)?.metadata?.annotations?.[ORIGIN_ANNOTATION]).to.equal(
      `${CLUSTER}/${NS}`,
    );
    expect(remote.get('ConfigMap', NS, 'settings')?.data).to.deep.equal({ mode: 'fast' });
    expect(remote.get('Namespace', undefined, TWIN)).to.equal(undefined);
  });

  it('writes nothing into a namespace of that name it does not own: reported on the Namespace, taken once free', async () => {
    remote.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { team: 'theirs' } } });
    local.put(sameName());
    h = harness(local, remote);
    await h.start();
    expect(remote.writes()).to.deep.equal([]);
    expect(remote.get('ConfigMap', NS, 'settings')).to.equal(undefined);
    expect(remote.get('Namespace', undefined, NS)?.metadata?.labels).to.deep.equal({ team: 'theirs' });
    expect(h.syncer.conflicts()).to.deep.equal([`${REMOTE}/Namespace/${NS}`]);
    expect(await counterValue(h.metrics.conflicts, { kind: 'Namespace', remote: REMOTE })).to.equal(1);
    const event = h.events.recorded.find((e) => e.reason === 'ReplicationConflict');
    expect(event).to.deep.include({ kind: 'Namespace', name: NS, type: 'Warning' });
    expect(event?.message).to.equal(
      `twin namespace ${NS} in remote ${REMOTE}: namespace ${NS} already exists in the remote cluster and is not ` +
        `managed by kube-offload; not adopted (${TWIN_NAME_ANNOTATION}: SameName; free that name in the remote, or ` +
        'opt the namespace out and use the default naming ClusterSuffix)',
    );

    remote.remove('Namespace', undefined, NS);
    await h.settle();
    expect(remote.get('Namespace', undefined, NS)?.metadata?.labels).to.include({
      [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    });
    expect(remote.get('ConfigMap', NS, 'settings')?.data).to.deep.equal({ mode: 'fast' });
    expect(h.syncer.conflicts()).to.deep.equal([]);
  });

  it('deletes its twin under the old name when the naming changed (an opt-out, change and opt-in it did not see apart)', async () => {
    local.put(namespace(NS));
    h = harness(local, remote);
    await h.start();
    expect(remote.get('ConfigMap', TWIN, 'settings')).to.not.equal(undefined);
    local.put(sameName());
    await h.settle();
    expect(remote.writes().slice(2)).to.have.members([
      `delete /api/v1/namespaces/${TWIN}`,
      'create /api/v1/namespaces',
      `create /api/v1/namespaces/${NS}/configmaps`,
    ]);
    expect(remote.get('ConfigMap', NS, 'settings')?.data).to.deep.equal({ mode: 'fast' });
  });
});
