// The provider shell's decisions against fakes: an in-memory API per cluster, caches fed by it,
// a fake clock (requeues and backoff only happen when the test moves time) and an Event sink.
import { expect } from 'chai';
import { pino } from 'pino';
import { desiredTwinNamespace } from '../../../src/common/ownership.ts';
import { twinNamespaceName } from '../../../src/common/twin.ts';
import type { ProviderCaches } from '../../../src/virtualnode/api.ts';
import { createProviderMetrics } from '../../../src/virtualnode/metrics.ts';
import { TWIN_CONFLICT_RECHECK_MS } from '../../../src/virtualnode/pod-controller.ts';
import { VirtualNodeProvider } from '../../../src/virtualnode/provider.ts';
import type { ProviderOptions } from '../../../src/virtualnode/provider.ts';
import {
  LIQO_CONVENTION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_CLUSTER_LABEL,
  ORIGIN_UID_ANNOTATION,
  TWIN_NAME_ANNOTATION,
} from '../../../webhooks/keys.ts';
import { FakeClock, flush } from '../kube/helpers.ts';
import { FakeApi, FakeCache, FakeEvents } from './fakes.ts';
import type { Obj } from './fakes.ts';

const LOCAL = 'local';
const REMOTE = 'remote';
const NODE = 'virtual-remote';
const NODE_IP = '10.0.0.7';
const NS = 'shop';
const TWIN = twinNamespaceName(NS, LOCAL);
const LEASE = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/virtual-remote';

const localPath = (name: string): string => `/api/v1/namespaces/${NS}/pods/${name}`;
const remotePath = (name: string): string => `/api/v1/namespaces/${TWIN}/pods/${name}`;
const isPod = (path: string): boolean => /^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+$/.test(path);
const ours = (object: Obj): boolean =>
  object.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE &&
  object.metadata?.labels?.[ORIGIN_CLUSTER_LABEL] === LOCAL;

function localPod(name: string, spec: Record<string, unknown> = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: 'web' } },
    spec: { nodeName: NODE, containers: [{ name: 'app', image: 'nginx:1.27' }], ...spec },
    status: { phase: 'Pending' },
  };
}

