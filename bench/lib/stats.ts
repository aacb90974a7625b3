// Small statistics and row helpers shared by the sections.
import type { Row, Status, Target } from './types.ts';

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nearest-rank percentile (p in 0..100) of an ascending-sorted array. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values as ArrayLike<number>).sort();
}

export function meets(target: Target, ours: number, ratio: number | null): boolean {
  const value = target.on === 'ratio' ? ratio : ours;
  if (value === null || !Number.isFinite(value)) return false;
  return target.op === '<=' ? value <= target.value : value >= target.value;
}

export function targetText(target: Target | null, unit = ''): string {
  if (!target) return '';
  return target.on === 'ratio'
    ? `${target.op} ${target.value}x`
    : `${target.op} ${target.value}${unit ? ` ${unit}` : ''}`;
}

/** A measured row: ratio = ours / floor, status from the target (info when there is none). */
export function measuredRow(fields: {
  section: string;
  name: string;
  unit: string;
  ours: number;
  floor?: number | null;
  target?: Target | null;
  note?: string;
  runs?: { ours: number[]; floor: number[] };
  /** The floor is context only (e.g. idle background): no ratio. */
  noRatio?: boolean;
}): Row {
  const floor = fields.floor ?? null;
  const ratio = !fields.noRatio && floor !== null && floor !== 0 && Number.isFinite(floor) ? fields.ours / floor : null;
  const target = fields.target ?? null;
  const status: Status = target ? (meets(target, fields.ours, ratio) ? 'pass' : 'miss') : 'info';
  const row: Row = {
    section: fields.section,
    name: fields.name,
    unit: fields.unit,
    ours: fields.ours,
    floor,
    ratio,
    target,
    status,
  };
  if (fields.note) row.note = fields.note;
  if (fields.runs) row.runs = fields.runs;
  return row;
}

/** A row that could not be measured (yet); never a made-up number. */
export function unmeasuredRow(
  section: string,
  planned: Pick<Row, 'name' | 'unit' | 'target'>,
  reason: string,
  status: 'not measured' | 'error' = 'not measured',
): Row {
  return {
    section,
    name: planned.name,
    unit: planned.unit,
    ours: null,
    floor: null,
    ratio: null,
    target: planned.target,
    status,
    note: reason,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
