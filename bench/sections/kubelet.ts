// Section "kubelet": kubectl on an offloaded pod, through the virtual node's kubelet API
// (local kubectl -> local apiserver -> provider -> remote apiserver -> remote kwok -> the pod
// server), against the floor: the same kubectl straight on the remote pod (remote apiserver ->
// kwok -> pod server). Both paths end at the same pod server, so the difference is the local
// apiserver plus the provider.
//   port-forward throughput: one 64 MiB download (GET /bytes) per round; rounds alternate paths.
//     The CPU time of every process on each path is read around each download (bench/lib/path-cpu.ts):
//     on a machine the download keeps busy, floor-path CPU/MiB ÷ ours-path CPU/MiB bounds the ratio.
//   time to first byte:      GET / on a new connection each time (a new forwarded stream each).
//   logs -f line latency:    a line appended to the container log until kubectl prints it.
//   exec round trip:         `kubectl exec -- true`, process start to exit.
//   provider RSS:            with 20 forwarded connections and 20 `kubectl logs -f` open.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import { SANDBOX_VIRTUAL_NODE, virtualNodeComponent } from '../../src/dev/virtual-node.ts';
import { appendContainerLog, type Cluster } from '../../src/sandbox/cluster.ts';
import type { Sandbox } from '../../src/sandbox/sandbox.ts';
import { poll } from '../../src/common/async.ts';
import { openPodStreams } from '../../test/e2e/helpers/apiserver-streams.ts';
import { kubeletEndpoint } from '../../test/e2e/helpers/kubelet-endpoint.ts';
import { runKubectlBuffered, spawnKubectl, type KubectlProcess } from '../../test/e2e/helpers/kubectl-process.ts';
import { APP_PORT, deployOffloadedApp, type OffloadedApp } from '../../test/e2e/helpers/offloaded-app.ts';
import { httpRequest, startPortForward, type PortForward } from '../../test/e2e/helpers/port-forward.ts';
import { describePerProcess, pathCpu, type PathCpu, type PathProcesses } from '../lib/path-cpu.ts';
import { processRssMiB } from '../lib/process.ts';
import { measuredRow, median, percentileSorted, sortedCopy } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section } from '../lib/types.ts';

const SECTION = 'kubelet';
const NAMESPACE = 'bench-kubelet';
const MiB = 1024 * 1024;
const OPEN_STREAMS = 20;

function sizes(options: BenchOptions) {
  return options.quick
    ? { downloadMiB: 32, throughputRounds: 2, firstBytes: 50, logLines: 50, execs: 8 }
    : { downloadMiB: 64, throughputRounds: 4, firstBytes: 200, logLines: 200, execs: 20 };
}

const ROWS = (options: BenchOptions): Array<Pick<Row, 'name' | 'unit' | 'target'>> => [
  {
    name: `port-forward throughput (${sizes(options).downloadMiB} MiB download, one connection)`,
    unit: 'MiB/s',
    target: { on: 'ratio', op: '>=', value: 0.7 },
  },
  { name: 'port-forward throughput bound by CPU: floor-path CPU/MiB ÷ ours-path CPU/MiB', unit: 'x', target: null },
  { name: 'port-forward CPU per MiB downloaded, every process on the path', unit: 'ms/MiB', target: null },
  {
    name: 'port-forward time to first byte p99 (new connection each)',
    unit: 'ms',
    target: { on: 'ratio', op: '<=', value: 1.5 },
  },
  { name: 'kubectl logs -f line latency p99', unit: 'ms', target: { on: 'ours', op: '<=', value: 1000 } },
  { name: 'kubectl exec -- true round trip (median)', unit: 'ms', target: { on: 'ratio', op: '<=', value: 1.5 } },
  {
    name: `provider RSS with ${OPEN_STREAMS} port-forward connections and ${OPEN_STREAMS} logs -f open`,
    unit: 'MiB',
    target: null,
  },
];

/** Both ways to the same pod: through the virtual node (ours) and straight on the remote (floor). */
interface Paths {
  ours: { cluster: Cluster; namespace: string };
  floor: { cluster: Cluster; namespace: string };
}

