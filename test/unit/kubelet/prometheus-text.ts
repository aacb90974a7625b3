// Reads the Prometheus text format back (what metrics-server's parser sees): families with their
// TYPE, and samples with labels, value and timestamp. Strict enough to catch malformed lines.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds, when the sample carries one. */
  timestamp?: number;
}

export interface PromText {
  types: Map<string, string>;
  samples: PromSample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  let consumed = 0;
  for (let m = LABEL.exec(text); m; m = LABEL.exec(text)) {
    labels[m[1]!] = unescape(m[2]!);
    consumed = LABEL.lastIndex;
  }
  if (consumed !== text.length) throw new Error(`malformed labels: {${text}}`);
  return labels;
}

export function parsePrometheusText(text: string): PromText {
  if (!text.endsWith('\n')) throw new Error('the text must end with a newline');
  const types = new Map<string, string>();
  const samples: PromSample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const type = /^# TYPE (\S+) (counter|gauge|untyped|summary|histogram)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`malformed sample line: ${line}`);
    const value = Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`not a number: ${line}`);
    samples.push({
      name: m[1]!,
      labels: m[2] === undefined ? {} : parseLabels(m[2]),
      value,
      ...(m[4] === undefined ? {} : { timestamp: Number(m[4]) }),
    });
  }
  return { types, samples };
}
