// Section "virtualnode": the virtual node provider on the sandbox, driven the way users drive
// it. The provider runs as the sandbox runs it (virtualNodeComponent(): its ServiceAccounts, the
// manifests' RBAC, one virtual node "virtual-remote" for the remote cluster). Pods go to a
// namespace that has opted in with `kube-offload.io/placement: Remote`, so the path is the real
// one: webhook -> scheduler -> virtual node -> provider -> remote apiserver -> remote scheduler
// -> kwok -> provider -> local pod status.
//
// Times are when this process sees the events, from one watch on the local namespace and one on
// its twin namespace in the remote cluster (same process, same kind of stream on both sides).
//   status lag: pods created at a steady pace (5/s); for each, first local Running minus first
//               remote Running. Target p99 <= 2 s.
//   burst:      N pods created at once (32 clients); time from the first create until all are
//               Running locally. Floor: the same pods in a namespace that has not opted in, run
//               by the local cluster's own (kwok) workers. Rounds alternate the two.
import { virtualNodeComponent, SANDBOX_CLUSTER_NAME, SANDBOX_VIRTUAL_NODE } from '../../src/dev/virtual-node.ts';
import { twinNamespaceName } from '../../src/common/twin.ts';
import { ENABLED_LABEL, PLACEMENT_ANNOTATION } from '../../webhooks/keys.ts';
import type { Sandbox } from '../../src/sandbox/sandbox.ts';
import { poll, sleep } from '../../src/common/async.ts';
import type { AdminClient, BenchWatch } from '../lib/sandbox.ts';
import { adminClient, deleteAllPods, ensureNamespace, watchPods } from '../lib/sandbox.ts';
import { processRssMiB } from '../lib/process.ts';
import { measuredRow, median, percentileSorted, sortedCopy } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section, Target } from '../lib/types.ts';

const OFFLOADED = 'bench-offloaded';
const LOCAL = 'bench-local';
const CLIENTS = 32;
const LAG_TARGET: Target = { on: 'ours', op: '<=', value: 2000 };

function sizes(options: BenchOptions): { lagPods: number; perSecond: number; burst: number; rounds: number } {
  return options.quick
    ? { lagPods: 30, perSecond: 5, burst: 100, rounds: 1 }
    : { lagPods: 100, perSecond: 5, burst: 200, rounds: 2 };
}

const ROWS = (options: BenchOptions): Array<Pick<Row, 'name' | 'unit' | 'target'>> => [
  { name: 'status lag remote Running -> local Running: p50', unit: 'ms', target: null },
  { name: 'status lag remote Running -> local Running: p99', unit: 'ms', target: LAG_TARGET },
  { name: `burst of ${sizes(options).burst} offloaded pods: time until all Running`, unit: 's', target: null },
  { name: `burst of ${sizes(options).burst} offloaded pods: status lag p99`, unit: 'ms', target: null },
  { name: `provider RSS with ${sizes(options).burst} offloaded pods Running`, unit: 'MiB', target: null },
];

function pod(name: string, namespace: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'bench-vn' } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [
        { name: 'app', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '1m', memory: '4Mi' } } },
      ],
    },
  };
}

/** First time each pod name was seen Running, per watched namespace. */
class RunningTimes {
  readonly seen = new Map<string, Map<string, number>>();
  record(namespace: string, pod: any, at: number): void {
    if (pod?.status?.phase !== 'Running') return;
    let byName = this.seen.get(namespace);
    if (!byName) this.seen.set(namespace, (byName = new Map()));
    if (!byName.has(pod.metadata.name)) byName.set(pod.metadata.name, at);
  }
  get(namespace: string, name: string): number | undefined {
    return this.seen.get(namespace)?.get(name);
  }
  clear(): void {
    this.seen.clear();
  }
}

async function create(client: AdminClient, namespace: string, name: string): Promise<void> {
  const res = await client.request('POST', `/api/v1/namespaces/${namespace}/pods`, pod(name, namespace));
  if (res.status !== 201) {
    throw new Error(`creating pod ${namespace}/${name}: HTTP ${res.status} ${res.body.slice(0, 400)}`);
  }
}

/** Creates the pods with CLIENTS concurrent clients. */
async function createAll(client: AdminClient, namespace: string, names: string[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) await create(client, namespace, names[next++] as string);
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
}

async function waitRunning(
  times: RunningTimes,
  namespace: string,
  names: string[],
  timeoutMs: number,
  what: string,
): Promise<void> {
  const allRunning = (): boolean => {
    const missing = names.filter((n) => times.get(namespace, n) === undefined).length;
    if (missing === 0) return true;
    // Not yet; poll reports the last of these on timeout.
    throw new Error(`${missing} of ${names.length} pods in ${namespace} not Running`);
  };
  await poll(allRunning, { timeoutMs, intervalMs: 100, description: what });
}

