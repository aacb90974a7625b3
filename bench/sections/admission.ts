// Section "admission": the placement review (/mutate/pods) of the realistic pod over HTTPS, with
// autocannon at concurrency 1, 16 and 64, against floors and a peer, all serving one certificate:
//
//   ours:          the webhook as the Deployment runs it (bench/lib/webhook.ts): compiled, the
//                  Deployment's NODE_OPTIONS, cluster mode in the bench sandbox (informers synced,
//                  CA Secret, caBundle upkeep)
//   bare floor:    node bench/floor-server.ts (reads the body, fixed "allowed" answer)    info rows
//   parsing floor: node bench/floor-server.ts --parse (JSON.parse, echoes the uid)       CPU target
//                  Both run as ours does: plain JavaScript (transpiled here, so that Node's
//                  TypeScript support is not loaded) with the Deployment's NODE_OPTIONS, which
//                  makes their memory the floor of ours: what Node's TLS server holds at c=64.
//   agnhost (Go):  Kubernetes' agnhost webhook, /mutating-pods-sidecar (bench/lib/peer.ts)
//
// Every server runs pinned to one core and autocannon (this process) to another
// (bench/lib/cpu.ts). First the idle memory of ours (and of a standalone webhook, for scale), then
// a sustained run at c=64 for the peak memory, then, per concurrency, `runs` rotated runs of every
// server (bench/lib/rotation.ts), then the worst admissible pod (bench/lib/worst.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Sandbox } from '../../src/sandbox/sandbox.ts';
import { ENABLED_LABEL } from '../../webhooks/keys.ts';
import type { AdmissionCurve } from '../lib/chart.ts';
import type { Pinning } from '../lib/cpu.ts';
import { pinCores } from '../lib/cpu.ts';
import type { LoadRun } from '../lib/load.ts';
import { startAgnhostPeer } from '../lib/peer.ts';
import { placementReview } from '../lib/pod.ts';
import type { RssSplit, ServerProcess } from '../lib/process.ts';
import { resetPeakRss, sampleMemory, startServer } from '../lib/process.ts';
import { reviewOnce, timeReviews } from '../lib/review-client.ts';
import type { Contender, OneRun, RunSettings, Series } from '../lib/rotation.ts';
import { loadServer, rotate, warmUp } from '../lib/rotation.ts';
import { adminClient, ensureNamespace } from '../lib/sandbox.ts';
import { measuredRow, median, percentileSorted, sleep, unmeasuredRow } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section, Target } from '../lib/types.ts';
import { productionEnv } from '../lib/deployment.ts';
import { startClusterWebhook, startStandaloneWebhook } from '../lib/webhook.ts';
import ts from 'typescript';
import { worstAdmissibleReview } from '../lib/worst.ts';

export const CONCURRENCIES = [1, 16, 64] as const;
/** Percentiles drawn in bench/admission-latency.svg. */
export const CURVE_PERCENTILES = [50, 75, 90, 95, 99, 99.9] as const;

const SECTION = 'admission';
const PARSING = 'vs parsing floor';
const PEER = 'ours vs agnhost (Go)';
const CPU_TARGET: Target = { on: 'ratio', op: '<=', value: 1.5 };
const PEER_RPS_TARGET: Target = { on: 'ratio', op: '>=', value: 2 };
const PEER_P99_TARGET: Target = { on: 'ratio', op: '<=', value: 1 };
const PEER_RSS_TARGET: Target = { on: 'ratio', op: '<=', value: 4 };
const IDLE_RSS_TARGET: Target = { on: 'ours', op: '<=', value: 80 };
const PEAK_RSS_TARGET: Target = { on: 'ours', op: '<=', value: 128 };
const WORST_TARGET: Target = { on: 'ours', op: '<=', value: 50 };
const CPU_NOTE = 'user+system CPU of the server process / requests it served';

interface Sizes {
  settle: number;
  warm: number;
  sustainedSeconds: number;
  idleSettleMs: number;
  worstSamples: number;
}

