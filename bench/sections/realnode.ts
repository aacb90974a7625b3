// Section "realnode": the demo shop (demo/shop) on real containers, in a sandbox of its own whose
// clusters each have a real node (containerd, kubelet, kube-proxy, CoreDNS), with kube-offload.
//   apply -> Ready: `kubectl apply` of the shop until every pod is Ready, in a namespace that
//                   opted in (8 of the 11 pods offloaded onto the remote cluster's real node).
//                   Floor: the same manifest in a namespace that has not, every pod on the local
//                   real node. Rounds alternate the two.
//   call latency:   p50 and p99 of sequential calls (one kept-alive connection, as services make
//                   them) from the frontend to paymentservice's /whoami, measured inside the
//                   frontend: across the clusters in the opted-in namespace (paymentservice is
//                   Remote), inside the local cluster in the other one (floor). The network is
//                   one machine, so the ratio shows our overhead in discovery and endpoints (the
//                   extra routing hop between node namespaces), not distance.
// Needs root (real nodes); without it the rows are "not measured".
import fs from 'node:fs';
import path from 'node:path';
import { kubeOffloadComponents } from '../../src/dev/components.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.ts';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import { poll } from '../../src/common/async.ts';
import { ENABLED_LABEL } from '../../webhooks/keys.ts';
import { measuredRow, median, unmeasuredRow } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section } from '../lib/types.ts';

const SECTION = 'realnode';
const READY_TIMEOUT_MS = 180_000;

function sizes(options: BenchOptions): { rounds: number; calls: number } {
  return options.quick ? { rounds: 2, calls: 500 } : { rounds: options.runs, calls: 2000 };
}

const ROWS = (options: BenchOptions): Array<Pick<Row, 'name' | 'unit' | 'target'>> => [
  { name: 'shop apply -> every pod Ready: offloaded vs all local', unit: 's', target: null },
  {
    name: `call frontend -> paymentservice (${sizes(options).calls} calls): p50, cross-cluster vs local`,
    unit: 'ms',
    target: null,
  },
  {
    name: `call frontend -> paymentservice (${sizes(options).calls} calls): p99, cross-cluster vs local`,
    unit: 'ms',
    target: null,
  },
];

interface ShopPod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  status: { conditions?: { type: string; status: string }[] };
}

interface Latencies {
  n: number;
  errors: number;
  p50Micros: number;
  p99Micros: number;
}

async function kubectl(cluster: Cluster, args: string[]): Promise<string> {
  const result = await cluster.kubectl(args, { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr.trim()}`);
  return result.stdout;
}

async function readyPods(cluster: Cluster, namespace: string): Promise<ShopPod[]> {
  const pods = JSON.parse(await kubectl(cluster, ['get', 'pods', '-n', namespace, '-o', 'json'])).items as ShopPod[];
  const ready = (pod: ShopPod) => pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  return pods.filter((pod) => !pod.metadata.deletionTimestamp && ready(pod));
}

/** Applies the shop to a new namespace (opted in or not); seconds until every pod is Ready. */
async function applyAndWait(cluster: Cluster, manifest: string, namespace: string, optIn: boolean): Promise<number> {
  await kubectl(cluster, ['create', 'namespace', namespace]);
  if (optIn) await kubectl(cluster, ['label', 'namespace', namespace, `${ENABLED_LABEL}=true`]);
  const apps = (fs.readFileSync(manifest, 'utf8').match(/^kind: Deployment$/gm) ?? []).length;
  const startedAt = Date.now();
  await kubectl(cluster, ['apply', '-n', namespace, '-f', manifest]);
  await poll(async () => (await readyPods(cluster, namespace)).length === apps || undefined, {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 100,
    description: `every shop pod Ready in ${namespace}`,
  });
  return (Date.now() - startedAt) / 1000;
}

/** Latency of `calls` calls from the frontend of `namespace` to paymentservice, once it answers them all. */
async function callLatencies(cluster: Cluster, namespace: string, calls: number): Promise<Latencies> {
  const frontend = (await readyPods(cluster, namespace)).find((pod) => pod.metadata.labels?.app === 'frontend');
  if (!frontend) throw new Error(`no frontend in ${namespace}`);
  const bench = (n: number) =>
    kubectl(cluster, [
      'exec',
      '-n',
      namespace,
      frontend.metadata.name,
      '--',
      'wget',
      '-q',
      '-O',
      '-',
      `http://localhost:8080/bench?addr=paymentservice:50051&n=${n}`,
    ]).then((out) => JSON.parse(out) as Latencies);
  await poll(async () => (await bench(20)).errors === 0 || undefined, {
    timeoutMs: 30_000,
    intervalMs: 500,
    description: `paymentservice answering every call from ${namespace}'s frontend`,
  });
  const result = await bench(calls);
  if (result.errors) throw new Error(`${result.errors} of ${calls} calls failed in ${namespace}`);
  return result;
}

