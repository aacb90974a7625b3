// The demo on real nodes (`kube-offload demo`, when the sandbox has them): the shop of
// demo/shop/shop.yaml applied to an opted-in namespace, every pod Ready on a real node (or on the
// virtual node, whose pods run on the remote cluster's real node), then a request to the
// frontend whose trace shows hops served in both clusters; the payment pod is deleted, and the
// request succeeds again through its replacement.
import path from 'node:path';
import { repoRoot } from '../sandbox/binaries.ts';
import { runKubectl, type KubectlResult } from '../sandbox/cluster.ts';
import { twinNamespaceName } from '../common/twin.ts';
import { CLUSTERS_ANNOTATION, ENABLED_LABEL } from '../../webhooks/keys.ts';
import { startKubectlPortForward } from './port-forward.ts';
import { SANDBOX_CLUSTER_NAME, SANDBOX_VIRTUAL_NODE } from './virtual-node.ts';

/** The real node of the local cluster (src/sandbox/realnode/plan.ts). */
export const LOCAL_REAL_NODE = 'real-node-local';
const REMOTE_REAL_NODE = 'real-node-remote';
const FORWARD_PORT = 8080;

export interface ShopDemoOptions {
  binDir: string;
  localKubeconfig: string;
  remoteKubeconfig: string;
  cacheDir: string;
  namespace: string;
  deadline: number;
  say: (line?: string) => void;
  note: (line: string) => void;
  rel: (file: string) => string;
}

interface Pod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

/** One hop of the shop's trace (demo/shop/server). */
export interface Hop {
  service: string;
  pod: string;
  node: string;
  cluster: string;
  podIP: string;
  calls?: { addr: string; via: string; error?: string; response?: Hop }[];
}

class ShopDemo {
  readonly opts: ShopDemoOptions;
  /** The shop's twin namespace in the remote cluster. */
  readonly twin: string;

  constructor(opts: ShopDemoOptions) {
    this.opts = opts;
    this.twin = twinNamespaceName(opts.namespace, SANDBOX_CLUSTER_NAME);
  }

  kubectl(kubeconfig: string, args: string[]): Promise<KubectlResult> {
    return runKubectl(this.opts.binDir, kubeconfig, this.opts.cacheDir, args);
  }

  async must(kubeconfig: string, args: string[]): Promise<string> {
    const result = await this.kubectl(kubeconfig, args);
    if (result.code !== 0)
      throw new Error(`kubectl ${args.join(' ')}: ${result.stderr.trim() || result.stdout.trim()}`);
    return result.stdout;
  }

  async pods(kubeconfig: string, namespace: string, selector?: string): Promise<Pod[]> {
    const args = ['-n', namespace, 'get', 'pods', ...(selector ? ['-l', selector] : []), '-o', 'json'];
    const pods = (JSON.parse(await this.must(kubeconfig, args)) as { items: Pod[] }).items;
    return pods.filter((pod) => !pod.metadata.deletionTimestamp && pod.status.phase !== 'Failed');
  }

