// Section "apiserver": what the placement webhook adds to `kubectl apply` as users feel it, through
// the real kube-apiserver of the sandbox. Pods are created with direct HTTPS POSTs (admin client
// certificate, keep-alive pool, 32 concurrent clients) in five namespaces:
//
//   ours:        opted in: the placement webhook (compiled, the Deployment's NODE_OPTIONS, see
//                bench/lib/sandbox.ts) is called; the validating webhook's matchConditions vouch
//                for the pod's kube-offload.io annotations, so it is not
//   trivial:     the floor the targets are set against: the same pods through a trivial webhook,
//                bench/floor-server.ts --parse (reads the review, echoes its uid, allows it),
//                registered with our pods webhook's settings (failure policy, timeout, rules,
//                reinvocation, the same CA and certificate), selected by a label of its own
//   same patch:  the same again, but the trivial webhook answers with the patch our webhook gave
//                the same pod (floor-server.ts --parse --patch): the pods are stored exactly as
//                ours are, so the apiserver's cost of applying a patch and storing the placed pod
//                is in this floor too, and the difference from ours is our webhook's own work
//   one-op patch: the same again, answering the smallest patch there is (one label added):
//                what the apiserver charges for applying any patch at all (info rows)
//   no webhook:  a namespace that has not opted in (info rows)
//
// The pods are the realistic pod of bench/lib/pod.ts (without the ownerReference, which would
// have the garbage collector delete them) and name a scheduler that does not exist, so no
// scheduling, kwok status updates or garbage collection run behind the measurement: the rows
// measure admission and storage only. Each round creates the round's pods in every one of the
// namespaces, rotating which goes first, then deletes them (and waits until they are gone).
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import fastJsonPatch from 'fast-json-patch';
import https from 'node:https';
import path from 'node:path';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import { applyObjects, buildManifests } from '../../src/sandbox/manifests.ts';
import type { Manifest } from '../../src/sandbox/manifests.ts';
import type { Sandbox } from '../../src/sandbox/sandbox.ts';
import { localWebhookConfigurations } from '../../src/dev/webhook.ts';
import { ENABLED_LABEL, VIRTUAL_NODE_TAINT_KEY } from '../../webhooks/keys.ts';
import { realisticPod } from '../lib/pod.ts';
import type { ServerProcess } from '../lib/process.ts';
import { cpuSeconds, startServer } from '../lib/process.ts';
import type { AdminClient } from '../lib/sandbox.ts';
import { adminClient, deleteAllPods, ensureNamespace } from '../lib/sandbox.ts';
import { measuredRow, median, percentileSorted, sortedCopy } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section, Target } from '../lib/types.ts';

const SECTION = 'apiserver';
const CLIENTS = 32;
const OPTED_IN = 'bench-opted-in';
const TRIVIAL = 'bench-trivial-webhook';
const PLAIN = 'bench-not-opted-in';
const TRIVIAL_LABEL = 'bench.kube-offload.io/trivial-webhook';
const TRIVIAL_CONFIG = 'bench-trivial-webhook';
const SAME_PATCH = 'bench-same-patch-webhook';
const SAME_PATCH_LABEL = 'bench.kube-offload.io/same-patch-webhook';
const SAME_PATCH_CONFIG = 'bench-same-patch-webhook';
const ONE_OP = 'bench-one-op-patch-webhook';
const ONE_OP_LABEL = 'bench.kube-offload.io/one-op-patch-webhook';
const ONE_OP_CONFIG = 'bench-one-op-patch-webhook';
/** The smallest change a mutating webhook can make to the bench's pod (it has labels). */
const ONE_OP_PATCH = [{ op: 'add', path: '/metadata/labels/bench.kube-offload.io~1patched', value: 'true' }];
const SCHEDULER = 'bench-no-such-scheduler';
const VS_TRIVIAL: Target = { on: 'ratio', op: '<=', value: 1.1 };
const CALLS = 'kube_offload_webhook_admission_requests_total';
const HANDSHAKES = 'kube_offload_webhook_tls_handshakes_total';

