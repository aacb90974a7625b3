// Section "apiserver": what the webhooks add to `kubectl apply` as users feel it, through the
// real kube-apiserver of the sandbox. Pods are created with direct HTTPS POSTs (admin client
// certificate, keep-alive pool, 32 concurrent clients) in a namespace that has opted in (the
// placement webhook is called; the validating webhook's matchConditions vouch for the pod's
// kube-offload.io annotations, so it is not) and in one that has not (no webhook is called):
// the floor. The "webhook calls per pod" row shows how many calls a pod actually cost.
//
// The pods are the realistic pod of bench/lib/pod.ts (without the ownerReference, which would
// have the garbage collector delete them) and name a scheduler that does not exist, so no
// scheduling, kwok status updates or garbage collection run behind the measurement: the rows
// measure admission and storage only. Each round creates the round's pods in both namespaces,
// alternating which goes first, then deletes them (and waits until they are gone).
import fs from 'node:fs';
import https from 'node:https';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import { ENABLED_LABEL, VIRTUAL_NODE_TAINT_KEY } from '../../webhooks/keys.ts';
import { realisticPod } from '../lib/pod.ts';
import { cpuSeconds } from '../lib/process.ts';
import type { AdminClient } from '../lib/sandbox.ts';
import { adminClient, deleteAllPods, ensureNamespace } from '../lib/sandbox.ts';
import { measuredRow, median, percentileSorted, sortedCopy } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Target } from '../lib/types.ts';
import type { Section } from '../lib/types.ts';

const CLIENTS = 32;
const OPTED_IN = 'bench-opted-in';
const PLAIN = 'bench-not-opted-in';
const SCHEDULER = 'bench-no-such-scheduler';
const P99_TARGET: Target = { on: 'ratio', op: '<=', value: 1.15 };

function sizes(options: BenchOptions): { total: number; rounds: number; perRound: number; warmup: number } {
  const total = options.quick ? 100 : 500;
  const perRound = options.quick ? 50 : 100;
  return { total, rounds: total / perRound, perRound, warmup: options.quick ? 64 : 128 };
}

function plannedRows(options: BenchOptions): Array<Pick<Row, 'name' | 'unit' | 'target'>> {
  const { total } = sizes(options);
  return [
    { name: `create ${total} pods, ${CLIENTS} clients: p50`, unit: 'ms', target: null },
    { name: `create ${total} pods, ${CLIENTS} clients: p99`, unit: 'ms', target: P99_TARGET },
    { name: `create ${total} pods, ${CLIENTS} clients: total time`, unit: 's', target: null },
    { name: 'CPU per pod: kube-apiserver + etcd + webhook', unit: 'ms', target: null },
    { name: 'CPU per pod: of which the webhook', unit: 'ms', target: null },
    { name: 'webhook calls per pod', unit: 'calls', target: null },
    { name: 'new TLS connections to the webhook per pod', unit: 'conns', target: null },
  ];
}

/** Creates `count` pods named <prefix>-<i> with CLIENTS concurrent clients; returns latencies (ms) and wall time (s). */
async function createPods(client: AdminClient, namespace: string, prefix: string, count: number): Promise<{ latencies: number[]; seconds: number }> {
  const bodies = Array.from({ length: count }, (_, i) => JSON.stringify(realisticPod({ name: `${prefix}-${i}`, namespace, owner: false, schedulerName: SCHEDULER })));
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await client.request('POST', `/api/v1/namespaces/${namespace}/pods`, bodies[i]);
      if (res.status !== 201) throw new Error(`creating pod ${namespace}/${prefix}-${i}: HTTP ${res.status} ${res.body.slice(0, 400)}`);
      latencies.push(res.ms);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CLIENTS, count) }, worker));
  return { latencies, seconds: (performance.now() - start) / 1000 };
}

