// `kube-offload demo` (npm run demo): the scenario kube-offload exists for, on the sandbox.
//
// With real nodes (the default when it starts the sandbox, or when the running one has them) the
// demo is the shop of demo/shop on real containers: src/dev/shop-demo.ts. Otherwise (--kwok, or a
// running sandbox without real nodes) it is the kwok one below:
//
//   1. brings the sandbox up (two clusters + webhook, syncer, virtual node provider), or reuses
//      the one already running in --dir;
//   2. creates namespace boutique, opts it in (kube-offload.io/enabled=true) and applies
//      demo/boutique.yaml (Online Boutique: 12 Deployments, 11 Services, a ConfigMap, a Secret);
//   3. waits until every Deployment is available and every pod Running, then prints the local
//      `kubectl get pods -o wide` (workers with 10.244.x IPs, the virtual node with 172.16.x)
//      and what was replicated into the twin namespace of the remote cluster;
//   4. operates an offloaded frontend pod like any other: `kubectl port-forward
//      service/frontend-external 8080:80` answers an HTTP request (the sandbox's pod server, through
//      kwok's port-forward in the remote cluster, says which pod and cluster it stands for), then
//      `kubectl logs` and `kubectl exec` on that pod;
//   5. deletes the payment pod and shows its replacement Running;
//   6. leaves the sandbox up and prints how to use it and how to tear it down.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBinaries, repoRoot } from '../sandbox/binaries.ts';
import { runKubectl } from '../sandbox/cluster.ts';
import type { KubectlResult } from '../sandbox/cluster.ts';
import { kubeOffloadComponents } from '../dev/components.ts';
import { readState, sandboxStatus, startSandbox } from '../sandbox/sandbox.ts';
import { twinNamespaceName } from '../common/twin.ts';
import { ENABLED_LABEL } from '../../webhooks/keys.ts';
import { SANDBOX_CLUSTER_NAME, SANDBOX_VIRTUAL_NODE } from '../dev/virtual-node.ts';
import { EU_WEST, hasRealNodes, runShopDemo } from '../dev/shop-demo.ts';
import { startKubectlPortForward } from '../dev/port-forward.ts';

const USAGE = `usage: kube-offload demo [--dir DIR] [--namespace NS] [--timeout DUR] [--kwok]

Brings the sandbox up (or reuses it), deploys the micro-service demo into an opted-in namespace,
shows where every pod runs and what was replicated, deletes the payment pod and shows it
rescheduled. The sandbox stays up afterwards. With real nodes (needs root) the demo is the shop of
demo/shop, real containers whose requests cross the clusters; with --kwok (or a running sandbox
without real nodes), demo/boutique.yaml on kwok's fake workers.

  --dir DIR          sandbox directory (default .sandbox)
  --namespace NS     namespace for the demo (default shop, or boutique with kwok)
  --kwok             fake workers only: start the sandbox without real nodes
  --timeout SECONDS  give up waiting for pods after this long (default 150)
`;

