// The kubelet paths the apiserver calls, and the parsing of their query options.
import type { ExecOptions, LogQuery, StreamOptions } from '../backend.ts';

export type Route =
  | { kind: 'healthz' }
  | { kind: 'statsSummary' }
  | { kind: 'metricsResource' }
  | { kind: 'containerLogs'; namespace: string; pod: string; container: string }
  | { kind: 'exec' | 'attach'; namespace: string; pod: string; container: string }
  | { kind: 'portForward'; namespace: string; pod: string }
  | { kind: 'notFound' };

function decode(segment: string): string | undefined {
  try {
    const value = decodeURIComponent(segment);
    return value === '' ? undefined : value;
  } catch {
    return undefined;
  }
}

const STREAMING = new Set(['exec', 'attach']);

/** Matches a path; /exec and /attach also take the {uid} form, /portForward too. */
export function matchRoute(pathname: string): Route {
  const fixed: Record<string, Route> = {
    '/healthz': { kind: 'healthz' },
    '/stats/summary': { kind: 'statsSummary' },
    '/metrics/resource': { kind: 'metricsResource' },
  };
  const exact = fixed[pathname.replace(/\/$/, '')];
  if (exact) return exact;
  const [, head, ...rest] = pathname.split('/');
  const parts = rest.map(decode);
  if (parts.some((p) => p === undefined)) return { kind: 'notFound' };
  const [namespace, pod, third, fourth] = parts as string[];
  if (head === 'containerLogs' && parts.length === 3) {
    return { kind: 'containerLogs', namespace: namespace!, pod: pod!, container: third! };
  }
  if (STREAMING.has(head ?? '') && (parts.length === 3 || parts.length === 4)) {
    const container = parts.length === 4 ? fourth! : third!;
    return { kind: head as 'exec' | 'attach', namespace: namespace!, pod: pod!, container };
  }
  if (head === 'portForward' && (parts.length === 2 || parts.length === 3)) {
    return { kind: 'portForward', namespace: namespace!, pod: pod! };
  }
  return { kind: 'notFound' };
}

/** The kubelet reads stream flags as "1"; clients sending "true" are understood too. */
function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  return value === '1' || value === 'true';
}

/** input/output/error/tty; tty takes stderr's place (the kubelet drops stderr with a tty). */
export function parseStreamOptions(query: URLSearchParams): StreamOptions | string {
  const tty = flag(query, 'tty');
  const options = {
    stdin: flag(query, 'input'),
    stdout: flag(query, 'output'),
    stderr: flag(query, 'error') && !tty,
    tty,
  };
  if (!options.stdin && !options.stdout && !options.stderr)
    return 'you must specify at least 1 of stdin, stdout, stderr';
  return options;
}

export function parseExecOptions(query: URLSearchParams): ExecOptions | string {
  const streams = parseStreamOptions(query);
  if (typeof streams === 'string') return streams;
  const command = query.getAll('command');
  if (command.length === 0) return 'missing command';
  return { ...streams, command };
}

type Parsed<T> = { ok: true; value: T | undefined } | { ok: false };

function parseBool(text: string | null): Parsed<boolean> {
  if (text === null || text === '') return { ok: true, value: undefined };
  if (/^(1|t|true)$/i.test(text)) return { ok: true, value: true };
  if (/^(0|f|false)$/i.test(text)) return { ok: true, value: false };
  return { ok: false };
}

function parseInteger(text: string | null, min: number): Parsed<number> {
  if (text === null || text === '') return { ok: true, value: undefined };
  if (!/^-?\d+$/.test(text)) return { ok: false };
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= min ? { ok: true, value } : { ok: false };
}

function parseTime(text: string | null): Parsed<string> {
  if (text === null || text === '') return { ok: true, value: undefined };
  const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  return rfc3339.test(text) && !Number.isNaN(Date.parse(text)) ? { ok: true, value: text } : { ok: false };
}

const LOG_STREAMS = new Set(['All', 'Stdout', 'Stderr']);

/** PodLogOptions from the query, validated as the kubelet does; a string is the 400/422 reason. */
export function parseLogQuery(query: URLSearchParams): LogQuery | string {
  const tail = query.get('tail'); // the kubelet's legacy spelling of tailLines
  const tailLines = tail !== null && tail !== 'all' ? tail : query.get('tailLines');
  const fields = {
    follow: parseBool(query.get('follow')),
    previous: parseBool(query.get('previous')),
    timestamps: parseBool(query.get('timestamps')),
    tailLines: parseInteger(tail === 'all' ? null : tailLines, 0),
    sinceSeconds: parseInteger(query.get('sinceSeconds'), 1),
    sinceTime: parseTime(query.get('sinceTime')),
    limitBytes: parseInteger(query.get('limitBytes'), 1),
  };
  const bad = Object.entries(fields).find(([, parsed]) => !parsed.ok);
  if (bad) return `invalid ${bad[0]}`;
  const stream = query.get('stream') ?? undefined;
  if (stream !== undefined && !LOG_STREAMS.has(stream)) return 'invalid stream';
  const result: LogQuery = {};
  for (const [name, parsed] of Object.entries(fields)) {
    if (parsed.ok && parsed.value !== undefined) (result as Record<string, unknown>)[name] = parsed.value;
  }
  if (result.sinceSeconds !== undefined && result.sinceTime !== undefined)
    return 'at most one of sinceTime or sinceSeconds';
  if (stream !== undefined) result.stream = stream;
  return result;
}
