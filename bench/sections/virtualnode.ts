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
import { twinNamespaceName } from '../../src/shared/twin.ts';
import { ENABLED_LABEL, PLACEMENT_ANNOTATION } from '../../webhooks/keys.ts';
import type { AdminClient } from '../lib/sandbox.ts';
import { adminClient, deleteAllPods, ensureNamespace, watchPods } from '../lib/sandbox.ts';
import { processRssMiB } from '../lib/process.ts';
import { measuredRow, median, percentileSorted, sleep, sortedCopy } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section, Target } from '../lib/types.ts';

const OFFLOADED = 'bench-offloaded';
const LOCAL = 'bench-local';
const CLIENTS = 32;
const LAG_TARGET: Target = { on: 'ours', op: '<=', value: 2000 };

function sizes(options: BenchOptions): { lagPods: number; perSecond: number; burst: number; rounds: number } {
  return options.quick ? { lagPods: 30, perSecond: 5, burst: 100, rounds: 1 } : { lagPods: 100, perSecond: 5, burst: 200, rounds: 2 };
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
      containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '1m', memory: '4Mi' } } }],
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
  if (res.status !== 201) throw new Error(`creating pod ${namespace}/${name}: HTTP ${res.status} ${res.body.slice(0, 400)}`);
}

async function waitRunning(times: RunningTimes, namespace: string, names: string[], timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = names.filter((n) => times.get(namespace, n) === undefined);
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${missing.length} of ${names.length} pods in ${namespace} not Running after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

async function waitVirtualNodeUsable(client: AdminClient): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const res = await client.request('GET', `/api/v1/nodes/${SANDBOX_VIRTUAL_NODE}`);
    if (res.status === 200) {
      const node = JSON.parse(res.body);
      const ready = (node.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
      // The node lifecycle controller lifts its not-ready taint once the node is Ready.
      const notReadyTaint = (node.spec?.taints ?? []).some((t: any) => String(t.key).startsWith('node.kubernetes.io/'));
      if (ready && !notReadyTaint) return;
    }
    if (Date.now() > deadline) throw new Error(`virtual node ${SANDBOX_VIRTUAL_NODE} not Ready and schedulable after 120 s`);
    await sleep(250);
  }
}

