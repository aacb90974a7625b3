// `npm run bench [-- --quick] [--only a,b] [--skip a,b] [--runs N] [--duration S] [--keep]`
//
// Runs every section of bench/sections/index.ts in order and prints one table (ours, floor, ratio,
// target, pass/miss). A full run (every section, default sizes) also writes bench/results.json,
// bench/admission-latency.svg, the table in bench/README.md and the summary between the markers
// of README.md. Any other run (--quick, --only, --skip, --runs, --duration) writes its results to
// the system's temporary directory and leaves those files alone, so they always show the last
// full run. Exit code: 0 when everything was measured (a missed target is reported in the table,
// not in the exit code), 1 when something could not be measured, 2 on bad flags.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Sandbox } from '../src/sandbox/sandbox.ts';
import type { AdmissionCurve } from './lib/chart.ts';
import { admissionChart } from './lib/chart.ts';
import { unmeasuredRow } from './lib/stats.ts';
import { markdownTable, textTable } from './lib/table.ts';
import type { BenchContext, BenchOptions, Row } from './lib/types.ts';
import { SECTIONS } from './sections/index.ts';

const BENCH_DIR = import.meta.dirname;
const REPO_ROOT = path.resolve(BENCH_DIR, '..');
const README = path.join(BENCH_DIR, 'README.md');
const TOP_README = path.join(REPO_ROOT, 'README.md');
const TABLE_START = '<!-- bench:table:start -->';
const TABLE_END = '<!-- bench:table:end -->';
/** Where runs other than a full one put their results. */
const SCRATCH_RESULTS = path.join(os.tmpdir(), 'kube-offload-bench');
const DEFAULT_RUNS = { full: 5, quick: 3 };
const DEFAULT_SECONDS = { full: 10, quick: 4 };

const USAGE = `usage: npm run bench -- [--quick] [--only IDS] [--skip IDS] [--runs N] [--duration S] [--keep]

  --quick        smaller sizes (about 5 minutes in all)
  --only IDS     comma-separated section ids to run (${SECTIONS.map((s) => s.id).join(', ')})
  --skip IDS     comma-separated section ids to leave out
  --runs N       measured runs per configuration (default ${DEFAULT_RUNS.full}, quick ${DEFAULT_RUNS.quick})
  --duration S   seconds per admission load run (default ${DEFAULT_SECONDS.full}, quick ${DEFAULT_SECONDS.quick})
  --keep         keep the scratch directory (server logs, sandbox) for inspection

Only a full run (no flag but --keep) updates bench/results.json, bench/admission-latency.svg,
bench/README.md and README.md; other runs write ${path.join(SCRATCH_RESULTS, 'results.<mode>.json')}.
`;

interface Parsed {
  options: BenchOptions;
  only?: Set<string>;
  skip: Set<string>;
  keep: boolean;
  /** Every section at default sizes: the run that updates the committed results. */
  full: boolean;
}

function positive(text: string | undefined, fallback: number, flag: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!(n > 0)) throw new Error(`--${flag}: "${text}" is not a positive number`);
  return n;
}

function sectionIds(text: string | undefined): Set<string> {
  const ids = new Set(
    (text ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const known = new Set(SECTIONS.map((s) => s.id));
  for (const id of ids)
    if (!known.has(id)) throw new Error(`unknown section "${id}" (known: ${[...known].join(', ')})`);
  return ids;
}

function parseOptions(): Parsed {
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
  const mode = quick ? 'quick' : 'full';
  const options: BenchOptions = {
    quick,
    runs: Math.round(positive(values.runs, DEFAULT_RUNS[mode], 'runs')),
    durationSeconds: positive(values.duration, DEFAULT_SECONDS[mode], 'duration'),
  };
  const skip = sectionIds(values.skip);
  const only = values.only === undefined ? undefined : sectionIds(values.only);
  const full = !quick && !only && skip.size === 0 && values.runs === undefined && values.duration === undefined;
  return { options, ...(only ? { only } : {}), skip, keep: values.keep ?? false, full };
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

/** Replaces what is between the markers of a file (left alone when it has none). */
function replaceBetweenMarkers(file: string, content: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return;
  }
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) return;
  fs.writeFileSync(file, `${text.slice(0, start + TABLE_START.length)}\n${content}\n${text.slice(end)}`);
}

type Results = ReturnType<typeof resultsOf>;

/** Breaks text into lines of at most `width` characters at spaces (Markdown prose). */
function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

function resultsOf(
  parsed: Parsed,
  rows: Row[],
  sections: SectionRecord[],
  started: number,
  before: Machine,
  ctx: BenchContext,
) {
  return {
    generatedAt: new Date().toISOString(),
    mode: parsed.full ? 'full' : parsed.options.quick ? 'quick' : 'partial',
    options: parsed.options,
    ...(parsed.only ? { only: [...parsed.only] } : {}),
    ...(parsed.skip.size > 0 ? { skip: [...parsed.skip] } : {}),
    seconds: Math.round((Date.now() - started) / 1000),
    machine: { ...before, loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))) },
    sections,
    rows,
    artifacts: ctx.artifacts,
  };
}

function count(rows: Row[], status: Row['status']): number {
  return rows.filter((r) => r.status === status).length;
}