function sizes(options: BenchOptions): Sizes {
  const quick = options.quick;
  return {
    settle: quick ? 0.5 : 1,
    warm: quick ? 2 : 5,
    sustainedSeconds: quick ? 15 : 60,
    idleSettleMs: quick ? 2000 : 5000,
    worstSamples: quick ? 30 : 100,
  };
}

type Planned = Pick<Row, 'name' | 'unit' | 'target'>;

function concurrencyPlan(c: number): Planned[] {
  const name = (what: string) => `/mutate/pods c=${c}: ${what}`;
  return [
    { name: name('throughput'), unit: 'req/s', target: null },
    { name: name('p50'), unit: 'ms', target: null },
    { name: name('p99'), unit: 'ms', target: null },
    { name: name('server CPU per request'), unit: 'us', target: null },
    { name: name(`throughput ${PARSING}`), unit: 'req/s', target: null },
    { name: name(`p99 ${PARSING}`), unit: 'ms', target: null },
    { name: name(`server CPU per request ${PARSING}`), unit: 'us', target: CPU_TARGET },
  ];
}

function peerPlan(c: number): Planned[] {
  const name = (what: string) => `${PEER} c=${c}: ${what}`;
  return [
    { name: name('throughput'), unit: 'req/s', target: PEER_RPS_TARGET },
    { name: name('p99'), unit: 'ms', target: PEER_P99_TARGET },
    { name: name('server CPU per request'), unit: 'us', target: null },
    { name: name('RSS (peak during the runs)'), unit: 'MiB', target: c === 64 ? PEER_RSS_TARGET : null },
  ];
}

/** Where Node itself stands on memory: ours against the parsing floor, and that floor against agnhost. */
function memoryFloorPlan(): Planned[] {
  return [
    { name: `/mutate/pods c=64: RSS (peak during the runs) ${PARSING}`, unit: 'MiB', target: null },
    { name: 'parsing floor (Node) vs agnhost (Go) c=64: RSS (peak during the runs)', unit: 'MiB', target: null },
    { name: `${PEER} c=64: RSS mapped from files (RssFile at the peak)`, unit: 'MiB', target: null },
    { name: `${PEER} c=64: anonymous RSS (RssAnon at the peak)`, unit: 'MiB', target: null },
  ];
}

function memoryPlan(options: BenchOptions): Planned[] {
  return [
    { name: 'webhook RSS at idle', unit: 'MiB', target: IDLE_RSS_TARGET },
    { name: 'webhook RSS at idle, standalone (no cluster)', unit: 'MiB', target: null },
    {
      name: `webhook peak RSS, c=64 sustained ${sizes(options).sustainedSeconds} s`,
      unit: 'MiB',
      target: PEAK_RSS_TARGET,
    },
    { name: 'worst admissible pod: admission time', unit: 'ms', target: WORST_TARGET },
  ];
}

function plannedRows(options: BenchOptions): Planned[] {
  return [
    ...CONCURRENCIES.flatMap((c) => [...concurrencyPlan(c), ...peerPlan(c)]),
    ...memoryFloorPlan(),
    ...memoryPlan(options),
  ];
}

interface Setup {
  ours: Contender;
  floor: Contender;
  parsing: Contender;
  peer?: Contender;
  /** Why there is no peer. */
  peerReason?: string;
  peerDescribe?: string;
  oursDescribe: string;
  certDir: string;
  idle: { ours: number; standalone: number; note: string };
}

/** Highest VmRSS over `ms` of sampling every 250 ms. */
async function idleRss(pid: number, ms = 2000): Promise<number> {
  const sampler = sampleMemory(pid, 250);
  await sleep(ms);
  return Math.max(...sampler.stop().rss);
}

