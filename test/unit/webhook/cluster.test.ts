// Cluster awareness without a cluster: the CA Secret race and caBundle "write only when
// different" logic against in-memory stores, ClusterState over fake informers (our own Informer
// interface), and readiness/liveness of a cluster-mode server fed by those informers.
// The same paths against a real API server: test/integration/webhook-cluster.test.ts.
import { expect } from 'chai';
import { KubeClient } from '../../../src/kube/client.ts';
import type { KubeConfigLike } from '../../../src/kube/kubeconfig.ts';
import { caBundlePatch, syncCaBundle } from '../../../src/webhook/cluster/ca-bundle.ts';
import type {
  WebhookConfigKind,
  WebhookConfigStore,
  WebhookConfigSummary,
} from '../../../src/webhook/cluster/ca-bundle.ts';
import { ensureCaSecret } from '../../../src/webhook/cluster/ca-secret.ts';
import type { SecretStore } from '../../../src/webhook/cluster/ca-secret.ts';
import { createClusterState } from '../../../src/webhook/cluster/state.ts';
import type { InformerFactory, NamespaceObject, NodeObject, WatchCache } from '../../../src/webhook/cluster/state.ts';
import type { InformerEvent, InformerOptions } from '../../../src/kube/informer.ts';
import { createLogger } from '../../../src/common/log.ts';
import { writeCertFiles } from '../../../src/webhook/tls/files.ts';
import { generateCa, issueServingCert, servingNames } from '../../../src/webhook/tls/generate.ts';
import type { CertAuthority } from '../../../src/webhook/tls/generate.ts';
import { LIQO_CONVENTION } from '../../../webhooks/keys.ts';
import type { AdmissionContext, AdmissionHandler } from '../../../webhooks/types.ts';
import { parseWebhookArgs } from '../../../src/webhook/config.ts';
import { createWebhookMetrics } from '../../../src/webhook/metrics.ts';
import { startWebhook } from '../../../src/webhook/server/webhook.ts';
import { postReview, removeDir, review, send, tempDir, unhandledRejections } from './helpers.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A kubeconfig for a cluster where nothing listens: API calls fail and are retried. */
const unreachable: KubeConfigLike = {
  getCurrentCluster: () => ({ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }),
  async applyToHTTPSOptions(options) {
    options.headers = { ...options.headers, Authorization: 'Bearer t' };
  },
};

/** A Secret store where another replica wins the create race. */
class RacingStore implements SecretStore {
  data: Record<string, string> | undefined;
  reads = 0;
  creates = 0;
  winner: CertAuthority | undefined;
  async read() {
    this.reads++;
    return this.data;
  }
  async create(_namespace: string, _name: string, data: Record<string, string>) {
    this.creates++;
    if (this.winner) {
      this.data = { 'ca.crt': b64(this.winner.cert), 'ca.key': b64(this.winner.key) };
      return 'exists' as const;
    }
    this.data = data;
    return 'created' as const;
  }
}

class FakeInformer<T> implements WatchCache<T> {
  items = new Map<string, T>();
  synced = false;
  healthy: { ok: boolean; reason?: string } = { ok: true };
  handlers: Array<[InformerEvent, (object: T, old?: T) => void]> = [];
  release: (() => void) | undefined;
  options: InformerOptions<T>;
  constructor(options: InformerOptions<T>) {
    this.options = options;
  }
  start() {
    return new Promise<void>((resolve) => {
      this.release = () => {
        this.synced = true;
        resolve();
      };
    });
  }
  stop() {}
  list() {
    return [...this.items.values()];
  }
  get(key: string) {
    return this.items.get(key);
  }
  hasSynced() {
    return this.synced;
  }
  health() {
    return this.healthy;
  }
  on(event: InformerEvent, handler: (object: T, old?: T) => void) {
    this.handlers.push([event, handler]);
  }
  set(key: string, object: T) {
    const event = this.items.has(key) ? 'update' : 'add';
    this.items.set(key, object);
    for (const [name, handler] of this.handlers) if (name === event) handler(object);
  }
}