/** Sum of each of the webhook's counters, by metric name (labels summed over), from its /metrics. */
function scrapeCounters(url: string, ca: Buffer, names: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, servername: 'localhost', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const sums: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
        for (const line of text.split('\n')) {
          const name = line.match(/^([a-z_]+)[{ ]/)?.[1];
          if (name !== undefined && name in sums) sums[name] = (sums[name] as number) + Number(line.slice(line.lastIndexOf(' ') + 1));
        }
        resolve(sums);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** One pod in each namespace: the webhook must have placed the opted-in one and left the other alone. */
async function checkWebhookActs(client: AdminClient): Promise<void> {
  await createPods(client, OPTED_IN, 'check', 1);
  await createPods(client, PLAIN, 'check', 1);
  const tolerates = (pod: any) => ((pod.spec?.tolerations ?? []) as Array<{ key?: string }>).some((t) => t.key === VIRTUAL_NODE_TAINT_KEY);
  const optedIn = await client.json('GET', `/api/v1/namespaces/${OPTED_IN}/pods/check-0`);
  const plain = await client.json('GET', `/api/v1/namespaces/${PLAIN}/pods/check-0`);
  if (!tolerates(optedIn)) throw new Error(`the webhook did not place the pod in ${OPTED_IN} (no virtual-node toleration): is it registered?`);
  if (tolerates(plain)) throw new Error(`the pod in ${PLAIN} was mutated although the namespace has not opted in`);
}

async function run(ctx: BenchContext): Promise<Row[]> {
  const { total, rounds, perRound, warmup } = sizes(ctx.options);
  const sandbox = await ctx.sandbox();
  const cluster: Cluster = sandbox.local;
  const client = adminClient(cluster, CLIENTS);
  try {
    await ensureNamespace(client, OPTED_IN, { [ENABLED_LABEL]: 'true' });
    await ensureNamespace(client, PLAIN, {});
    await checkWebhookActs(client);

    ctx.log(`apiserver: warm-up, ${warmup} pods in each namespace`);
    await createPods(client, PLAIN, 'warm', warmup);
    await createPods(client, OPTED_IN, 'warm', warmup);
    await Promise.all([deleteAllPods(client, OPTED_IN), deleteAllPods(client, PLAIN)]);

    // CPU accounting of the processes on the admission path (noise-resistant where wall time is not).
    const pidOf = (name: string): number => {
      const record = cluster.processes().find((p) => p.name === `${cluster.name}/${name}`);
      if (!record) throw new Error(`no ${name} process recorded for the ${cluster.name} cluster`);
      return record.pid;
    };
    const webhook = sandbox.components.find((c) => c.name === 'webhook');
    if (webhook === undefined || webhook.ready === undefined) throw new Error('the sandbox runs no webhook component');
    const webhookPid = webhook.record.pid;
    // Admission calls and new TLS connections, from the webhook's own counters.
    const metricsUrl = new URL('/metrics', webhook.ready.url).toString();
    const webhookCa = fs.readFileSync(webhook.ready.caFile as string);
    const CALLS = 'kube_offload_admission_requests_total';
    const HANDSHAKES = 'kube_offload_tls_handshakes_total';
    const counters = () => scrapeCounters(metricsUrl, webhookCa, [CALLS, HANDSHAKES]);
    const pids = { apiserver: pidOf('kube-apiserver'), etcd: pidOf('etcd'), webhook: webhookPid };
    const cpu = () => ({ apiserver: cpuSeconds(pids.apiserver), etcd: cpuSeconds(pids.etcd), webhook: cpuSeconds(pids.webhook) });

    const empty = () => ({ latencies: [] as number[], seconds: [] as number[], p50: [] as number[], p99: [] as number[], cpuAll: 0, cpuWebhook: 0, calls: 0, handshakes: 0 });
    const result = { ours: empty(), floor: empty() };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['ours', 'floor'] as const) : (['floor', 'ours'] as const);
      for (const which of order) {
        const namespace = which === 'ours' ? OPTED_IN : PLAIN;
        const countedBefore = await counters();
        const before = cpu();
        const r = await createPods(client, namespace, `r${round}`, perRound);
        const after = cpu();
        const countedAfter = await counters();
        result[which].calls += (countedAfter[CALLS] as number) - (countedBefore[CALLS] as number);
        // Less the second scrape's own connection (each scrape opens one, counted before it is answered).
        result[which].handshakes += (countedAfter[HANDSHAKES] as number) - (countedBefore[HANDSHAKES] as number) - 1;
        result[which].cpuAll += after.apiserver - before.apiserver + after.etcd - before.etcd + after.webhook - before.webhook;
        result[which].cpuWebhook += after.webhook - before.webhook;
        result[which].latencies.push(...r.latencies);
        result[which].seconds.push(r.seconds);
        const sorted = sortedCopy(r.latencies);
        result[which].p50.push(percentileSorted(sorted, 50));
        result[which].p99.push(percentileSorted(sorted, 99));
      }
      ctx.log(
        `apiserver: round ${round + 1}/${rounds} (${perRound} pods each): opted in ${result.ours.seconds.at(-1)?.toFixed(2)} s, p99 ${result.ours.p99.at(-1)?.toFixed(1)} ms; ` +
          `not opted in ${result.floor.seconds.at(-1)?.toFixed(2)} s, p99 ${result.floor.p99.at(-1)?.toFixed(1)} ms`,
      );
      await Promise.all([deleteAllPods(client, OPTED_IN), deleteAllPods(client, PLAIN)]);
    }

    const counterRow = (name: string, unit: string, ours: number, floor: number, note: string): Row =>
      measuredRow({ section: 'apiserver', name, unit, ours: ours / total, floor: floor / total, noRatio: true, note });
    const ours = sortedCopy(result.ours.latencies);
    const floor = sortedCopy(result.floor.latencies);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const name = (what: string) => `create ${total} pods, ${CLIENTS} clients: ${what}`;
    const pooled = (p: number) => `median of ${rounds} alternated rounds of ${perRound} pods; over all ${total} pods: ${percentileSorted(ours, p).toFixed(0)} / ${percentileSorted(floor, p).toFixed(0)} ms`;
    ctx.artifacts.apiserver = {
      total,
      rounds,
      perRound,
      clients: CLIENTS,
      roundSeconds: { ours: result.ours.seconds, floor: result.floor.seconds },
      pooledMs: { ours: { p50: percentileSorted(ours, 50), p99: percentileSorted(ours, 99) }, floor: { p50: percentileSorted(floor, 50), p99: percentileSorted(floor, 99) } },
    };
    return [
      measuredRow({ section: 'apiserver', name: name('p50'), unit: 'ms', ours: median(result.ours.p50), floor: median(result.floor.p50), note: pooled(50), runs: { ours: result.ours.p50, floor: result.floor.p50 } }),
      measuredRow({ section: 'apiserver', name: name('p99'), unit: 'ms', ours: median(result.ours.p99), floor: median(result.floor.p99), target: P99_TARGET, note: pooled(99), runs: { ours: result.ours.p99, floor: result.floor.p99 } }),
      measuredRow({ section: 'apiserver', name: name('total time'), unit: 's', ours: sum(result.ours.seconds), floor: sum(result.floor.seconds), note: 'sum of the rounds', runs: { ours: result.ours.seconds, floor: result.floor.seconds } }),
      measuredRow({
        section: 'apiserver',
        name: 'CPU per pod: kube-apiserver + etcd + webhook',
        unit: 'ms',
        ours: (result.ours.cpuAll / total) * 1000,
        floor: (result.floor.cpuAll / total) * 1000,
        note: 'user+system CPU of the three processes during the rounds / pods created (10 ms clock)',
      }),
      measuredRow({
        section: 'apiserver',
        name: 'CPU per pod: of which the webhook',
        unit: 'ms',
        ours: (result.ours.cpuWebhook / total) * 1000,
        floor: (result.floor.cpuWebhook / total) * 1000,
        noRatio: true,
        note: 'floor: the idle webhook (informers, timers) during the other rounds',
      }),
      counterRow('webhook calls per pod', 'calls', result.ours.calls, result.floor.calls, `${CALLS} of the webhook during the rounds / pods created`),
      counterRow('new TLS connections to the webhook per pod', 'conns', result.ours.handshakes, result.floor.handshakes, `${HANDSHAKES} during the rounds (the bench's own /metrics scrapes excluded) / pods created`),
    ];
  } finally {
    client.close();
  }
}

export const apiserverSection: Section = {
  id: 'apiserver',
  title: 'Pod creation through the real apiserver, with and without the webhooks (sandbox)',
  plannedRows,
  run,
};