/** bench/floor-server.ts as plain JavaScript in the scratch directory (as ours runs from dist/). */
function compiledFloorServer(ctx: BenchContext): string {
  const file = path.join(ctx.workDir, 'floor-server.mjs');
  if (fs.existsSync(file)) return file;
  const source = fs.readFileSync(path.join(ctx.repoRoot, 'bench', 'floor-server.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023 },
  });
  fs.writeFileSync(file, outputText);
  return file;
}

async function startFloor(ctx: BenchContext, certDir: string, parse: boolean): Promise<ServerProcess> {
  const argv = [process.execPath, compiledFloorServer(ctx), '--cert-dir', certDir];
  argv.push(...(parse ? ['--parse'] : []), '--port', '0', '--host', '127.0.0.1');
  const log = path.join(ctx.workDir, 'logs', parse ? 'floor-parse.log' : 'floor.log');
  const { NODE_OPTIONS } = productionEnv(ctx.repoRoot, 'webhook').env;
  return startServer(parse ? 'parsing floor' : 'floor', argv, log, {
    cwd: ctx.repoRoot,
    env: { NODE_OPTIONS: NODE_OPTIONS ?? '' },
  });
}

/** Idle RSS of a standalone webhook (no informers, no API client), started and stopped here. */
async function standaloneIdle(ctx: BenchContext, pin: Pinning, settleMs: number): Promise<number> {
  const certDir = path.join(ctx.workDir, 'standalone-certs');
  fs.mkdirSync(certDir, { recursive: true });
  const standalone = await startStandaloneWebhook(ctx.repoRoot, certDir, path.join(ctx.workDir, 'logs'));
  try {
    pin.pinServer(standalone.server.pid);
    await sleep(settleMs);
    return await idleRss(standalone.server.pid);
  } finally {
    await standalone.server.stop();
  }
}

async function startContenders(
  ctx: BenchContext,
  sandbox: Sandbox,
  pin: Pinning,
  started: ServerProcess[],
): Promise<Setup> {
  const { idleSettleMs } = sizes(ctx.options);
  const production = await startClusterWebhook(sandbox, ctx.repoRoot);
  started.push(production.server);
  pin.pinServer(production.server.pid);
  // Idle: ready (informers synced), settled, no review served yet.
  await sleep(idleSettleMs);
  const oursIdle = await idleRss(production.server.pid);
  const standalone = await standaloneIdle(ctx, pin, idleSettleMs);
  const { certDir } = production;
  const floor = await startFloor(ctx, certDir, false);
  started.push(floor);
  const parsing = await startFloor(ctx, certDir, true);
  started.push(parsing);
  for (const server of [floor, parsing]) pin.pinServer(server.pid);
  const setup: Setup = {
    ours: { id: 'ours', server: production.server, path: '/mutate/pods' },
    floor: { id: 'floor', server: floor, path: '/mutate/pods' },
    parsing: { id: 'parsing', server: parsing, path: '/mutate/pods' },
    oursDescribe: production.describe,
    certDir,
    idle: {
      ours: oursIdle,
      standalone,
      note: `${(idleSettleMs / 1000).toFixed(0)} s after ready, highest of 2 s of samples`,
    },
  };
  const logDir = path.join(ctx.workDir, 'logs');
  const peer = await startAgnhostPeer({ certDir, logDir, ...(pin.server === undefined ? {} : { cpu: pin.server }) });
  if ('peer' in peer) {
    started.push(peer.peer.server);
    pin.pinServer(peer.peer.server.pid);
    setup.peer = { id: 'agnhost', server: peer.peer.server, path: peer.peer.path };
    setup.peerDescribe = peer.peer.describe;
  } else setup.peerReason = peer.reason;
  return setup;
}