interface Pod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string };
}
interface Deployment {
  metadata: { name: string };
  spec: { replicas?: number };
  status: { availableReplicas?: number; updatedReplicas?: number };
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}
function note(line: string): void {
  process.stderr.write(`demo: ${line}\n`);
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string', default: '.sandbox' },
        namespace: { type: 'string' },
        kwok: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '150' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    process.stderr.write(`kube-offload demo: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const timeoutMs = Number(values.timeout) * 1000;
  if (!(timeoutMs > 0)) {
    process.stderr.write(`kube-offload demo: --timeout: "${values.timeout}" is not a number of seconds\n`);
    return 2;
  }
  try {
    return await demo(path.resolve(values.dir), { namespace: values.namespace, kwok: values.kwok }, timeoutMs);
  } catch (e) {
    process.stderr.write(`kube-offload demo failed: ${(e as Error).message}\n`);
    process.stderr.write(
      `the sandbox (if it started) is left up for inspection; "npx kube-offload sandbox down" tears it down\n`,
    );
    return 1;
  }
}

async function demo(dir: string, choice: { namespace?: string; kwok: boolean }, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const binDir = await ensureBinaries({ progress: process.stderr });

  // 1. The sandbox.
  const current = await sandboxStatus(dir);
  if (current.state && current.processes.length > 0 && current.processes.every((p) => p.up && p.ready !== false)) {
    note(`reusing the sandbox running in ${rel(dir)}`);
  } else {
    note(`starting the sandbox in ${rel(dir)} ...`);
    const realNodes = !choice.kwok;
    const log = (line: string) => note(line);
    // As `sandbox up`: two remotes (eu-west, us-east), each peered with `kube-offload peer`.
    const sandbox = {
      dir,
      binDir,
      persistent: true,
      components: kubeOffloadComponents,
      realNodes,
      remotes: 2 as const,
    };
    await startSandbox({ ...sandbox, log });
    note(`sandbox up after ${elapsed()}`);
  }
  const state = readState(dir);
  if (!state) throw new Error(`no sandbox state in ${dir}`);
  const cacheDir = path.join(dir, '.kube-cache');
  const localKc = state.clusters.local.kubeconfig;
  const remoteKc = state.clusters.remote.kubeconfig;
  const kubectl = (kc: string, args: string[], input?: string): Promise<KubectlResult> =>
    runKubectl(binDir, kc, cacheDir, args, input === undefined ? {} : { input });
  const must = async (kc: string, args: string[], input?: string): Promise<string> => {
    const r = await kubectl(kc, args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  };
  const json = async <T>(kc: string, args: string[]): Promise<T> =>
    JSON.parse(await must(kc, [...args, '-o', 'json'])) as T;
  const deadline = Date.now() + timeoutMs;
  if (!choice.kwok && (await hasRealNodes(binDir, localKc, cacheDir))) {
    const namespace = choice.namespace ?? 'shop';
    const shop = { binDir, localKubeconfig: localKc, remoteKubeconfig: remoteKc, cacheDir, namespace, deadline };
    await runShopDemo({ ...shop, say, note, rel });
    printHowToGoOn({ dir, binDir, localKc, remoteKc, namespace, elapsed: elapsed() });
    return 0;
  }
  if (!choice.kwok) note('the running sandbox has no real nodes: the kwok demo (sandbox down first for real nodes)');
  const namespace = choice.namespace ?? 'boutique';
  const waitUntil = async <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> => {
    let last = '';
    for (;;) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ''}`);
      await sleep(500);
    }
  };

  // The virtual node must be there before the pods come, or the scheduler has nowhere to
  // put the Remote ones (they would wait, but the demo is about watching them land).
  await waitUntil(`node ${SANDBOX_VIRTUAL_NODE} to be Ready`, async () => {
    const node = await json<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(localKc, [
      'get',
      'node',
      SANDBOX_VIRTUAL_NODE,
    ]);
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
  });

  // 2. Opt a namespace in and apply the app.
  const twin = twinNamespaceName(namespace, SANDBOX_CLUSTER_NAME);
  say(`$ kubectl create namespace ${namespace} && kubectl label namespace ${namespace} ${ENABLED_LABEL}=true`);
  const nsYaml = await must(localKc, ['create', 'namespace', namespace, '--dry-run=client', '-o', 'yaml']);
  await must(localKc, ['apply', '-f', '-'], nsYaml);
  await must(localKc, ['label', 'namespace', namespace, `${ENABLED_LABEL}=true`, '--overwrite']);
  // Offloaded pods go to the first remote (eu-west), whose twin this demo shows.
  say(`$ kubectl annotate namespace ${namespace} ${EU_WEST}`);
  await must(localKc, ['annotate', 'namespace', namespace, EU_WEST, '--overwrite']);
  const manifest = path.join(repoRoot(), 'demo', 'boutique.yaml');
  say(`$ kubectl -n ${namespace} apply -f ${rel(manifest)}`);
  process.stdout.write(await must(localKc, ['-n', namespace, 'apply', '-f', manifest]));
  const deployments = (fs.readFileSync(manifest, 'utf8').match(/^kind: Deployment$/gm) ?? []).length;

  // 3. Everything Running.
  note(`waiting for ${deployments} Deployments and their pods ...`);
  await waitUntil('every Deployment to be available and every pod Running', async () => {
    const deps = (await json<{ items: Deployment[] }>(localKc, ['-n', namespace, 'get', 'deployments'])).items;
    const pods = (await json<{ items: Pod[] }>(localKc, ['-n', namespace, 'get', 'pods'])).items;
    const live = pods.filter(
      (p) => !p.metadata.deletionTimestamp && p.status.phase !== 'Failed' && p.status.phase !== 'Succeeded',
    );
    const available =
      deps.length >= deployments &&
      deps.every(
        (d) =>
          (d.status.availableReplicas ?? 0) >= (d.spec.replicas ?? 1) &&
          (d.status.updatedReplicas ?? 0) >= (d.spec.replicas ?? 1),
      );
    return available && live.length > 0 && live.every((p) => p.status.phase === 'Running' && p.status.podIP)
      ? true
      : undefined;
  });
  note(`all pods Running after ${elapsed()}`);

  say();
  say(`$ kubectl -n ${namespace} get pods -o wide          # the local cluster`);
  process.stdout.write(await must(localKc, ['-n', namespace, 'get', 'pods', '-o', 'wide', '--sort-by=.spec.nodeName']));
  const pods = (await json<{ items: Pod[] }>(localKc, ['-n', namespace, 'get', 'pods'])).items.filter(
    (p) => p.status.phase === 'Running',
  );
  const onVirtual = pods.filter((p) => p.spec.nodeName === SANDBOX_VIRTUAL_NODE);
  const onWorkers = pods.length - onVirtual.length;
  const where = `${onVirtual.length} on ${SANDBOX_VIRTUAL_NODE} (the remote cluster, 172.16.x)`;
  say(`# ${onWorkers} pods on local workers (10.244.x), ${where}`);

  say();
  say(`$ KUBECONFIG=${rel(remoteKc)} kubectl -n ${twin} get services,configmaps,secrets          # the remote cluster`);
  process.stdout.write(await must(remoteKc, ['-n', twin, 'get', 'services,configmaps,secrets']));
  say();
  say(`$ KUBECONFIG=${rel(remoteKc)} kubectl -n ${twin} get pods -o wide`);
  process.stdout.write(await must(remoteKc, ['-n', twin, 'get', 'pods', '-o', 'wide']));

  // 4. kubectl port-forward, logs and exec on an offloaded pod.
  await operateOffloadedPod({ binDir, kubeconfig: localKc, namespace, pods, must });

  // 5. Delete the payment pod; its Deployment replaces it (Remote: on the virtual node again).
  const payment = pods.find((p) => p.metadata.labels?.app === 'paymentservice');
  if (!payment) throw new Error('no Running paymentservice pod');
  say();
  say(`$ kubectl -n ${namespace} delete pod ${payment.metadata.name}`);
  process.stdout.write(await must(localKc, ['-n', namespace, 'delete', 'pod', payment.metadata.name, '--wait=false']));
  await waitUntil('the payment pod to be replaced and Running', async () => {
    const now = (await json<{ items: Pod[] }>(localKc, ['-n', namespace, 'get', 'pods', '-l', 'app=paymentservice']))
      .items;
    const gone = !now.some((p) => p.metadata.name === payment.metadata.name);
    const replacement = now.find(
      (p) => p.metadata.name !== payment.metadata.name && p.status.phase === 'Running' && p.status.podIP,
    );
    return gone && replacement ? replacement : undefined;
  });
  say(`$ kubectl -n ${namespace} get pods -l app=paymentservice -o wide`);
  process.stdout.write(await must(localKc, ['-n', namespace, 'get', 'pods', '-l', 'app=paymentservice', '-o', 'wide']));

  printHowToGoOn({ dir, binDir, localKc, remoteKc, namespace, elapsed: elapsed() });
  return 0;
}