function remoteNode(name: string): Obj {
  return {
    metadata: { name, labels: { 'topology.kubernetes.io/region': 'eu-west' } },
    status: {
      capacity: { cpu: '8', memory: '32Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

const RUNNING = {
  phase: 'Running',
  podIP: '172.16.0.9',
  podIPs: [{ ip: '172.16.0.9' }],
  conditions: [{ type: 'Ready', status: 'True' }],
  containerStatuses: [{ name: 'app', ready: true, restartCount: 0, state: { running: {} } }],
};

/** Two fake clusters; `provider()` makes a provider over them (again, for a restart). */
function world() {
  const clock = new FakeClock();
  const local = new FakeApi('local');
  const remote = new FakeApi('remote');
  remote.put('/api/v1/nodes/r1', remoteNode('r1'));
  const events = new FakeEvents();
  const providers: VirtualNodeProvider[] = [];
  let caches: { [K in keyof ProviderCaches]: FakeCache<Obj> };
  const provider = (options: Partial<ProviderOptions> = {}): VirtualNodeProvider => {
    caches = {
      localNamespaces: new FakeCache(
        local,
        (path) => path.startsWith('/api/v1/namespaces/') && !path.includes('/', 19),
      ),
      remoteNamespaces: new FakeCache(
        remote,
        (path, object) => path.startsWith('/api/v1/namespaces/') && !path.includes('/', 19) && ours(object),
      ),
      localPods: new FakeCache(local, (path, object) => isPod(path) && object.spec?.nodeName === NODE),
      remotePods: new FakeCache(remote, (path, object) => isPod(path) && ours(object)),
      remoteConfigMaps: new FakeCache(remote, (path, object) => path.includes('/configmaps/') && ours(object)),
      remoteSecrets: new FakeCache(remote, (path, object) => path.includes('/secrets/') && ours(object)),
    };
    const created = new VirtualNodeProvider({
      localCluster: LOCAL,
      remoteCluster: REMOTE,
      node: { nodeName: NODE, remoteCluster: REMOTE, nodeIP: NODE_IP, convention: LIQO_CONVENTION },
      logger: pino({ level: 'silent' }),
      local,
      remote,
      caches: caches as unknown as ProviderCaches,
      events,
      clock,
      random: () => 0, // backoff without jitter: 100 ms, 200 ms, ...
      referencesRetryMs: 2000,
      referencesWarnAfterMs: 5000,
      ...options,
    });
    providers.push(created);
    return created;
  };
  /** Lets the provider work; false when keys still wait for the (fake) clock. */
  const settle = async (target = providers[providers.length - 1] as VirtualNodeProvider): Promise<boolean> => {
    let idle = false;
    await flush();
    void target.whenIdle().then(() => (idle = true));
    for (let round = 0; round < 40 && !idle; round++) await flush(2);
    await flush();
    return idle;
  };
  const stopAll = async (): Promise<void> => {
    for (const created of providers) await created.stop();
  };
  return { clock, local, remote, events, provider, settle, stopAll, caches: () => caches };
}

type World = ReturnType<typeof world>;

/** A provider that offloaded `web-1` and mirrors its Running status. */
async function running(w: World): Promise<VirtualNodeProvider> {
  w.local.put(localPath('web-1'), localPod('web-1'));
  const provider = w.provider();
  await provider.start();
  await w.settle();
  const remote = w.remote.objects.get(remotePath('web-1'));
  w.remote.put(remotePath('web-1'), { ...remote, status: RUNNING });
  expect(await w.settle()).to.equal(true);
  expect(w.local.objects.get(localPath('web-1'))?.status?.phase).to.equal('Running');
  return provider;
}

describe('virtualnode provider (shell, against fakes)', () => {
  let w: World;
  beforeEach(() => {
    w = world();
  });
  afterEach(async () => {
    await w.stopAll();
  });

  it('registers the node and its Lease, then creates the remote pod of a pod bound to the node', async () => {
    const local = w.local.put(localPath('web-1'), localPod('web-1'));
    const provider = w.provider();
    await provider.start();
    expect(await w.settle()).to.equal(true);

    expect(w.local.written()).to.include.members([`create /api/v1/nodes/${NODE}`, `create ${LEASE}`]);
    const remote = w.remote.objects.get(remotePath('web-1'));
    expect(remote?.metadata?.annotations?.[ORIGIN_UID_ANNOTATION]).to.equal(local.metadata?.uid);
    expect(remote?.metadata?.labels).to.include({ app: 'web', [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });
    expect(remote?.spec?.nodeName).to.equal(undefined);
    expect(w.events.reasons()).to.deep.equal(['Offloaded']);
    expect(provider.state()).to.deep.include({
      registered: true,
      reachable: true,
      synced: true,
      pods: 1,
      remotePods: 1,
    });
  });

  it("exports its pod queue under controller-runtime's names (name = the remote's queue), process metrics unprefixed", async () => {
    const metrics = createProviderMetrics();
    w.local.put(localPath('web-1'), localPod('web-1'));
    const provider = w.provider({ metrics });
    await provider.start();
    await w.settle();
    const text = await metrics.registry.metrics();
    const queue = `virtual-node-${REMOTE}`;
    expect(text).to.match(new RegExp(`^workqueue_adds_total\\{name="${queue}",controller="${queue}"\\} [1-9]`, 'm'));
    expect(text).to.match(new RegExp(`^workqueue_depth\\{name="${queue}",controller="${queue}"\\} 0$`, 'm'));
    expect(text).to.match(
      new RegExp(`^controller_runtime_reconcile_total\\{controller="${queue}",result="success"\\} [1-9]`, 'm'),
    );
    expect(text).to.match(/^process_resident_memory_bytes \d+/m);
    expect(text).to.match(/^nodejs_heap_size_used_bytes \d+/m);
    expect(text).to.not.match(/^kube_offload_virtual_node_(process|nodejs)_/m);
    await provider.stop();
    expect(await metrics.registry.metrics(), 'a stopped queue leaves the gauges').to.not.match(/^workqueue_depth\{/m);
    metrics.registry.clear();
  });

  it('creates the missing twin namespace, then the pod on the retry after backoff', async () => {
    w.remote.requireNamespaces = true;
    w.local.put(`/api/v1/namespaces/${NS}`, { metadata: { name: NS } });
    w.local.put(localPath('web-1'), localPod('web-1'));
    await w.provider().start();
    expect(await w.settle()).to.equal(false); // the key waits for its backoff
    expect(w.remote.objects.has(`/api/v1/namespaces/${TWIN}`)).to.equal(true);
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(false);

    await w.clock.advance(100);
    expect(await w.settle()).to.equal(true);
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(true);
  });

  it('mirrors the remote status back onto the local pod (update), with the node as hostIP', async () => {
    await running(w);
    const status = w.local.objects.get(localPath('web-1'))?.status;
    expect(status).to.deep.include({ phase: 'Running', podIP: '172.16.0.9', hostIP: NODE_IP });
    expect(status.conditions).to.deep.include({ type: 'Ready', status: 'True' });

    // A later remote change is mirrored too; an unchanged one writes nothing.
    const patches = (): number => w.local.written().filter((write) => write.startsWith('patch')).length;
    const before = patches();
    const remote = w.remote.objects.get(remotePath('web-1'));
    w.remote.put(remotePath('web-1'), { ...remote, status: { ...RUNNING, phase: 'Succeeded' } });
    expect(await w.settle()).to.equal(true);
    expect(w.local.objects.get(localPath('web-1'))?.status?.phase).to.equal('Succeeded');
    expect(patches()).to.equal(before + 1);
    w.caches().remotePods.set(w.remote.objects.get(remotePath('web-1')) as Obj); // a resync event
    expect(await w.settle()).to.equal(true);
    expect(patches()).to.equal(before + 1);
  });

  it('deletes the remote pod of a deleted local pod, then finishes the local delete', async () => {
    await running(w);
    const remoteUid = w.remote.objects.get(remotePath('web-1'))?.metadata?.uid;
    const local = w.local.objects.get(localPath('web-1')) as Obj;
    const deleting = { ...local.metadata, deletionTimestamp: '2026-01-01T00:00:00Z', deletionGracePeriodSeconds: 30 };
    w.local.put(localPath('web-1'), { ...local, metadata: deleting });
    expect(await w.settle()).to.equal(true);

    const remoteDelete = w.remote.writes.find((write) => write.verb === 'delete');
    expect(remoteDelete?.body).to.deep.equal({ preconditions: { uid: remoteUid }, gracePeriodSeconds: 30 });
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(false);
    const localDelete = w.local.writes.find((write) => write.verb === 'delete');
    expect(localDelete?.body).to.deep.equal({ gracePeriodSeconds: 0, preconditions: { uid: local.metadata?.uid } });
    expect(w.local.objects.has(localPath('web-1'))).to.equal(false);
  });

  it('fails the local pod when its remote pod is gone (a live GET agrees), so that it is replaced', async () => {
    await running(w);
    w.remote.remove(remotePath('web-1'));
    expect(await w.settle()).to.equal(true);

    const status = w.local.objects.get(localPath('web-1'))?.status;
    expect(status).to.deep.include({ phase: 'Failed', reason: 'RemotePodLost' });
    expect(status.containerStatuses[0].state.terminated.reason).to.equal('ContainerStatusUnknown');
    expect(w.events.reasons()).to.include('RemotePodLost');
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(false); // nothing re-created
  });

  describe('conflicts (409)', () => {
    it('a create that finds the pod already there (the cache lags) neither retries nor duplicates', async () => {
      const local = w.local.put(localPath('web-1'), localPod('web-1'));
      const made = {
        metadata: {
          name: 'web-1',
          namespace: TWIN,
          labels: { app: 'web', [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [ORIGIN_CLUSTER_LABEL]: LOCAL },
          annotations: { [ORIGIN_UID_ANNOTATION]: local.metadata?.uid as string },
        },
      };
      const existing = w.remote.put(remotePath('web-1'), made);
      const provider = w.provider();
      w.caches().remotePods.paused = true; // its LIST has not seen the pod yet
      await provider.start();
      expect(await w.settle()).to.equal(true);

      const creates = w.remote.writes.filter((write) => write.verb === 'create');
      expect(creates.map((write) => write.result)).to.deep.equal(['409']);
      const pods = [...w.remote.objects.keys()].filter(isPod);
      expect(pods).to.deep.equal([remotePath('web-1')]);
      expect(w.remote.objects.get(remotePath('web-1'))?.metadata?.uid).to.equal(existing.metadata?.uid);
      expect(w.events.reasons()).to.deep.equal([]);
    });

    it('a delete whose uid precondition fails (the name is another pod now) is not retried', async () => {
      await running(w);
      const stale = w.remote.objects.get(remotePath('web-1')) as Obj;
      w.caches().remotePods.paused = true;
      // Someone replaced the remote pod; the cache still has the old one.
      w.remote.remove(remotePath('web-1'));
      const replacement = w.remote.put(remotePath('web-1'), {
        ...stale,
        metadata: { ...stale.metadata, uid: 'someone-else' },
      });
      const local = w.local.objects.get(localPath('web-1')) as Obj;
      w.local.put(localPath('web-1'), {
        ...local,
        metadata: { ...local.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' },
      });
      expect(await w.settle()).to.equal(true);

      const deletes = w.remote.writes.filter((write) => write.verb === 'delete');
      expect(deletes.map((write) => write.result)).to.deep.equal(['409']);
      expect(w.remote.objects.get(remotePath('web-1'))?.metadata?.uid).to.equal(replacement.metadata?.uid);
    });
  });

  describe('drift', () => {
    it('puts back the labels someone changed on the remote pod', async () => {
      await running(w);
      const remote = w.remote.objects.get(remotePath('web-1')) as Obj;
      w.remote.put(remotePath('web-1'), {
        ...remote,
        metadata: { ...remote.metadata, labels: { ...remote.metadata?.labels, app: 'hijacked', extra: 'x' } },
      });
      expect(await w.settle()).to.equal(true);
      expect(w.remote.objects.get(remotePath('web-1'))?.metadata?.labels).to.include({ app: 'web' });
      expect(w.remote.objects.get(remotePath('web-1'))?.metadata?.labels).to.not.have.property('extra');
    });

    it('does not fail the local pod while a live GET still finds the remote pod: looks again in 1 s', async () => {
      await running(w);
      w.caches().remotePods.remove(`${TWIN}/web-1`); // the cache lost it, the cluster did not
      expect(await w.settle()).to.equal(false);
      expect(w.local.objects.get(localPath('web-1'))?.status?.phase).to.equal('Running');

      // Someone else deletes it for real while we wait: the next look fails the pod.
      w.caches().remotePods.paused = true;
      w.remote.remove(remotePath('web-1'));
      await w.clock.advance(1000);
      expect(await w.settle()).to.equal(true);
      expect(w.local.objects.get(localPath('web-1'))?.status?.phase).to.equal('Failed');
    });

    it('never deletes a remote pod while its local pod exists, even when the local cache lost it', async () => {
      await running(w);
      w.caches().localPods.remove(`${NS}/web-1`);
      expect(await w.settle()).to.equal(false); // a look again in 1 s
      expect(w.remote.writes.filter((write) => write.verb === 'delete')).to.deep.equal([]);

      w.local.remove(localPath('web-1')); // now it is gone for real
      await w.clock.advance(1000);
      expect(await w.settle()).to.equal(true);
      expect(w.remote.objects.has(remotePath('web-1'))).to.equal(false);
    });
  });

  it('a failed write requeues with growing backoff and succeeds later', async () => {
    w.remote.failNext('create', /\/pods\/web-1$/, 500, { times: 2 });
    w.local.put(localPath('web-1'), localPod('web-1'));
    await w.provider().start();
    expect(await w.settle()).to.equal(false);
    await w.clock.advance(99);
    expect(w.remote.writes.filter((write) => write.verb === 'create')).to.have.length(1);
    await w.clock.advance(1); // first retry after 100 ms: fails again
    await w.settle();
    expect(w.remote.writes.filter((write) => write.verb === 'create')).to.have.length(2);
    await w.clock.advance(199);
    expect(w.remote.writes.filter((write) => write.verb === 'create')).to.have.length(2);
    await w.clock.advance(1); // second retry after 200 ms: succeeds
    expect(await w.settle()).to.equal(true);
    expect(w.remote.writes.filter((write) => write.verb === 'create').map((write) => write.result)).to.deep.equal([
      '500',
      '500',
      'ok',
    ]);
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(true);
  });

  it('a pod rejected as invalid (422) is reported at once, not retried, and tried again when it changes', async () => {
    w.remote.failNext('create', /\/pods\/web-1$/, 422);
    const local = w.local.put(localPath('web-1'), localPod('web-1'));
    await w.provider().start();
    expect(await w.settle()).to.equal(true); // dropped: nothing waits
    await w.clock.advance(60_000);
    expect(await w.settle()).to.equal(true);
    expect(w.remote.writes.map((write) => `${write.verb} ${write.result}`)).to.deep.equal(['create 422']);
    expect(w.events.recorded.map((event) => `${event.type} ${event.reason}`)).to.deep.equal(['Warning OffloadFailed']);

    w.local.put(localPath('web-1'), {
      ...local,
      metadata: { ...local.metadata, labels: { app: 'web', fixed: 'yes' } },
    });
    expect(await w.settle()).to.equal(true);
    expect(w.remote.objects.get(remotePath('web-1'))?.metadata?.labels).to.include({ fixed: 'yes' });
  });

  it('a restarted provider writes nothing when both sides agree (only the Lease is renewed)', async () => {
    const first = await running(w);
    await first.stop();
    const writes = { local: w.local.writes.length, remote: w.remote.writes.length };

    const second = w.provider();
    await second.start();
    expect(await w.settle()).to.equal(true);
    expect(second.state()).to.deep.include({ registered: true, synced: true, pods: 1, remotePods: 1 });
    expect(w.local.writes.slice(writes.local).map((write) => `${write.verb} ${write.path}`)).to.deep.equal([
      `replace ${LEASE}`,
    ]);
    expect(w.remote.writes.slice(writes.remote)).to.deep.equal([]);
  });

  it('does nothing with pods before both pod caches have synced', async () => {
    w.local.put(localPath('web-1'), localPod('web-1'));
    let release!: () => void;
    const provider = w.provider();
    w.caches().remotePods.syncGate = new Promise<void>((resolve) => (release = resolve));
    await provider.start();
    expect(await w.settle()).to.equal(true);
    expect(provider.state().synced).to.equal(false);
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(false);

    release();
    expect(await w.settle()).to.equal(true);
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(true);
  });

  it('waits for referenced ConfigMaps in the twin namespace, warns after a while, then creates', async () => {
    const volumes = [{ name: 'cfg', configMap: { name: 'settings' } }];
    w.local.put(localPath('web-1'), localPod('web-1', { volumes }));
    await w.provider().start();
    expect(await w.settle()).to.equal(false); // looks again every 2 s
    await w.clock.advance(6000);
    await w.settle();
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(false);
    expect(w.events.recorded.find((event) => event.reason === 'MissingReferences')?.message).to.include(
      'configmap/settings',
    );

    const labels = { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [ORIGIN_CLUSTER_LABEL]: LOCAL };
    w.remote.put(`/api/v1/namespaces/${TWIN}/configmaps/settings`, {
      metadata: { name: 'settings', namespace: TWIN, labels },
    });
    await w.settle();
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(true);
  });

  it('turns the node NotReady after failed probes and Ready again, catching up on pods', async () => {
    const provider = w.provider({ probeIntervalMs: 1000, unreachableAfter: 2 });
    await provider.start();
    await w.settle();
    const ready = (): string | undefined =>
      (
        w.local.objects.get(`/api/v1/nodes/${NODE}`)?.status?.conditions as Array<{ type: string; status: string }>
      ).find((condition) => condition.type === 'Ready')?.status;
    expect(ready()).to.equal('True');
    expect(w.local.objects.get(`/api/v1/nodes/${NODE}`)?.status?.capacity).to.include({ cpu: '8', pods: '110' });

    w.remote.failNext('get', /^\/api\/v1\/nodes$/, 500, { times: 2 });
    await w.clock.advance(1000);
    await w.settle();
    expect(ready()).to.equal('True'); // one failure is not enough
    await w.clock.advance(1000);
    await w.settle();
    expect(ready()).to.equal('False');
    expect(provider.state().reachable).to.equal(false);
    await w.clock.advance(1000);
    await w.settle();
    expect(ready()).to.equal('True');
  });
});

describe('virtualnode provider: the twin naming of kube-offload.io/twin-name', () => {
  let w: World;
  beforeEach(() => {
    w = world();
  });
  afterEach(async () => {
    await w.stopAll();
  });
  const sameName = { metadata: { name: NS, annotations: { [TWIN_NAME_ANNOTATION]: 'SameName' } } };
  const sameNamePath = (name: string): string => `/api/v1/namespaces/${NS}/pods/${name}`;

  it('runs the pod of a SameName namespace in the remote namespace of the same name', async () => {
    w.local.put(`/api/v1/namespaces/${NS}`, sameName);
    w.local.put(localPath('web-1'), localPod('web-1'));
    await w.provider().start();
    expect(await w.settle()).to.equal(true);
    expect(w.remote.objects.has(sameNamePath('web-1'))).to.equal(true);
    expect(w.remote.objects.has(remotePath('web-1'))).to.equal(false);
    expect(w.events.reasons()).to.deep.equal(['Offloaded']);
  });

  it('never writes into a namespace of that name it does not own: the pod stays Pending, reported, until the twin is ours', async () => {
    w.local.put(`/api/v1/namespaces/${NS}`, sameName);
    w.remote.put(`/api/v1/namespaces/${NS}`, { metadata: { name: NS, labels: { team: 'theirs' } } });
    w.local.put(localPath('web-1'), localPod('web-1'));
    await w.provider().start();
    expect(await w.settle()).to.equal(false); // looked at again later
    expect(w.remote.written().filter((write) => write.includes('/pods'))).to.deep.equal([]);
    const status = w.local.objects.get(localPath('web-1'))?.status;
    expect(status?.phase).to.equal('Pending');
    expect(status?.reason).to.equal('TwinNamespaceConflict');
    expect(status?.message).to.equal(
      `Not offloaded: namespace ${NS} already exists in remote cluster ${REMOTE} and is not managed by kube-offload ` +
        `for cluster ${LOCAL}; kube-offload does not write into it (${TWIN_NAME_ANNOTATION}: SameName on namespace ${NS})`,
    );
    expect(w.events.recorded.map((e) => [e.type, e.reason])).to.deep.equal([['Warning', 'OffloadFailed']]);

    // The foreign namespace goes and the syncer makes our twin there: the pod goes on, woken by it.
    w.remote.remove(`/api/v1/namespaces/${NS}`);
    w.remote.put(
      `/api/v1/namespaces/${NS}`,
      desiredTwinNamespace(sameName, { localCluster: LOCAL, twinNamespace: NS }) as Obj,
    );
    await w.settle(); // before the later look (TWIN_CONFLICT_RECHECK_MS) is due
    expect(w.remote.objects.has(sameNamePath('web-1'))).to.equal(true);
    await w.clock.advance(TWIN_CONFLICT_RECHECK_MS);
    w.remote.put(sameNamePath('web-1'), { ...w.remote.objects.get(sameNamePath('web-1')), status: RUNNING });
    expect(await w.settle()).to.equal(true);
    const mirrored = w.local.objects.get(localPath('web-1'))?.status;
    expect([mirrored?.phase, mirrored?.reason, mirrored?.message]).to.deep.equal(['Running', undefined, undefined]);
  });

  it("does not take another local namespace's twin of the same name (shop-local as SameName beside shop)", async () => {
    const other = 'shop-local';
    w.local.put(`/api/v1/namespaces/${other}`, {
      metadata: { name: other, annotations: { [TWIN_NAME_ANNOTATION]: 'SameName' } },
    });
    // shop's twin, made for namespace shop under the default naming.
    w.remote.put(
      `/api/v1/namespaces/${TWIN}`,
      desiredTwinNamespace({ metadata: { name: NS } }, { localCluster: LOCAL, twinNamespace: TWIN }) as Obj,
    );
    w.local.put(`/api/v1/namespaces/${other}/pods/web-1`, {
      ...localPod('web-1'),
      metadata: { name: 'web-1', namespace: other, labels: { app: 'web' } },
    });
    await w.provider().start();
    expect(await w.settle()).to.equal(false);
    expect(w.remote.objects.has(`/api/v1/namespaces/${TWIN}/pods/web-1`)).to.equal(false);
    expect(w.local.objects.get(`/api/v1/namespaces/${other}/pods/web-1`)?.status?.message).to.include(
      `is the twin of ${LOCAL}/${NS}`,
    );
  });
});
