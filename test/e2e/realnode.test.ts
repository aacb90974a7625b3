// e2e on real nodes: the demo shop (demo/shop) on a sandbox whose clusters each have a real node
// (containerd, kubelet, kube-proxy, CoreDNS) next to their fake workers, with kube-offload
// running. Real containers answer, requests cross the clusters through the Services and
// EndpointSlices kube-offload copies, and `sandbox down` gives the host back as it was.
// Needs root (skipped without); polls with deadlines, no fixed sleeps.
import { expect } from 'chai';
import { SANDBOX_VIRTUAL_NODE } from '../../src/dev/virtual-node.ts';
import { runCommand } from '../../src/sandbox/realnode/system.ts';
import { realNodePlan } from '../../src/sandbox/realnode/index.ts';
import { getItems, kubectlOk, waitFor } from './helpers/index.ts';
import {
  applyShop,
  execIn,
  fetchFromHost,
  fetchInPod,
  hopsOf,
  isReady,
  livePods,
  podOf,
  twinOf,
  useRealNodeSandbox,
  type ShopPod,
} from './helpers/realnode.ts';
import { hostDifferences } from './helpers/realnode-host.ts';
import { kubeletOnRealNodeTests } from './realnode-kubelet.ts';
import { twinNamingOnRealNodeTests } from './realnode-twin-naming.ts';

const NS = 'shop';
const TWIN = twinOf(NS);
const LOCAL_NODE = 'real-node-local';
const REMOTE_NODE = 'real-node-remote';
/** How long a change may take to reach the other cluster's endpoints (the syncer's and provider's budget). */
const SYNC_LATENCY_MS = 10_000;

const PLACEMENT: Record<string, 'Local' | 'Remote'> = {
  frontend: 'Local',
  'redis-cart': 'Local',
  cartservice: 'Remote',
  checkoutservice: 'Remote',
  paymentservice: 'Remote',
};

