// bench/admission-latency.svg, hand-written: one panel per concurrency, latency (ms, log scale)
// against percentile (p50 .. p99.9 on a "nines" axis), ours vs the floor.
import type { AdmissionCurve } from '../sections/admission.ts';

const W = 330;
const H = 260;
const M = { left: 52, right: 24, top: 34, bottom: 44 };
const OURS = '#1f6feb';
const FLOOR = '#8b949e';

/** Position on the x axis: the number of nines, log10(100 / (100 - p)). */
const nines = (p: number): number => Math.log10(100 / (100 - p));

/** Ticks of a log axis covering [lo, hi]: 1-2-5 steps per decade. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let exp = Math.floor(Math.log10(lo)); exp <= Math.ceil(Math.log10(hi)); exp++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** exp;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

const esc = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => (v >= 1 ? String(Math.round(v)) : String(Number(v.toPrecision(1))));

function panel(curve: AdmissionCurve, x0: number): string {
  const ps = Object.keys(curve.ours).map(Number).sort((a, b) => a - b);
  const all = [...Object.values(curve.ours), ...Object.values(curve.floor)].filter((v) => Number.isFinite(v) && v > 0);
  // Whole 1-2-5 steps around the data, log scale: p50 and p99.9 differ by orders of magnitude.
  const step = (v: number, up: boolean) => {
    const exp = 10 ** Math.floor(Math.log10(v));
    const ms = up ? [1, 2, 5, 10] : [10, 5, 2, 1];
    for (const m of ms) if (up ? m * exp >= v : m * exp <= v) return m * exp;
    return exp;
  };
  const yLo = step(Math.min(...all), false);
  const yHi = step(Math.max(...all), true);
  const span = Math.log10(yHi) - Math.log10(yLo) || 1;
  const xMin = nines(ps[0] as number);
  const xMax = nines(ps[ps.length - 1] as number);
  const px = (p: number) => x0 + M.left + ((nines(p) - xMin) / (xMax - xMin)) * (W - M.left - M.right);
  const py = (v: number) => M.top + (1 - (Math.log10(v) - Math.log10(yLo)) / span) * (H - M.top - M.bottom);
  const out: string[] = [];
  out.push(`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">concurrency ${curve.connections}</text>`);
  // grid + y labels
  for (const v of logTicks(yLo, yHi)) {
    const y = py(v);
    out.push(`<line x1="${x0 + M.left}" x2="${x0 + W - M.right}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${x0 + M.left - 6}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const p of ps) {
    const x = px(p);
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${H - M.bottom}" stroke="#f0f1f3"/>`);
    out.push(`<text x="${x}" y="${H - M.bottom + 16}" text-anchor="middle">p${p}</text>`);
  }
  out.push(`<text x="${x0 + 14}" y="${(M.top + H - M.bottom) / 2}" text-anchor="middle" transform="rotate(-90 ${x0 + 14} ${(M.top + H - M.bottom) / 2})">latency (ms, log)</text>`);
  out.push(`<rect x="${x0 + M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#c9ced6"/>`);
  const line = (values: Record<string, number>, color: string, dash: string) => {
    const points = ps.filter((p) => (values[String(p)] ?? 0) > 0).map((p) => `${px(p).toFixed(1)},${py(values[String(p)] as number).toFixed(1)}`);
    out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    for (const p of points) {
      const [x, y] = p.split(',');
      out.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${color}"/>`);
    }
  };
  line(curve.floor, FLOOR, '5 3');
  line(curve.ours, OURS, '');
  return out.join('\n');
}

export function admissionChart(curves: AdmissionCurve[], subtitle: string): string {
  const width = W * curves.length;
  const height = H + 46;
  const body = curves.map((c, i) => panel(c, i * W)).join('\n');
  const ly = H + 22;
  const legend = [
    `<line x1="${M.left}" x2="${M.left + 26}" y1="${ly}" y2="${ly}" stroke="${OURS}" stroke-width="2"/>`,
    `<text x="${M.left + 32}" y="${ly + 4}">kube-offload webhook /mutate/pods</text>`,
    `<line x1="${M.left + 260}" x2="${M.left + 286}" y1="${ly}" y2="${ly}" stroke="${FLOOR}" stroke-width="2" stroke-dasharray="5 3"/>`,
    `<text x="${M.left + 292}" y="${ly + 4}">floor: bare node:https, fixed "allowed" review</text>`,
    `<text x="${M.left}" y="${ly + 20}" fill="#57606a">${esc(subtitle)}</text>`,
  ].join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 10}" viewBox="0 0 ${width} ${height + 10}" font-family="sans-serif" font-size="11" fill="#24292f">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    body,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