async function deleteNamespace(cluster: Cluster, namespace: string): Promise<void> {
  await kubectl(cluster, ['delete', 'namespace', namespace, '--wait=true', '--timeout=120s']);
}

interface Measurements {
  offloaded: number[];
  local: number[];
  cross?: Latencies;
  inCluster?: Latencies;
}

async function measure(ctx: BenchContext, sandbox: Sandbox): Promise<Measurements> {
  const manifest = path.join(ctx.repoRoot, 'demo', 'shop', 'shop.yaml');
  const { rounds, calls } = sizes(ctx.options);
  const measured: Measurements = { offloaded: [], local: [] };
  for (let round = 1; round <= rounds; round++) {
    const offloaded = `bench-shop-offloaded-${round}`;
    const local = `bench-shop-local-${round}`;
    measured.offloaded.push(await applyAndWait(sandbox.local, manifest, offloaded, true));
    measured.local.push(await applyAndWait(sandbox.local, manifest, local, false));
    ctx.log(
      `realnode: round ${round}: Ready after ${measured.offloaded.at(-1)} s offloaded, ${measured.local.at(-1)} s local`,
    );
    if (round === rounds) {
      measured.cross = await callLatencies(sandbox.local, offloaded, calls);
      measured.inCluster = await callLatencies(sandbox.local, local, calls);
    }
    await Promise.all([deleteNamespace(sandbox.local, offloaded), deleteNamespace(sandbox.local, local)]);
  }
  return measured;
}

function rows(options: BenchOptions, measured: Measurements): Row[] {
  const [ready, p50, p99] = ROWS(options);
  const ms = (micros: number) => micros / 1000;
  const { cross, inCluster } = measured;
  return [
    measuredRow({
      section: SECTION,
      name: ready!.name,
      unit: 's',
      ours: median(measured.offloaded),
      floor: median(measured.local),
      runs: { ours: measured.offloaded, floor: measured.local },
      note: 'median of rounds; 8 of 11 pods offloaded vs all 11 on the local real node',
    }),
    measuredRow({
      section: SECTION,
      name: p50!.name,
      unit: 'ms',
      ours: ms(cross!.p50Micros),
      floor: ms(inCluster!.p50Micros),
    }),
    measuredRow({
      section: SECTION,
      name: p99!.name,
      unit: 'ms',
      ours: ms(cross!.p99Micros),
      floor: ms(inCluster!.p99Micros),
    }),
  ];
}

export const realNodeSection: Section = {
  id: SECTION,
  title: 'Real nodes: the demo shop on real containers',
  plannedRows: ROWS,
  async run(ctx) {
    if (process.getuid?.() !== 0) return ROWS(ctx.options).map((row) => unmeasuredRow(SECTION, row, 'needs root'));
    const dir = path.join(ctx.workDir, 'realnode-sandbox');
    const sandbox = await startSandbox({ dir, realNodes: true, components: kubeOffloadComponents, log: ctx.log });
    try {
      return rows(ctx.options, await measure(ctx, sandbox));
    } finally {
      await sandbox.stop();
    }
  },
};
