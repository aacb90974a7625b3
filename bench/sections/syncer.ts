// Section "syncer": replication through a real syncer, on the shared sandbox. The syncer runs as
// the image runs it: compiled dist/ (built first), NODE_OPTIONS of the Deployment, its
// ServiceAccounts and the manifests' RBAC on both sides (syncerComponent()), one remote. Objects
// are ConfigMaps and Secrets of 1 KiB payload, created with the replicate stamp (labels +
// annotations, as the webhook writes them; except the streamed burst's, which the webhook stamps)
// in namespaces labelled kube-offload.io/enabled=true, by
// an admin client with a keep-alive pool. "Visible remotely" is when this process sees the ADDED
// event on a watch of the twin namespace in the remote cluster (the floor is timed with the same
// kind of watch).
//
// Order (each step on the state the previous one left):
//   single:  idle sandbox, default flags, one ConfigMap at a time: local POST sent -> remote copy
//            ADDED, p99 of 50 (quick 20) after 5 warm-up objects. Floor (context): the same
//            ConfigMap POSTed to the remote directly -> ADDED on the same watch.
//   restart: 5,000 (quick 1,000) objects replicated and in sync; stop the syncer (SIGTERM), start
//            a new one: time from spawn to /readyz, then wait until it has reconciled everything
//            (queue depth 0 and stable) and read writes_total of the new process — target 0.
//   memory:  top up to 10,000 (quick 2,000) replicated objects, wait until the queue is drained,
//            then VmRSS (/proc/<pid>/status) of the syncer once it has settled.
//   burst:   the syncer restarted with BURST_SYNCER_ARGS (32 workers like the floor's 32 clients,
//            client-side rate limit lifted like the floor's). 2,000 (quick 400) objects (half
//            ConfigMaps, half Secrets) are created in an opted-in namespace whose clusters selector
//            matches no remote; the timer starts when the selector is removed and stops when the
//            last copy is seen in the twin. Floor: the same objects written with 32 clients
//            directly into a fresh remote namespace, until the last one is seen on the watch.
//            Info rows: the same burst streamed (written locally through the webhook while the
//            syncer replicates, first local write -> last copy), the local writes alone vs a
//            namespace that has not opted in, and the lag after the last local write.
//            `--runs` rounds, alternating the order; medians.
// The syncer is stopped at the end (later sections must not pay for it); the namespaces stay.
// Helpers live in ./syncer/: the objects and namespaces, the arrival watches, the syncer process.
import type { Sandbox } from '../../src/sandbox/sandbox.ts';
import { SANDBOX_CLUSTER_NAME } from '../../src/dev/virtual-node.ts';
import { sleep } from '../../src/common/async.ts';
import { twinNamespaceName } from '../../src/common/twin.ts';
import { CLUSTERS_ANNOTATION, ENABLED_LABEL } from '../../webhooks/keys.ts';
import { buildDist } from '../lib/build.ts';
import { cpuSeconds } from '../lib/process.ts';
import type { AdminClient } from '../lib/sandbox.ts';
import { adminClient } from '../lib/sandbox.ts';
import { measuredRow, median, percentileSorted, sortedCopy, unmeasuredRow } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section, Target } from '../lib/types.ts';
import { Arrivals } from './syncer/arrivals.ts';
import type { BenchObject } from './syncer/objects.ts';
import {
  arrivalKeys,
  benchObjects,
  configMap,
  createAll,
  createNamespace,
  waitForNamespace,
} from './syncer/objects.ts';
import type { Syncer } from './syncer/process.ts';
import { metricSum, metricsText, settledRss, startSyncer, waitDrained } from './syncer/process.ts';

const CLIENTS = 32;
/**
 * Flags of the syncer during the burst rows: as many workers as the floor has clients, and the
 * client-side rate limit lifted as the floor has none. With the defaults (--workers 16 --qps 200
 * --burst 400) the limiter alone paces a 2,000-object burst to at least (2000-400)/200 = 8 s,
 * by design. BURST_SYNCER_ARGS="..." overrides them (e.g. "" for the defaults).
 */