/** Every server answers the review as it should (over TLS verified with ca.crt); drops a peer that does not. */
async function checkAnswers(setup: Setup, body: string): Promise<number> {
  const ca = fs.readFileSync(path.join(setup.certDir, 'ca.crt'));
  const uid = placementReview().request.uid as string;
  const ours = await reviewOnce(setup.ours.server.port, ca, '/mutate/pods', body);
  const response = ours.json?.response;
  if (
    ours.status !== 200 ||
    response?.allowed !== true ||
    response?.patchType !== 'JSONPatch' ||
    response?.uid !== uid
  ) {
    const text = JSON.stringify(ours.json).slice(0, 400);
    throw new Error(
      `the webhook's answer to the placement review is not an allowed, patched review: HTTP ${ours.status} ${text}`,
    );
  }
  const floor = await reviewOnce(setup.floor.server.port, ca, '/mutate/pods', body);
  if (floor.status !== 200 || floor.json?.response?.allowed !== true)
    throw new Error('the floor does not answer an allowed review');
  const parsing = await reviewOnce(setup.parsing.server.port, ca, '/mutate/pods', body);
  if (parsing.status !== 200 || parsing.json?.response?.allowed !== true || parsing.json?.response?.uid !== uid) {
    throw new Error("the parsing floor does not answer an allowed review with the request's uid");
  }
  if (setup.peer) {
    const peer = await reviewOnce(setup.peer.server.port, ca, setup.peer.path, body);
    const answer = peer.json?.response;
    if (peer.status !== 200 || answer?.allowed !== true || answer?.uid !== uid || !answer?.patch) {
      const text = JSON.stringify(peer.json).slice(0, 200);
      setup.peerReason = `agnhost's answer is not an allowed, patched review: HTTP ${peer.status} ${text}`;
      delete setup.peer;
    }
  }
  return (JSON.parse(Buffer.from(String(response.patch), 'base64').toString('utf8')) as unknown[]).length;
}

function mib(value: number): string {
  return `${value.toFixed(1)} MiB`;
}

function memoryRows(options: BenchOptions, setup: Setup, sustained: OneRun, hwmReset: boolean): Row[] {
  const { sustainedSeconds } = sizes(options);
  const shortened = options.quick ? ` (quick run: ${sustainedSeconds} s instead of 60 s)` : '';
  const run = sustained.run;
  return [
    measuredRow({
      section: SECTION,
      name: 'webhook RSS at idle',
      unit: 'MiB',
      ours: setup.idle.ours,
      target: IDLE_RSS_TARGET,
      note: `VmRSS, ${setup.oursDescribe}; ${setup.idle.note}`,
    }),
    measuredRow({
      section: SECTION,
      name: 'webhook RSS at idle, standalone (no cluster)',
      unit: 'MiB',
      ours: setup.idle.standalone,
      note: `info: the same build with --standalone (no API client, no informers); ${setup.idle.note}`,
    }),
    measuredRow({
      section: SECTION,
      name: `webhook peak RSS, c=64 sustained ${sustainedSeconds} s`,
      unit: 'MiB',
      ours: sustained.hwmMiB,
      target: PEAK_RSS_TARGET,
      note:
        `VmHWM at the end of ${sustainedSeconds} s at c=64${shortened}, ` +
        `${hwmReset ? 'reset just before (clear_refs)' : 'since start (could not reset it)'}, after the other runs; ` +
        `VmRSS sampled every 250 ms beside it ` +
        `(highest VmRSS sample ${mib(sustained.rssPeakMiB)}); ${run.rps.toFixed(0)} req/s, ` +
        `p99 ${run.p99.toFixed(2)} ms, ` +
        `${sustained.cpuPerRequestUs.toFixed(0)} us CPU per request; ${setup.oursDescribe}`,
    }),
  ];
}

