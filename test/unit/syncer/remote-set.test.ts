// Remotes found at run time: peer Secrets turned into remotes added, removed and rotated
// (PeerWatcher), and the syncer taking a remote in or letting it go while it runs, against
// in-memory clusters, a fake clock and an in-memory Secret cache.
import { expect } from 'chai';
import type https from 'node:https';
import { Registry } from 'prom-client';
import type { KubernetesObject } from '../../../src/kube/client.ts';
import type { InformerEvent } from '../../../src/kube/informer.ts';
import type { KubeConfigLike } from '../../../src/kube/kubeconfig.ts';
import { SwappableKubeConfig, liteFromText } from '../../../src/kube/kubeconfig.ts';
import { PeerWatcher } from '../../../src/kube/peer-watcher.ts';
import type { SecretCache } from '../../../src/kube/peer-watcher.ts';
import { peerSecretLabels, peerSecretName, planPeerChanges } from '../../../src/common/peer-secret.ts';
import type { PeerComponent } from '../../../src/common/peer-secret.ts';
import { twinNamespaceName } from '../../../src/common/twin.ts';
import { localCaches, remoteCaches } from '../../../src/syncer/caches.ts';
import { Syncer } from '../../../src/syncer/controller.ts';
import { createMetrics } from '../../../src/syncer/metrics.ts';
import { ENABLED_LABEL, REPLICATE_KEY } from '../../../webhooks/keys.ts';
import type { KubeObject } from '../../../webhooks/types.ts';
import { FakeClock } from '../kube/helpers.ts';
import { FakeCluster, FakeEvents, MemoryLogger } from './fakes.ts';

const CLUSTER = 'local';
const NS = 'shop';
const TWIN = twinNamespaceName(NS, CLUSTER);