const BURST_SYNCER_ARGS =
  process.env.BURST_SYNCER_ARGS !== undefined
    ? process.env.BURST_SYNCER_ARGS.split(' ').filter(Boolean)
    : ['--workers', String(CLIENTS), '--qps', '1000', '--burst', '2000'];
/** A clusters selector no remote matches: the namespace is opted in, but nothing is replicated yet. */
const HOLD_SELECTOR = 'kube-offload.io/bench=hold';
const OPTED_IN = { [ENABLED_LABEL]: 'true' };
const SINGLE_WARMUP = 5;
/** Long enough for any set of objects to be replicated (or written directly) and seen. */
const REPLICATION_TIMEOUT_MS = 600_000;
const DRAIN_TIMEOUT_MS = 300_000;

interface Sizes {
  burst: number;
  single: number;
  restart: number;
  rss: number;
}

function sizes(options: BenchOptions): Sizes {
  return options.quick
    ? { burst: 400, single: 20, restart: 1000, rss: 2000 }
    : { burst: 2000, single: 50, restart: 5000, rss: 10000 };
}

const BURST_TARGET: Target = { on: 'ratio', op: '<=', value: 1.25 };
const SINGLE_TARGET: Target = { on: 'ours', op: '<=', value: 150 };
const WRITES_TARGET: Target = { on: 'ours', op: '<=', value: 0 };
const RSS_TARGET: Target = { on: 'ours', op: '<=', value: 150 };

// Row names are the ones README and results.json consumers know (full-run sizes); the sizes
// actually used are in each row's note.
const NAMES = {
  burst: 'burst of 2,000 objects: time until replicated (vs direct writes)',
  burstStream: 'burst of 2,000 objects written locally: first local write -> last copy (vs direct writes)',
  burstLocal: 'burst of 2,000 objects: local writes alone (vs namespace not opted in)',
  burstLag: 'burst of 2,000 objects: last local write -> last remote copy',
  burstCpu: 'burst of 2,000 objects: syncer CPU per copy',
  single: 'single-object replication: p99',
  singleP50: 'single-object replication: p50',
  ready: 'restart over 5,000 in-sync objects: time to ready',
  writes: 'restart over 5,000 in-sync objects: writes issued',
  rss: 'RSS with 10,000 cached objects',
};

const ROWS = (_options: BenchOptions): Array<Pick<Row, 'name' | 'unit' | 'target'>> => [
  { name: NAMES.burst, unit: 's', target: BURST_TARGET },
  { name: NAMES.burstStream, unit: 's', target: null },
  { name: NAMES.burstLocal, unit: 's', target: null },
  { name: NAMES.burstLag, unit: 's', target: null },
  { name: NAMES.burstCpu, unit: 'ms', target: null },
  { name: NAMES.singleP50, unit: 'ms', target: null },
  { name: NAMES.single, unit: 'ms', target: SINGLE_TARGET },
  { name: NAMES.ready, unit: 's', target: null },
  { name: NAMES.writes, unit: 'writes', target: WRITES_TARGET },
  { name: NAMES.rss, unit: 'MiB', target: RSS_TARGET },
];

function syncerRow(fields: Omit<Parameters<typeof measuredRow>[0], 'section'>): Row {
  return measuredRow({ section: 'syncer', ...fields });
}

// ---------------------------------------------------------------------------------------------
// shared setup and teardown

/** What the scenarios share; each one leaves it as the next one expects. */
interface SyncerBench {
  log: (line: string) => void;
  options: BenchOptions;
  size: Sizes;
  sandbox: Sandbox;
  local: AdminClient;
  remote: AdminClient;
  /** Unique per run: every namespace of the run is bench-sync-<stamp>-<suffix>. */
  stamp: string;
  /** The syncer running now (restarts replace it). */
  syncer: Syncer;
  /** Objects replicated so far: what a restarted syncer has to reconcile. */
  replicated: number;
  /** Every watch opened, so that teardown stops them when a scenario fails half-way. */
  watches: Arrivals[];
}

