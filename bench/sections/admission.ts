// Section "admission": the placement review (/mutate/pods) of the realistic pod, over HTTPS with
// autocannon at concurrency 1, 16 and 64, against the floor (bench/floor-server.ts), and, in info
// rows, against a second floor that parses the body and echoes its uid (the least any real
// admission webhook must do).
//
// All servers are child processes started the way users start them:
//   ours:          node bin/kube-offload.js webhook --standalone --port 0 --host 127.0.0.1 --cert-dir D
//   floor:         node bench/floor-server.ts --cert-dir D   (the certificate ours generated in D)
//   parsing floor: node bench/floor-server.ts --parse --cert-dir D
// They stay up for the whole section. After a warm-up, every concurrency gets a short warm-up of
// its own and then `runs` measured runs of each server, in an order that changes every run, so
// drift (other work on the machine) hits all of them. Rows report the median of the runs.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { LoadRun } from '../lib/load.ts';
import { runLoad } from '../lib/load.ts';
import { placementReview } from '../lib/pod.ts';
import type { ServerProcess } from '../lib/process.ts';
import { sampleRss, startServer } from '../lib/process.ts';
import { measuredRow, median, percentileSorted } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section, Target } from '../lib/types.ts';

export const CONCURRENCIES = [1, 16, 64] as const;
/** Percentiles drawn in bench/admission-latency.svg. */
export const CURVE_PERCENTILES = [50, 75, 90, 95, 99, 99.9] as const;

const RPS_TARGET: Target = { on: 'ratio', op: '>=', value: 0.85 };
const P99_TARGET: Target = { on: 'ratio', op: '<=', value: 1.5 };

export interface AdmissionCurve {
  connections: number;
  /** percentile -> latency ms (median over the runs) */
  ours: Record<string, number>;
  floor: Record<string, number>;
}

interface Measured {
  runs: LoadRun[];
  cpuPerRequestUs: number[];
}

/** Rows against the parsing floor: info only, the targets are set against the bare floor. */
const PARSING = 'vs parsing floor';

function plannedRows(): Array<Pick<Row, 'name' | 'unit' | 'target'>> {
  const rows: Array<Pick<Row, 'name' | 'unit' | 'target'>> = [];
  for (const c of CONCURRENCIES) {
    rows.push({ name: `/mutate/pods c=${c}: throughput`, unit: 'req/s', target: RPS_TARGET });
    rows.push({ name: `/mutate/pods c=${c}: p50`, unit: 'ms', target: null });
    rows.push({ name: `/mutate/pods c=${c}: p99`, unit: 'ms', target: P99_TARGET });
    rows.push({ name: `/mutate/pods c=${c}: server CPU per request`, unit: 'us', target: null });
    rows.push({ name: `/mutate/pods c=${c}: throughput ${PARSING}`, unit: 'req/s', target: null });
    rows.push({ name: `/mutate/pods c=${c}: p99 ${PARSING}`, unit: 'ms', target: null });
    rows.push({ name: `/mutate/pods c=${c}: server CPU per request ${PARSING}`, unit: 'us', target: null });
  }
  rows.push({ name: 'webhook RSS at idle', unit: 'MiB', target: null });
  rows.push({ name: 'webhook RSS under load (peak)', unit: 'MiB', target: null });
  return rows;
}