function concurrencyRows(c: number, results: Map<string, Series>, settings: RunSettings): Row[] {
  const ours = results.get('ours') as Series;
  const pick = (series: Series, f: (r: LoadRun) => number) => series.runs.map(f);
  const row = (
    what: string,
    unit: string,
    floorId: string,
    f: ((r: LoadRun) => number) | 'cpu',
    target: Target | null,
    note: string,
  ): Row => {
    const floor = results.get(floorId) as Series;
    const values =
      f === 'cpu'
        ? { ours: ours.cpuPerRequestUs, floor: floor.cpuPerRequestUs }
        : { ours: pick(ours, f), floor: pick(floor, f) };
    const name = `/mutate/pods c=${c}: ${what}`;
    return measuredRow({
      section: SECTION,
      name,
      unit,
      ours: median(values.ours),
      floor: median(values.floor),
      target,
      runs: values,
      note,
    });
  };
  const runs = `median of ${settings.runs} runs of ${settings.seconds} s`;
  const bare = `info: bare floor, fixed answer; ${runs}`;
  const parsing = `the parsing floor reads the body, JSON.parse()s it and echoes request.uid; ${runs}`;
  return [
    row('throughput', 'req/s', 'floor', (r) => r.rps, null, bare),
    row('p50', 'ms', 'floor', (r) => r.p50, null, bare),
    row('p99', 'ms', 'floor', (r) => r.p99, null, bare),
    row('server CPU per request', 'us', 'floor', 'cpu', null, `${bare}; ${CPU_NOTE}`),
    row(`throughput ${PARSING}`, 'req/s', 'parsing', (r) => r.rps, null, `info: ${parsing}`),
    row(`p99 ${PARSING}`, 'ms', 'parsing', (r) => r.p99, null, `info: ${parsing}`),
    row(`server CPU per request ${PARSING}`, 'us', 'parsing', 'cpu', CPU_TARGET, `${parsing}; ${CPU_NOTE}`),
  ];
}

function peerRows(c: number, results: Map<string, Series>, setup: Setup, settings: RunSettings): Row[] {
  const planned = peerPlan(c);
  const peer = results.get('agnhost');
  if (!peer) return planned.map((p) => unmeasuredRow(SECTION, p, `agnhost: ${setup.peerReason ?? 'not started'}`));
  const ours = results.get('ours') as Series;
  const runs = `median of ${settings.runs} runs`;
  const note = `same review body, certificate and pinning; ${setup.peerDescribe} at ${setup.peer?.path}; ${runs}`;
  const pair = (f: (s: Series) => number[]) => ({ ours: f(ours), floor: f(peer) });
  const values = [
    pair((s) => s.runs.map((r) => r.rps)),
    pair((s) => s.runs.map((r) => r.p99)),
    pair((s) => s.cpuPerRequestUs),
  ];
  const rows = values.map((v, i) => {
    const p = planned[i] as Planned;
    return measuredRow({ section: SECTION, ...p, ours: median(v.ours), floor: median(v.floor), runs: v, note });
  });
  const rss = planned[3] as Planned;
  const rssNote = `highest VmRSS sampled every 250 ms during the runs at c=${c} (after those at lower c); ${note}`;
  rows.push(measuredRow({ section: SECTION, ...rss, ours: ours.rssPeakMiB, floor: peer.rssPeakMiB, note: rssNote }));
  return rows;
}

/** The c=64 memory of ours, the parsing floor and agnhost, side by side (info: Node's own floor). */
function memoryFloorRows(results: Map<string, Series>, setup: Setup): Row[] {
  const [vsParsing, parsingVsPeer, fileVsPeer, anonVsPeer] = memoryFloorPlan() as [Planned, Planned, Planned, Planned];
  const ours = results.get('ours') as Series;
  const parsing = results.get('parsing') as Series;
  const peer = results.get('agnhost');
  const sampled = 'highest VmRSS sampled every 250 ms during the runs at c=64';
  const rows = [
    measuredRow({
      section: SECTION,
      ...vsParsing,
      ours: ours.rssPeakMiB,
      floor: parsing.rssPeakMiB,
      note: `info: ${sampled}; the parsing floor runs as plain JavaScript with the same NODE_OPTIONS`,
    }),
  ];
  if (!peer) {
    const why = `agnhost: ${setup.peerReason ?? 'not started'}`;
    return [...rows, ...[parsingVsPeer, fileVsPeer, anonVsPeer].map((p) => unmeasuredRow(SECTION, p, why))];
  }
  const note =
    `info: ${sampled}; "ours" here is the parsing floor (node:https, JSON.parse, the Deployment's ` +
    'NODE_OPTIONS): what any Node webhook holds at c=64 before doing anything';
  rows.push(
    measuredRow({ section: SECTION, ...parsingVsPeer, ours: parsing.rssPeakMiB, floor: peer.rssPeakMiB, note }),
  );
  return [...rows, ...splitRows(ours, parsing, peer, [fileVsPeer, anonVsPeer])];
}