interface HowToGoOn {
  dir: string;
  binDir: string;
  localKc: string;
  remoteKc: string;
  namespace: string;
  elapsed: string;
}

/** 6. How to go on. */
function printHowToGoOn({ dir, binDir, localKc, remoteKc, namespace, elapsed }: HowToGoOn): void {
  const twin = twinNamespaceName(namespace, SANDBOX_CLUSTER_NAME);
  const dirFlag = rel(dir) === '.sandbox' ? '' : ` --dir ${rel(dir)}`;
  say();
  say(`Demo done in ${elapsed}. The sandbox is still up; explore it with:`);
  say(`  export PATH=${binDir}:$PATH     # the sandbox's kubectl (v1.36, built from the Go modules)`);
  say(`  KUBECONFIG=${rel(localKc)} kubectl -n ${namespace} get pods -o wide     # the local cluster`);
  say(`  KUBECONFIG=${rel(localKc)} kubectl get nodes -L liqo.io/type,topology.kubernetes.io/region`);
  say(`  KUBECONFIG=${rel(remoteKc)} kubectl -n ${twin} get all     # the twin namespace in the remote cluster`);
  say(`  npx kube-offload sandbox status${dirFlag}     # the processes (logs: ${rel(path.join(dir, 'components'))})`);
  say(`Tear it down with:  npx kube-offload sandbox down${dirFlag}`);
}

