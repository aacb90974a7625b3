// `npm run bench [-- --quick] [--only a,b] [--skip a,b] [--runs N] [--duration S] [--keep]`
//
// Runs every section of bench/sections/index.ts in order, prints one table (ours, floor, ratio,
// target, pass/miss), writes bench/results.json, bench/admission-latency.svg and the table into
// bench/README.md. Exit code: 0 when everything was measured (a missed target is reported in the
// table, not in the exit code), 1 when something could not be measured, 2 on bad flags.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Sandbox } from '../src/sandbox/sandbox.ts';
import { admissionChart } from './lib/chart.ts';
import { unmeasuredRow } from './lib/stats.ts';
import { markdownTable, textTable } from './lib/table.ts';
import type { BenchContext, BenchOptions, Row } from './lib/types.ts';
import type { AdmissionCurve } from './sections/admission.ts';
import { SECTIONS } from './sections/index.ts';

const BENCH_DIR = import.meta.dirname;
const REPO_ROOT = path.resolve(BENCH_DIR, '..');
const README = path.join(BENCH_DIR, 'README.md');
const TABLE_START = '<!-- bench:table:start -->';
const TABLE_END = '<!-- bench:table:end -->';

const USAGE = `usage: npm run bench -- [--quick] [--only IDS] [--skip IDS] [--runs N] [--duration S] [--keep]

  --quick        smaller sizes (about 2.5 minutes in all)
  --only IDS     comma-separated section ids to run (${SECTIONS.map((s) => s.id).join(', ')})
  --skip IDS     comma-separated section ids to leave out
  --runs N       measured runs per configuration (default 5, quick 3)
  --duration S   seconds per admission load run (default 10, quick 4)
  --keep         keep the scratch directory (server logs, sandbox) for inspection
`;

function parseOptions(): { options: BenchOptions; only?: Set<string>; skip: Set<string>; keep: boolean } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      skip: { type: 'string' },
      runs: { type: 'string' },
      duration: { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const positive = (text: string | undefined, fallback: number, flag: string): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!(n > 0)) throw new Error(`--${flag}: "${text}" is not a positive number`);
    return n;
  };
  const ids = (text: string | undefined) => new Set((text ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const known = new Set(SECTIONS.map((s) => s.id));
  for (const id of [...ids(values.only), ...ids(values.skip)]) if (!known.has(id)) throw new Error(`unknown section "${id}" (known: ${[...known].join(', ')})`);
  return {
    options: { quick, runs: Math.round(positive(values.runs, quick ? 3 : 5, 'runs')), durationSeconds: positive(values.duration, quick ? 4 : 10, 'duration') },
    ...(values.only ? { only: ids(values.only) } : {}),
    skip: ids(values.skip),
    keep: values.keep ?? false,
  };
}

interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  loadAverage: number[];
}

