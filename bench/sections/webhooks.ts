// Section "webhooks": the pure admission handlers on the largest and most hostile inputs
// (bench/lib/large-inputs.ts), timed in a process of their own (bench/lib/handler-timings.ts):
// compiled dist/webhooks, the webhook Deployment's NODE_OPTIONS, nothing else on the heap.
//
//   worst admissible pods: the largest inputs the webhooks admit (selector at both limits,
//     pods at the API server's object limit). Target <= 50 ms each, as for the worst review
//     through the server (section admission).
//   scaling: 4000 distinct required terms against 500 (LocalAndRemote with a selector). Target:
//     8 times the input in at most 24 times the time (linear code gives ~8, quadratic ~64).
//   hostile inputs: large term lists, a nodeSelector of 8000 labels, and selectors of one key
//     repeated (250 KB, beyond the limit the handlers check before parsing, so reachable only
//     by calling the functions): each took 10 to 45 s while parts of webhooks/ were quadratic.
//     Info rows.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildDist } from '../lib/build.ts';
import { productionEnv } from '../lib/deployment.ts';
import type { CaseName } from '../lib/handler-timings.ts';
import { measuredRow, median, unmeasuredRow } from '../lib/stats.ts';
import type { BenchContext, BenchOptions, Row, Section, Target } from '../lib/types.ts';

const SECTION = 'webhooks';
const execFileAsync = promisify(execFile);
const WORST_TARGET: Target = { on: 'ours', op: '<=', value: 50 };
const SCALING_TARGET: Target = { on: 'ratio', op: '<=', value: 24 };

interface Planned {
  name: string;
  target: Target | null;
  /** The case timed; for the scaling row, the larger one. */
  case: CaseName;
  /** The case whose time is the row's floor (scaling row only). */
  floor?: CaseName;
}

const PLANNED: readonly Planned[] = [
  {
    name: 'worst admissible pod (selector at both limits, merged pod at the object limit): /mutate/pods',
    target: WORST_TARGET,
    case: 'worst admissible mutation',
  },
  {
    name: 'largest admissible merge (1.5 MiB of terms, every remote product dropped): /mutate/pods',
    target: WORST_TARGET,
    case: 'largest admissible merge',
  },
  {
    name: 'scaling: 4000 distinct required terms vs 500 (8x the input)',
    target: SCALING_TARGET,
    case: 'terms 4000',
    floor: 'terms 500',
  },
  {
    name: '8000 distinct required terms, LocalAndRemote with a selector: /mutate/pods',
    target: null,
    case: 'terms 8000 LocalAndRemote',
  },
  { name: '8000 distinct required terms, Local: /mutate/pods', target: null, case: 'terms 8000 Local' },
  {
    name: '8000 terms under a nodeSelector of 8000 labels: /mutate/pods',
    target: null,
    case: 'terms 8000 nodeSelector 8000',
  },
  { name: 'merge with a 250 KB selector of one key repeated', target: null, case: 'merge 250 KB one-key selector' },
  { name: 'contradiction checks, In lists of 50000 values', target: null, case: 'contradiction In 50000' },
  { name: 'parse and validate a 250 KB selector', target: null, case: 'parse and validate 250 KB selector' },
];

function runs(options: BenchOptions): number {
  return options.quick ? 7 : 25;
}

function plannedRows(): Array<Pick<Row, 'name' | 'unit' | 'target'>> {
  return PLANNED.map(({ name, target }) => ({ name, unit: 'ms', target }));
}

/** Runs handler-timings.ts as the Deployment would run the handlers; its JSON output. */
async function timeHandlers(ctx: BenchContext, count: number): Promise<Record<CaseName, number[]>> {
  const { env } = productionEnv(ctx.repoRoot, 'webhook');
  const script = path.join(ctx.repoRoot, 'bench', 'lib', 'handler-timings.ts');
  const dist = path.join(ctx.repoRoot, 'dist', 'webhooks');
  // Rejects with the child's stderr when it exits non-zero.
  const { stdout } = await execFileAsync(process.execPath, [script, dist, String(count)], {
    cwd: ctx.repoRoot,
    env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: env.NODE_OPTIONS ?? '' },
  });
  try {
    return JSON.parse(stdout) as Record<CaseName, number[]>;
  } catch (error) {
    throw new Error(`handler-timings.ts printed no JSON (${String(error)}): ${stdout.slice(0, 500)}`);
  }
}

function row(planned: Planned, timings: Record<CaseName, number[]>): Row {
  const ours = timings[planned.case];
  const floor = planned.floor ? timings[planned.floor] : undefined;
  const note = planned.floor
    ? `median of ${ours.length} calls each; linear code gives ~8x, quadratic ~64x`
    : `median of ${ours.length} calls after one untimed; slowest ${Math.max(...ours).toFixed(1)} ms`;
  return measuredRow({
    section: SECTION,
    name: planned.name,
    unit: 'ms',
    ours: median(ours),
    floor: floor ? median(floor) : null,
    target: planned.target,
    note,
    runs: { ours, floor: floor ?? [] },
  });
}

async function run(ctx: BenchContext): Promise<Row[]> {
  await buildDist(ctx.repoRoot, ctx.log);
  ctx.log(`webhooks: ${runs(ctx.options)} calls per case, ${productionEnv(ctx.repoRoot, 'webhook').describe}`);
  let timings: Record<CaseName, number[]>;
  try {
    timings = await timeHandlers(ctx, runs(ctx.options));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return plannedRows().map((planned) => unmeasuredRow(SECTION, planned, why, 'error'));
  }
  return PLANNED.map((planned) => row(planned, timings));
}

export const webhooksSection: Section = {
  id: SECTION,
  title: 'The pure admission handlers on the largest and most hostile inputs (in a process of their own)',
  plannedRows,
  run,
};