interface KubeletBench {
  ctx: BenchContext;
  sandbox: Sandbox;
  app: OffloadedApp;
  paths: Paths;
  providerPid: number;
}

type Which = keyof Paths;
const BOTH: Which[] = ['ours', 'floor'];

/** Starts the provider unless the sandbox runs it already; returns its pid. */
async function ensureProvider(ctx: BenchContext, sandbox: Sandbox): Promise<number> {
  if (!sandbox.components.some((c) => c.name === 'virtual-node')) {
    ctx.log('kubelet: starting the virtual node provider');
    await sandbox.startComponent(await virtualNodeComponent(sandbox.context));
  }
  const provider = sandbox.components.find((c) => c.name === 'virtual-node');
  if (!provider) throw new Error('no virtual-node component');
  return provider.record.pid;
}

async function setUp(ctx: BenchContext): Promise<KubeletBench> {
  const sandbox = await ctx.sandbox();
  const providerPid = await ensureProvider(ctx, sandbox);
  const endpoint = await poll(() => kubeletEndpoint(sandbox.local, SANDBOX_VIRTUAL_NODE), {
    timeoutMs: 60_000,
    description: `${SANDBOX_VIRTUAL_NODE} to publish its kubelet endpoint`,
  });
  ctx.log(`kubelet: the virtual node's kubelet API is on ${endpoint.host}:${endpoint.port}; deploying the app`);
  const app = await deployOffloadedApp(sandbox.local, sandbox.remote, NAMESPACE);
  const paths: Paths = {
    ours: { cluster: sandbox.local, namespace: app.namespace },
    floor: { cluster: sandbox.remote, namespace: app.twin },
  };
  return { ctx, sandbox, app, paths, providerPid };
}

async function withPortForwards<T>(bench: KubeletBench, fn: (pf: Record<Which, PortForward>) => Promise<T>) {
  const start = (which: Which) =>
    startPortForward(bench.paths[which].cluster, {
      namespace: bench.paths[which].namespace,
      target: `pod/${bench.app.pod}`,
      remotePort: APP_PORT,
    });
  const [ours, floor] = await Promise.all([start('ours'), start('floor')]);
  try {
    return await fn({ ours, floor });
  } finally {
    await Promise.all([ours.stop(), floor.stop()]);
  }
}

async function downloadMiBps(port: number, megabytes: number): Promise<number> {
  const answer = await httpRequest(port, { path: `/bytes?n=${megabytes * MiB}`, timeoutMs: 300_000 });
  if (answer.status !== 200 || answer.body.length !== megabytes * MiB) {
    throw new Error(`download: HTTP ${answer.status}, ${answer.body.length} bytes`);
  }
  return megabytes / (answer.ms / 1000);
}

/** The pid of one of a cluster's processes ("kube-apiserver", "kwok", "pod-server"). */
function clusterPid(cluster: Cluster, component: string): number {
  const record = cluster.processes().find((r) => r.name === `${cluster.name}/${component}`);
  if (!record) throw new Error(`no ${component} process recorded for cluster ${cluster.name}`);
  return record.pid;
}

/** Every process a downloaded byte goes through, on each path (the bench client included). */
function pathProcesses(bench: KubeletBench, pf: Record<Which, PortForward>): Record<Which, PathProcesses> {
  const { local, remote } = bench.sandbox;
  const remoteEnd = {
    'remote apiserver': clusterPid(remote, 'kube-apiserver'),
    kwok: clusterPid(remote, 'kwok'),
    'pod server': clusterPid(remote, 'pod-server'),
    'bench client': process.pid,
  };
  return {
    ours: {
      kubectl: pf.ours.process.child.pid!,
      'local apiserver': clusterPid(local, 'kube-apiserver'),
      provider: bench.providerPid,
      ...remoteEnd,
    },
    floor: { kubectl: pf.floor.process.child.pid!, ...remoteEnd },
  };
}

interface Throughput {
  runs: Record<Which, number[]>;
  cpu: Record<Which, PathCpu>;
}

