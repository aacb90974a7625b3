// The results table: plain text for the terminal, Markdown for bench/README.md.
import { targetText } from './stats.ts';
import type { Row } from './types.ts';

function number(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  // Latencies keep sub-millisecond digits at any size.
  const whole = unit === 'req/s' || unit === 'us' || unit === 'writes';
  const digits = whole ? 0 : abs >= 100 ? (unit === 'ms' ? 1 : 0) : abs >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

function cells(row: Row): string[] {
  const status =
    row.status === 'not measured' || row.status === 'error'
      ? `${row.status}${row.note ? ` (${row.note})` : ''}`
      : row.status;
  return [
    row.section,
    row.name,
    number(row.ours, row.unit),
    number(row.floor, row.unit),
    row.ratio === null || !Number.isFinite(row.ratio) ? '-' : `${row.ratio.toFixed(2)}x`,
    targetText(row.target, row.unit),
    status,
  ];
}

const HEADER = ['section', 'row', 'ours', 'floor', 'ratio', 'target', 'result'];

export function textTable(rows: Row[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => (r[i] as string).length)));
  const right = new Set([2, 3, 4]);
  const line = (r: string[]) =>
    r
      .map((cell, i) =>
        i === r.length - 1
          ? cell
          : right.has(i)
            ? cell.padStart(widths[i] as number)
            : cell.padEnd(widths[i] as number),
      )
      .join('  ');
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(cells(r)))].join('\n');
}

export function markdownTable(rows: Row[]): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  return [
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${cells(r).map(escape).join(' | ')} |`),
  ].join('\n');
}