async function setUp(ctx: BenchContext): Promise<SyncerBench> {
  const sandbox = await ctx.sandbox();
  ctx.log('syncer: building dist/ (the syncer runs compiled, as in the image)');
  await buildDist(ctx.repoRoot);
  ctx.log('syncer: starting the syncer component');
  const syncer = await startSyncer(sandbox);
  return {
    log: ctx.log,
    options: ctx.options,
    size: sizes(ctx.options),
    sandbox,
    local: adminClient(sandbox.local, CLIENTS),
    remote: adminClient(sandbox.remote, CLIENTS),
    stamp: Date.now().toString(36),
    syncer,
    replicated: 0,
    watches: [],
  };
}

async function tearDown(bench: SyncerBench): Promise<void> {
  for (const w of bench.watches) w.stop();
  bench.local.close();
  bench.remote.close();
  // Later sections must not pay for a running syncer.
  await bench.syncer.component.stop().catch((error: Error) => bench.log(`syncer: stopping: ${error.message}`));
}

function namespaceName(bench: SyncerBench, suffix: string): string {
  return `bench-sync-${bench.stamp}-${suffix}`;
}

/** Where the syncer puts the copies of a local namespace. */
function twin(namespace: string): string {
  return twinNamespaceName(namespace, SANDBOX_CLUSTER_NAME);
}

/** Opens an arrivals watch on a remote namespace; resolves once it is open. */
async function watchRemote(bench: SyncerBench, namespace: string): Promise<Arrivals> {
  const arrivals = new Arrivals(bench.sandbox.remote, namespace);
  bench.watches.push(arrivals);
  await arrivals.opened();
  return arrivals;
}

async function restartSyncer(bench: SyncerBench, args: string[] = []): Promise<void> {
  await bench.syncer.component.stop();
  bench.syncer = await startSyncer(bench.sandbox, args);
}

interface ReplicationTimes {
  /** performance.now() of the first local POST, after the last one returned, at the last copy seen. */
  firstWrite: number;
  writesDone: number;
  lastCopy: number;
}

/**
 * Creates an opted-in local namespace, waits for its twin, writes `items` into it with CLIENTS
 * concurrent clients and waits until every copy has been seen remotely.
 */
async function replicateIntoNewNamespace(
  bench: SyncerBench,
  suffix: string,
  items: BenchObject[],
  what: string,
  timeoutMs = REPLICATION_TIMEOUT_MS,
): Promise<ReplicationTimes> {
  const namespace = namespaceName(bench, suffix);
  await createNamespace(bench.local, namespace, OPTED_IN);
  await waitForNamespace(bench.remote, twin(namespace));
  const arrivals = await watchRemote(bench, twin(namespace));
  const firstWrite = performance.now();
  await createAll(bench.local, namespace, items, CLIENTS);
  const writesDone = performance.now();
  const lastCopy = await arrivals.all(arrivalKeys(items), timeoutMs, what);
  arrivals.stop();
  bench.replicated += items.length;
  return { firstWrite, writesDone, lastCopy };
}

// ---------------------------------------------------------------------------------------------
// single-object replication on an idle sandbox

interface WriteTarget {
  client: AdminClient;
  namespace: string;
  /** The watch on which the object (or its copy) shows up. */
  arrivals: Arrivals;
}