async function measureThroughput(bench: KubeletBench, pf: Record<Which, PortForward>): Promise<Throughput> {
  const { downloadMiB, throughputRounds } = sizes(bench.ctx.options);
  const runs: Record<Which, number[]> = { ours: [], floor: [] };
  const processes = pathProcesses(bench, pf);
  const cpu = { ours: pathCpu(processes.ours), floor: pathCpu(processes.floor) };
  await downloadMiBps(pf.ours.localPort, 1);
  await downloadMiBps(pf.floor.localPort, 1);
  for (let round = 0; round < throughputRounds; round++) {
    for (const which of round % 2 === 0 ? BOTH : [...BOTH].reverse()) {
      runs[which].push(await cpu[which].measure(downloadMiB, () => downloadMiBps(pf[which].localPort, downloadMiB)));
    }
  }
  const { log } = bench.ctx;
  log(`kubelet: throughput ours ${median(runs.ours).toFixed(1)}, floor ${median(runs.floor).toFixed(1)} MiB/s`);
  for (const which of BOTH) {
    log(`kubelet: CPU per MiB ${which}: ${describePerProcess(cpu[which])}; total ${cpu[which].total().toFixed(1)}`);
  }
  return { runs, cpu };
}

/** How busy each path kept the cores during its downloads, and how busy everything else did. */
function busyNote(cpu: Record<Which, PathCpu>): string {
  const [ours, floor] = [cpu.ours.busyCores(), cpu.floor.busyCores()];
  const others = (busy: { path: number; machine: number }) => (busy.machine - busy.path).toFixed(2);
  return (
    `cores busy during the downloads: ours' path ${ours.path.toFixed(2)}, the floor's ${floor.path.toFixed(2)}, ` +
    `other processes ${others(ours)} and ${others(floor)}, of ${os.availableParallelism()} cores`
  );
}

async function measureFirstBytes(bench: KubeletBench, pf: Record<Which, PortForward>) {
  const samples: Record<Which, number[]> = { ours: [], floor: [] };
  for (let i = 0; i < sizes(bench.ctx.options).firstBytes; i++) {
    for (const which of i % 2 === 0 ? BOTH : [...BOTH].reverse()) {
      samples[which].push((await httpRequest(pf[which].localPort, { path: '/' })).firstByteMs);
    }
  }
  return { ours: sortedCopy(samples.ours), floor: sortedCopy(samples.floor) };
}

/** Resolves when kubectl prints `line`, with the time it did (event-driven, not polled). */
function lineArrivals(proc: KubectlProcess): (line: string) => Promise<number> {
  const waiting = new Map<string, (at: number) => void>();
  let buffered = '';
  proc.child.stdout!.on('data', (chunk: Buffer) => {
    const at = performance.now();
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) waiting.get(line)?.(at);
  });
  return (line) => new Promise((resolve) => waiting.set(line, resolve));
}

async function followLatencies(bench: KubeletBench, which: Which): Promise<number[]> {
  const { cluster, namespace } = bench.paths[which];
  const follow = spawnKubectl(cluster, ['-n', namespace, 'logs', '-f', '--tail=0', bench.app.pod]);
  const arrival = lineArrivals(follow);
  const id = randomUUID().slice(0, 8);
  try {
    await poll(
      async () => {
        appendContainerLog(bench.sandbox.remote.containers, [`probe-${id}`]);
        return follow.stdout().includes(`probe-${id}`);
      },
      { timeoutMs: 30_000, intervalMs: 500, description: `kubectl logs -f (${which}) to stream` },
    );
    const latencies: number[] = [];
    for (let i = 0; i < sizes(bench.ctx.options).logLines; i++) {
      const line = `latency-${id}-${i}`;
      const arrived = arrival(line);
      const sentAt = performance.now();
      appendContainerLog(bench.sandbox.remote.containers, [line]);
      latencies.push((await arrived) - sentAt);
    }
    return latencies;
  } finally {
    await follow.kill('SIGINT');
  }
}