type Which = 'ours' | 'trivial' | 'samePatch' | 'oneOp' | 'plain';
const NAMESPACE: Record<Which, string> = {
  ours: OPTED_IN,
  trivial: TRIVIAL,
  samePatch: SAME_PATCH,
  oneOp: ONE_OP,
  plain: PLAIN,
};
const WHICH: Which[] = ['ours', 'trivial', 'samePatch', 'oneOp', 'plain'];
/** The webhooks besides ours, each a floor-server.ts of its own. */
type Floor = Exclude<Which, 'ours' | 'plain'>;

function sizes(options: BenchOptions): { total: number; rounds: number; perRound: number; warmup: number } {
  // CPU per pod is read from /proc in 10 ms ticks and the apiserver's garbage collections land in
  // whichever round they happen to; at 500 pods the CPU ratios moved by +-0.3 between runs.
  const total = options.quick ? 200 : 2000;
  const perRound = options.quick ? 50 : 200;
  return { total, rounds: total / perRound, perRound, warmup: options.quick ? 64 : 128 };
}

function plannedRows(options: BenchOptions): Array<Pick<Row, 'name' | 'unit' | 'target'>> {
  const create = (what: string) => `create ${sizes(options).total} pods, ${CLIENTS} clients: ${what}`;
  return [
    { name: create('p50'), unit: 'ms', target: null },
    { name: create('p99'), unit: 'ms', target: VS_TRIVIAL },
    { name: create('total time'), unit: 's', target: null },
    { name: create('p99 vs same patch'), unit: 'ms', target: VS_TRIVIAL },
    { name: create('total time vs same patch'), unit: 's', target: null },
    { name: create('p99, one-op patch vs trivial'), unit: 'ms', target: null },
    { name: create('p99 vs no webhook'), unit: 'ms', target: null },
    { name: create('total time vs no webhook'), unit: 's', target: null },
    { name: 'CPU per pod: kube-apiserver + etcd + webhooks', unit: 'ms', target: VS_TRIVIAL },
    { name: 'CPU per pod vs same patch', unit: 'ms', target: VS_TRIVIAL },
    { name: 'CPU per pod, one-op patch vs trivial', unit: 'ms', target: null },
    { name: 'CPU per pod, same patch vs one-op patch', unit: 'ms', target: null },
    { name: 'CPU per pod vs no webhook', unit: 'ms', target: null },
    { name: 'CPU per pod: the webhook process alone', unit: 'ms', target: null },
    { name: 'CPU per pod: the webhook process alone vs same patch', unit: 'ms', target: null },
    { name: 'webhook calls per pod', unit: 'calls', target: null },
    { name: 'new TLS connections to the webhook per pod', unit: 'conns', target: null },
  ];
}

/** Creates `count` pods <prefix>-<i> with CLIENTS concurrent clients; returns latencies (ms) and wall time (s). */
async function createPods(
  client: AdminClient,
  namespace: string,
  prefix: string,
  count: number,
): Promise<{ latencies: number[]; seconds: number }> {
  const bodies = Array.from({ length: count }, (_, i) =>
    JSON.stringify(realisticPod({ name: `${prefix}-${i}`, namespace, owner: false, schedulerName: SCHEDULER })),
  );
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await client.request('POST', `/api/v1/namespaces/${namespace}/pods`, bodies[i]);
      if (res.status !== 201)
        throw new Error(`creating pod ${namespace}/${prefix}-${i}: HTTP ${res.status} ${res.body.slice(0, 400)}`);
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
          if (name !== undefined && name in sums)
            sums[name] = (sums[name] as number) + Number(line.slice(line.lastIndexOf(' ') + 1));
        }
        resolve(sums);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** How many times the apiserver called `webhook` while `action` ran. */
async function callsDuring(client: AdminClient, webhook: string, action: () => Promise<unknown>): Promise<number> {
  const before = await apiserverWebhookCalls(client, webhook);
  await action();
  return (await apiserverWebhookCalls(client, webhook)) - before;
}