/**
 * The peak RSS of ours and agnhost split into pages mapped from files and anonymous ones, with the
 * parsing floor's split in the note: the Node executable's own code and data are most of the
 * former, a floor no Node webhook goes below.
 */
function splitRows(ours: Series, parsing: Series, peer: Series, [file, anon]: [Planned, Planned]): Row[] {
  const part = (series: Series, key: keyof RssSplit) => series.rssPeakSplit?.[key] ?? Number.NaN;
  const floorSplit = `the parsing floor's: ${mib(part(parsing, 'fileMiB'))} mapped from files, ${mib(part(parsing, 'anonMiB'))} anonymous`;
  const at = 'from /proc/PID/status at the highest VmRSS sample of the runs at c=64';
  return [
    measuredRow({
      section: SECTION,
      ...file,
      ours: part(ours, 'fileMiB'),
      floor: part(peer, 'fileMiB'),
      note: `info: RssFile ${at}: mostly the executable's code and read-only data (node's binary carries V8, ICU data and OpenSSL), shared and reclaimable; ${floorSplit}`,
    }),
    measuredRow({
      section: SECTION,
      ...anon,
      ours: part(ours, 'anonMiB'),
      floor: part(peer, 'anonMiB'),
      note: `info: RssAnon ${at}: heaps, stacks, buffers; ${floorSplit}`,
    }),
  ];
}

function curveOf(results: Map<string, Series>, c: number): AdmissionCurve {
  const series: AdmissionCurve['series'] = {};
  for (const [id, s] of results) {
    series[id] = Object.fromEntries(
      CURVE_PERCENTILES.map((p) => [String(p), median(s.runs.map((r) => percentileSorted(r.latencies, p)))]),
    );
  }
  return { connections: c, series };
}

/** The worst admissible pod, timed one review at a time over one kept-alive connection. */
async function worstRow(ctx: BenchContext, setup: Setup): Promise<Row> {
  const planned = memoryPlan(ctx.options)[3] as Planned;
  const worst = worstAdmissibleReview();
  const ca = fs.readFileSync(path.join(setup.certDir, 'ca.crt'));
  const body = JSON.stringify(worst.review);
  const timed = await timeReviews(setup.ours.server.port, ca, '/mutate/pods', body, sizes(ctx.options).worstSamples);
  if (!timed.allowed)
    return unmeasuredRow(SECTION, planned, `the worst input was not admitted: ${timed.detail}`, 'error');
  // Admitted without placement (e.g. a selector over a limit is ignored) would time the cheap path.
  if (!timed.patched || timed.warnings.length > 0) {
    const why = `the worst input was admitted without its placement: ${timed.warnings.join('; ') || 'no patch'}`;
    return unmeasuredRow(SECTION, planned, why, 'error');
  }
  const sorted = Float64Array.from(timed.ms).sort();
  const note =
    `p99 of ${sorted.length} reviews sent one at a time (first, cold: ${timed.firstMs.toFixed(2)} ms; median ` +
    `${percentileSorted(sorted, 50).toFixed(2)} ms); ${(body.length / 1024).toFixed(0)} KiB review, ` +
    `${(timed.responseBytes / 1024).toFixed(0)} KiB answer; ${worst.describe}`;
  return measuredRow({ section: SECTION, ...planned, ours: percentileSorted(sorted, 99), note });
}

function settingsOf(options: BenchOptions): RunSettings {
  return { runs: options.runs, seconds: options.durationSeconds, settle: sizes(options).settle };
}