async function execMs(bench: KubeletBench, which: Which): Promise<number> {
  const { cluster, namespace } = bench.paths[which];
  const res = await runKubectlBuffered(cluster, ['-n', namespace, 'exec', bench.app.pod, '--', 'true']);
  if (res.code !== 0) throw new Error(`kubectl exec (${which}) exited ${res.code}: ${res.stderr.trim()}`);
  return res.ms;
}

async function measureExec(bench: KubeletBench): Promise<Record<Which, number[]>> {
  const runs: Record<Which, number[]> = { ours: [], floor: [] };
  await execMs(bench, 'ours');
  await execMs(bench, 'floor');
  for (let i = 0; i < sizes(bench.ctx.options).execs; i++) {
    for (const which of i % 2 === 0 ? BOTH : [...BOTH].reverse()) runs[which].push(await execMs(bench, which));
  }
  return runs;
}

/** Opens `count` forwarded connections, each inside a request that stays open (a body never ended). */
function holdConnections(port: number, count: number): { close(): void } {
  const requests = Array.from({ length: count }, () => {
    const req = httpRequestOpen(port);
    req.write(Buffer.alloc(1024));
    return req;
  });
  return { close: () => requests.forEach((req) => req.destroy()) };
}

function httpRequestOpen(port: number) {
  // A POST /echo whose body never ends: the connection and its forwarded stream stay open.
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', agent: false });
  req.on('error', () => {});
  req.on('response', (res) => res.resume());
  return req;
}

async function measureLoadedRss(bench: KubeletBench): Promise<{ idle: number; loaded: number }> {
  const { remote } = bench.sandbox;
  const idle = processRssMiB(bench.providerPid);
  const [logsBefore, forwardsBefore] = [
    await openPodStreams(remote, 'log'),
    await openPodStreams(remote, 'portforward'),
  ];
  const { cluster, namespace } = bench.paths.ours;
  const follows = Array.from({ length: OPEN_STREAMS }, () =>
    spawnKubectl(cluster, ['-n', namespace, 'logs', '-f', '--tail=1', bench.app.pod]),
  );
  const pf = await startPortForward(cluster, { namespace, target: `pod/${bench.app.pod}`, remotePort: APP_PORT });
  const held = holdConnections(pf.localPort, OPEN_STREAMS);
  try {
    await poll(
      async () => {
        const [logs, forwards] = [await openPodStreams(remote, 'log'), await openPodStreams(remote, 'portforward')];
        if (logs >= logsBefore + OPEN_STREAMS && forwards >= forwardsBefore + 1) return true;
        // Thrown, so that a timeout says how far it got.
        throw new Error(
          `open at the remote: logs ${logsBefore} -> ${logs}, portforwards ${forwardsBefore} -> ${forwards}`,
        );
      },
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        description: `${OPEN_STREAMS} logs -f and the port-forward to reach the remote`,
      },
    );
    await poll(() => connectionsHeld(bench, OPEN_STREAMS), {
      timeoutMs: 60_000,
      intervalMs: 250,
      description: `${OPEN_STREAMS} forwarded connections at the pod server`,
    });
    return { idle, loaded: processRssMiB(bench.providerPid) };
  } finally {
    held.close();
    await pf.stop();
    await Promise.all(follows.map((follow) => follow.kill('SIGINT')));
  }
}

/** Whether the pod server holds at least `count` open connections for the app's pod. */
async function connectionsHeld(bench: KubeletBench, count: number): Promise<boolean> {
  const res = await fetch(`${bench.sandbox.remote.podServerUrl}/sandbox/connections`);
  const counts = (await res.json()) as { pods: Record<string, Record<string, { open: number }>> };
  const ports = counts.pods[`${bench.app.twin}/${bench.app.pod}`] ?? {};
  return Object.values(ports).reduce((sum, port) => sum + port.open, 0) >= count;
}

const p50 = (sorted: Float64Array): string => `p50 ${percentileSorted(sorted, 50).toFixed(1)} ms`;

