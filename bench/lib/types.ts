// The contract between bench/run.ts and the sections (bench/sections/*.ts).
//
// A section is a module that measures one area (admission server, apiserver cost, syncer, virtual
// node ...) and returns rows. run.ts owns the command line, the shared sandbox, the table, the
// JSON file and the chart; a section only measures. To add one, write bench/sections/<id>.ts
// exporting a Section and list it in bench/sections/index.ts.
import type { Sandbox } from '../../src/sandbox/sandbox.ts';

/**
 * pass / miss: measured against a target. info: measured, no target (e.g. p50, RSS).
 * not measured: the thing cannot be measured yet (the reason is in `note`); not an error.
 * error: the section tried and failed; `npm run bench` exits non-zero.
 */
export type Status = 'pass' | 'miss' | 'info' | 'not measured' | 'error';

export interface Target {
  /** What the bound applies to: ours / floor, or our figure alone (absolute targets). */
  on: 'ratio' | 'ours';
  op: '<=' | '>=';
  value: number;
}

export interface Row {
  /** Section id (admission, apiserver, syncer, virtualnode ...). */
  section: string;
  name: string;
  /** Unit of ours and floor: 'req/s', 'ms', 'MiB', 's', 'writes' ... */
  unit: string;
  ours: number | null;
  floor: number | null;
  /** ours / floor */
  ratio: number | null;
  target: Target | null;
  status: Status;
  note?: string;
  /** The individual runs behind `ours` and `floor` (medians are reported). */
  runs?: { ours: number[]; floor: number[] };
}

export interface BenchOptions {
  quick: boolean;
  /** Measured runs per configuration (median reported). */
  runs: number;
  /** Seconds per measured autocannon run. */
  durationSeconds: number;
}

export interface BenchContext {
  options: BenchOptions;
  repoRoot: string;
  /** A scratch directory for this run (removed at the end). */
  workDir: string;
  log: (line: string) => void;
  /**
   * The sandbox (local + remote cluster, the webhook registered), started on first use and
   * shared by every section that needs a real apiserver; stopped by run.ts at the end.
   */
  sandbox: () => Promise<Sandbox>;
  /** Data for artifacts other than the table (the SVG chart reads `admissionCurves`). */
  artifacts: Record<string, unknown>;
}

export interface Section {
  /** Short id, used by --only / --skip and as Row.section. */
  id: string;
  title: string;
  /** Rows this section would produce, marked "not measured", if it fails before measuring. */
  plannedRows?: (options: BenchOptions) => Array<Pick<Row, 'name' | 'unit' | 'target'>>;
  run: (ctx: BenchContext) => Promise<Row[]>;
}
