// e2e on real nodes: names that carry the home namespace, with kube-offload.io/twin-name: SameName.
// A namespace `store` (SameName) runs the shop's cart pair: redis-cart Local, on real-node-local,
// and cartservice Remote, really on real-node-remote in the remote's namespace `store`. Real
// CoreDNS answers on both sides: the remote pod reaches the local backends by `redis-cart.store`
// and `redis-cart.store.svc.cluster.local`, and a local pod reaches the remote one by
// `cartservice.store.svc.cluster.local`. With the default naming the same kind of name does not
// resolve in the twin (realnode.test.ts: "does not resolve names that carry the home namespace").
//
// The tests share the sandbox of realnode.test.ts (starting real nodes is the slow part), so they
// are registered into its describe block, before the test that stops the sandbox (not in a nested
// describe: mocha runs those after the enclosing block's own tests, the sandbox already down).
import fs from 'node:fs';
import { expect } from 'chai';
import { parseAllDocuments, stringify } from 'yaml';
import { SANDBOX_VIRTUAL_NODE } from '../../src/dev/virtual-node.ts';
import { ENABLED_LABEL, TWIN_NAME_ANNOTATION } from '../../webhooks/keys.ts';
import { applyYaml, getObject } from './helpers/kubectl.ts';
import {
  fetchInPod,
  isReady,
  livePods,
  podOf,
  SHOP_MANIFEST,
  twinOf,
  type RealNodeSandboxHandle,
} from './helpers/realnode.ts';
import { waitFor } from './helpers/wait.ts';

const NS = 'store';
const LOCAL_NODE = 'real-node-local';
const REMOTE_NODE = 'real-node-remote';
/** The part of the shop these tests need: the cart and its store, their Services, the shared ConfigMap. */
const KEEP = new Set([
  'ConfigMap/shop-config',
  'Service/redis-cart',
  'Service/cartservice',
  'Deployment/redis-cart',
  'Deployment/cartservice',
]);

function cartPair(): string {
  const documents = parseAllDocuments(fs.readFileSync(SHOP_MANIFEST, 'utf8')).map((doc) => doc.toJSON());
  const kept = documents.filter((doc) => doc && KEEP.has(`${doc.kind}/${doc.metadata?.name}`));
  if (kept.length !== KEEP.size) throw new Error(`${SHOP_MANIFEST}: expected ${[...KEEP].join(', ')}`);
  return kept.map((doc) => stringify(doc)).join('---\n');
}

export function twinNamingOnRealNodeTests(env: RealNodeSandboxHandle): void {
  const local = () => env.sandbox.local;
  const remote = () => env.sandbox.remote;

  before(async function () {
    this.timeout(240_000);
    const namespace = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: NS,
        labels: { [ENABLED_LABEL]: 'true' },
        annotations: { [TWIN_NAME_ANNOTATION]: 'SameName' },
      },
    };
    await applyYaml(local(), stringify(namespace));
    await applyYaml(local(), cartPair(), { namespace: NS });
    await waitFor(
      async () => {
        const [home, away] = [await livePods(local(), NS), await livePods(remote(), NS)];
        return home.length === 2 && home.every(isReady) && away.length === 1 && away.every(isReady);
      },
      {
        timeoutMs: 180_000,
        intervalMs: 500,
        description: `redis-cart and cartservice Ready in ${NS}, cartservice in the remote's ${NS}`,
      },
    );
  });

  it('SameName twin: runs the offloaded pod in the remote namespace of the same name, on the real remote node', async () => {
    const cart = await podOf(local(), NS, 'cartservice');
    expect(cart.spec.nodeName).to.equal(SANDBOX_VIRTUAL_NODE);
    const away = await podOf(remote(), NS, 'cartservice');
    expect(away.spec.nodeName).to.equal(REMOTE_NODE);
    expect(await getObject(remote(), 'namespace', twinOf(NS)), 'no ClusterSuffix twin').to.equal(undefined);
  });

  it('SameName twin: a remote pod reaches a Service whose only backends run locally by name.namespace and by FQDN', async () => {
    const cart = await podOf(remote(), NS, 'cartservice');
    for (const host of [`redis-cart.${NS}`, `redis-cart.${NS}.svc.cluster.local`, 'redis-cart']) {
      const hop = await fetchInPod(remote(), NS, cart.metadata.name, `http://${host}:6379/whoami`);
      expect(hop, host).to.include({ service: 'redis-cart', cluster: 'local', node: LOCAL_NODE, namespace: NS });
    }
  });

  it('SameName twin: a local pod reaches a Service whose only backends run remotely by FQDN', async () => {
    const store = await podOf(local(), NS, 'redis-cart');
    for (const host of [`cartservice.${NS}.svc.cluster.local`, `cartservice.${NS}`]) {
      const hop = await fetchInPod(local(), NS, store.metadata.name, `http://${host}:7070/whoami`);
      expect(hop, host).to.include({ service: 'cartservice', cluster: 'remote', node: REMOTE_NODE, namespace: NS });
    }
  });
}
