// Section "syncer": the rows of issue 6 §3, on the shared sandbox. The syncer runs as the image
// runs it: compiled dist/ (built first), NODE_OPTIONS of the Deployment, its ServiceAccounts and
// the manifests' RBAC on both sides (syncerComponent()), one remote. Objects are ConfigMaps and
// Secrets of 1 KiB payload, created with the replicate stamp (labels + annotations, as the webhook
// writes them) in namespaces labelled kube-offload.io/enabled=true, by an admin client with a
// keep-alive pool. "Visible remotely" is when this process sees the ADDED event on a watch of the
// twin namespace in the remote cluster (the floor is timed with the same kind of watch).
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
import fs from 'node:fs';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import type { RunningComponent, Sandbox } from '../../src/sandbox/sandbox.ts';
import { syncerComponent } from '../../src/dev/syncer.ts';
import { twinNamespaceName } from '../../src/shared/twin.ts';
import { SANDBOX_CLUSTER_NAME } from '../../src/dev/virtual-node.ts';
import { CLUSTERS_ANNOTATION, ENABLED_LABEL, REPLICATE_KEY } from '../../webhooks/keys.ts';
import { buildDist } from '../lib/build.ts';
import { cpuSeconds } from '../lib/process.ts';
import type { AdminClient, BenchWatch } from '../lib/sandbox.ts';
import { adminClient, watchNamespaced } from '../lib/sandbox.ts';
import { measuredRow, median, percentileSorted, sleep, sortedCopy, unmeasuredRow } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section, Target } from '../lib/types.ts';

const CLIENTS = 32;
/**
 * Flags of the syncer during the burst rows: as many workers as the floor has clients, and the
 * client-side rate limit lifted as the floor has none. With the defaults (--workers 16 --qps 200
 * --burst 400) the limiter alone paces a 2,000-object burst to at least (2000-400)/200 = 8 s,
 * by design. BURST_SYNCER_ARGS="..." overrides them (e.g. "" for the defaults).
 */
const BURST_SYNCER_ARGS = process.env.BURST_SYNCER_ARGS !== undefined ? process.env.BURST_SYNCER_ARGS.split(' ').filter(Boolean) : ['--workers', String(CLIENTS), '--qps', '1000', '--burst', '2000'];
/** A clusters selector no remote matches: the namespace is opted in, but nothing is replicated yet. */
const HOLD_SELECTOR = 'kube-offload.io/bench=hold';
const PAYLOAD_BYTES = 1024;
const STAMP = { [REPLICATE_KEY]: 'true' };

function sizes(options: BenchOptions): { burst: number; single: number; restart: number; rss: number } {
  return options.quick ? { burst: 400, single: 20, restart: 1000, rss: 2000 } : { burst: 2000, single: 50, restart: 5000, rss: 10000 };
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

// ---------------------------------------------------------------------------------------------
// objects

const PAYLOAD = 'x'.repeat(PAYLOAD_BYTES);
const SECRET_PAYLOAD = Buffer.alloc(PAYLOAD_BYTES, 'y').toString('base64');

function configMap(name: string, stamped: boolean): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, labels: { app: 'bench-syncer', ...(stamped ? STAMP : {}) }, ...(stamped ? { annotations: STAMP } : {}) },
    data: { payload: PAYLOAD },
  };
}

function secret(name: string, stamped: boolean): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name, labels: { app: 'bench-syncer', ...(stamped ? STAMP : {}) }, ...(stamped ? { annotations: STAMP } : {}) },
    data: { payload: SECRET_PAYLOAD },
  };
}