  async waitUntil<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
    let last = '';
    for (;;) {
      try {
        const value = await fn();
        if (value !== undefined) return value;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > this.opts.deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ''}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Prints a command and its output. */
  async show(kubeconfig: string, args: string[], comment = ''): Promise<void> {
    const env = kubeconfig === this.opts.remoteKubeconfig ? `KUBECONFIG=${this.opts.rel(kubeconfig)} ` : '';
    this.opts.say(`$ ${env}kubectl ${args.join(' ')}${comment ? `          # ${comment}` : ''}`);
    process.stdout.write(await this.must(kubeconfig, args));
  }
}

const isReady = (pod: Pod): boolean =>
  !!pod.status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True');

/** Whether the sandbox behind `kubeconfig` has a real node (else the demo is the kwok one). */
export async function hasRealNodes(binDir: string, kubeconfig: string, cacheDir: string): Promise<boolean> {
  const result = await runKubectl(binDir, kubeconfig, cacheDir, ['get', 'node', LOCAL_REAL_NODE, '-o', 'name']);
  return result.code === 0;
}

/** The namespace's cluster selector: the remote with the real node (region eu-west). */
export const EU_WEST = `${CLUSTERS_ANNOTATION}=topology.kubernetes.io/region=eu-west`;

async function applyShop(demo: ShopDemo): Promise<{ manifest: string; apps: number }> {
  const { localKubeconfig: kc, namespace, say, rel } = demo.opts;
  say(`$ kubectl create namespace ${namespace} && kubectl label namespace ${namespace} ${ENABLED_LABEL}=true`);
  const exists = (await demo.kubectl(kc, ['get', 'namespace', namespace])).code === 0;
  if (!exists) await demo.must(kc, ['create', 'namespace', namespace]);
  await demo.must(kc, ['label', 'namespace', namespace, `${ENABLED_LABEL}=true`, '--overwrite']);
  // The sandbox's second remote (us-east) has no real node: the shop's containers run in eu-west.
  say(`$ kubectl annotate namespace ${namespace} ${EU_WEST}`);
  await demo.must(kc, ['annotate', 'namespace', namespace, EU_WEST, '--overwrite']);
  const manifest = path.join(repoRoot(), 'demo', 'shop', 'shop.yaml');
  say(`$ kubectl -n ${namespace} apply -f ${rel(manifest)}`);
  process.stdout.write(await demo.must(kc, ['-n', namespace, 'apply', '-f', manifest]));
  const deployments = await demo.must(kc, ['-n', namespace, 'get', 'deployments', '-o', 'name']);
  return { manifest, apps: deployments.trim().split('\n').length };
}

async function waitShopReady(demo: ShopDemo, apps: number): Promise<Pod[]> {
  const { localKubeconfig: kc, namespace } = demo.opts;
  return demo.waitUntil('every shop pod to be Ready', async () => {
    const pods = await demo.pods(kc, namespace);
    return pods.length === apps && pods.every(isReady) ? pods : undefined;
  });
}

/** `kubectl port-forward`, started; resolves with the local port once kubectl listens. */
function portForward(demo: ShopDemo, target: string, ports: string) {
  const { binDir, localKubeconfig, namespace } = demo.opts;
  return { ...startKubectlPortForward({ binDir, kubeconfig: localKubeconfig, namespace }, target, ports), ports };
}

async function forwardFrontend(demo: ShopDemo) {
  for (const ports of [`${FORWARD_PORT}:${FORWARD_PORT}`, `:${FORWARD_PORT}`]) {
    const forward = portForward(demo, 'service/frontend', ports);
    try {
      return { ...forward, localPort: await forward.listening };
    } catch (err) {
      if (ports.startsWith(':')) throw err;
    }
  }
  throw new Error('unreachable');
}

/** The trace as a tree: one line per hop, with how the caller named the callee. */
export function renderTrace(hop: Hop, prefix = '', via = ''): string[] {
  const where = `${hop.cluster.padEnd(6)} ${hop.node.padEnd(16)} ${hop.podIP.padEnd(12)} ${hop.pod}`;
  const name = `${prefix}${hop.service}`;
  const lines = [`${name.padEnd(36)} ${where}${via ? `   (${via})` : ''}`];
  const calls = hop.calls ?? [];
  calls.forEach((call, i) => {
    const last = i === calls.length - 1;
    const childPrefix = prefix.replace(/├─ $/, '│  ').replace(/└─ $/, '   ') + (last ? '└─ ' : '├─ ');
    const how = `${call.addr} via ${call.via}`;
    if (call.response) lines.push(...renderTrace(call.response, childPrefix, how));
    else lines.push(`${childPrefix}${call.addr} FAILED: ${call.error ?? 'no answer'}`);
  });
  return lines;
}

function hops(hop: Hop): Hop[] {
  return [hop, ...(hop.calls ?? []).flatMap((call) => (call.response ? hops(call.response) : []))];
}

interface Answer {
  status: number;
  trace: Hop;
}

async function getFrontend(localPort: number): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${localPort}/`, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, trace: (await res.json()) as Hop };
}

/** Prints a request to the frontend and its trace as a tree. */
function printAnswer(demo: ShopDemo, localPort: number, answer: Answer): void {
  const { say } = demo.opts;
  say(`$ curl -s http://127.0.0.1:${localPort}/          # JSON; as a tree: service, cluster, node, pod IP, pod`);
  for (const line of renderTrace(answer.trace)) say(line);
  const served = hops(answer.trace);
  const count = (cluster: string) => served.filter((hop) => hop.cluster === cluster).length;
  say(
    `# HTTP ${answer.status}: ${served.length} hops, ${count('local')} served in local, ${count('remote')} in remote`,
  );
}

/**
 * Asks the frontend until it answers 200, then prints that answer: pods are Ready a moment before
 * every kube-proxy has the newest Services (a call meanwhile fails: no route to the Service IP).
 */
async function requestFrontend(demo: ShopDemo, localPort: number): Promise<void> {
  let attempts = 0;
  const answer = await demo.waitUntil('the frontend to answer 200', async () => {
    attempts++;
    const candidate = await getFrontend(localPort);
    return candidate.status === 200 ? candidate : undefined;
  });
  if (attempts > 1) demo.opts.note(`the frontend answered 200 on attempt ${attempts}`);
  printAnswer(demo, localPort, answer);
}

/** Asks the frontend until the payment call reaches `pod` (the endpoints follow within a second or two). */
async function requestUntilServedBy(demo: ShopDemo, localPort: number, pod: string): Promise<void> {
  const answer = await demo.waitUntil(`a request served by ${pod}`, async () => {
    const candidate = await getFrontend(localPort);
    const payment = hops(candidate.trace).find((hop) => hop.service === 'paymentservice');
    return candidate.status === 200 && payment?.pod === pod ? candidate : undefined;
  });
  printAnswer(demo, localPort, answer);
  demo.opts.say(`# paymentservice answered from ${pod}, the replacement`);
}

async function replacePaymentPod(demo: ShopDemo, pods: Pod[]): Promise<Pod> {
  const { localKubeconfig: kc, namespace, say } = demo.opts;
  const payment = pods.find((pod) => pod.metadata.labels?.app === 'paymentservice');
  if (!payment) throw new Error('no paymentservice pod');
  say();
  say(`$ kubectl -n ${namespace} delete pod ${payment.metadata.name}          # it runs in the remote cluster`);
  process.stdout.write(await demo.must(kc, ['-n', namespace, 'delete', 'pod', payment.metadata.name, '--wait=false']));
  const replacement = await demo.waitUntil('a Ready replacement of the payment pod', async () => {
    const now = await demo.pods(kc, namespace, 'app=paymentservice');
    return now.find((pod) => pod.metadata.name !== payment.metadata.name && isReady(pod));
  });
  await demo.show(kc, ['-n', namespace, 'get', 'pods', '-l', 'app=paymentservice', '-o', 'wide']);
  return replacement;
}

function summary(pods: Pod[]): string {
  const local = pods.filter((pod) => pod.spec.nodeName === LOCAL_REAL_NODE).length;
  const offloaded = pods.filter((pod) => pod.spec.nodeName === SANDBOX_VIRTUAL_NODE).length;
  return (
    `# ${local} pods on ${LOCAL_REAL_NODE} (10.244.0.x), ${offloaded} on ${SANDBOX_VIRTUAL_NODE}: ` +
    `they run on ${REMOTE_REAL_NODE} in the remote cluster (172.16.0.x)`
  );
}

/** Runs the demo; the sandbox (with real nodes and kube-offload) must be up. */
export async function runShopDemo(opts: ShopDemoOptions): Promise<void> {
  const demo = new ShopDemo(opts);
  const { localKubeconfig: localKc, remoteKubeconfig: remoteKc, namespace, say, note } = opts;
  const appliedAt = Date.now();
  const { apps } = await applyShop(demo);
  note(`waiting for the ${apps} shop pods to be Ready ...`);
  const pods = await waitShopReady(demo, apps);
  note(`every pod Ready ${((Date.now() - appliedAt) / 1000).toFixed(1)} s after kubectl apply`);
  say();
  await demo.show(localKc, ['-n', namespace, 'get', 'pods', '-o', 'wide', '--sort-by=.spec.nodeName'], 'local');
  say(summary(pods));
  say();
  await demo.show(remoteKc, ['-n', demo.twin, 'get', 'pods', '-o', 'wide'], 'remote: the offloaded pods');
  say();
  await demo.show(remoteKc, ['-n', demo.twin, 'get', 'services,configmaps,secrets'], 'remote: what was copied');
  const forward = await forwardFrontend(demo);
  try {
    say();
    say(`$ kubectl -n ${namespace} port-forward service/frontend ${forward.ports} &`);
    await requestFrontend(demo, forward.localPort);
    const replacement = await replacePaymentPod(demo, pods);
    say();
    await requestUntilServedBy(demo, forward.localPort, replacement.metadata.name);
  } finally {
    forward.child.kill();
  }
}