describe('real nodes: the demo shop across two clusters (e2e, root)', function () {
  this.timeout(300_000);
  const env = useRealNodeSandbox();

  const local = () => env.sandbox.local;
  const remote = () => env.sandbox.remote;

  before(async function () {
    this.timeout(300_000);
    const startedAt = Date.now();
    await applyShop(env.sandbox, NS);
    process.stderr.write(`      shop applied, every pod Ready: ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
  });

  it('runs every demo pod Ready on a real node, placement respected', async () => {
    const localPods = await livePods(local(), NS);
    const remotePods = await livePods(remote(), TWIN);
    expect(localPods).to.have.length(11);
    for (const pod of localPods) {
      const app = pod.metadata.labels?.app ?? '';
      expect(isReady(pod), `${app} Ready`).to.equal(true);
      expect([LOCAL_NODE, SANDBOX_VIRTUAL_NODE], app).to.include(pod.spec.nodeName);
      if (PLACEMENT[app] === 'Local') expect(pod.spec.nodeName, app).to.equal(LOCAL_NODE);
      if (PLACEMENT[app] === 'Remote') expect(pod.spec.nodeName, app).to.equal(SANDBOX_VIRTUAL_NODE);
      if (pod.spec.nodeName !== SANDBOX_VIRTUAL_NODE) continue;
      const copy = remotePods.find((candidate) => candidate.metadata.name === pod.metadata.name);
      expect(copy?.spec.nodeName, `${app}'s remote pod`).to.equal(REMOTE_NODE);
      expect(copy && isReady(copy), `${app}'s remote pod Ready`).to.equal(true);
      expect(copy?.status.podIP, `${app}'s pod IP mirrored`).to.equal(pod.status.podIP);
    }
  });

  it('keeps real and fake pod ranges apart: fake workers are tainted and own other ranges', async () => {
    const kwok = local()
      .processes()
      .find((record) => record.name === 'local/kwok');
    expect(kwok?.argv).to.include('--cidr=10.244.128.0/17');
    const nodes = await getItems(local(), 'nodes', { selector: 'type=kwok' });
    const realRange = realNodePlan('local', env.sandbox.dir).podCIDR;
    for (const node of nodes) {
      expect(node.spec.podCIDR, node.metadata.name).to.not.equal(realRange);
      expect(node.spec.taints?.map((taint: { key: string }) => taint.key)).to.include('kube-offload.io/fake-worker');
    }
  });

  it('a local pod reaches a Service whose only backends run remotely: short name, name.namespace, env var', async () => {
    const frontend = await podOf(local(), NS, 'frontend');
    const urls = [
      'http://cartservice:7070/whoami',
      `http://cartservice.${NS}:7070/whoami`,
      'http://$CARTSERVICE_SERVICE_HOST:$CARTSERVICE_SERVICE_PORT/whoami',
    ];
    for (const url of urls) {
      const hop = await fetchInPod(local(), NS, frontend.metadata.name, url);
      expect(hop, url).to.include({ service: 'cartservice', cluster: 'remote', node: REMOTE_NODE, namespace: TWIN });
    }
  });

  it('a remote pod reaches a Service whose only backends run locally: short name, env var', async () => {
    const cart = await podOf(remote(), TWIN, 'cartservice');
    const urls = ['http://redis-cart:6379/whoami', 'http://$REDIS_CART_SERVICE_HOST:$REDIS_CART_SERVICE_PORT/whoami'];
    for (const url of urls) {
      const hop = await fetchInPod(remote(), TWIN, cart.metadata.name, url);
      expect(hop, url).to.include({ service: 'redis-cart', cluster: 'local', node: LOCAL_NODE, namespace: NS });
    }
    const twinName = await fetchInPod(remote(), TWIN, cart.metadata.name, `http://redis-cart.${TWIN}:6379/whoami`);
    expect(twinName.cluster).to.equal('local');
  });

  it('does not resolve names that carry the home namespace in the twin (cart.shop in shop-local)', async () => {
    const cart = await podOf(remote(), TWIN, 'cartservice');
    const lookup = await remote().kubectl([
      'exec',
      '-n',
      TWIN,
      cart.metadata.name,
      '--',
      'nslookup',
      `redis-cart.${NS}`,
    ]);
    expect(lookup.code).to.not.equal(0);
  });

  it("answers the frontend's request with a trace whose hops were served in both clusters", async () => {
    const frontend = await podOf(local(), NS, 'frontend');
    // Pods are Ready a moment before every kube-proxy has the newest Services: ask until 200.
    const { body } = await waitFor(
      async () => {
        const answer = await fetchFromHost(`http://${frontend.status.podIP}:8080/`);
        return answer.status === 200 ? answer : undefined;
      },
      { timeoutMs: 15_000, description: 'the frontend answering 200' },
    );
    const hops = hopsOf(body);
    const clustersOf = (service: string) =>
      new Set(hops.filter((hop) => hop.service === service).map((hop) => hop.cluster));
    expect([...clustersOf('frontend')]).to.deep.equal(['local']);
    expect([...clustersOf('cartservice')]).to.deep.equal(['remote']);
    expect([...clustersOf('redis-cart')]).to.deep.equal(['local']); // remote -> local
    expect(hops.map((hop) => hop.service)).to.include.members(['checkoutservice', 'paymentservice', 'adservice']);
    const vias = hops.flatMap((hop) => (hop.calls ?? []).map((call) => call.via));
    expect(vias).to.include('dns').and.include('env CART_SERVICE_ADDR');
  });

  it('a remote pod mounts the ConfigMap and the Secret, gets secretKeyRef env and uses its own token at the remote apiserver', async () => {
    const payment = await podOf(remote(), TWIN, 'paymentservice');
    const name = payment.metadata.name;
    expect((await execIn(remote(), TWIN, name, 'cat /etc/shop/currency')).trim()).to.equal('EUR');
    expect((await execIn(remote(), TWIN, name, 'echo "$SECRET_VALUE"')).trim()).to.equal('demo-payment-key-7f3a9c');
    expect(await execIn(remote(), TWIN, name, 'cat /etc/payment/api-key')).to.equal('demo-payment-key-7f3a9c');
    const identity = await fetchInPod<{ apiserver: string; user: string }>(
      remote(),
      TWIN,
      name,
      'http://localhost:50051/apiserver',
    );
    expect(identity).to.deep.include({ apiserver: '10.97.0.1:443', user: `system:serviceaccount:${TWIN}:default` });
  });

  it('pods on the local real node reach their own apiserver through the kubernetes Service', async () => {
    const frontend = await podOf(local(), NS, 'frontend');
    const identity = await fetchInPod<{ apiserver: string; user: string }>(
      local(),
      NS,
      frontend.metadata.name,
      'http://localhost:8080/apiserver',
    );
    expect(identity).to.deep.include({ apiserver: '10.96.0.1:443', user: `system:serviceaccount:${NS}:default` });
  });

  it('takes an unready remote pod out of the local endpoints and puts it back once ready', async () => {
    const payment = await podOf(remote(), TWIN, 'paymentservice');
    const endpointReady = async () => {
      const slices = await getItems(local(), 'endpointslices', {
        namespace: NS,
        selector: 'kubernetes.io/service-name=paymentservice',
      });
      const endpoints = slices.flatMap((slice) => slice.endpoints ?? []);
      return endpoints.some(
        (endpoint: { addresses: string[]; conditions?: { ready?: boolean } }) =>
          endpoint.addresses.includes(payment.status.podIP!) && endpoint.conditions?.ready === true,
      );
    };
    expect(await endpointReady()).to.equal(true);
    let startedAt = Date.now();
    await execIn(remote(), TWIN, payment.metadata.name, 'touch /tmp/unready');
    await waitFor(async () => !(await endpointReady()), {
      timeoutMs: SYNC_LATENCY_MS,
      description: 'endpoint not ready',
    });
    const outMs = Date.now() - startedAt;
    startedAt = Date.now();
    await execIn(remote(), TWIN, payment.metadata.name, 'rm /tmp/unready');
    await waitFor(endpointReady, { timeoutMs: SYNC_LATENCY_MS, description: 'endpoint ready again' });
    process.stderr.write(
      `      unready -> out of local endpoints ${outMs} ms, ready -> back ${Date.now() - startedAt} ms\n`,
    );
  });

  it('serves through the replacement of a deleted offloaded pod, failing no longer than the rescheduling', async () => {
    const frontend = await podOf(local(), NS, 'frontend');
    const old = await podOf(local(), NS, 'paymentservice');
    const url = `http://${frontend.status.podIP}:8080/call?addr=paymentservice:50051`;
    // A request every 100 ms, each on its own (one that hangs on a vanished pod IP holds up no other).
    const outcomes: { at: number; ok: boolean; pod?: string }[] = [];
    const inFlight: Promise<void>[] = [];
    const probe = async (at: number) => {
      try {
        const { status, body } = await fetchFromHost(url);
        outcomes.push({ at, ok: status === 200, pod: body.calls?.[0]?.response?.pod });
      } catch {
        outcomes.push({ at, ok: false });
      }
    };
    const timer = setInterval(() => inFlight.push(probe(Date.now())), 100);
    const deletedAt = Date.now();
    await kubectlOk(local(), ['delete', 'pod', '-n', NS, old.metadata.name, '--wait=false']);
    const replacement = await waitFor(
      async () => {
        const pods = await livePods(local(), NS, 'app=paymentservice');
        return pods.find((pod: ShopPod) => pod.metadata.name !== old.metadata.name && isReady(pod));
      },
      { timeoutMs: 90_000, description: 'a Ready replacement of paymentservice' },
    );
    const rescheduledMs = Date.now() - deletedAt;
    await waitFor(() => outcomes.some((outcome) => outcome.pod === replacement.metadata.name), {
      timeoutMs: SYNC_LATENCY_MS,
      description: 'a request served by the replacement',
    });
    clearInterval(timer);
    await Promise.all(inFlight);
    const longestOutage = longestFailure(outcomes.sort((a, b) => a.at - b.at));
    process.stderr.write(
      `      replacement Ready after ${rescheduledMs} ms; longest failing stretch ${longestOutage} ms\n`,
    );
    expect(replacement.spec.nodeName).to.equal(SANDBOX_VIRTUAL_NODE);
    expect(longestOutage).to.be.at.most(rescheduledMs + 1000);
  });

  it('drops a packet for a foreign address from a node namespace and from a pod', async () => {
    const plan = realNodePlan('local', env.sandbox.dir);
    const route = await runCommand(['nsenter', `--net=/run/netns/${plan.netns}`, 'ip', 'route', 'get', '203.0.113.7'], {
      allowFailure: true,
    });
    expect(route.code, route.stdout).to.not.equal(0);
    expect(route.stderr).to.match(/unreachable/i);
    const frontend = await podOf(local(), NS, 'frontend');
    const fromPod = await local().kubectl([
      'exec',
      '-n',
      NS,
      frontend.metadata.name,
      '--',
      'wget',
      '-q',
      '-O',
      '-',
      'http://203.0.113.7/',
    ]);
    expect(fromPod.code).to.not.equal(0);
    expect(fromPod.stderr).to.match(/unreachable|can't connect/i);
  });

  // The virtual node's kubelet API in front of a real container (exit codes, stdin EOF, cp, logs).
  kubeletOnRealNodeTests(env, NS);

  // cart.store and cart.store.svc.cluster.local across the clusters, with twin-name: SameName.
  twinNamingOnRealNodeTests(env);

  it('leaves the host as it was after sandbox down (processes, namespaces, links, routes, mounts, iptables, sysctls, cgroups)', async function () {
    this.timeout(120_000);
    const after = await env.stopAndSnapshot();
    expect(hostDifferences(env.hostBefore, after)).to.deep.equal([]);
  });
});

/** The longest stretch of consecutive failed requests, from the first failure to the next success. */
function longestFailure(outcomes: { at: number; ok: boolean }[]): number {
  let longest = 0;
  let failingSince: number | undefined;
  for (const outcome of outcomes) {
    if (!outcome.ok) failingSince ??= outcome.at;
    else if (failingSince !== undefined) {
      longest = Math.max(longest, outcome.at - failingSince);
      failingSince = undefined;
    }
  }
  return failingSince !== undefined ? Math.max(longest, Date.now() - failingSince) : longest;
}