/** The committed artifacts of a full run: results.json, the chart, both READMEs. */
function writeFullRun(results: Results, ctx: BenchContext): void {
  fs.writeFileSync(path.join(BENCH_DIR, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  ctx.log('wrote bench/results.json');
  const m = results.machine;
  const curves = ctx.artifacts.admissionCurves as AdmissionCurve[] | undefined;
  if (curves) {
    const info = ctx.artifacts.admissionInfo as
      { bodyBytes: number; runs: number; durationSeconds: number; pinning?: string } | undefined;
    const subtitle =
      `median of ${info?.runs} runs of ${info?.durationSeconds} s; ${info?.bodyBytes}-byte placement review; ` +
      `${info?.pinning ?? 'not pinned'}; ${m.nproc} cores, node ${m.node}; ${results.generatedAt.slice(0, 10)}`;
    fs.writeFileSync(path.join(BENCH_DIR, 'admission-latency.svg'), admissionChart(curves, subtitle));
    ctx.log('wrote bench/admission-latency.svg');
  }
  const header =
    `Latest run: \`npm run bench\`, ${results.generatedAt} (${results.seconds} s). Machine: ${m.nproc} cores ` +
    `(${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}; load average ${m.loadAverage.join(' ')} at start, ` +
    `${m.loadAverageAtEnd.join(' ')} at the end (shared machine).`;
  replaceBetweenMarkers(README, `${header}\n\n${markdownTable(results.rows)}\n`);
  const { rows } = results;
  const summary =
    `The latest full run (${results.generatedAt.slice(0, 10)}, ${rows.length} rows: ${count(rows, 'pass')} pass, ` +
    `${count(rows, 'miss')} miss, ${rows.length - count(rows, 'pass') - count(rows, 'miss') - count(rows, 'info')} ` +
    `not measured) is in [\`bench/README.md\`](bench/README.md#latest-results), with what each row means, its ` +
    `floor and its target.`;
  replaceBetweenMarkers(TOP_README, wrap(summary, 100));
  ctx.log('wrote the table into bench/README.md and the summary into README.md');
}

interface SectionRecord {
  id: string;
  title: string;
  seconds: number;
  error?: string;
}

async function runSections(
  parsed: Parsed,
  ctx: BenchContext,
  interrupted: () => boolean,
): Promise<{ rows: Row[]; sections: SectionRecord[] }> {
  const rows: Row[] = [];
  const sections: SectionRecord[] = [];
  for (const section of SECTIONS) {
    if ((parsed.only && !parsed.only.has(section.id)) || parsed.skip.has(section.id)) continue;
    const t0 = Date.now();
    const seconds = () => Math.round((Date.now() - t0) / 1000);
    ctx.log(`section ${section.id}: ${section.title}`);
    try {
      rows.push(...(await section.run(ctx)));
      sections.push({ id: section.id, title: section.title, seconds: seconds() });
    } catch (error) {
      if (interrupted()) throw error;
      const message = (error as Error).message ?? String(error);
      ctx.log(`section ${section.id} failed: ${(error as Error).stack ?? message}`);
      const reason = `could not measure: ${message.split('\n')[0]}`;
      const planned = section.plannedRows?.(parsed.options) ?? [{ name: section.title, unit: '', target: null }];
      rows.push(...planned.map((p) => unmeasuredRow(section.id, p, reason, 'error')));
      sections.push({ id: section.id, title: section.title, seconds: seconds(), error: message });
    }
  }
  return { rows, sections };
}

function contextFor(
  parsed: Parsed,
  workDir: string,
  log: (line: string) => void,
): { ctx: BenchContext; stopSandbox: () => Promise<void> } {
  let sandbox: Promise<Sandbox> | undefined;
  const ctx: BenchContext = {
    options: parsed.options,
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
  return { ctx, stopSandbox };
}

function writeResults(parsed: Parsed, results: Results, ctx: BenchContext): void {
  if (parsed.full) {
    writeFullRun(results, ctx);
    return;
  }
  fs.mkdirSync(SCRATCH_RESULTS, { recursive: true });
  const file = path.join(SCRATCH_RESULTS, `results.${results.mode}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  ctx.log(`wrote ${file} (a ${results.mode} run leaves bench/results.json, the chart and the READMEs alone)`);
}

async function main(): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseOptions();
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const started = Date.now();
  const log = (line: string) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-bench-'));
  const before = machine();
  const mode = parsed.full ? 'full' : parsed.options.quick ? 'quick' : 'partial';
  log(
    `kube-offload bench (${mode}): ${before.nproc} cores, ${before.memoryGiB} GiB, node ${process.version}, ` +
      `load ${before.loadAverage.join(' ')}; scratch ${workDir}`,
  );
  const { ctx, stopSandbox } = contextFor(parsed, workDir, log);
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    log('interrupted: stopping what was started');
    void stopSandbox().finally(() => process.exit(130));
  });
  let ran;
  try {
    ran = await runSections(parsed, ctx, () => interrupted);
  } catch {
    return 130;
  }
  await stopSandbox();
  const { rows } = ran;
  process.stdout.write(`\n${textTable(rows)}\n\n`);
  writeResults(parsed, resultsOf(parsed, rows, ran.sections, started, before, ctx), ctx);
  if (parsed.keep) log(`kept ${workDir}`);
  else fs.rmSync(workDir, { recursive: true, force: true, maxRetries: 3 });
  const failed = count(rows, 'error');
  log(
    `${rows.length} rows: ${count(rows, 'pass')} pass, ${count(rows, 'miss')} miss, ` +
      `${failed} could not be measured, ${count(rows, 'not measured')} not measured yet`,
  );
  return failed > 0 ? 1 : 0;
}

// Exit explicitly: a library timer or a stray socket must not keep a finished run alive.
process.exit(await main());
