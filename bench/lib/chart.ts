// bench/admission-latency.svg, hand-written: one panel per concurrency, latency (ms, log scale)
// against percentile (p50 .. p99.9 on a "nines" axis), ours vs the floors and the peer. Every point
// carries its value to 0.01 ms as a tooltip (the latencies are per-response timings, not
// autocannon's whole-millisecond histogram).

/** One panel's data: series id -> percentile -> latency ms (median over the runs). */
export interface AdmissionCurve {
  connections: number;
  series: Record<string, Record<string, number>>;
}

const W = 330;
const H = 260;
const M = { left: 52, right: 24, top: 34, bottom: 44 };

/** Drawing order (last on top), colour, dash and legend text of each series the chart knows. */
const STYLES: Array<{ id: string; color: string; dash: string; label: string }> = [
  { id: 'floor', color: '#8b949e', dash: '5 3', label: 'bare floor: node:https, fixed answer' },
  { id: 'parsing', color: '#57606a', dash: '2 2', label: 'parsing floor: JSON.parse, echo uid' },
  { id: 'agnhost', color: '#bf8700', dash: '8 3', label: 'agnhost (Go) /mutating-pods-sidecar' },
  { id: 'ours', color: '#1f6feb', dash: '', label: 'kube-offload /mutate/pods (cluster mode)' },
];

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

function line(
  values: Record<string, number>,
  ps: number[],
  style: (typeof STYLES)[number],
  px: (p: number) => number,
  py: (v: number) => number,
): string[] {
  const drawn = ps.filter((p) => (values[String(p)] ?? 0) > 0);
  const points = drawn.map((p) => [px(p).toFixed(1), py(values[String(p)] as number).toFixed(1)]);
  const dash = style.dash ? ` stroke-dasharray="${style.dash}"` : '';
  const out = [
    `<polyline points="${points.map((xy) => xy.join(',')).join(' ')}" fill="none" ` +
      `stroke="${style.color}" stroke-width="2"${dash}/>`,
  ];
  drawn.forEach((p, i) => {
    const [x, y] = points[i] as string[];
    const tip = `${style.label}: p${p} ${(values[String(p)] as number).toFixed(2)} ms`;
    out.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${style.color}"><title>${esc(tip)}</title></circle>`);
  });
  return out;
}

function panel(curve: AdmissionCurve, x0: number): string {
  const ps = Object.keys(curve.series.ours ?? {})
    .map(Number)
    .sort((a, b) => a - b);
  const all = Object.values(curve.series)
    .flatMap((values) => Object.values(values))
    .filter((v) => Number.isFinite(v) && v > 0);
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
  out.push(
    `<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">concurrency ${curve.connections}</text>`,
  );
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
  const midY = (M.top + H - M.bottom) / 2;
  out.push(
    `<text x="${x0 + 14}" y="${midY}" text-anchor="middle" ` +
      `transform="rotate(-90 ${x0 + 14} ${midY})">latency (ms, log)</text>`,
  );
  out.push(
    `<rect x="${x0 + M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" ` +
      `fill="none" stroke="#c9ced6"/>`,
  );
  for (const style of STYLES) {
    const values = curve.series[style.id];
    if (values) out.push(...line(values, ps, style, px, py));
  }
  return out.join('\n');
}

/** The legend: the series present, two per line, then the subtitle. */
function legendItems(curves: AdmissionCurve[], top: number, width: number, subtitle: string): string {
  const present = STYLES.filter((style) => curves.some((c) => c.series[style.id])).reverse();
  const column = Math.max(330, Math.floor(width / 2));
  const out = present.map((style, i) => {
    const x = M.left + (i % 2) * column;
    const y = top + Math.floor(i / 2) * 16;
    const dash = style.dash ? ` stroke-dasharray="${style.dash}"` : '';
    return [
      `<line x1="${x}" x2="${x + 26}" y1="${y}" y2="${y}" stroke="${style.color}" stroke-width="2"${dash}/>`,
      `<text x="${x + 32}" y="${y + 4}">${esc(style.label)}</text>`,
    ].join('\n');
  });
  const y = top + Math.ceil(present.length / 2) * 16 + 4;
  out.push(`<text x="${M.left}" y="${y}" fill="#57606a">${esc(subtitle)}</text>`);
  return out.join('\n');
}

export function admissionChart(curves: AdmissionCurve[], subtitle: string): string {
  const width = W * curves.length;
  const height = H + 46;
  const body = curves.map((c, i) => panel(c, i * W)).join('\n');
  const legend = legendItems(curves, H + 22, width, subtitle);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 26}" ` +
      `viewBox="0 0 ${width} ${height + 26}" font-family="sans-serif" font-size="11" fill="#24292f">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    body,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