function kubeletRows(
  options: BenchOptions,
  results: {
    throughput: Throughput;
    firstBytes: Record<Which, Float64Array>;
    logLatencies: Record<Which, Float64Array>;
    execs: Record<Which, number[]>;
    rss: { idle: number; loaded: number };
  },
): Row[] {
  const planned = ROWS(options);
  const row = (i: number, fields: { ours: number; floor?: number; note: string; runs?: Record<Which, number[]> }) =>
    measuredRow({
      section: SECTION,
      name: planned[i]!.name,
      unit: planned[i]!.unit,
      target: planned[i]!.target,
      ...fields,
    });
  const { throughput, firstBytes, logLatencies, execs, rss } = results;
  const floorNote = 'floor: kubectl straight on the remote pod';
  const { runs, cpu } = throughput;
  const measuredRatio = median(runs.ours) / median(runs.floor);
  const bound = cpu.floor.total() / cpu.ours.total();
  // Throughput = cores busy ÷ CPU per MiB, so the ratio is the bound times (ours' busy ÷ the floor's
  // busy): at most the bound times (every core ÷ the floor's busy), when ours keeps every core busy.
  const ceiling = (bound * os.availableParallelism()) / cpu.floor.busyCores().path;
  return [
    row(0, { ours: median(runs.ours), floor: median(runs.floor), note: `${floorNote}; median`, runs }),
    row(1, {
      ours: bound,
      note:
        `measured throughput ratio ${measuredRatio.toFixed(2)}x; ` +
        `${ceiling.toFixed(2)}x if ours' path had kept every core busy (when no other process was); ${busyNote(cpu)}`,
    }),
    row(2, {
      ours: cpu.ours.total(),
      floor: cpu.floor.total(),
      note: BOTH.map((which) => `${which}: ${describePerProcess(cpu[which])}`).join('; '),
    }),
    row(3, {
      ours: percentileSorted(firstBytes.ours, 99),
      floor: percentileSorted(firstBytes.floor, 99),
      note: `${floorNote}; ${firstBytes.ours.length} connections each; ${p50(firstBytes.ours)}`,
    }),
    row(4, {
      ours: percentileSorted(logLatencies.ours, 99),
      floor: percentileSorted(logLatencies.floor, 99),
      note: `${floorNote}; ${logLatencies.ours.length} lines; ${p50(logLatencies.ours)}`,
    }),
    row(5, {
      ours: median(execs.ours),
      floor: median(execs.floor),
      note: `${floorNote}; kubectl process start to exit`,
      runs: execs,
    }),
    row(6, { ours: rss.loaded, note: `VmRSS; ${rss.idle.toFixed(0)} MiB before they opened` }),
  ];
}

async function run(ctx: BenchContext): Promise<Row[]> {
  const bench = await setUp(ctx);
  const { throughput, firstBytes } = await withPortForwards(bench, async (pf) => ({
    throughput: await measureThroughput(bench, pf),
    firstBytes: await measureFirstBytes(bench, pf),
  }));
  ctx.log('kubelet: logs -f line latency');
  const logLatencies = {
    ours: sortedCopy(await followLatencies(bench, 'ours')),
    floor: sortedCopy(await followLatencies(bench, 'floor')),
  };
  ctx.log('kubelet: exec round trips');
  const execs = await measureExec(bench);
  ctx.log(`kubelet: provider RSS with ${OPEN_STREAMS} forwarded connections and ${OPEN_STREAMS} logs -f`);
  const rss = await measureLoadedRss(bench);
  const cpuPerMiB = Object.fromEntries(BOTH.map((which) => [which, throughput.cpu[which].perProcess()]));
  ctx.artifacts.kubelet = {
    throughput: throughput.runs,
    cpuPerMiB,
    execs,
    firstBytes: Array.from(firstBytes.ours),
    rss,
  };
  return kubeletRows(ctx.options, { throughput, firstBytes, logLatencies, execs, rss });
}

export const kubeletSection: Section = {
  id: SECTION,
  title: 'Kubelet API of the virtual node (sandbox)',
  plannedRows: ROWS,
  run,
};