/** POSTs the review once, verifying the server's certificate against ca.crt; returns the parsed answer. */
function reviewOnce(port: number, ca: Buffer, body: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, servername: 'localhost', path: '/mutate/pods', method: 'POST', ca, headers: { 'content-type': 'application/json' }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function measure(server: ServerProcess, body: string, connections: number, seconds: number, settle: number, into: Measured | undefined, rss?: number[]): Promise<void> {
  const cpuBefore = server.cpuSeconds();
  const sampler = rss ? sampleRss(server) : undefined;
  const run = await runLoad({ url: `https://127.0.0.1:${server.port}/mutate/pods`, body, connections, durationSeconds: seconds, settleSeconds: settle });
  const samples = sampler?.stop() ?? [];
  if (rss) rss.push(...samples, server.rssMiB());
  if (!into) return;
  into.runs.push(run);
  into.cpuPerRequestUs.push(((server.cpuSeconds() - cpuBefore) / run.total) * 1e6);
}

async function run(ctx: BenchContext): Promise<Row[]> {
  const { options } = ctx;
  const body = JSON.stringify(placementReview());
  const certDir = path.join(ctx.workDir, 'admission-certs');
  fs.mkdirSync(certDir, { recursive: true });
  const logs = path.join(ctx.workDir, 'logs');
  fs.mkdirSync(logs, { recursive: true });

  const servers: ServerProcess[] = [];
  try {
    // Ours first: with an empty --cert-dir it generates the CA and serving cert the floor reuses.
    const ours = await startServer(
      'kube-offload webhook',
      [process.execPath, path.join(ctx.repoRoot, 'bin', 'kube-offload.js'), 'webhook', '--standalone', '--port', '0', '--host', '127.0.0.1', '--cert-dir', certDir],
      path.join(logs, 'webhook.log'),
      { cwd: ctx.repoRoot },
    );
    servers.push(ours);
    const floor = await startServer(
      'floor',
      [process.execPath, path.join(ctx.repoRoot, 'bench', 'floor-server.ts'), '--cert-dir', certDir, '--port', '0', '--host', '127.0.0.1'],
      path.join(logs, 'floor.log'),
      { cwd: ctx.repoRoot },
    );
    servers.push(floor);
    const parsing = await startServer(
      'parsing floor',
      [process.execPath, path.join(ctx.repoRoot, 'bench', 'floor-server.ts'), '--parse', '--cert-dir', certDir, '--port', '0', '--host', '127.0.0.1'],
      path.join(logs, 'floor-parse.log'),
      { cwd: ctx.repoRoot },
    );
    servers.push(parsing);
    ctx.log(
      `admission: webhook pid ${ours.pid} on :${ours.port}, floor pid ${floor.pid} on :${floor.port}, parsing floor pid ${parsing.pid} on :${parsing.port}; review body ${body.length} bytes`,
    );

    // Idle RSS: started, certificate loaded, no request served yet.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = { ours: ours.rssMiB(), floor: floor.rssMiB() };

    // The answers are what they should be (and the TLS chain verifies with ca.crt).
    const ca = fs.readFileSync(path.join(certDir, 'ca.crt'));
    const answer = await reviewOnce(ours.port, ca, body);
    const response = answer.json?.response;
    if (answer.status !== 200 || response?.allowed !== true || response?.patchType !== 'JSONPatch' || response?.uid !== placementReview().request.uid) {
      throw new Error(`the webhook's answer to the placement review is not an allowed, patched review: HTTP ${answer.status} ${JSON.stringify(answer.json).slice(0, 400)}`);
    }
    const patchOps = (JSON.parse(Buffer.from(String(response.patch), 'base64').toString('utf8')) as unknown[]).length;
    const floorAnswer = await reviewOnce(floor.port, ca, body);
    if (floorAnswer.status !== 200 || floorAnswer.json?.response?.allowed !== true) throw new Error('the floor does not answer an allowed review');
    const parsingAnswer = await reviewOnce(parsing.port, ca, body);
    if (parsingAnswer.status !== 200 || parsingAnswer.json?.response?.allowed !== true || parsingAnswer.json?.response?.uid !== placementReview().request.uid) {
      throw new Error("the parsing floor does not answer an allowed review with the request's uid");
    }

    const settle = options.quick ? 0.5 : 1;
    const warm = options.quick ? 2 : 5;
    ctx.log(`admission: warm-up ${warm} s each at c=16`);
    await measure(ours, body, 16, warm, 0, undefined);
    await measure(floor, body, 16, warm, 0, undefined);
    await measure(parsing, body, 16, warm, 0, undefined);

    const rows: Row[] = [];
    const curves: AdmissionCurve[] = [];
    const loadRss = { ours: [] as number[], floor: [] as number[] };
    for (const connections of CONCURRENCIES) {
      const empty = (): Measured => ({ runs: [], cpuPerRequestUs: [] });
      const result = { ours: empty(), floor: empty(), parsing: empty() };
      await measure(floor, body, connections, 1, 0, undefined);
      await measure(parsing, body, connections, 1, 0, undefined);
      await measure(ours, body, connections, 1, 0, undefined);
      const names = ['ours', 'floor', 'parsing'] as const;
      for (let i = 0; i < options.runs; i++) {
        // Rotated every run: each server goes first, second and last in turn.
        for (const which of names.map((_, j) => names[(i + j) % names.length] as (typeof names)[number])) {
          const server = which === 'ours' ? ours : which === 'floor' ? floor : parsing;
          await measure(server, body, connections, options.durationSeconds, settle, result[which], which === 'parsing' ? undefined : loadRss[which]);
        }
        const last = (m: Measured) => m.runs[m.runs.length - 1] as LoadRun;
        const say = (m: Measured) => `${last(m).rps.toFixed(0)} req/s p99 ${last(m).p99.toFixed(2)} ms`;
        ctx.log(`admission: c=${connections} run ${i + 1}/${options.runs}: ours ${say(result.ours)}; floor ${say(result.floor)}; parsing floor ${say(result.parsing)}`);
      }
      const runs = (pick: (r: LoadRun) => number) => ({ ours: result.ours.runs.map(pick), floor: result.floor.runs.map(pick) });
      const row = (name: string, unit: string, values: { ours: number[]; floor: number[] }, target: Target | null, note?: string): Row =>
        measuredRow({ section: 'admission', name: `/mutate/pods c=${connections}: ${name}`, unit, ours: median(values.ours), floor: median(values.floor), target, runs: values, ...(note ? { note } : {}) });
      rows.push(row('throughput', 'req/s', runs((r) => r.rps), RPS_TARGET, `median of ${options.runs} runs of ${options.durationSeconds} s`));
      rows.push(row('p50', 'ms', runs((r) => r.p50), null));
      rows.push(row('p99', 'ms', runs((r) => r.p99), P99_TARGET));
      rows.push(row('server CPU per request', 'us', { ours: result.ours.cpuPerRequestUs, floor: result.floor.cpuPerRequestUs }, null, 'user+system CPU of the server process / requests served'));
      // The same runs of ours, against the parsing floor.
      const vsParsing = (pick: (r: LoadRun) => number) => ({ ours: result.ours.runs.map(pick), floor: result.parsing.runs.map(pick) });
      const note = 'info: the parsing floor reads the body, JSON.parse()s it and echoes request.uid';
      rows.push(row(`throughput ${PARSING}`, 'req/s', vsParsing((r) => r.rps), null, note));
      rows.push(row(`p99 ${PARSING}`, 'ms', vsParsing((r) => r.p99), null, note));
      rows.push(row(`server CPU per request ${PARSING}`, 'us', { ours: result.ours.cpuPerRequestUs, floor: result.parsing.cpuPerRequestUs }, null, note));
      const curve = (m: Measured) => Object.fromEntries(CURVE_PERCENTILES.map((p) => [String(p), median(m.runs.map((r) => percentileSorted(r.latencies, p)))]));
      curves.push({ connections, ours: curve(result.ours), floor: curve(result.floor) });
    }

    rows.push(measuredRow({ section: 'admission', name: 'webhook RSS at idle', unit: 'MiB', ours: idle.ours, floor: idle.floor, note: 'after start, before the first request' }));
    rows.push(
      measuredRow({
        section: 'admission',
        name: 'webhook RSS under load (peak)',
        unit: 'MiB',
        ours: Math.max(...loadRss.ours),
        floor: Math.max(...loadRss.floor),
        note: 'highest VmRSS sample (every 200 ms) during the measured runs',
      }),
    );
    ctx.artifacts.admissionCurves = curves;
    ctx.artifacts.admissionInfo = { bodyBytes: body.length, patchOperations: patchOps, runs: options.runs, durationSeconds: options.durationSeconds, settleSeconds: settle };
    return rows;
  } finally {
    for (const server of servers) await server.stop();
  }
}

export const admissionSection: Section = {
  id: 'admission',
  title: 'Admission server over HTTPS (autocannon)',
  plannedRows: (_options: BenchOptions) => plannedRows(),
  run,
};