function kubeconfigText(server: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{ name: r, cluster: { server: "${server}" } }]`,
    `users: [{ name: u, user: { token: "${token}" } }]`,
    'contexts: [{ name: c, context: { cluster: r, user: u } }]',
    'current-context: c',
  ].join('\n');
}

function peerSecret(remote: string, server: string, token: string, component: PeerComponent = 'syncer'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: peerSecretName(remote, component),
      namespace: 'kube-offload-system',
      labels: peerSecretLabels(remote, component),
    },
    data: { kubeconfig: Buffer.from(kubeconfigText(server, token)).toString('base64') },
  };
}

/** The bearer token a KubeConfigLike would send right now. */
async function tokenOf(kubeConfig: KubeConfigLike): Promise<string> {
  const opts: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(opts);
  return String((opts.headers as Record<string, string>).Authorization).replace('Bearer ', '');
}

/** An in-memory Secret informer: the test puts and removes Secrets, handlers hear it at once. */
class FakeSecrets implements SecretCache {
  readonly #items = new Map<string, KubernetesObject>();
  readonly #handlers: Record<InformerEvent, Array<(o: KubernetesObject) => void>> = { add: [], update: [], delete: [] };
  #synced = false;
  stopped = false;

  async start(): Promise<void> {
    this.#synced = true;
  }
  stop(): void {
    this.stopped = true;
  }
  hasSynced(): boolean {
    return this.#synced;
  }
  list(): KubernetesObject[] {
    return [...this.#items.values()];
  }
  on(event: InformerEvent, handler: (o: KubernetesObject) => void): void {
    this.#handlers[event].push(handler);
  }
  put(secret: KubeObject): void {
    const name = String(secret.metadata?.name);
    const event = this.#items.has(name) ? 'update' : 'add';
    this.#items.set(name, secret as KubernetesObject);
    for (const handler of this.#handlers[event]) handler(secret as KubernetesObject);
  }
  remove(name: string): void {
    const secret = this.#items.get(name);
    if (!secret) return;
    this.#items.delete(name);
    for (const handler of this.#handlers.delete) handler(secret);
  }
}

/** Handlers that record what the watcher asked for. */
function recordingHandlers() {
  const calls: string[] = [];
  const configs = new Map<string, KubeConfigLike>();
  return {
    calls,
    configs,
    handlers: {
      add: (remote: string, kubeConfig: KubeConfigLike) => {
        calls.push(`add ${remote} ${kubeConfig.getCurrentCluster()?.server}`);
        configs.set(remote, kubeConfig);
      },
      remove: (remote: string) => void calls.push(`remove ${remote}`),
      rotated: (remote: string) => void calls.push(`rotated ${remote}`),
    },
  };
}

describe('peer changes (pure)', () => {
  const fp = (server: string, digest: string) => ({ server, digest });

  it('adds new remotes, removes vanished ones, rotates new credentials, replaces a new server', () => {
    const current = new Map([
      ['eu', fp('https://eu', 'a')],
      ['us', fp('https://us', 'a')],
      ['ap', fp('https://ap', 'a')],
      ['gone', fp('https://gone', 'a')],
    ]);
    const desired = new Map([
      ['eu', fp('https://eu', 'a')],
      ['us', fp('https://us', 'b')],
      ['ap', fp('https://ap2', 'a')],
      ['new', fp('https://new', 'a')],
    ]);
    expect(planPeerChanges(current, desired)).to.deep.equal([
      { type: 'remove', remote: 'gone' },
      { type: 'rotate', remote: 'us' },
      { type: 'replace', remote: 'ap' },
      { type: 'add', remote: 'new' },
    ]);
  });

  it('keeps a remote whose Secret cannot be read, and changes nothing when nothing changed', () => {
    const current = new Map([['eu', fp('https://eu', 'a')]]);
    expect(planPeerChanges(current, new Map(), new Set(['eu']))).to.deep.equal([]);
    expect(planPeerChanges(current, new Map(current))).to.deep.equal([]);
  });
});

describe('SwappableKubeConfig', () => {
  it('sends the new token from the next request on, and refuses another API server', async () => {
    const swappable = new SwappableKubeConfig(liteFromText(kubeconfigText('https://eu:6443', 'one'))!);
    expect(await tokenOf(swappable)).to.equal('one');
    swappable.swap(liteFromText(kubeconfigText('https://eu:6443', 'two'))!);
    expect(await tokenOf(swappable)).to.equal('two');
    expect(() => swappable.swap(liteFromText(kubeconfigText('https://us:6443', 'x'))!)).to.throw(
      /cannot swap credentials of https:\/\/eu:6443 for those of https:\/\/us:6443/,
    );
  });
});

describe('PeerWatcher (fake Secret cache)', () => {
  let secrets: FakeSecrets;
  let logger: MemoryLogger;
  let recorded: ReturnType<typeof recordingHandlers>;
  let watcher: PeerWatcher;

  beforeEach(async () => {
    secrets = new FakeSecrets();
    logger = new MemoryLogger();
    recorded = recordingHandlers();
    watcher = new PeerWatcher({
      secrets,
      component: 'syncer',
      handlers: recorded.handlers,
      reserved: new Set(['flagged']),
      logger,
    });
  });

  afterEach(async () => {
    await watcher.stop();
  });

  it('adds the remotes of the Secrets there at start, then those that appear', async () => {
    secrets.put(peerSecret('eu', 'https://eu:6443', 't1'));
    await watcher.start();
    secrets.put(peerSecret('us', 'https://us:6443', 't1'));
    await watcher.whenIdle();
    expect(recorded.calls).to.deep.equal(['add eu https://eu:6443', 'add us https://us:6443']);
    expect(watcher.remotes()).to.deep.equal(['eu', 'us']);
  });

  it('removes a remote whose Secret is deleted', async () => {
    secrets.put(peerSecret('eu', 'https://eu:6443', 't1'));
    await watcher.start();
    secrets.remove(peerSecretName('eu', 'syncer'));
    await watcher.whenIdle();
    expect(recorded.calls).to.deep.equal(['add eu https://eu:6443', 'remove eu']);
    expect(watcher.remotes()).to.deep.equal([]);
  });

  it('swaps rotated credentials into the same kubeconfig object (no remove, no add)', async () => {
    secrets.put(peerSecret('eu', 'https://eu:6443', 'old'));
    await watcher.start();
    const kubeConfig = recorded.configs.get('eu')!;
    expect(await tokenOf(kubeConfig)).to.equal('old');
    secrets.put(peerSecret('eu', 'https://eu:6443', 'new'));
    await watcher.whenIdle();
    expect(recorded.calls).to.deep.equal(['add eu https://eu:6443', 'rotated eu']);
    expect(await tokenOf(kubeConfig)).to.equal('new');
  });

  it('replaces a remote that moved to another API server', async () => {
    secrets.put(peerSecret('eu', 'https://eu:6443', 't'));
    await watcher.start();
    secrets.put(peerSecret('eu', 'https://eu2:6443', 't'));
    await watcher.whenIdle();
    expect(recorded.calls).to.deep.equal(['add eu https://eu:6443', 'remove eu', 'add eu https://eu2:6443']);
  });

  it('ignores other components, --remote names and unreadable Secrets (keeping what runs), with a warning', async () => {
    secrets.put(peerSecret('eu', 'https://eu:6443', 't'));
    secrets.put(peerSecret('vn', 'https://vn:6443', 't', 'virtual-node'));
    secrets.put(peerSecret('flagged', 'https://flagged:6443', 't'));
    await watcher.start();
    const broken = peerSecret('eu', 'https://eu:6443', 't');
    broken.data = { kubeconfig: Buffer.from('clusters: [').toString('base64') };
    secrets.put(broken);
    await watcher.whenIdle();
    expect(recorded.calls).to.deep.equal(['add eu https://eu:6443']);
    const problems = logger.lines.filter((l) => l.level === 'warn').map((l) => (l.obj as { problem: string }).problem);
    expect(problems).to.have.length(2);
    expect(problems[0]).to.equal('remote flagged is given with --remote; the flag wins');
    expect(problems[1]).to.match(/^data\.kubeconfig is not YAML/);
  });

  it('coalesces a burst of changes into one pass', async () => {
    await watcher.start();
    for (let i = 0; i < 5; i++) secrets.put(peerSecret('eu', 'https://eu:6443', `t${i}`));
    await watcher.whenIdle();
    expect(recorded.calls).to.deep.equal(['add eu https://eu:6443']);
    expect(await tokenOf(recorded.configs.get('eu')!)).to.equal('t4');
  });
});

const namespace = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels: { [ENABLED_LABEL]: 'true' } },
});

const configMap = (name: string, data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: NS, labels: { [REPLICATE_KEY]: 'true' } },
  data,
});

describe('syncer: remotes added and removed at run time (fake clusters)', () => {
  let local: FakeCluster;
  let remotes: Map<string, FakeCluster>;
  let clock: FakeClock;
  let syncer: Syncer;
  let closed: string[];
  let leadership: AbortController;
  let running: Promise<void>;

  const settle = async (ms = 0): Promise<void> => {
    await clock.advance(ms);
    for (let i = 0; i < 10; i++) await clock.advance(0);
  };

  /** Adds remotes and lets everything they start run to its end. */
  const add = async (...names: string[]): Promise<void> => {
    const adding = Promise.all(names.map((name) => syncer.addRemote(remoteFor(name))));
    await settle();
    await adding;
    await settle();
  };

  const remoteFor = (name: string) => {
    const cluster = remotes.get(name) ?? new FakeCluster(name);
    remotes.set(name, cluster);
    return {
      name,
      labels: {},
      client: cluster.client,
      caches: remoteCaches(name, CLUSTER, cluster.caches),
      close: () => void closed.push(name),
    };
  };

  beforeEach(async () => {
    local = new FakeCluster('local');
    local.put(namespace(NS));
    local.put(configMap('settings', { mode: 'fast' }));
    remotes = new Map();
    closed = [];
    clock = new FakeClock();
    syncer = new Syncer({
      clusterName: CLUSTER,
      local: { client: local.client, caches: localCaches(local.caches) },
      remotes: [],
      events: new FakeEvents(),
      metrics: createMetrics(new Registry(), { defaultMetrics: false }),
      logger: new MemoryLogger(),
      clock,
    });
    leadership = new AbortController();
    running = syncer.run(leadership.signal);
    await settle();
  });

  afterEach(async () => {
    leadership.abort();
    await running;
    syncer.stop();
  });

  it('runs with no remote, then replicates into one added while running', async () => {
    expect(syncer.hasSynced(), 'ready with no remote').to.equal(true);
    const adding = syncer.addRemote(remoteFor('eu'));
    await settle();
    await adding;
    const eu = remotes.get('eu')!;
    expect(eu.writes()).to.deep.equal(['create /api/v1/namespaces', `create /api/v1/namespaces/${TWIN}/configmaps`]);
    expect(eu.get('ConfigMap', TWIN, 'settings')?.data).to.deep.equal({ mode: 'fast' });
    expect(syncer.remoteNames()).to.deep.equal(['eu']);
  });

  it('stops writing to a removed remote: caches stopped, connections closed, keys dropped', async () => {
    await add('eu', 'us');
    const [eu, us] = [remotes.get('eu')!, remotes.get('us')!];
    expect(syncer.removeRemote('eu')).to.equal(true);
    expect(closed).to.deep.equal(['eu']);
    const euWrites = eu.writes().length;
    local.put(configMap('settings', { mode: 'slow' }));
    await settle();
    expect(eu.writes(), 'nothing more to the removed remote').to.have.length(euWrites);
    expect(eu.get('ConfigMap', TWIN, 'settings')?.data, 'what was copied stays').to.deep.equal({ mode: 'fast' });
    expect(us.get('ConfigMap', TWIN, 'settings')?.data, 'the other remote carries on').to.deep.equal({ mode: 'slow' });
    expect(Object.keys(syncer.cacheSizes()).some((name) => name.startsWith('eu/'))).to.equal(false);
    expect(syncer.removeRemote('eu'), 'unknown now').to.equal(false);
  });

  it('takes a remote back after it was removed, and finds its copies in sync', async () => {
    await add('eu');
    syncer.removeRemote('eu');
    const eu = remotes.get('eu')!;
    const writes = eu.writes().length;
    await add('eu');
    expect(eu.writes(), 'in sync: nothing to write').to.have.length(writes);
    local.put(configMap('settings', { mode: 'slow' }));
    await settle();
    expect(eu.get('ConfigMap', TWIN, 'settings')?.data).to.deep.equal({ mode: 'slow' });
  });

  it('refuses a second remote of the same name', async () => {
    await add('eu');
    let error: Error | undefined;
    await syncer.addRemote(remoteFor('eu')).catch((err: Error) => (error = err));
    expect(error?.message).to.equal('remote eu already exists');
  });

  it('follows a PeerWatcher: a Secret added, then deleted', async () => {
    const secrets = new FakeSecrets();
    const watcher = new PeerWatcher({
      secrets,
      component: 'syncer',
      logger: new MemoryLogger(),
      handlers: {
        add: (name, kubeConfig) => {
          expect(kubeConfig.getCurrentCluster()?.server).to.equal(`https://${name}:6443`);
          void syncer.addRemote(remoteFor(name));
        },
        remove: (name) => void syncer.removeRemote(name),
      },
    });
    await watcher.start();
    secrets.put(peerSecret('eu', 'https://eu:6443', 't'));
    await watcher.whenIdle();
    await settle();
    expect(remotes.get('eu')?.get('ConfigMap', TWIN, 'settings')).to.not.equal(undefined);
    secrets.remove(peerSecretName('eu', 'syncer'));
    await watcher.whenIdle();
    expect(syncer.remoteNames()).to.deep.equal([]);
    await watcher.stop();
    expect(secrets.stopped).to.equal(true);
  });
});