async function run(ctx: BenchContext): Promise<Row[]> {
  const { lagPods, perSecond, burst, rounds } = sizes(ctx.options);
  const sandbox = await ctx.sandbox();
  const local = sandbox.local;
  const remote = sandbox.remote;
  if (!sandbox.components.some((c) => c.name === 'virtual-node')) {
    ctx.log('virtualnode: starting the virtual node provider');
    await sandbox.startComponent(await virtualNodeComponent(sandbox.context));
  }
  const client = adminClient(local, CLIENTS);
  const twin = twinNamespaceName(OFFLOADED, SANDBOX_CLUSTER_NAME);
  const times = new RunningTimes();
  const watches = [
    watchPods(local, OFFLOADED, (_t, p, at) => times.record(OFFLOADED, p, at)),
    watchPods(local, LOCAL, (_t, p, at) => times.record(LOCAL, p, at)),
    watchPods(remote, twin, (_t, p, at) => times.record(twin, p, at)),
  ];
  try {
    await waitVirtualNodeUsable(client);
    await ensureNamespace(client, OFFLOADED, { [ENABLED_LABEL]: 'true' }, { [PLACEMENT_ANNOTATION]: 'Remote' });
    await ensureNamespace(client, LOCAL, {});
    await Promise.all(watches.map((w) => w.opened));

    // Warm-up: the twin namespace, the provider's caches and both paths.
    ctx.log('virtualnode: warm-up, 5 pods each way');
    const warm = Array.from({ length: 5 }, (_, i) => `warm-${i}`);
    await Promise.all(warm.flatMap((n) => [create(client, OFFLOADED, n), create(client, LOCAL, n)]));
    await waitRunning(times, OFFLOADED, warm, 180_000, 'warm-up');
    await waitRunning(times, LOCAL, warm, 60_000, 'warm-up');
    const placed = await client.json('GET', `/api/v1/namespaces/${OFFLOADED}/pods/warm-0`);
    if (placed.spec?.nodeName !== SANDBOX_VIRTUAL_NODE) throw new Error(`the offloaded pod runs on ${placed.spec?.nodeName}, not on ${SANDBOX_VIRTUAL_NODE}`);
    await Promise.all([deleteAllPods(client, OFFLOADED), deleteAllPods(client, LOCAL)]);

    // Status lag at a steady pace.
    ctx.log(`virtualnode: status lag, ${lagPods} offloaded pods at ${perSecond}/s`);
    const lagNames = Array.from({ length: lagPods }, (_, i) => `lag-${i}`);
    const creations: Promise<void>[] = [];
    for (const name of lagNames) {
      creations.push(create(client, OFFLOADED, name));
      await sleep(1000 / perSecond);
    }
    await Promise.all(creations);
    await waitRunning(times, OFFLOADED, lagNames, 180_000, 'status lag');
    const lagOf = (names: string[]) =>
      names.map((n) => {
        const remoteAt = times.get(twin, n);
        if (remoteAt === undefined) throw new Error(`pod ${n} Running locally but never seen Running in ${remote.name}/${twin}`);
        return (times.get(OFFLOADED, n) as number) - remoteAt;
      });
    const lags = sortedCopy(lagOf(lagNames));
    await deleteAllPods(client, OFFLOADED, 180_000);

    // Bursts, alternating with the floor.
    const burstSeconds = { ours: [] as number[], floor: [] as number[] };
    const burstLagP99: number[] = [];
    const providerRss: number[] = [];
    const providerPid = sandbox.components.find((c) => c.name === 'virtual-node')?.record.pid;
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['ours', 'floor'] as const) : (['floor', 'ours'] as const);
      for (const which of order) {
        const namespace = which === 'ours' ? OFFLOADED : LOCAL;
        const names = Array.from({ length: burst }, (_, i) => `burst-${round}-${i}`);
        const start = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: CLIENTS }, async () => {
            while (next < names.length) await create(client, namespace, names[next++] as string);
          }),
        );
        await waitRunning(times, namespace, names, 600_000, `burst of ${burst}`);
        const last = Math.max(...names.map((n) => times.get(namespace, n) as number));
        burstSeconds[which].push((last - start) / 1000);
        if (which === 'ours') burstLagP99.push(percentileSorted(sortedCopy(lagOf(names)), 99));
        // While all of the burst is Running on the virtual node: the provider's working set.
        if (which === 'ours' && providerPid !== undefined) providerRss.push(processRssMiB(providerPid));
        ctx.log(`virtualnode: burst round ${round + 1}/${rounds}: ${which === 'ours' ? 'offloaded' : 'local workers'} ${burstSeconds[which].at(-1)?.toFixed(1)} s`);
        await deleteAllPods(client, namespace, 300_000);
      }
    }
    ctx.artifacts.virtualnode = { lagPods, perSecond, burst, rounds, lagsMs: Array.from(lags), burstSeconds, burstLagP99 };
    const name = ROWS(ctx.options).map((r) => r.name) as [string, string, string, string, string];
    return [
      measuredRow({ section: 'virtualnode', name: name[0], unit: 'ms', ours: percentileSorted(lags, 50), note: `${lagPods} pods created at ${perSecond}/s` }),
      measuredRow({ section: 'virtualnode', name: name[1], unit: 'ms', ours: percentileSorted(lags, 99), target: LAG_TARGET, note: `${lagPods} pods created at ${perSecond}/s` }),
      measuredRow({
        section: 'virtualnode',
        name: name[2],
        unit: 's',
        ours: median(burstSeconds.ours),
        floor: median(burstSeconds.floor),
        note: `floor: the same pods on the local (kwok) workers; ${CLIENTS} clients; median of ${rounds} round(s)`,
        runs: burstSeconds,
      }),
      measuredRow({ section: 'virtualnode', name: name[3], unit: 'ms', ours: median(burstLagP99), note: 'remote Running -> local Running while the burst runs' }),
      measuredRow({ section: 'virtualnode', name: name[4], unit: 'MiB', ours: median(providerRss.filter(Number.isFinite)), note: 'VmRSS of the provider process once the whole burst is Running' }),
    ];
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