interface OffloadedPodDemo {
  binDir: string;
  kubeconfig: string;
  namespace: string;
  pods: Pod[];
  must: (kc: string, args: string[]) => Promise<string>;
}

/** The local port the demo asks kubectl to forward to the frontend (any free one if it is taken). */
const FORWARD_PORT = 8080;

/** `kubectl port-forward`, started; resolves with the local port once kubectl listens. */
function startPortForward(demo: OffloadedPodDemo, target: string, ports: string) {
  return startKubectlPortForward(
    { binDir: demo.binDir, kubeconfig: demo.kubeconfig, namespace: demo.namespace },
    target,
    ports,
  );
}

/** Forwards FORWARD_PORT (or, when taken, any port) to the Service; returns the command and the port. */
async function forwardFrontend(demo: OffloadedPodDemo) {
  for (const ports of [`${FORWARD_PORT}:80`, ':80']) {
    const forward = startPortForward(demo, 'service/frontend-external', ports);
    try {
      return { ...forward, ports, localPort: await forward.listening };
    } catch (err) {
      if (ports === ':80') throw err;
    }
  }
  throw new Error('unreachable');
}

/** Port 0 or none published: the provider serves no kubelet API (yet). */
async function virtualNodeKubeletPort(demo: OffloadedPodDemo): Promise<number> {
  const node = JSON.parse(await demo.must(demo.kubeconfig, ['get', 'node', SANDBOX_VIRTUAL_NODE, '-o', 'json']));
  return Number(node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0);
}

async function operateOffloadedPod(demo: OffloadedPodDemo): Promise<void> {
  const frontend = demo.pods.find(
    (p) => p.metadata.labels?.app === 'frontend' && p.spec.nodeName === SANDBOX_VIRTUAL_NODE,
  );
  if (!frontend) throw new Error(`no Running frontend pod on ${SANDBOX_VIRTUAL_NODE}`);
  if ((await virtualNodeKubeletPort(demo)) === 0) {
    note(`${SANDBOX_VIRTUAL_NODE} publishes no kubelet port: skipping kubectl port-forward, logs and exec on it`);
    return;
  }
  const ns = demo.namespace;
  const forward = await forwardFrontend(demo);
  try {
    say();
    say(
      `$ kubectl -n ${ns} port-forward service/frontend-external ${forward.ports} &     # the frontend runs remotely`,
    );
    say(`$ curl -s http://127.0.0.1:${forward.localPort}/`);
    const res = await fetch(`http://127.0.0.1:${forward.localPort}/`, { signal: AbortSignal.timeout(30_000) });
    process.stdout.write(await res.text());
  } finally {
    forward.child.kill();
  }
  const pod = frontend.metadata.name;
  say(`$ kubectl -n ${ns} logs ${pod} --tail=2`);
  process.stdout.write(await demo.must(demo.kubeconfig, ['-n', ns, 'logs', pod, '--tail=2']));
  say(`$ kubectl -n ${ns} exec ${pod} -- sh -c 'echo "hello from $(pwd)"'     # kwok runs it on this machine`);
  process.stdout.write(
    await demo.must(demo.kubeconfig, ['-n', ns, 'exec', pod, '--', 'sh', '-c', 'echo "hello from $(pwd)"']),
  );
}

function rel(p: string): string {
  return path.relative(process.cwd(), p) || p;
}