/** The apiserver's count of calls to one admission webhook (apiserver_admission_webhook_admission_duration_seconds). */
async function apiserverWebhookCalls(client: AdminClient, webhook: string): Promise<number> {
  const res = await client.request('GET', '/metrics');
  let sum = 0;
  for (const line of res.body.split('\n')) {
    if (
      line.startsWith('apiserver_admission_webhook_admission_duration_seconds_count{') &&
      line.includes(`name="${webhook}"`)
    ) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

const tolerates = (pod: any) =>
  ((pod.spec?.tolerations ?? []) as Array<{ key?: string }>).some((t) => t.key === VIRTUAL_NODE_TAINT_KEY);

/** One pod per namespace: ours placed, the trivial webhook called and the pod untouched, the plain pod untouched. */
async function checkWebhooksAct(client: AdminClient, trivialWebhook: string): Promise<void> {
  const calls = await callsDuring(client, trivialWebhook, async () => {
    for (const which of ['ours', 'trivial', 'plain'] as const) await createPods(client, NAMESPACE[which], 'check', 1);
  });
  const pod = (which: Which) => checkPod(client, which);
  if (!tolerates(await pod('ours')))
    throw new Error(`the webhook did not place the pod in ${OPTED_IN} (no virtual-node toleration): is it registered?`);
  if (tolerates(await pod('plain')))
    throw new Error(`the pod in ${PLAIN} was mutated although the namespace has not opted in`);
  if (tolerates(await pod('trivial')))
    throw new Error(`the pod in ${TRIVIAL} was placed: our webhook was called there`);
  if (calls < 1)
    throw new Error(`the apiserver did not call the trivial webhook ${trivialWebhook} for the pod in ${TRIVIAL}`);
}

const checkPod = (client: AdminClient, which: Which): Promise<any> =>
  client.json('GET', `/api/v1/namespaces/${NAMESPACE[which]}/pods/check-0`);

/** What our webhook changed in a pod: its labels, annotations and spec, against the same pod stored untouched. */
const placedParts = (pod: any) => ({
  labels: pod.metadata?.labels ?? {},
  annotations: pod.metadata?.annotations ?? {},
  spec: pod.spec,
});

/**
 * The JSON patch that turns the untouched check pod into the one our webhook placed (labels,
 * annotations, spec). Both are as stored, defaulted alike, so the patch holds only our change.
 */
async function ourPatch(client: AdminClient): Promise<unknown[]> {
  const ours = placedParts(await checkPod(client, 'ours'));
  const plain = placedParts(await checkPod(client, 'plain'));
  const patch: Array<{ path: string }> = [];
  for (const part of ['labels', 'annotations', 'spec'] as const) {
    const prefix = part === 'spec' ? '/spec' : `/metadata/${part}`;
    for (const op of fastJsonPatch.compare(plain[part], ours[part])) patch.push({ ...op, path: prefix + op.path });
  }
  if (patch.length === 0) throw new Error(`our webhook left the check pod in ${OPTED_IN} unchanged: no patch to copy`);
  return patch;
}

/** The one-op webhook was called and its pod was stored with the one label added, nothing placed. */
async function checkOneOpActs(client: AdminClient, webhook: string): Promise<void> {
  if ((await callsDuring(client, webhook, () => createPods(client, ONE_OP, 'check', 1))) < 1)
    throw new Error(`the apiserver did not call the one-op patch webhook ${webhook} for the pod in ${ONE_OP}`);
  const pod = await checkPod(client, 'oneOp');
  if (pod.metadata?.labels?.['bench.kube-offload.io/patched'] !== 'true' || tolerates(pod))
    throw new Error(`the pod in ${ONE_OP} was not stored with the one-op patch applied (and nothing else)`);
}

/** The same-patch webhook was called and stored its pod exactly as ours was. */
async function checkSamePatchActs(client: AdminClient, webhook: string): Promise<void> {
  if ((await callsDuring(client, webhook, () => createPods(client, SAME_PATCH, 'check', 1))) < 1)
    throw new Error(`the apiserver did not call the same-patch webhook ${webhook} for the pod in ${SAME_PATCH}`);
  const ours = placedParts(await checkPod(client, 'ours'));
  const same = placedParts(await checkPod(client, 'samePatch'));
  if (!isDeepStrictEqual(ours, same))
    throw new Error(`the pod in ${SAME_PATCH} was not stored as ours was: the copied patch does not reproduce it`);
}

interface TrivialVariant {
  /** Its process and log name. */
  name: string;
  /** The MutatingWebhookConfiguration's name. */
  configName: string;
  /** The namespace label it selects instead of ours. */
  label: string;
  /** A JSON patch file to answer with (floor-server.ts --patch). */
  patchFile?: string;
}

const TRIVIAL_VARIANT: TrivialVariant = { name: 'trivial webhook', configName: TRIVIAL_CONFIG, label: TRIVIAL_LABEL };

/** Our pods webhook from the manifests, renamed, pointed at a trivial server, selecting the variant's label instead. */
export function trivialWebhookConfiguration(
  manifests: Manifest[],
  port: number,
  caPem: string,
  variant: Pick<TrivialVariant, 'configName' | 'label'> = TRIVIAL_VARIANT,
): { config: Manifest; webhook: string } {
  const configs = localWebhookConfigurations(manifests, port, caPem);
  const mutating = configs.find((c) => c.kind === 'MutatingWebhookConfiguration');
  const pods = ((mutating?.webhooks ?? []) as Array<Record<string, any>>).find((w) =>
    String(w.clientConfig?.url).endsWith('/mutate/pods'),
  );
  if (!mutating || !pods) throw new Error('the manifests have no mutating webhook for /mutate/pods');
  const webhook = `pods.${variant.configName}.bench.kube-offload.io`;
  const expressions = (pods.namespaceSelector?.matchExpressions ?? []) as Array<{ key: string }>;
  const namespaceSelector = {
    ...pods.namespaceSelector,
    matchExpressions: expressions.map((e) => (e.key === ENABLED_LABEL ? { ...e, key: variant.label } : e)),
  };
  const { labels: _ours, ...metadata } = mutating.metadata;
  const config = {
    ...mutating,
    metadata: { ...metadata, name: variant.configName },
    webhooks: [{ ...pods, name: webhook, namespaceSelector }],
  };
  return { config, webhook };
}

interface Trivial {
  server: ServerProcess;
  webhook: string;
}

/** Starts a trivial webhook with the sandbox webhook's certificate and registers it. */
async function startTrivial(
  ctx: BenchContext,
  sandbox: Sandbox,
  caFile: string,
  variant: TrivialVariant,
): Promise<Trivial> {
  const certDir = path.dirname(caFile);
  const argv = [process.execPath, path.join(ctx.repoRoot, 'bench', 'floor-server.ts'), '--parse'];
  if (variant.patchFile !== undefined) argv.push('--patch', variant.patchFile);
  argv.push('--cert-dir', certDir, '--port', '0');
  const logs = path.join(ctx.workDir, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  const log = path.join(logs, `${variant.name.replaceAll(' ', '-')}.log`);
  const server = await startServer(variant.name, argv, log, { cwd: ctx.repoRoot });
  try {
    const { config, webhook } = trivialWebhookConfiguration(
      await buildManifests(sandbox.local),
      server.port,
      fs.readFileSync(caFile, 'utf8'),
      variant,
    );
    await applyObjects(sandbox.local, [config]);
    return { server, webhook };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

interface Tally {
  latencies: number[];
  seconds: number[];
  p50: number[];
  p99: number[];
  cpuAll: number;
  cpuWebhook: number;
  calls: number;
  handshakes: number;
}

interface Probes {
  counters: () => Promise<Record<string, number>>;
  /** CPU seconds of kube-apiserver, etcd and all webhooks, and of each webhook process. */
  cpu: () => { all: number; webhook: Record<Exclude<Which, 'plain'>, number> };
}

function probesFor(sandbox: Sandbox, floors: Record<Floor, Trivial>): Probes {
  const cluster: Cluster = sandbox.local;
  const pidOf = (name: string): number => {
    const record = cluster.processes().find((p) => p.name === `${cluster.name}/${name}`);
    if (!record) throw new Error(`no ${name} process recorded for the ${cluster.name} cluster`);
    return record.pid;
  };
  const webhook = sandbox.components.find((c) => c.name === 'webhook');
  if (webhook === undefined || webhook.ready === undefined) throw new Error('the sandbox runs no webhook component');
  const metricsUrl = new URL('/metrics', webhook.ready.url).toString();
  const ca = fs.readFileSync(webhook.ready.caFile as string);
  const control = [pidOf('kube-apiserver'), pidOf('etcd')];
  const webhookPids: Record<Exclude<Which, 'plain'>, number> = {
    ours: webhook.record.pid,
    trivial: floors.trivial.server.pid,
    samePatch: floors.samePatch.server.pid,
    oneOp: floors.oneOp.server.pid,
  };
  return {
    counters: () => scrapeCounters(metricsUrl, ca, [CALLS, HANDSHAKES]),
    cpu: () => {
      const webhook = Object.fromEntries(
        Object.entries(webhookPids).map(([which, pid]) => [which, cpuSeconds(pid)]),
      ) as Record<Exclude<Which, 'plain'>, number>;
      const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
      return { all: sum(control.map(cpuSeconds)) + sum(Object.values(webhook)), webhook };
    },
  };
}

/** One namespace's pods of one round, with the CPU and our webhook's counters around them. */
async function measureRound(
  client: AdminClient,
  probes: Probes,
  which: Which,
  prefix: string,
  count: number,
  into: Tally,
): Promise<void> {
  const countedBefore = await probes.counters();
  const before = probes.cpu();
  const r = await createPods(client, NAMESPACE[which], prefix, count);
  const after = probes.cpu();
  const countedAfter = await probes.counters();
  const delta = (name: string) => (countedAfter[name] as number) - (countedBefore[name] as number);
  into.calls += delta(CALLS);
  // Less the second scrape's own connection (each scrape opens one, counted before it is answered).
  into.handshakes += delta(HANDSHAKES) - 1;
  into.cpuAll += after.all - before.all;
  const called = which === 'plain' ? 'ours' : which;
  into.cpuWebhook += after.webhook[called] - before.webhook[called];
  into.latencies.push(...r.latencies);
  into.seconds.push(r.seconds);
  const sorted = sortedCopy(r.latencies);
  into.p50.push(percentileSorted(sorted, 50));
  into.p99.push(percentileSorted(sorted, 99));
}

async function measureRounds(ctx: BenchContext, client: AdminClient, probes: Probes): Promise<Record<Which, Tally>> {
  const { rounds, perRound } = sizes(ctx.options);
  const empty = (): Tally => ({
    latencies: [],
    seconds: [],
    p50: [],
    p99: [],
    cpuAll: 0,
    cpuWebhook: 0,
    calls: 0,
    handshakes: 0,
  });
  const result = Object.fromEntries(WHICH.map((which) => [which, empty()])) as Record<Which, Tally>;
  const all = WHICH;
  for (let round = 0; round < rounds; round++) {
    // Rotated: each namespace goes first, second and last in turn.
    for (const which of all.map((_, j) => all[(round + j) % all.length] as Which)) {
      await measureRound(client, probes, which, `r${round}`, perRound, result[which]);
    }
    const say = (which: Which) =>
      `${which} ${result[which].seconds.at(-1)?.toFixed(2)} s, p99 ${result[which].p99.at(-1)?.toFixed(1)} ms`;
    ctx.log(`apiserver: round ${round + 1}/${rounds} (${perRound} pods each): ${all.map(say).join('; ')}`);
    await Promise.all(all.map((which) => deleteAllPods(client, NAMESPACE[which])));
  }
  return result;
}

function latencyRows(options: BenchOptions, result: Record<Which, Tally>): Row[] {
  const { total, rounds, perRound } = sizes(options);
  const name = (what: string) => `create ${total} pods, ${CLIENTS} clients: ${what}`;
  const pooled = Object.fromEntries(Object.entries(result).map(([k, t]) => [k, sortedCopy(t.latencies)])) as Record<
    Which,
    Float64Array
  >;
  const note = (p: number, floor: Which, subject: Which) =>
    `median of ${rounds} rotated rounds of ${perRound} pods; over all ${total} pods: ` +
    `${percentileSorted(pooled[subject], p).toFixed(1)} / ${percentileSorted(pooled[floor], p).toFixed(1)} ms`;
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const trivialNote = 'floor: the trivial webhook (floor-server.ts --parse) registered with our settings';
  const samePatchNote =
    "floor: the trivial webhook answering our webhook's patch for the pod (floor-server.ts --parse --patch), " +
    'registered with our settings';
  const percentileRow = (
    p: 50 | 99,
    floor: Which,
    what: string,
    target: Target | null,
    extra: string,
    subject: Which = 'ours',
  ): Row => {
    const pick = (t: Tally) => (p === 50 ? t.p50 : t.p99);
    const runs = { ours: pick(result[subject]), floor: pick(result[floor]) };
    return measuredRow({
      section: SECTION,
      name: name(what),
      unit: 'ms',
      ours: median(runs.ours),
      floor: median(runs.floor),
      target,
      runs,
      note: `${extra}; ${note(p, floor, subject)}`,
    });
  };
  const timeRow = (floor: Which, what: string, extra: string): Row => {
    const runs = { ours: result.ours.seconds, floor: result[floor].seconds };
    return measuredRow({
      section: SECTION,
      name: name(what),
      unit: 's',
      ours: sum(runs.ours),
      floor: sum(runs.floor),
      runs,
      note: `${extra}; sum of the rounds`,
    });
  };
  return [
    percentileRow(50, 'trivial', 'p50', null, `info; ${trivialNote}`),
    percentileRow(99, 'trivial', 'p99', VS_TRIVIAL, trivialNote),
    timeRow('trivial', 'total time', `info; ${trivialNote}`),
    percentileRow(99, 'samePatch', 'p99 vs same patch', VS_TRIVIAL, samePatchNote),
    timeRow('samePatch', 'total time vs same patch', `info; ${samePatchNote}`),
    percentileRow(
      99,
      'trivial',
      'p99, one-op patch vs trivial',
      null,
      `info; "ours" here is the trivial webhook answering a one-operation patch (a label added); ${trivialNote}`,
      'oneOp',
    ),
    percentileRow(
      99,
      'plain',
      'p99 vs no webhook',
      null,
      'info; floor: a namespace that has not opted in (no webhook called)',
    ),
    timeRow('plain', 'total time vs no webhook', 'info; floor: a namespace that has not opted in'),
  ];
}

function cpuRows(options: BenchOptions, result: Record<Which, Tally>): Row[] {
  const { total } = sizes(options);
  const perPod = (seconds: number) => (seconds / total) * 1000;
  const all =
    'user+system CPU of kube-apiserver, etcd and the webhooks (ours, the three trivial ones) during the rounds / pods created ' +
    '(10 ms clock)';
  const counterRow = (name: string, unit: string, value: number, note: string): Row =>
    measuredRow({ section: SECTION, name, unit, ours: value / total, floor: null, note });
  return [
    measuredRow({
      section: SECTION,
      name: 'CPU per pod: kube-apiserver + etcd + webhooks',
      unit: 'ms',
      ours: perPod(result.ours.cpuAll),
      floor: perPod(result.trivial.cpuAll),
      target: VS_TRIVIAL,
      note: `${all}; floor: the same pods through the trivial webhook`,
    }),
    measuredRow({
      section: SECTION,
      name: 'CPU per pod vs same patch',
      unit: 'ms',
      ours: perPod(result.ours.cpuAll),
      floor: perPod(result.samePatch.cpuAll),
      target: VS_TRIVIAL,
      note: `${all}; floor: the same pods through the trivial webhook answering our patch`,
    }),
    measuredRow({
      section: SECTION,
      name: 'CPU per pod, one-op patch vs trivial',
      unit: 'ms',
      ours: perPod(result.oneOp.cpuAll),
      floor: perPod(result.trivial.cpuAll),
      note:
        `info; ${all}; "ours" here is the trivial webhook answering a one-operation patch (a label ` +
        'added): what applying any patch costs, against the trivial webhook that answers none',
    }),
    measuredRow({
      section: SECTION,
      name: 'CPU per pod, same patch vs one-op patch',
      unit: 'ms',
      ours: perPod(result.samePatch.cpuAll),
      floor: perPod(result.oneOp.cpuAll),
      note: `info; ${all}; our patch against the smallest one, both from the trivial webhook: what the placement's size adds`,
    }),
    measuredRow({
      section: SECTION,
      name: 'CPU per pod vs no webhook',
      unit: 'ms',
      ours: perPod(result.ours.cpuAll),
      floor: perPod(result.plain.cpuAll),
      note: `info; ${all}; floor: a namespace that has not opted in`,
    }),
    measuredRow({
      section: SECTION,
      name: 'CPU per pod: the webhook process alone',
      unit: 'ms',
      ours: perPod(result.ours.cpuWebhook),
      floor: perPod(result.trivial.cpuWebhook),
      note: 'info: our webhook during its rounds vs the trivial webhook during its rounds',
    }),
    measuredRow({
      section: SECTION,
      name: 'CPU per pod: the webhook process alone vs same patch',
      unit: 'ms',
      ours: perPod(result.ours.cpuWebhook),
      floor: perPod(result.samePatch.cpuWebhook),
      note: 'info: our webhook during its rounds vs the same-patch webhook during its rounds',
    }),
    counterRow(
      'webhook calls per pod',
      'calls',
      result.ours.calls,
      `${CALLS} of our webhook during the opted-in rounds / pods created`,
    ),
    counterRow(
      'new TLS connections to the webhook per pod',
      'conns',
      result.ours.handshakes,
      `${HANDSHAKES} during the opted-in rounds (the bench's own /metrics scrapes excluded) / pods created`,
    ),
  ];
}

async function run(ctx: BenchContext): Promise<Row[]> {
  const { warmup, total, rounds, perRound } = sizes(ctx.options);
  const sandbox = await ctx.sandbox();
  const webhook = sandbox.components.find((c) => c.name === 'webhook');
  if (!webhook?.ready?.caFile) throw new Error('the sandbox runs no webhook component');
  const caFile = webhook.ready.caFile;
  const started: Trivial[] = [];
  const client = adminClient(sandbox.local, CLIENTS);
  try {
    const trivial = await startTrivial(ctx, sandbox, caFile, TRIVIAL_VARIANT);
    started.push(trivial);
    await ensureNamespace(client, OPTED_IN, { [ENABLED_LABEL]: 'true' });
    await ensureNamespace(client, TRIVIAL, { [TRIVIAL_LABEL]: 'true' });
    await ensureNamespace(client, SAME_PATCH, { [SAME_PATCH_LABEL]: 'true' });
    await ensureNamespace(client, ONE_OP, { [ONE_OP_LABEL]: 'true' });
    await ensureNamespace(client, PLAIN, {});
    await checkWebhooksAct(client, trivial.webhook);
    const patchFile = path.join(ctx.workDir, 'same-patch.json');
    fs.writeFileSync(patchFile, JSON.stringify(await ourPatch(client)));
    const samePatchVariant = { name: 'same-patch webhook', configName: SAME_PATCH_CONFIG, label: SAME_PATCH_LABEL };
    const samePatch = await startTrivial(ctx, sandbox, caFile, { ...samePatchVariant, patchFile });
    started.push(samePatch);
    await checkSamePatchActs(client, samePatch.webhook);
    const oneOpFile = path.join(ctx.workDir, 'one-op-patch.json');
    fs.writeFileSync(oneOpFile, JSON.stringify(ONE_OP_PATCH));
    const oneOpVariant = { name: 'one-op patch webhook', configName: ONE_OP_CONFIG, label: ONE_OP_LABEL };
    const oneOp = await startTrivial(ctx, sandbox, caFile, { ...oneOpVariant, patchFile: oneOpFile });
    started.push(oneOp);
    await checkOneOpActs(client, oneOp.webhook);
    ctx.log(`apiserver: warm-up, ${warmup} pods in each namespace`);
    for (const namespace of Object.values(NAMESPACE)) await createPods(client, namespace, 'warm', warmup);
    await Promise.all(Object.values(NAMESPACE).map((namespace) => deleteAllPods(client, namespace)));
    const result = await measureRounds(ctx, client, probesFor(sandbox, { trivial, samePatch, oneOp }));
    ctx.artifacts.apiserver = {
      total,
      rounds,
      perRound,
      clients: CLIENTS,
      roundSeconds: Object.fromEntries(Object.entries(result).map(([k, t]) => [k, t.seconds])),
    };
    return [...latencyRows(ctx.options, result), ...cpuRows(ctx.options, result)];
  } finally {
    client.close();
    for (const config of [TRIVIAL_CONFIG, SAME_PATCH_CONFIG, ONE_OP_CONFIG]) {
      await sandbox.local
        .kubectl(['delete', 'mutatingwebhookconfiguration', config, '--ignore-not-found'])
        .catch(() => undefined);
    }
    for (const { server } of started) await server.stop();
  }
}

export const apiserverSection: Section = {
  id: SECTION,
  title:
    'Pod creation through the real apiserver: our webhook vs a trivial webhook, one answering our patch, and no webhook (sandbox)',
  plannedRows,
  run,
};