async function measureConcurrencies(
  ctx: BenchContext,
  setup: Setup,
  contenders: Contender[],
  body: string,
): Promise<{ rows: Row[]; curves: AdmissionCurve[] }> {
  const settings = settingsOf(ctx.options);
  const rows: Row[] = [];
  const curves: AdmissionCurve[] = [];
  for (const c of CONCURRENCIES) {
    await warmUp(contenders, body, c, 1);
    const results = await rotate(contenders, body, c, settings, (i, partial) => {
      const say = (id: string) => {
        const last = partial.get(id)?.runs.at(-1);
        return last ? `${id} ${last.rps.toFixed(0)} req/s p99 ${last.p99.toFixed(2)} ms` : '';
      };
      ctx.log(`admission: c=${c} run ${i + 1}/${settings.runs}: ${contenders.map((x) => say(x.id)).join('; ')}`);
    });
    rows.push(...concurrencyRows(c, results, settings), ...peerRows(c, results, setup, settings));
    if (c === 64) rows.push(...memoryFloorRows(results, setup));
    curves.push(curveOf(results, c));
  }
  return { rows, curves };
}

async function measure(ctx: BenchContext, setup: Setup, pin: Pinning): Promise<Row[]> {
  const { options } = ctx;
  const body = JSON.stringify(placementReview());
  const patchOperations = await checkAnswers(setup, body);
  const contenders = [setup.ours, setup.floor, setup.parsing, ...(setup.peer ? [setup.peer] : [])];
  const s = sizes(options);
  ctx.log(
    `admission: ${setup.oursDescribe}; ${pin.describe}; peer: ${setup.peer ? setup.peerDescribe : setup.peerReason}`,
  );
  ctx.log(`admission: warm-up ${s.warm} s each at c=16`);
  await warmUp(contenders, body, 16, s.warm);
  const { rows, curves } = await measureConcurrencies(ctx, setup, contenders, body);
  ctx.log(`admission: c=64 for ${s.sustainedSeconds} s (peak memory)`);
  const hwmReset = resetPeakRss(setup.ours.server.pid);
  const sustained = await loadServer(setup.ours, body, 64, s.sustainedSeconds, s.settle);
  ctx.log('admission: worst admissible pod');
  rows.push(...memoryRows(options, setup, sustained, hwmReset), await worstRow(ctx, setup));
  ctx.artifacts.admissionCurves = curves;
  ctx.artifacts.admissionInfo = {
    bodyBytes: body.length,
    patchOperations,
    runs: options.runs,
    durationSeconds: options.durationSeconds,
    settleSeconds: s.settle,
    pinning: pin.describe,
    ours: setup.oursDescribe,
  };
  return rows;
}

/** The review's namespace, opted in, so ours finds it in its namespace informer as in a cluster. */
async function optInReviewNamespace(sandbox: Sandbox): Promise<void> {
  const client = adminClient(sandbox.local, 2);
  try {
    await ensureNamespace(client, placementReview().request.namespace as string, { [ENABLED_LABEL]: 'true' });
  } finally {
    client.close();
  }
}

async function run(ctx: BenchContext): Promise<Row[]> {
  fs.mkdirSync(path.join(ctx.workDir, 'logs'), { recursive: true });
  const sandbox = await ctx.sandbox();
  await optInReviewNamespace(sandbox);
  const pin = pinCores();
  const started: ServerProcess[] = [];
  try {
    const setup = await startContenders(ctx, sandbox, pin, started);
    return await measure(ctx, setup, pin);
  } finally {
    for (const server of started.reverse())
      await server.stop().catch((error: Error) => ctx.log(`admission: stopping ${server.name}: ${error.message}`));
    pin.release();
  }
}

export const admissionSection: Section = {
  id: SECTION,
  title: 'Admission server over HTTPS (autocannon): production webhook vs floors and agnhost',
  plannedRows,
  run,
};