/** ms from sending the POST of one ConfigMap until it (or its copy) is seen on the watch. */
async function timeCreateToArrival({ client, namespace, arrivals }: WriteTarget, name: string): Promise<number> {
  const t0 = performance.now();
  const res = await client.request('POST', `/api/v1/namespaces/${namespace}/configmaps`, configMap(name, true));
  if (res.status !== 201) {
    throw new Error(`POST ${namespace}/configmaps/${name}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  }
  return (await arrivals.all([`configmaps/${name}`], 30_000, 'single object')) - t0;
}

/** Local POST -> remote copy seen, vs a POST straight to the remote; one ConfigMap at a time. */
async function measureSingleObjectReplication(bench: SyncerBench): Promise<Row[]> {
  const ns = namespaceName(bench, 'single');
  const floorNs = `${ns}-floor`;
  await createNamespace(bench.local, ns, OPTED_IN);
  await createNamespace(bench.remote, floorNs, {});
  await waitForNamespace(bench.remote, twin(ns));
  const [ours, floor] = await Promise.all([watchRemote(bench, twin(ns)), watchRemote(bench, floorNs)]);
  const targets = {
    ours: { client: bench.local, namespace: ns, arrivals: ours },
    floor: { client: bench.remote, namespace: floorNs, arrivals: floor },
  };
  const samples = { ours: [] as number[], floor: [] as number[] };
  const count = SINGLE_WARMUP + bench.size.single;
  const plan = `${SINGLE_WARMUP} warm-up + ${bench.size.single} samples`;
  bench.log(`syncer: single-object replication, ${plan} (ours and floor alternate)`);
  for (let i = 0; i < count; i++) {
    const name = `single-${String(i).padStart(4, '0')}`;
    for (const which of i % 2 === 0 ? (['ours', 'floor'] as const) : (['floor', 'ours'] as const)) {
      const ms = await timeCreateToArrival(targets[which], name);
      if (i >= SINGLE_WARMUP) samples[which].push(ms);
      await sleep(100);
    }
  }
  ours.stop();
  floor.stop();
  bench.replicated += count;
  return singleObjectRows(bench, samples);
}

function singleObjectRows(bench: SyncerBench, samples: { ours: number[]; floor: number[] }): Row[] {
  const o = sortedCopy(samples.ours);
  const f = sortedCopy(samples.floor);
  const p = (sorted: Float64Array, pct: number): string => percentileSorted(sorted, pct).toFixed(1);
  bench.log(`syncer: single p50 ${p(o, 50)} ms, p99 ${p(o, 99)} ms (floor p50 ${p(f, 50)}, p99 ${p(f, 99)})`);
  const note =
    `${bench.size.single} ConfigMaps one at a time (after ${SINGLE_WARMUP} warm-up): local POST -> copy ADDED on ` +
    'a remote watch. Floor: POST straight to the remote -> ADDED on the same kind of watch. ' +
    `Max ours ${o[o.length - 1]?.toFixed(0)} ms`;
  return [
    syncerRow({
      name: NAMES.singleP50,
      unit: 'ms',
      ours: percentileSorted(o, 50),
      floor: percentileSorted(f, 50),
      note,
      runs: samples,
    }),
    syncerRow({
      name: NAMES.single,
      unit: 'ms',
      ours: percentileSorted(o, 99),
      floor: percentileSorted(f, 99),
      target: SINGLE_TARGET,
      note,
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// restart over N in-sync objects

/** A new syncer over objects already in sync: time to /readyz, and the writes it issues (none). */
async function measureRestartOverInSyncObjects(bench: SyncerBench): Promise<Row[]> {
  const { size, log } = bench;
  log(`syncer: creating ${size.restart} objects for the restart`);
  await replicateIntoNewNamespace(bench, 'restart', benchObjects('restart', size.restart, true), 'restart set');
  await waitDrained(bench.syncer, 0, DRAIN_TIMEOUT_MS);
  log('syncer: all replicated; restarting the syncer');
  await restartSyncer(bench);
  const { syncer, replicated } = bench;
  const readySeconds = (syncer.readyAt - syncer.spawnedAt) / 1000;
  const metrics = await waitDrained(syncer, replicated, DRAIN_TIMEOUT_MS);
  const writes = metricSum(metrics, 'kube_offload_syncer_writes_total');
  const reconciles = metricSum(metrics, 'kube_offload_syncer_reconcile_duration_seconds_count');
  const drainedSeconds = (performance.now() - syncer.spawnedAt) / 1000;
  log(
    `syncer: restart ready in ${readySeconds.toFixed(2)} s, drained after ${drainedSeconds.toFixed(1)} s, ` +
      `${writes} writes, ${reconciles} reconciles`,
  );
  const readyNote =
    `${replicated} replicated objects in sync (${size.restart} in one namespace); spawn of a new syncer process ` +
    `-> /readyz 200 (polled every 20 ms). Everything reconciled (${reconciles} reconciles) ` +
    `${drainedSeconds.toFixed(1)} s after spawn`;
  const writesNote =
    'kube_offload_syncer_writes_total (all verbs, kinds, remotes, incl. local backfill stamps) of the new ' +
    `process once its queue was empty and ${reconciles} reconciles had run; ${replicated} objects in sync`;
  return [
    syncerRow({ name: NAMES.ready, unit: 's', ours: readySeconds, note: readyNote }),
    syncerRow({ name: NAMES.writes, unit: 'writes', ours: writes, target: WRITES_TARGET, note: writesNote }),
  ];
}

// ---------------------------------------------------------------------------------------------
// RSS with N cached objects

/** V8 heap used / total and external memory of the syncer, from its /metrics. */
function heapBreakdown(metrics: string): string {
  const mib = (name: string): string => (metricSum(metrics, name) / 1048576).toFixed(1);
  return (
    `V8 heap used ${mib('nodejs_heap_size_used_bytes')} MiB of ${mib('nodejs_heap_size_total_bytes')} MiB, ` +
    `external ${mib('nodejs_external_memory_bytes')} MiB`
  );
}

/** Steady-state VmRSS of the syncer once size.rss objects are replicated (and cached). */
async function measureRssWithCachedObjects(bench: SyncerBench): Promise<Row[]> {
  const { size, log } = bench;
  const more = Math.max(0, size.rss - bench.replicated);
  if (more > 0) {
    log(`syncer: creating ${more} more objects (${size.rss} replicated in all) for RSS`);
    await replicateIntoNewNamespace(bench, 'rss', benchObjects('rss', more, true), 'RSS set');
  }
  await waitDrained(bench.syncer, 0, DRAIN_TIMEOUT_MS, 3000);
  // Steady state, not the wake of the burst that just filled the caches: V8 keeps the heap it
  // grew during the burst until its memory reducer runs (seconds after allocation calms down).
  // Sample every second until ten samples in a row agree within 2% (at most 120 s).
  const pid = bench.syncer.component.record.pid;
  const settle = await settledRss(pid, 120_000);
  const metrics = await metricsText(bench.syncer);
  const cached = metricSum(metrics, 'kube_offload_syncer_cache_objects');
  const breakdown = heapBreakdown(metrics);
  log(
    `syncer: RSS ${settle.rss.toFixed(1)} MiB with ${bench.replicated} replicated objects ` +
      `(${cached} objects in the informer caches; ${breakdown}; ${settle.note})`,
  );
  const note =
    `VmRSS of the syncer process (pid ${pid}, NODE_OPTIONS as the Deployment), ${settle.note}; ` +
    `${bench.replicated} replicated objects (1 KiB each), kube_offload_syncer_cache_objects sum ${cached} ` +
    `(local and remote informers); ${breakdown}`;
  return [syncerRow({ name: NAMES.rss, unit: 'MiB', ours: settle.rss, target: RSS_TARGET, note })];
}

// ---------------------------------------------------------------------------------------------
// burst vs direct writes

/** The four kinds of burst of a round, in the order of even rounds (odd rounds reverse it). */
const BURST_KINDS = ['held', 'direct', 'streamed', 'notOptedIn'] as const;
type BurstKind = (typeof BURST_KINDS)[number];

/** Seconds per round for each kind of burst, and the diagnostics some of them record. */
type BurstSamples = Record<BurstKind, number[]> & {
  /** Streamed: first local POST -> last local POST returned. */
  localWrites: number[];
  /** Streamed: last local POST returned -> last copy seen. */
  lag: number[];
  /** Held: the syncer's CPU from the release until drained, per copy. */
  cpuPerCopyMs: number[];
};

/**
 * The target row. The objects already exist locally (stamped, in an opted-in namespace whose
 * clusters selector matches no remote, so nothing is replicated yet); the timer starts when the
 * selector is removed and stops when the last copy is seen in the new twin. This times the
 * syncer's replication itself, as the floor times the plain client's writes.
 */
async function timeHeldBurst(bench: SyncerBench, round: number, samples: BurstSamples): Promise<number> {
  const ns = namespaceName(bench, `held-${round}`);
  await createNamespace(bench.local, ns, OPTED_IN, { [CLUSTERS_ANNOTATION]: HOLD_SELECTOR });
  await waitForNamespace(bench.local, ns);
  const items = benchObjects('burst', bench.size.burst, true);
  await createAll(bench.local, ns, items, CLIENTS);
  await waitDrained(bench.syncer, 0, DRAIN_TIMEOUT_MS);
  const arrivals = await watchRemote(bench, twin(ns));
  const pid = bench.syncer.component.record.pid;
  const cpuBefore = cpuSeconds(pid);
  const t0 = performance.now();
  await releaseHold(bench.local, ns);
  const last = await arrivals.all(arrivalKeys(items), REPLICATION_TIMEOUT_MS, 'burst (ours)');
  arrivals.stop();
  bench.replicated += items.length;
  // Until drained: the copies' own watch events are reconciled too (and write nothing).
  await waitDrained(bench.syncer, 0, DRAIN_TIMEOUT_MS);
  samples.cpuPerCopyMs.push(((cpuSeconds(pid) - cpuBefore) / items.length) * 1000);
  return (last - t0) / 1000;
}

/** Removes the clusters selector that matches no remote: the namespace replicates from now on. */
async function releaseHold(client: AdminClient, namespace: string): Promise<void> {
  const patch = { metadata: { annotations: { [CLUSTERS_ANNOTATION]: null } } };
  const res = await client.request('PATCH', `/api/v1/namespaces/${namespace}`, patch, 'application/merge-patch+json');
  if (res.status !== 200) throw new Error(`releasing ${namespace}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
}

/** Info: the same burst streamed — written locally through the webhook while the syncer replicates. */
async function timeStreamedBurst(bench: SyncerBench, round: number, samples: BurstSamples): Promise<number> {
  // Unstamped, as users write them: the webhook stamps each (stamped objects skip the webhook).
  const items = benchObjects('burst', bench.size.burst, false);
  const times = await replicateIntoNewNamespace(bench, `burst-${round}`, items, 'burst (ours)');
  samples.localWrites.push((times.writesDone - times.firstWrite) / 1000);
  samples.lag.push((times.lastCopy - times.writesDone) / 1000);
  return (times.lastCopy - times.firstWrite) / 1000;
}

/**
 * Diagnostic floor for the local writes: the same POSTs into a local namespace that has not
 * opted in (no webhook called, nothing for the syncer to do), syncer still running.
 */
async function timeLocalWritesNotOptedIn(bench: SyncerBench, round: number): Promise<number> {
  const ns = namespaceName(bench, `plain-${round}`);
  await createNamespace(bench.local, ns, {});
  await waitForNamespace(bench.local, ns);
  const items = benchObjects('burst', bench.size.burst, false);
  const t0 = performance.now();
  await createAll(bench.local, ns, items, CLIENTS);
  return (performance.now() - t0) / 1000;
}

/** The floor: the same objects POSTed straight into a fresh remote namespace, until all are seen. */
async function timeDirectRemoteWrites(bench: SyncerBench, round: number): Promise<number> {
  const ns = namespaceName(bench, `floor-${round}`);
  await createNamespace(bench.remote, ns, {});
  await waitForNamespace(bench.remote, ns);
  const arrivals = await watchRemote(bench, ns);
  const items = benchObjects('burst', bench.size.burst, false);
  const t0 = performance.now();
  await createAll(bench.remote, ns, items, CLIENTS);
  const last = await arrivals.all(arrivalKeys(items), REPLICATION_TIMEOUT_MS, 'burst (floor)');
  arrivals.stop();
  return (last - t0) / 1000;
}

const TIME_BURST: Record<BurstKind, (bench: SyncerBench, round: number, samples: BurstSamples) => Promise<number>> = {
  held: timeHeldBurst,
  direct: timeDirectRemoteWrites,
  streamed: timeStreamedBurst,
  notOptedIn: timeLocalWritesNotOptedIn,
};

/** A small burst of each, not counted: replicated by the syncer, and written directly. */
async function warmUpBursts(bench: SyncerBench, count: number): Promise<void> {
  bench.log(`syncer: burst warm-up (${count} objects each)`);
  await replicateIntoNewNamespace(bench, 'burst-warm', benchObjects('warm', count, true), 'burst warm-up', 300_000);
  const direct = namespaceName(bench, 'floor-warm');
  await createNamespace(bench.remote, direct, {});
  await waitForNamespace(bench.remote, direct);
  await createAll(bench.remote, direct, benchObjects('warm', count, false), CLIENTS);
}

async function runBurstRound(bench: SyncerBench, round: number, samples: BurstSamples): Promise<void> {
  const order = round % 2 === 0 ? BURST_KINDS : [...BURST_KINDS].reverse();
  for (const kind of order) {
    const seconds = await TIME_BURST[kind](bench, round, samples);
    samples[kind].push(seconds);
    bench.log(`syncer: burst round ${round + 1}/${bench.options.runs} ${kind}: ${seconds.toFixed(2)} s`);
    if (kind === 'held' || kind === 'streamed') await waitDrained(bench.syncer, 0, DRAIN_TIMEOUT_MS);
    await sleep(1000);
  }
}

/** Held burst vs direct writes (the target row), plus the streamed burst and its diagnostics. */
async function measureBurstVsDirectWrites(bench: SyncerBench): Promise<Row[]> {
  const warmUp = Math.min(100, bench.size.burst);
  await warmUpBursts(bench, warmUp);
  await waitDrained(bench.syncer, 0, DRAIN_TIMEOUT_MS);
  // The burst rows compare with a plain client at 32 concurrent writes: the syncer gets as many
  // workers. Its client-side rate limit stays a user's choice (see the note).
  await restartSyncer(bench, BURST_SYNCER_ARGS);
  const samples: BurstSamples = {
    held: [],
    direct: [],
    streamed: [],
    notOptedIn: [],
    localWrites: [],
    lag: [],
    cpuPerCopyMs: [],
  };
  for (let round = 0; round < bench.options.runs; round++) await runBurstRound(bench, round, samples);
  return [heldBurstRow(bench, samples, warmUp), ...burstInfoRows(bench, samples)];
}

/** The target row: the held burst vs the same objects written directly to the remote. */
function heldBurstRow(bench: SyncerBench, { held, direct }: BurstSamples, warmUp: number): Row {
  const { size, options } = bench;
  const flags = BURST_SYNCER_ARGS.join(' ') || '(defaults)';
  return syncerRow({
    name: NAMES.burst,
    unit: 's',
    ours: median(held),
    floor: median(direct),
    target: BURST_TARGET,
    note:
      `${size.burst} objects (half ConfigMaps, half Secrets, 1 KiB each) already in an opted-in local namespace ` +
      'whose kube-offload.io/clusters selector matched no remote. Ours: removing the selector -> last copy ADDED ' +
      `on a remote watch of the twin (twin creation included); syncer flags ${flags} (default client-side limit ` +
      '--qps 200 --burst 400). Floor: a plain client POSTs the same objects straight into a fresh remote ' +
      `namespace with ${CLIENTS} concurrent clients, first POST -> last ADDED. Median of ${options.runs} rounds, ` +
      `alternated, after a ${warmUp}-object warm-up`,
    runs: { ours: held, floor: direct },
  });
}

/** Info rows: the streamed burst, its local writes alone, the lag behind them, the syncer's CPU. */
function burstInfoRows(bench: SyncerBench, samples: BurstSamples): Row[] {
  const { streamed, direct, notOptedIn, localWrites, lag, cpuPerCopyMs } = samples;
  const diagnostic = 'Diagnostic for the burst row:';
  return [
    syncerRow({
      name: NAMES.burstStream,
      unit: 's',
      ours: median(streamed),
      floor: median(direct),
      note:
        `Info: the same burst written by ${CLIENTS} local clients into an opted-in namespace while the syncer ` +
        'replicates (local POSTs through the webhook + replication, on the same 2 cores): first local POST -> last ' +
        `copy ADDED remotely. The local POSTs alone took ${median(localWrites).toFixed(2)} s (median); see the ` +
        'next two rows',
      runs: { ours: streamed, floor: direct },
    }),
    syncerRow({
      name: NAMES.burstLocal,
      unit: 's',
      ours: median(localWrites),
      floor: median(notOptedIn),
      note:
        `${diagnostic} ours = the local POSTs of the burst alone (opted-in namespace: webhook called, syncer ` +
        'replicating at the same time); floor = the same POSTs into a local namespace that has not opted in (no ' +
        'webhook, nothing to replicate; syncer running). Same rounds, alternated',
      runs: { ours: localWrites, floor: notOptedIn },
    }),
    syncerRow({
      name: NAMES.burstLag,
      unit: 's',
      ours: median(lag),
      note:
        `${diagnostic} from the moment the last local POST returned until the last copy was seen remotely ` +
        '(how far replication trails the writes)',
      runs: { ours: lag, floor: [] },
    }),
    syncerRow({
      name: NAMES.burstCpu,
      unit: 'ms',
      ours: median(cpuPerCopyMs),
      note:
        `${diagnostic} user+system CPU of the syncer process from releasing the selector until it is drained ` +
        `(the copies' own watch events reconciled too), / ${bench.size.burst}; it shares the 2 cores with the remote ` +
        'control plane the floor has to itself',
      runs: { ours: cpuPerCopyMs, floor: [] },
    }),
  ];
}

// ---------------------------------------------------------------------------------------------
// the section

/** The four scenarios in order, each on the state the previous one left; rows as they come. */
async function run(ctx: BenchContext, rows: Row[]): Promise<void> {
  const bench = await setUp(ctx);
  try {
    rows.push(...(await measureSingleObjectReplication(bench)));
    rows.push(...(await measureRestartOverInSyncObjects(bench)));
    rows.push(...(await measureRssWithCachedObjects(bench)));
    rows.push(...(await measureBurstVsDirectWrites(bench)));
  } finally {
    await tearDown(bench);
  }
}

export const syncerSection: Section = {
  id: 'syncer',
  title: 'Syncer (local -> remote replication)',
  plannedRows: ROWS,
  run: async (ctx) => {
    const rows: Row[] = [];
    let failure: Error | undefined;
    try {
      await run(ctx, rows);
    } catch (error) {
      // Keep what was measured; the rest are errors (npm run bench then exits 1).
      failure = error as Error;
      ctx.log(`syncer: failed: ${failure.stack ?? failure.message}`);
    }
    const reason = `could not measure: ${(failure?.message ?? 'not reached').split('\n')[0]}`;
    return ROWS(ctx.options).map(
      (planned) => rows.find((r) => r.name === planned.name) ?? unmeasuredRow('syncer', planned, reason, 'error'),
    );
  },
};