function machine(): Machine {
  const cpus = os.cpus();
  let nproc = cpus.length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    // keep os.cpus()
  }
  return {
    nproc,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

/** Replaces the table between the markers in bench/README.md and in the project README. */
function updateReadme(table: string, header: string): void {
  for (const file of [README, path.join(BENCH_DIR, '..', 'README.md')]) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const start = text.indexOf(TABLE_START);
    const end = text.indexOf(TABLE_END);
    if (start < 0 || end < start) continue;
    fs.writeFileSync(file, `${text.slice(0, start + TABLE_START.length)}\n${header}\n\n${table}\n${text.slice(end)}`);
  }
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseOptions();
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { options, only, skip, keep } = parsed;
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-bench-'));
  const machineBefore = machine();
  log(`kube-offload bench (${options.quick ? 'quick' : 'full'}): ${machineBefore.nproc} cores, ${machineBefore.memoryGiB} GiB, node ${process.version}, load ${machineBefore.loadAverage.join(' ')}; scratch ${workDir}`);

  let sandbox: Promise<Sandbox> | undefined;
  const ctx: BenchContext = {
    options,
    repoRoot: REPO_ROOT,
    workDir,
    log,
    artifacts: {},
    sandbox: () => {
      sandbox ??= (async () => {
        const { startBenchSandbox } = await import('./lib/sandbox.ts');
        return startBenchSandbox(path.join(workDir, 'sandbox'), log);
      })();
      return sandbox;
    },
  };

  const stopSandbox = async () => {
    if (!sandbox) return;
    const running = sandbox;
    sandbox = undefined;
    try {
      await (await running).stop();
    } catch (error) {
      log(`stopping the sandbox: ${(error as Error).message}`);
    }
  };
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    log('interrupted: stopping what was started');
    void stopSandbox().finally(() => process.exit(130));
  });

  const rows: Row[] = [];
  const sections: Array<{ id: string; title: string; seconds: number; error?: string }> = [];
  for (const section of SECTIONS) {
    if ((only && !only.has(section.id)) || skip.has(section.id)) continue;
    const t0 = Date.now();
    log(`section ${section.id}: ${section.title}`);
    try {
      rows.push(...(await section.run(ctx)));
      sections.push({ id: section.id, title: section.title, seconds: Math.round((Date.now() - t0) / 1000) });
    } catch (error) {
      if (interrupted) return 130;
      const message = (error as Error).message ?? String(error);
      log(`section ${section.id} failed: ${(error as Error).stack ?? message}`);
      const reason = `could not measure: ${message.split('\n')[0]}`;
      const planned = section.plannedRows?.(options) ?? [{ name: section.title, unit: '', target: null }];
      rows.push(...planned.map((p) => unmeasuredRow(section.id, p, reason, 'error')));
      sections.push({ id: section.id, title: section.title, seconds: Math.round((Date.now() - t0) / 1000), error: message });
    }
  }
  await stopSandbox();

  const table = textTable(rows);
  process.stdout.write(`\n${table}\n\n`);
  const finishedAt = new Date().toISOString();
  const seconds = Math.round((Date.now() - started) / 1000);
  const results = {
    generatedAt: finishedAt,
    mode: options.quick ? 'quick' : 'full',
    options,
    seconds,
    machine: { ...machineBefore, loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))) },
    sections,
    rows,
    artifacts: ctx.artifacts,
  };
  const partial = only !== undefined || skip.size > 0;
  const resultsFile = path.join(BENCH_DIR, partial ? 'results.partial.json' : 'results.json');
  fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${path.relative(REPO_ROOT, resultsFile)}`);

  const curves = ctx.artifacts.admissionCurves as AdmissionCurve[] | undefined;
  if (curves && !partial) {
    const info = ctx.artifacts.admissionInfo as { bodyBytes: number; runs: number; durationSeconds: number } | undefined;
    const subtitle = `median of ${info?.runs ?? options.runs} runs of ${info?.durationSeconds ?? options.durationSeconds} s each; ${info?.bodyBytes ?? '?'}-byte placement review; ${machineBefore.nproc} cores, node ${process.version}; ${finishedAt.slice(0, 10)} (${results.mode})`;
    fs.writeFileSync(path.join(BENCH_DIR, 'admission-latency.svg'), admissionChart(curves, subtitle));
    log('wrote bench/admission-latency.svg');
  }
  if (!partial) {
    const m = results.machine;
    updateReadme(
      markdownTable(rows),
      `Latest run: \`npm run bench${options.quick ? ' -- --quick' : ''}\`, ${finishedAt} (${seconds} s). Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}; load average ${machineBefore.loadAverage.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at the end (shared machine).`,
    );
  }

  if (keep) log(`kept ${workDir}`);
  else fs.rmSync(workDir, { recursive: true, force: true, maxRetries: 3 });

  const failed = rows.filter((r) => r.status === 'error');
  const missed = rows.filter((r) => r.status === 'miss');
  log(`${rows.length} rows: ${rows.filter((r) => r.status === 'pass').length} pass, ${missed.length} miss, ${failed.length} could not be measured, ${rows.filter((r) => r.status === 'not measured').length} not measured yet`);
  return failed.length > 0 ? 1 : 0;
}

// Exit explicitly: a library timer or a stray socket must not keep a finished run alive.
process.exit(await main());
