// The metric names the monitoring component depends on: those named in the PrometheusRule's
// expressions and in the Grafana dashboard's queries. The packaging tests check each against
// what the components export; `node scripts/metrics-used.ts` prints them.
//
// Names are found by removing from each PromQL expression what cannot be a metric name (string
// literals, label matchers, grouping label lists, durations, numbers), then every identifier
// that is not a PromQL keyword or function. An identifier this does not know (a new function,
// a typo) therefore shows up as a metric name, and the tests fail on it rather than skip it.
import fs from 'node:fs';
import path from 'node:path';
import { parseObjects } from './render-install.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const MONITORING = path.join(ROOT, 'manifests/components/monitoring');

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'and',
  'or',
  'unless',
  'atan2',
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
  'inf',
  'nan',
]);
const FUNCTIONS = new Set([
  'abs',
  'absent',
  'absent_over_time',
  'ceil',
  'changes',
  'clamp',
  'clamp_max',
  'clamp_min',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'days_in_month',
  'delta',
  'deriv',
  'exp',
  'floor',
  'histogram_avg',
  'histogram_count',
  'histogram_fraction',
  'histogram_quantile',
  'histogram_stddev',
  'histogram_stdvar',
  'histogram_sum',
  'holt_winters',
  'hour',
  'idelta',
  'increase',
  'irate',
  'label_join',
  'label_replace',
  'ln',
  'log2',
  'log10',
  'minute',
  'month',
  'predict_linear',
  'rate',
  'resets',
  'round',
  'scalar',
  'sgn',
  'sort',
  'sort_desc',
  'sqrt',
  'time',
  'timestamp',
  'vector',
  'year',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'quantile_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'last_over_time',
  'present_over_time',
]);

/** Metric names in one PromQL expression (Grafana's $__rate_interval & co. count as durations). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery durations
    .replace(/\$\w+/g, ' ') // dashboard variables
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' '); // numbers
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = match[0];
    if (!KEYWORDS.has(word) && !FUNCTIONS.has(word)) names.add(word);
  }
  return [...names];
}

export function ruleExpressions(): Array<{ alert: string; expr: string }> {
  const [rule] = parseObjects(fs.readFileSync(path.join(MONITORING, 'prometheusrule.yaml'), 'utf8'));
  const groups = (rule?.spec as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups;
  return groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: String(r.expr) })));
}

export function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(fs.readFileSync(path.join(MONITORING, 'dashboard.json'), 'utf8')) as {
    panels: Array<{ targets?: Array<{ expr: string }> }>;
  };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

/** Histogram series (_bucket, _sum, _count) are exported under the histogram's name. */
export function exportedName(series: string): string {
  return series.replace(/_(bucket|sum|count)$/, '');
}

/** Every metric the rules and the dashboard use, with where. */
export function metricsUsed(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  const note = (name: string, where: string): void => void used.set(name, [...(used.get(name) ?? []), where]);
  for (const { alert, expr } of ruleExpressions()) for (const name of metricNames(expr)) note(name, alert);
  for (const expr of dashboardExpressions()) for (const name of metricNames(expr)) note(name, 'dashboard');
  return used;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, where] of [...metricsUsed()].sort(([a], [b]) => a.localeCompare(b))) {
    process.stdout.write(`${name}\t${[...new Set(where)].join(', ')}\n`);
  }
}