/** Ready, and without the not-ready taint the node lifecycle controller lifts once it is. */
async function virtualNodeUsable(client: AdminClient): Promise<boolean> {
  const res = await client.request('GET', `/api/v1/nodes/${SANDBOX_VIRTUAL_NODE}`);
  if (res.status !== 200) return false;
  const node = JSON.parse(res.body);
  const ready = (node.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  const notReadyTaint = (node.spec?.taints ?? []).some((t: any) => String(t.key).startsWith('node.kubernetes.io/'));
  return ready && !notReadyTaint;
}

async function waitVirtualNodeUsable(client: AdminClient): Promise<void> {
  await poll(() => virtualNodeUsable(client), {
    timeoutMs: 120_000,
    intervalMs: 250,
    description: `virtual node ${SANDBOX_VIRTUAL_NODE} Ready and schedulable`,
  });
}

/** What the steps share: the admin client, and when each pod was first seen Running where. */
interface VirtualNodeBench {
  ctx: BenchContext;
  sandbox: Sandbox;
  client: AdminClient;
  times: RunningTimes;
  /** The remote twin of OFFLOADED. */
  twin: string;
  /** The provider process, if the sandbox knows it. */
  providerPid: number | undefined;
}

/** Starts the provider unless the sandbox runs it already; returns its pid. */
async function ensureProvider(ctx: BenchContext, sandbox: Sandbox): Promise<number | undefined> {
  if (!sandbox.components.some((c) => c.name === 'virtual-node')) {
    ctx.log('virtualnode: starting the virtual node provider');
    await sandbox.startComponent(await virtualNodeComponent(sandbox.context));
  }
  return sandbox.components.find((c) => c.name === 'virtual-node')?.record.pid;
}

/** Watches both local namespaces and the twin, recording when each pod is first seen Running. */
function watchRunningPods({ sandbox, times, twin }: VirtualNodeBench): BenchWatch[] {
  return [
    watchPods(sandbox.local, OFFLOADED, (_t, p, at) => times.record(OFFLOADED, p, at)),
    watchPods(sandbox.local, LOCAL, (_t, p, at) => times.record(LOCAL, p, at)),
    watchPods(sandbox.remote, twin, (_t, p, at) => times.record(twin, p, at)),
  ];
}

/** The virtual node usable, both namespaces there (OFFLOADED opted in, placement Remote), watches open. */
async function prepare({ client }: VirtualNodeBench, watches: BenchWatch[]): Promise<void> {
  await waitVirtualNodeUsable(client);
  await ensureNamespace(client, OFFLOADED, { [ENABLED_LABEL]: 'true' }, { [PLACEMENT_ANNOTATION]: 'Remote' });
  await ensureNamespace(client, LOCAL, {});
  await Promise.all(watches.map((w) => w.opened));
}

/** The twin namespace, the provider's caches and both paths; checks the pods land on the virtual node. */
async function warmUpBothPaths({ ctx, client, times }: VirtualNodeBench): Promise<void> {
  ctx.log('virtualnode: warm-up, 5 pods each way');
  const warm = Array.from({ length: 5 }, (_, i) => `warm-${i}`);
  await Promise.all(warm.flatMap((n) => [create(client, OFFLOADED, n), create(client, LOCAL, n)]));
  await waitRunning(times, OFFLOADED, warm, 180_000, 'warm-up');
  await waitRunning(times, LOCAL, warm, 60_000, 'warm-up');
  const placed = await client.json('GET', `/api/v1/namespaces/${OFFLOADED}/pods/warm-0`);
  if (placed.spec?.nodeName !== SANDBOX_VIRTUAL_NODE) {
    throw new Error(`the offloaded pod runs on ${placed.spec?.nodeName}, not on ${SANDBOX_VIRTUAL_NODE}`);
  }
  await Promise.all([deleteAllPods(client, OFFLOADED), deleteAllPods(client, LOCAL)]);
}

/** Per offloaded pod: ms from first seen Running remotely to first seen Running locally. */
function statusLagsMs({ sandbox, times, twin }: VirtualNodeBench, names: string[]): number[] {
  return names.map((n) => {
    const remoteAt = times.get(twin, n);
    if (remoteAt === undefined) {
      throw new Error(`pod ${n} Running locally but never seen Running in ${sandbox.remote.name}/${twin}`);
    }
    return (times.get(OFFLOADED, n) as number) - remoteAt;
  });
}

/** Offloaded pods created at a steady pace; their status lags, sorted. */
async function measureStatusLag(bench: VirtualNodeBench): Promise<Float64Array> {
  const { ctx, client, times } = bench;
  const { lagPods, perSecond } = sizes(ctx.options);
  ctx.log(`virtualnode: status lag, ${lagPods} offloaded pods at ${perSecond}/s`);
  const names = Array.from({ length: lagPods }, (_, i) => `lag-${i}`);
  const creations: Promise<void>[] = [];
  for (const name of names) {
    creations.push(create(client, OFFLOADED, name));
    await sleep(1000 / perSecond);
  }
  await Promise.all(creations);
  await waitRunning(times, OFFLOADED, names, 180_000, 'status lag');
  const lags = sortedCopy(statusLagsMs(bench, names));
  await deleteAllPods(client, OFFLOADED, 180_000);
  return lags;
}

interface BurstResults {
  seconds: { ours: number[]; floor: number[] };
  /** Per offloaded round: p99 of the status lag while the burst runs. */
  lagP99: number[];
  /** Per offloaded round: the provider's VmRSS with the whole burst Running. */
  providerRss: number[];
}

/** One burst into the offloaded namespace (ours) or the local one (floor); recorded in `results`. */
async function runOneBurst(
  bench: VirtualNodeBench,
  which: 'ours' | 'floor',
  round: number,
  results: BurstResults,
): Promise<void> {
  const { ctx, client, times } = bench;
  const { burst, rounds } = sizes(ctx.options);
  const namespace = which === 'ours' ? OFFLOADED : LOCAL;
  const names = Array.from({ length: burst }, (_, i) => `burst-${round}-${i}`);
  const start = performance.now();
  await createAll(client, namespace, names);
  await waitRunning(times, namespace, names, 600_000, `burst of ${burst}`);
  const last = Math.max(...names.map((n) => times.get(namespace, n) as number));
  results.seconds[which].push((last - start) / 1000);
  if (which === 'ours') {
    results.lagP99.push(percentileSorted(sortedCopy(statusLagsMs(bench, names)), 99));
    // While all of the burst is Running on the virtual node: the provider's working set.
    if (bench.providerPid !== undefined) results.providerRss.push(processRssMiB(bench.providerPid));
  }
  const label = which === 'ours' ? 'offloaded' : 'local workers';
  const seconds = results.seconds[which].at(-1)?.toFixed(1);
  ctx.log(`virtualnode: burst round ${round + 1}/${rounds}: ${label} ${seconds} s`);
  await deleteAllPods(client, namespace, 300_000);
}

/** Bursts of pods, alternating offloaded (ours) with the local workers (floor). */
async function measureBursts(bench: VirtualNodeBench): Promise<BurstResults> {
  const results: BurstResults = { seconds: { ours: [], floor: [] }, lagP99: [], providerRss: [] };
  for (let round = 0; round < sizes(bench.ctx.options).rounds; round++) {
    const order = round % 2 === 0 ? (['ours', 'floor'] as const) : (['floor', 'ours'] as const);
    for (const which of order) await runOneBurst(bench, which, round, results);
  }
  return results;
}

function virtualNodeRows(options: BenchOptions, lags: Float64Array, bursts: BurstResults): Row[] {
  const { lagPods, perSecond, rounds } = sizes(options);
  const name = ROWS(options).map((r) => r.name) as [string, string, string, string, string];
  const row = (fields: Omit<Parameters<typeof measuredRow>[0], 'section'>): Row =>
    measuredRow({ section: 'virtualnode', ...fields });
  const paced = `${lagPods} pods created at ${perSecond}/s`;
  return [
    row({ name: name[0], unit: 'ms', ours: percentileSorted(lags, 50), note: paced }),
    row({ name: name[1], unit: 'ms', ours: percentileSorted(lags, 99), target: LAG_TARGET, note: paced }),
    row({
      name: name[2],
      unit: 's',
      ours: median(bursts.seconds.ours),
      floor: median(bursts.seconds.floor),
      note: `floor: the same pods on the local (kwok) workers; ${CLIENTS} clients; median of ${rounds} round(s)`,
      runs: bursts.seconds,
    }),
    row({
      name: name[3],
      unit: 'ms',
      ours: median(bursts.lagP99),
      note: 'remote Running -> local Running while the burst runs',
    }),
    row({
      name: name[4],
      unit: 'MiB',
      ours: median(bursts.providerRss.filter(Number.isFinite)),
      note: 'VmRSS of the provider process once the whole burst is Running',
    }),
  ];
}

async function run(ctx: BenchContext): Promise<Row[]> {
  const sandbox = await ctx.sandbox();
  const providerPid = await ensureProvider(ctx, sandbox);
  const client = adminClient(sandbox.local, CLIENTS);
  const twin = twinNamespaceName(OFFLOADED, SANDBOX_CLUSTER_NAME);
  const bench: VirtualNodeBench = { ctx, sandbox, client, times: new RunningTimes(), twin, providerPid };
  const watches = watchRunningPods(bench);
  try {
    await prepare(bench, watches);
    await warmUpBothPaths(bench);
    const lags = await measureStatusLag(bench);
    const bursts = await measureBursts(bench);
    ctx.artifacts.virtualnode = {
      ...sizes(ctx.options),
      lagsMs: Array.from(lags),
      burstSeconds: bursts.seconds,
      burstLagP99: bursts.lagP99,
    };
    return virtualNodeRows(ctx.options, lags, bursts);
  } finally {
    for (const w of watches) w.stop();
    client.close();
  }
}

export const virtualNodeSection: Section = {
  id: 'virtualnode',
  title: 'Virtual node provider (sandbox)',
  plannedRows: ROWS,
  run,
};