function fakeFactory() {
  const informers: Array<FakeInformer<unknown>> = [];
  const factory: InformerFactory = <T>(options: InformerOptions<T>) => {
    const informer = new FakeInformer<T>(options);
    informers.push(informer as FakeInformer<unknown>);
    return informer;
  };
  const byPath = (path: string) => informers.find((informer) => informer.options.path === path) as FakeInformer<any>;
  return { factory, informers, byPath };
}

describe('webhook cluster awareness (no cluster)', function () {
  this.timeout(20_000);
  const logger = createLogger('silent');
  after(function () {
    expect(unhandledRejections()).to.deep.equal([]);
  });

  describe('shared CA Secret', function () {
    it('publishes our CA when the Secret does not exist', async function () {
      const store = new RacingStore();
      const ours = await generateCa();
      const ca = await ensureCaSecret({ store, namespace: 'ns', name: 'ca', candidate: async () => ours, logger });
      expect(ca).to.deep.equal(ours);
      expect(store.creates).to.equal(1);
      expect(store.data).to.deep.equal({ 'ca.crt': b64(ours.cert), 'ca.key': b64(ours.key) });
    });

    it('uses the existing Secret without writing', async function () {
      const store = new RacingStore();
      const theirs = await generateCa();
      store.data = { 'ca.crt': b64(theirs.cert), 'ca.key': b64(theirs.key) };
      let generated = false;
      const ca = await ensureCaSecret({
        store,
        namespace: 'ns',
        name: 'ca',
        candidate: async () => ((generated = true), generateCa()),
        logger,
      });
      expect(ca).to.deep.equal(theirs);
      expect(store.creates).to.equal(0);
      expect(generated).to.equal(false);
    });

    it("on a create conflict (409) re-reads and uses the winner's CA", async function () {
      const store = new RacingStore();
      store.winner = await generateCa('winner');
      const ca = await ensureCaSecret({
        store,
        namespace: 'ns',
        name: 'ca',
        candidate: () => generateCa('loser'),
        logger,
      });
      expect(ca).to.deep.equal(store.winner);
      expect(store.reads).to.equal(2);
    });

    it('refuses a Secret without a usable CA rather than overwriting it', async function () {
      const store = new RacingStore();
      store.data = { 'ca.crt': b64('not a cert') };
      let error: Error | undefined;
      await ensureCaSecret({ store, namespace: 'ns', name: 'ca', candidate: () => generateCa(), logger }).catch(
        (caught: Error) => (error = caught),
      );
      expect(error?.message).to.equal('Secret ns/ca exists but lacks ca.crt and ca.key');
      expect(store.creates).to.equal(0);
    });
  });

  describe('caBundle', function () {
    class MemoryConfigs implements WebhookConfigStore {
      configs = new Map<WebhookConfigKind, WebhookConfigSummary[]>();
      patches: Array<{ kind: WebhookConfigKind; name: string; operations: unknown[] }> = [];
      lists: string[] = [];
      async list(kind: WebhookConfigKind, selector: string) {
        this.lists.push(`${kind}?${selector}`);
        return this.configs.get(kind) ?? [];
      }
      async patch(
        kind: WebhookConfigKind,
        name: string,
        operations: Array<{ op: string; path: string; value?: unknown }>,
      ) {
        this.patches.push({ kind, name, operations });
        const config = this.configs.get(kind)?.find((item) => item.name === name);
        for (const operation of operations) {
          const match = /^\/webhooks\/(\d+)\/clientConfig\/caBundle$/.exec(operation.path);
          const webhook = match ? config?.webhooks[Number(match[1])] : undefined;
          if (webhook && operation.op === 'add') webhook.caBundle = operation.value as string;
        }
      }
    }

    it('patches only the webhooks whose caBundle differs, and writes nothing the second time', async function () {
      const pem = (await generateCa()).cert;
      const store = new MemoryConfigs();
      store.configs.set('MutatingWebhookConfiguration', [
        {
          name: 'kube-offload-mutating',
          webhooks: [
            { name: 'pods.kube-offload.io' },
            { name: 'workloads.kube-offload.io', caBundle: b64(pem) },
            { name: 'replicated.kube-offload.io', caBundle: 'c3RhbGU=' },
          ],
        },
      ]);
      store.configs.set('ValidatingWebhookConfiguration', [
        { name: 'kube-offload-validating', webhooks: [{ name: 'validate.kube-offload.io', caBundle: b64(pem) }] },
      ]);

      const patched = await syncCaBundle(store, 'app.kubernetes.io/part-of=kube-offload', pem);
      expect(patched).to.deep.equal(['MutatingWebhookConfiguration/kube-offload-mutating']);
      expect(store.patches[0]?.operations).to.deep.equal([
        { op: 'test', path: '/webhooks/0/name', value: 'pods.kube-offload.io' },
        { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: b64(pem) },
        { op: 'test', path: '/webhooks/2/name', value: 'replicated.kube-offload.io' },
        { op: 'add', path: '/webhooks/2/clientConfig/caBundle', value: b64(pem) },
      ]);
      expect(store.lists).to.deep.equal([
        'MutatingWebhookConfiguration?app.kubernetes.io/part-of=kube-offload',
        'ValidatingWebhookConfiguration?app.kubernetes.io/part-of=kube-offload',
      ]);

      expect(await syncCaBundle(store, 'app.kubernetes.io/part-of=kube-offload', pem)).to.deep.equal([]);
      expect(store.patches).to.have.length(1);
    });

    it('builds no patch for a configuration that already carries the bundle', function () {
      expect(caBundlePatch({ name: 'x', webhooks: [{ name: 'a', caBundle: 'QQ==' }] }, 'QQ==')).to.deep.equal([]);
    });
  });

  describe('ClusterState', function () {
    it('serves namespace policies and virtual nodes from the informer caches', async function () {
      const { factory, byPath } = fakeFactory();
      const state = createClusterState({
        client: new KubeClient(unreachable),
        convention: { ...LIQO_CONVENTION, labelKey: 'example.com/virtual', labelValue: 'yes' },
        createInformer: factory,
      });
      const namespaces = byPath('/api/v1/namespaces') as FakeInformer<NamespaceObject>;
      const nodes = byPath('/api/v1/nodes') as FakeInformer<NodeObject>;
      expect(namespaces.options.labelSelector).to.equal('kube-offload.io/enabled=true');
      expect(nodes.options.labelSelector).to.equal('example.com/virtual=yes');
      // The caches keep only what is read.
      const node = {
        metadata: { name: 'n', resourceVersion: '7', labels: { a: 'b' }, managedFields: [{ manager: 'kubelet' }] },
        status: {
          conditions: [{ type: 'Ready', status: 'True', message: 'kubelet is posting ready status' }],
          images: [{}],
        },
      };
      expect(nodes.options.transform?.(node)).to.deep.equal({
        metadata: { name: 'n', uid: undefined, resourceVersion: '7', labels: { a: 'b' }, annotations: undefined },
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      });
      expect(
        namespaces.options.transform?.({ metadata: { name: 'x', annotations: { p: 'q' } }, spec: {} } as never),
      ).to.deep.equal({
        metadata: { name: 'x', uid: undefined, resourceVersion: undefined, labels: undefined, annotations: { p: 'q' } },
      });

      const started = state.start();
      expect(state.hasSynced()).to.equal(false);
      namespaces.set('demo', {
        metadata: {
          name: 'demo',
          labels: { 'kube-offload.io/enabled': 'true' },
          annotations: {
            'kube-offload.io/placement': 'Remote',
            'kube-offload.io/clusters': 'region=eu',
            'other/annotation': 'x',
          },
        },
      });
      nodes.set('remote-eu', {
        metadata: { name: 'remote-eu', labels: { 'example.com/virtual': 'yes', region: 'eu' } },
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      });
      namespaces.release?.();
      nodes.release?.();
      await started;
      expect(state.hasSynced()).to.equal(true);
      expect(state.namespacePolicy('demo')).to.deep.equal({ placement: 'Remote', clusters: 'region=eu' });
      expect(state.namespacePolicy('unknown')).to.equal(undefined);
      expect(state.virtualNodes()).to.deep.equal([
        { name: 'remote-eu', labels: { 'example.com/virtual': 'yes', region: 'eu' }, ready: true },
      ]);

      // Updates reach the cached views.
      namespaces.set('demo', { metadata: { name: 'demo', annotations: { 'kube-offload.io/prefer': 'Local' } } });
      expect(state.namespacePolicy('demo')).to.deep.equal({ prefer: 'Local' });
      nodes.set('remote-us', { metadata: { name: 'remote-us', labels: { region: 'us' } } });
      expect(state.virtualNodes().map((node) => [node.name, node.ready])).to.deep.equal([
        ['remote-eu', true],
        ['remote-us', false],
      ]);

      nodes.healthy = { ok: false, reason: 'watch stalled for 90 s' };
      expect(state.health()).to.deep.equal({ ok: false, reason: 'virtual nodes watch: watch stalled for 90 s' });
    });
  });

  describe('a cluster-mode server', function () {
    it('is ready once the caches sync, feeds them to handlers, is unhealthy on a failing watch', async function () {
      const dir = await tempDir();
      const ca = await generateCa();
      const pair = await issueServingCert(ca, servingNames('kube-offload-webhook', 'kube-offload-system'), 3_600_000);
      // Provided certs: no CA Secret is needed, so no API call happens before listening.
      await writeCertFiles(dir, [
        { name: 'tls.crt', data: pair.cert, secret: false },
        { name: 'tls.key', data: pair.key, secret: true },
        { name: 'ca.crt', data: ca.cert, secret: false },
      ]);
      // Nothing listens there: caBundle upkeep fails and is retried, which must not matter here.
      const kubeConfig = unreachable;
      let seen: AdmissionContext | undefined;
      const spy: AdmissionHandler = (request, context) => {
        seen = context;
        return {
          uid: request.uid,
          allowed: true,
          warnings: [
            JSON.stringify(context.namespacePolicy?.('demo') ?? null),
            String(context.virtualNodes?.().length),
          ],
        };
      };
      const config = parseWebhookArgs(['--cert-dir', dir, '--port', '0', '--host', '127.0.0.1']);
      if (config === 'help') throw new Error('help');
      const fresh = fakeFactory();
      const webhook = await startWebhook(config, {
        kubeConfig,
        informerFactory: fresh.factory,
        logger: createLogger('silent'),
        metrics: createWebhookMetrics({ processMetrics: false }),
        handlers: { '/mutate/pods': spy, '/mutate/workloads': spy, '/mutate/replicated': spy, '/validate': spy },
      });
      try {
        const ready = await send(webhook.url, { path: '/readyz', ca: ca.cert });
        expect(ready.status).to.equal(503);
        expect(ready.json.failing).to.deep.equal(['caches']);

        const namespaces = fresh.byPath('/api/v1/namespaces') as FakeInformer<NamespaceObject>;
        const nodes = fresh.byPath('/api/v1/nodes') as FakeInformer<NodeObject>;
        namespaces.set('demo', { metadata: { name: 'demo', annotations: { 'kube-offload.io/placement': 'Local' } } });
        nodes.set('vk', { metadata: { name: 'vk', labels: { 'liqo.io/type': 'virtual-node' } } });
        namespaces.release?.();
        nodes.release?.();
        await new Promise((resolve) => setImmediate(resolve));
        expect((await send(webhook.url, { path: '/readyz', ca: ca.cert })).status).to.equal(200);

        const reply = await postReview(webhook.url, '/mutate/pods', review(), { ca: ca.cert });
        expect(reply.json.response.warnings).to.deep.equal(['{"placement":"Local"}', '1']);
        expect(seen?.defaultPlacement).to.equal('LocalAndRemote');

        expect((await send(webhook.url, { path: '/healthz', ca: ca.cert })).status).to.equal(200);
        namespaces.healthy = { ok: false, reason: 'watch failed 3 times: connection refused' };
        const unhealthy = await send(webhook.url, { path: '/healthz', ca: ca.cert });
        expect(unhealthy.status).to.equal(503);
        expect(unhealthy.json.failing).to.deep.equal(['watches']);
        expect(unhealthy.json.checks.watches.reason).to.equal(
          'namespaces watch: watch failed 3 times: connection refused',
        );
      } finally {
        await webhook.shutdown();
        await removeDir(dir);
      }
    });
  });
});