/** `count` objects, alternating ConfigMap / Secret: [resource, body]. */
function objects(prefix: string, count: number, stamped: boolean): Array<[string, Record<string, unknown>]> {
  const out: Array<[string, Record<string, unknown>]> = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${String(i).padStart(5, '0')}`;
    out.push(i % 2 === 0 ? ['configmaps', configMap(name, stamped)] : ['secrets', secret(name, stamped)]);
  }
  return out;
}

/** POSTs every object into `namespace` with `clients` concurrent workers; throws on a failure. */
async function createAll(client: AdminClient, namespace: string, items: Array<[string, Record<string, unknown>]>, clients: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const [resource, body] = items[next++] as [string, Record<string, unknown>];
      for (let attempt = 0; ; attempt++) {
        const res = await client.request('POST', `/api/v1/namespaces/${namespace}/${resource}`, body);
        if (res.status === 201) break;
        if (res.status === 409 && attempt > 0) break; // an earlier attempt landed
        if ((res.status === 429 || res.status >= 500) && attempt < 5) {
          await sleep(100 * (attempt + 1));
          continue;
        }
        throw new Error(`POST ${namespace}/${resource}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(clients, items.length) }, worker));
}

async function createNamespace(client: AdminClient, name: string, labels: Record<string, string>, annotations: Record<string, string> = {}): Promise<void> {
  const res = await client.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels, annotations } });
  if (res.status !== 201 && res.status !== 409) throw new Error(`creating namespace ${name}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
}

async function waitForNamespace(client: AdminClient, name: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await client.request('GET', `/api/v1/namespaces/${name}`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`namespace ${name} did not appear within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// watches

/** onAdded(name, at) for each ADDED event of one resource of one namespace. */
function watchAdded(cluster: Cluster, namespace: string, resource: string, onAdded: (name: string, at: number) => void): BenchWatch {
  return watchNamespaced(cluster, namespace, resource, (type, object, at) => {
    if (type === 'ADDED') onAdded(object.metadata.name, at);
  });
}

/** First time each name was seen ADDED, for ConfigMaps and Secrets of one namespace. */
class Arrivals {
  readonly seen = new Map<string, number>();
  readonly #waiters: Array<{ names: string[]; resolve: (at: number) => void }> = [];
  readonly #watches: BenchWatch[];
  constructor(cluster: Cluster, namespace: string) {
    const on = (kind: string) => (name: string, at: number) => {
      const key = `${kind}/${name}`;
      if (this.seen.has(key)) return;
      this.seen.set(key, at);
      for (const w of [...this.#waiters]) this.#check(w);
    };
    this.#watches = [watchAdded(cluster, namespace, 'configmaps', on('configmaps')), watchAdded(cluster, namespace, 'secrets', on('secrets'))];
  }
  opened(): Promise<unknown> {
    return Promise.all(this.#watches.map((w) => w.opened));
  }
  #check(w: { names: string[]; resolve: (at: number) => void }): void {
    let last = 0;
    for (const n of w.names) {
      const at = this.seen.get(n);
      if (at === undefined) return;
      last = Math.max(last, at);
    }
    this.#waiters.splice(this.#waiters.indexOf(w), 1);
    w.resolve(last);
  }
  /** Resolves with the time the last of `keys` (resource/name) was seen. */
  async all(keys: string[], timeoutMs: number, what: string): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<number>((resolve) => {
      const w = { names: keys, resolve };
      this.#waiters.push(w);
      this.#check(w);
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const missing = keys.filter((k) => !this.seen.has(k)).length;
        reject(new Error(`${what}: ${missing} of ${keys.length} objects not seen after ${timeoutMs / 1000} s`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
  stop(): void {
    for (const w of this.#watches) w.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// the syncer process

async function metricsText(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`/metrics: HTTP ${res.status}`);
  return res.text();
}

/** Sum of every sample of a metric family (all label sets). */
function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

function vmRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** VmRSS once it has settled: median of the last ten 1 s samples that agree within 2%. */
async function settledRss(pid: number, timeoutMs: number): Promise<{ rss: number; note: string }> {
  const started = Date.now();
  const samples: number[] = [];
  for (;;) {
    samples.push(vmRssMiB(pid));
    const last = samples.slice(-10);
    const settled = last.length === 10 && Math.max(...last) <= Math.min(...last) * 1.02;
    if (settled || Date.now() - started > timeoutMs) {
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      const peak = Math.max(...samples).toFixed(1);
      const how = settled ? `settled ${seconds} s after the queue drained` : `NOT settled after ${seconds} s`;
      return { rss: median(last), note: `median of the last 10 of ${samples.length} samples 1 s apart, ${how} (first ${samples[0]?.toFixed(1)} MiB, peak ${peak} MiB)` };
    }
    await sleep(1000);
  }
}

interface Syncer {
  component: RunningComponent;
  metricsPort: number;
  /** performance.now() at spawn and when /readyz first answered 200 (polled every 20 ms). */
  spawnedAt: number;
  readyAt: number;
}

let generation = 0;

/** The syncer as the image runs it: compiled dist/ (see buildDist), NODE_OPTIONS of the Deployment. */
async function startSyncer(sandbox: Sandbox, args: string[] = []): Promise<Syncer> {
  const spec = await syncerComponent(sandbox.context, { name: `bench-syncer-${++generation}`, args, env: { KUBE_OFFLOAD_RUN: 'dist' } });
  const before = spec.before;
  let spawnedAt = 0;
  let readyPoll: Promise<number> | undefined;
  spec.before = async (c) => {
    await before?.(c);
    spawnedAt = performance.now();
    // startComponent polls every 200 ms; this poll times /readyz to 20 ms.
    readyPoll = (async () => {
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        try {
          const res = await fetch(`http://127.0.0.1:${spec.metricsPort}/readyz`, { signal: AbortSignal.timeout(1000) });
          await res.arrayBuffer();
          if (res.status === 200) return performance.now();
        } catch {
          // not listening yet
        }
        await sleep(20);
      }
      return Number.NaN;
    })();
  };
  spec.readyTimeoutMs = 120_000;
  const component = await sandbox.startComponent(spec);
  const readyAt = await (readyPoll as Promise<number>);
  return { component, metricsPort: spec.metricsPort, spawnedAt, readyAt };
}

/**
 * Waits until the syncer has nothing left to do: queue depth 0 and no reconcile finished for
 * `quietMs`, after at least `minReconciles` reconciles (its own count, since it started).
 */
async function waitDrained(syncer: Syncer, minReconciles: number, timeoutMs: number, quietMs = 1500): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastCount = -1;
  let quietSince = Date.now();
  for (;;) {
    const text = await metricsText(syncer.metricsPort);
    const depth = metricSum(text, 'kube_offload_syncer_queue_depth');
    const count = metricSum(text, 'kube_offload_syncer_reconcile_duration_seconds_count');
    if (count !== lastCount) {
      lastCount = count;
      quietSince = Date.now();
    }
    if (depth === 0 && count >= minReconciles && Date.now() - quietSince >= quietMs) return text;
    if (Date.now() > deadline) throw new Error(`syncer not drained after ${timeoutMs / 1000} s (queue depth ${depth}, ${count} reconciles, wanted >= ${minReconciles})`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// the section

async function run(ctx: BenchContext, rows: Row[]): Promise<void> {
  const { options, log } = ctx;
  const size = sizes(options);
  const sandbox = await ctx.sandbox();
  const local = adminClient(sandbox.local, CLIENTS);
  const remote = adminClient(sandbox.remote, CLIENTS);
  const twin = (ns: string) => twinNamespaceName(ns, SANDBOX_CLUSTER_NAME);
  const stamp = Date.now().toString(36);
  const opted = (n: string) => `bench-sync-${stamp}-${n}`;
  let syncer: Syncer | undefined;
  const watches: Arrivals[] = [];
  try {
    log('syncer: building dist/ (the syncer runs compiled, as in the image)');
    await buildDist(ctx.repoRoot);
    log('syncer: starting the syncer component');
    syncer = await startSyncer(sandbox);

    // --- single-object replication on an idle sandbox
    {
      const ns = opted('single');
      const floorNs = `${ns}-floor`;
      await createNamespace(local, ns, { [ENABLED_LABEL]: 'true' });
      await createNamespace(remote, floorNs, {});
      await waitForNamespace(remote, twin(ns));
      const ours = new Arrivals(sandbox.remote, twin(ns));
      const floor = new Arrivals(sandbox.remote, floorNs);
      watches.push(ours, floor);
      await Promise.all([ours.opened(), floor.opened()]);
      const oursMs: number[] = [];
      const floorMs: number[] = [];
      const one = async (client: AdminClient, namespace: string, arrivals: Arrivals, name: string): Promise<number> => {
        const t0 = performance.now();
        const res = await client.request('POST', `/api/v1/namespaces/${namespace}/configmaps`, configMap(name, true));
        if (res.status !== 201) throw new Error(`POST ${namespace}/configmaps/${name}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
        return (await arrivals.all([`configmaps/${name}`], 30_000, 'single object')) - t0;
      };
      const warmup = 5;
      log(`syncer: single-object replication, ${warmup} warm-up + ${size.single} samples (ours and floor alternate)`);
      for (let i = 0; i < warmup + size.single; i++) {
        const name = `single-${String(i).padStart(4, '0')}`;
        const pair = i % 2 === 0 ? ['ours', 'floor'] : ['floor', 'ours'];
        for (const which of pair) {
          const ms = which === 'ours' ? await one(local, ns, ours, name) : await one(remote, floorNs, floor, name);
          if (i >= warmup) (which === 'ours' ? oursMs : floorMs).push(ms);
          await sleep(100);
        }
      }
      const o = sortedCopy(oursMs);
      const f = sortedCopy(floorMs);
      const note = `${size.single} ConfigMaps one at a time (after ${warmup} warm-up): local POST -> copy ADDED on a remote watch. Floor: POST straight to the remote -> ADDED on the same kind of watch. Max ours ${o[o.length - 1]?.toFixed(0)} ms`;
      rows.push(measuredRow({ section: 'syncer', name: NAMES.singleP50, unit: 'ms', ours: percentileSorted(o, 50), floor: percentileSorted(f, 50), note, runs: { ours: oursMs, floor: floorMs } }));
      rows.push(measuredRow({ section: 'syncer', name: NAMES.single, unit: 'ms', ours: percentileSorted(o, 99), floor: percentileSorted(f, 99), target: SINGLE_TARGET, note }));
      log(`syncer: single p50 ${percentileSorted(o, 50).toFixed(1)} ms, p99 ${percentileSorted(o, 99).toFixed(1)} ms (floor p50 ${percentileSorted(f, 50).toFixed(1)}, p99 ${percentileSorted(f, 99).toFixed(1)})`);
      ours.stop();
      floor.stop();
    }
    let replicated = 5 + size.single;

    // --- restart over N in-sync objects
    {
      const ns = opted('restart');
      await createNamespace(local, ns, { [ENABLED_LABEL]: 'true' });
      await waitForNamespace(remote, twin(ns));
      const arrivals = new Arrivals(sandbox.remote, twin(ns));
      watches.push(arrivals);
      await arrivals.opened();
      const items = objects('restart', size.restart, true);
      log(`syncer: creating ${size.restart} objects for the restart`);
      await createAll(local, ns, items, CLIENTS);
      await arrivals.all(items.map(([r, b]) => `${r}/${(b.metadata as { name: string }).name}`), 600_000, 'restart set');
      arrivals.stop();
      replicated += size.restart;
      await waitDrained(syncer, 0, 300_000);
      log('syncer: all replicated; restarting the syncer');
      await syncer.component.stop();
      syncer = await startSyncer(sandbox);
      const readySeconds = (syncer.readyAt - syncer.spawnedAt) / 1000;
      const text = await waitDrained(syncer, replicated, 300_000);
      const writes = metricSum(text, 'kube_offload_syncer_writes_total');
      const reconciles = metricSum(text, 'kube_offload_syncer_reconcile_duration_seconds_count');
      const drainedSeconds = (performance.now() - syncer.spawnedAt) / 1000;
      log(`syncer: restart ready in ${readySeconds.toFixed(2)} s, drained after ${drainedSeconds.toFixed(1)} s, ${writes} writes, ${reconciles} reconciles`);
      const note = `${replicated} replicated objects in sync (${size.restart} in one namespace); spawn of a new syncer process -> /readyz 200 (polled every 20 ms). Everything reconciled (${reconciles} reconciles) ${drainedSeconds.toFixed(1)} s after spawn`;
      rows.push(measuredRow({ section: 'syncer', name: NAMES.ready, unit: 's', ours: readySeconds, note }));
      rows.push(
        measuredRow({
          section: 'syncer',
          name: NAMES.writes,
          unit: 'writes',
          ours: writes,
          target: WRITES_TARGET,
          note: `kube_offload_syncer_writes_total (all verbs, kinds, remotes, incl. local backfill stamps) of the new process once its queue was empty and ${reconciles} reconciles had run; ${replicated} objects in sync`,
        }),
      );
    }

    // --- RSS with N cached objects
    {
      const more = Math.max(0, size.rss - replicated);
      if (more > 0) {
        const ns = opted('rss');
        await createNamespace(local, ns, { [ENABLED_LABEL]: 'true' });
        await waitForNamespace(remote, twin(ns));
        const arrivals = new Arrivals(sandbox.remote, twin(ns));
        watches.push(arrivals);
        await arrivals.opened();
        const items = objects('rss', more, true);
        log(`syncer: creating ${more} more objects (${size.rss} replicated in all) for RSS`);
        await createAll(local, ns, items, CLIENTS);
        await arrivals.all(items.map(([r, b]) => `${r}/${(b.metadata as { name: string }).name}`), 600_000, 'RSS set');
        arrivals.stop();
        replicated += more;
      }
      await waitDrained(syncer, 0, 300_000, 3000);
      // Steady state, not the wake of the burst that just filled the caches: V8 keeps the heap it
      // grew during the burst until its memory reducer runs (seconds after allocation calms down).
      // Sample every second until ten samples in a row agree within 2% (at most 120 s).
      const settle = await settledRss(syncer.component.record.pid, 120_000);
      const rss = settle.rss;
      const heap = await metricsText(syncer.metricsPort);
      const cached = metricSum(heap, 'kube_offload_syncer_cache_objects');
      const mib = (name: string): string => (metricSum(heap, `kube_offload_syncer_${name}`) / 1048576).toFixed(1);
      const breakdown = `V8 heap used ${mib('nodejs_heap_size_used_bytes')} MiB of ${mib('nodejs_heap_size_total_bytes')} MiB, external ${mib('nodejs_external_memory_bytes')} MiB`;
      log(`syncer: RSS ${rss.toFixed(1)} MiB with ${replicated} replicated objects (${cached} objects in the informer caches; ${breakdown}; ${settle.note})`);
      rows.push(
        measuredRow({
          section: 'syncer',
          name: NAMES.rss,
          unit: 'MiB',
          ours: rss,
          target: RSS_TARGET,
          note: `VmRSS of the syncer process (pid ${syncer.component.record.pid}, NODE_OPTIONS as the Deployment), ${settle.note}; ${replicated} replicated objects (1 KiB each), kube_offload_syncer_cache_objects sum ${cached} (local and remote informers); ${breakdown}`,
        }),
      );
    }

    // --- burst vs direct writes
    {
      const oursS: number[] = [];
      const floorS: number[] = [];
      const localWritesS: number[] = []; // diagnostic: when the last local POST returned
      const lagS: number[] = []; // diagnostic: last local POST returned -> last copy seen
      const plainS: number[] = [];
      const streamS: number[] = [];
      const cpuPerCopyMs: number[] = []; // diagnostic: the syncer's CPU for a held burst, until drained
      // The target row: the objects already exist locally (stamped, in an opted-in namespace whose
      // clusters selector matches no remote, so nothing is replicated yet); the timer starts when
      // the selector is removed and stops when the last copy is seen in the new twin. This times
      // the syncer's replication itself, as the floor times the plain client's writes.
      const burstHeld = async (round: number): Promise<number> => {
        const ns = opted(`held-${round}`);
        await createNamespace(local, ns, { [ENABLED_LABEL]: 'true' }, { [CLUSTERS_ANNOTATION]: HOLD_SELECTOR });
        await waitForNamespace(local, ns);
        const items = objects('burst', size.burst, true);
        await createAll(local, ns, items, CLIENTS);
        await waitDrained(burstSyncer, 0, 300_000);
        const arrivals = new Arrivals(sandbox.remote, twin(ns));
        watches.push(arrivals);
        await arrivals.opened();
        const pid = burstSyncer.component.record.pid;
        const cpu0 = cpuSeconds(pid);
        const t0 = performance.now();
        const res = await local.request('PATCH', `/api/v1/namespaces/${ns}`, { metadata: { annotations: { [CLUSTERS_ANNOTATION]: null } } }, 'application/merge-patch+json');
        if (res.status !== 200) throw new Error(`releasing ${ns}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
        const last = await arrivals.all(items.map(([r, b]) => `${r}/${(b.metadata as { name: string }).name}`), 600_000, 'burst (ours)');
        arrivals.stop();
        replicated += size.burst;
        // Until drained: the copies' own watch events are reconciled too (and write nothing).
        await waitDrained(burstSyncer, 0, 300_000);
        cpuPerCopyMs.push(((cpuSeconds(pid) - cpu0) / size.burst) * 1000);
        return (last - t0) / 1000;
      };
      // Info: the same burst streamed — written locally through the webhook while the syncer replicates.
      const burstStream = async (round: number): Promise<number> => {
        const ns = opted(`burst-${round}`);
        await createNamespace(local, ns, { [ENABLED_LABEL]: 'true' });
        await waitForNamespace(remote, twin(ns));
        const arrivals = new Arrivals(sandbox.remote, twin(ns));
        watches.push(arrivals);
        await arrivals.opened();
        const items = objects('burst', size.burst, true);
        const t0 = performance.now();
        await createAll(local, ns, items, CLIENTS);
        const localDone = performance.now();
        localWritesS.push((localDone - t0) / 1000);
        const last = await arrivals.all(items.map(([r, b]) => `${r}/${(b.metadata as { name: string }).name}`), 600_000, 'burst (ours)');
        arrivals.stop();
        lagS.push((last - localDone) / 1000);
        replicated += size.burst;
        return (last - t0) / 1000;
      };
      // Diagnostic floor for the local writes: the same POSTs into a local namespace that has
      // not opted in (no webhook called, nothing for the syncer to do), syncer still running.
      const burstLocalPlain = async (round: number): Promise<number> => {
        const ns = `bench-sync-${stamp}-plain-${round}`;
        await createNamespace(local, ns, {});
        await waitForNamespace(local, ns);
        const items = objects('burst', size.burst, false);
        const t0 = performance.now();
        await createAll(local, ns, items, CLIENTS);
        return (performance.now() - t0) / 1000;
      };
      const burstFloor = async (round: number): Promise<number> => {
        const ns = `bench-sync-${stamp}-floor-${round}`;
        await createNamespace(remote, ns, {});
        await waitForNamespace(remote, ns);
        const arrivals = new Arrivals(sandbox.remote, ns);
        watches.push(arrivals);
        await arrivals.opened();
        const items = objects('burst', size.burst, false);
        const t0 = performance.now();
        await createAll(remote, ns, items, CLIENTS);
        const last = await arrivals.all(items.map(([r, b]) => `${r}/${(b.metadata as { name: string }).name}`), 600_000, 'burst (floor)');
        arrivals.stop();
        return (last - t0) / 1000;
      };
      // Warm-up: a small burst of each (not counted).
      const warm = Math.min(100, size.burst);
      log(`syncer: burst warm-up (${warm} objects each)`);
      {
        const ns = opted('burst-warm');
        await createNamespace(local, ns, { [ENABLED_LABEL]: 'true' });
        await waitForNamespace(remote, twin(ns));
        const a = new Arrivals(sandbox.remote, twin(ns));
        watches.push(a);
        await a.opened();
        const items = objects('warm', warm, true);
        await createAll(local, ns, items, CLIENTS);
        await a.all(items.map(([r, b]) => `${r}/${(b.metadata as { name: string }).name}`), 300_000, 'burst warm-up');
        a.stop();
        const fns = `bench-sync-${stamp}-floor-warm`;
        await createNamespace(remote, fns, {});
        await waitForNamespace(remote, fns);
        await createAll(remote, fns, objects('warm', warm, false), CLIENTS);
        replicated += warm;
      }
      await waitDrained(syncer, 0, 300_000);
      // The burst rows compare with a plain client at 32 concurrent writes: the syncer gets as many
      // workers. Its client-side rate limit stays a user's choice (see the note).
      await syncer.component.stop();
      syncer = await startSyncer(sandbox, BURST_SYNCER_ARGS);
      const burstSyncer = syncer;
      for (let round = 0; round < options.runs; round++) {
        const order = round % 2 === 0 ? (['ours', 'floor', 'stream', 'plain'] as const) : (['plain', 'stream', 'floor', 'ours'] as const);
        for (const which of order) {
          const seconds = which === 'ours' ? await burstHeld(round) : which === 'stream' ? await burstStream(round) : which === 'floor' ? await burstFloor(round) : await burstLocalPlain(round);
          (which === 'ours' ? oursS : which === 'stream' ? streamS : which === 'floor' ? floorS : plainS).push(seconds);
          log(`syncer: burst round ${round + 1}/${options.runs} ${which}: ${seconds.toFixed(2)} s`);
          if (which === 'ours' || which === 'stream') await waitDrained(burstSyncer, 0, 300_000);
          await sleep(1000);
        }
      }
      rows.push(
        measuredRow({
          section: 'syncer',
          name: NAMES.burst,
          unit: 's',
          ours: median(oursS),
          floor: median(floorS),
          target: BURST_TARGET,
          note: `${size.burst} objects (half ConfigMaps, half Secrets, 1 KiB each) already in an opted-in local namespace whose kube-offload.io/clusters selector matched no remote. Ours: removing the selector -> last copy ADDED on a remote watch of the twin (twin creation included); syncer flags ${BURST_SYNCER_ARGS.join(' ') || '(defaults)'} (default client-side limit --qps 200 --burst 400). Floor: a plain client POSTs the same objects straight into a fresh remote namespace with ${CLIENTS} concurrent clients, first POST -> last ADDED. Median of ${options.runs} rounds, alternated, after a ${warm}-object warm-up`,
          runs: { ours: oursS, floor: floorS },
        }),
        measuredRow({
          section: 'syncer',
          name: NAMES.burstStream,
          unit: 's',
          ours: median(streamS),
          floor: median(floorS),
          note: `Info: the same burst written by ${CLIENTS} local clients into an opted-in namespace while the syncer replicates (local POSTs through the webhook + replication, on the same 2 cores): first local POST -> last copy ADDED remotely. The local POSTs alone took ${median(localWritesS).toFixed(2)} s (median); see the next two rows`,
          runs: { ours: streamS, floor: floorS },
        }),
        measuredRow({
          section: 'syncer',
          name: NAMES.burstLocal,
          unit: 's',
          ours: median(localWritesS),
          floor: median(plainS),
          note: `Diagnostic for the burst row: ours = the local POSTs of the burst alone (opted-in namespace: webhook called, syncer replicating at the same time); floor = the same POSTs into a local namespace that has not opted in (no webhook, nothing to replicate; syncer running). Same rounds, alternated`,
          runs: { ours: localWritesS, floor: plainS },
        }),
        measuredRow({
          section: 'syncer',
          name: NAMES.burstLag,
          unit: 's',
          ours: median(lagS),
          note: 'Diagnostic for the burst row: from the moment the last local POST returned until the last copy was seen remotely (how far replication trails the writes)',
          runs: { ours: lagS, floor: [] },
        }),
        measuredRow({
          section: 'syncer',
          name: NAMES.burstCpu,
          unit: 'ms',
          ours: median(cpuPerCopyMs),
          note: `Diagnostic for the burst row: user+system CPU of the syncer process from releasing the selector until it is drained (the copies' own watch events reconciled too), / ${size.burst}; it shares the 2 cores with the remote control plane the floor has to itself`,
          runs: { ours: cpuPerCopyMs, floor: [] },
        }),
      );
    }
  } finally {
    for (const w of watches) w.stop();
    local.close();
    remote.close();
    // Later sections must not pay for a running syncer.
    if (syncer) await syncer.component.stop().catch((error: Error) => log(`syncer: stopping: ${error.message}`));
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
    return ROWS(ctx.options).map(
      (planned) => rows.find((r) => r.name === planned.name) ?? unmeasuredRow('syncer', planned, `could not measure: ${(failure?.message ?? 'not reached').split('\n')[0]}`, 'error'),
    );
  },
};
