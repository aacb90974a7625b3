// Command-line flag parsing shared by every command, and the conventions they share: exit codes,
// the connection flags (--kubeconfig, --context), -n/--namespace and -o/--output.
// Everything that can be wrong with a command line is reported before any I/O, so a typo fails
// fast (exit 2) with a message that names the flag, the value and what is allowed.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { ParseArgsOptionsConfig } from 'node:util';
import { stringify } from 'yaml';
import type { VirtualNodeConvention } from '../../webhooks/keys.ts';
import { LIQO_CONVENTION } from '../../webhooks/keys.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Exit codes of every command (README, "Exit codes"): 0 done (a component: stopped when asked
 * to), 1 failed while running (a cluster unreachable, a write refused, a component that could
 * not start or lost its Lease), 2 bad usage (an unknown command or flag, a bad value).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** --kubeconfig FILE and --context CTX: the local cluster, as kubectl names it. */
export const CONNECTION_FLAGS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/**
 * Lines of a usage text: each flag at column 2, its text at `column`; a "\n" in a text continues
 * it on a line of its own at that column. Commands align their flags differently.
 */
export function usageRows(rows: readonly (readonly [string, string])[], column: number): string {
  const indent = ' '.repeat(column);
  return rows
    .map(([flag, text]) => {
      const head = `  ${flag}`;
      const [first, ...rest] = text.split('\n');
      const start = head.length < column ? `${head.padEnd(column)}${first}` : `${head}\n${indent}${first}`;
      return [start, ...rest.map((line) => `${indent}${line}`)].join('\n');
    })
    .join('\n');
}

const CONNECTION_ROWS = [
  [
    '--kubeconfig FILE',
    'the local cluster (default: the files of $KUBECONFIG, merged,\nelse ~/.kube/config, else the in-cluster service account)',
  ],
  ['--context CTX', 'the context to use in that kubeconfig (default: its current-context)'],
] as const;

/** The usage lines of --kubeconfig and --context, the flag texts at `column`. */
export const connectionUsage = (column: number): string => usageRows(CONNECTION_ROWS, column);

/** Which kubeconfig and context the connection flags name; absent ones are left out. */
export interface Connection {
  kubeconfig?: string;
  context?: string;
}

export function connectionOf(values: { kubeconfig?: string | undefined; context?: string | undefined }): Connection {
  if (values.kubeconfig === '') throw new ConfigError('--kubeconfig: "" is not a file name');
  if (values.context === '') throw new ConfigError('--context: "" is not a context name');
  return {
    ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
    ...(values.context === undefined ? {} : { context: values.context }),
  };
}

/** -n/--namespace NS: where a component runs, or where the peer Secrets are. */
export const NAMESPACE_FLAG = { namespace: { type: 'string', short: 'n' } } as const satisfies ParseArgsOptionsConfig;

/** Where kube-offload is installed when neither -n nor the pod names a namespace. */
export const DEFAULT_NAMESPACE = 'kube-offload-system';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The namespace of the pod this process runs in, as client-go's in-cluster config finds it:
 * $POD_NAMESPACE, else the namespace file of its service account (read only in a pod, i.e. when
 * $KUBERNETES_SERVICE_HOST is set); undefined outside a pod.
 */
export function podNamespace(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  if (!env.KUBERNETES_SERVICE_HOST) return undefined;
  try {
    return fs.readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined; // no service account mounted (automountServiceAccountToken: false)
  }
}

/** -n's value, else the pod's namespace, else kube-offload-system. */
export function namespaceOf(
  value: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  flag = 'namespace',
): string {
  return dnsLabel(value || podNamespace(env) || DEFAULT_NAMESPACE, flag);
}

/** -o/--output: how a command that prints prints. */
export const OUTPUT_FLAG = { output: { type: 'string', short: 'o' } } as const satisfies ParseArgsOptionsConfig;

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The usage line of -o, the text at `column`. */
export const outputUsage = (column: number): string =>
  usageRows([['-o, --output FORMAT', 'table (default; text is the same), json or yaml']], column);

/** table (or text, its older name), json or yaml; throws a ConfigError naming the value. */
export function outputFormat(value: string | undefined): OutputFormat {
  return oneOf(value === undefined || value === 'text' ? 'table' : value, OUTPUT_FORMATS, 'output');
}

/** A command's result as JSON or YAML; undefined for table, which each command writes its own way. */
export function formatDocument(format: OutputFormat, document: unknown): string | undefined {
  if (format === 'json') return `${JSON.stringify(document, null, 2)}\n`;
  if (format === 'yaml') return stringify(document);
  return undefined;
}

/**
 * Parses a command's flags; returns the config, or the exit code when the command should stop
 * here: 0 after printing --help, 2 after printing what is wrong with the flags and the usage.
 */
export function parseCommandFlags<T>(
  command: string,
  argv: string[],
  parse: (argv: string[]) => T | 'help',
  usage: string,
): T | number {
  let config: T | 'help';
  try {
    config = parse(argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`kube-offload ${command}: ${error.message}\n\n${usage}`);
    return EXIT.usage;
  }
  if (config === 'help') {
    process.stdout.write(usage);
    return EXIT.ok;
  }
  return config;
}

type FlagValues<Options extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: Options; strict: true; allowPositionals: false }>
>['values'];

/** node:util parseArgs, strict and without positionals; its errors become ConfigErrors. */
export function parseFlags<const Options extends ParseArgsOptionsConfig>(
  argv: string[],
  options: Options,
): FlagValues<Options> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // parseArgs' messages already name the flag ("Unknown option '--prot'").
    throw new ConfigError((error as Error).message);
  }
}

/**
 * Rewrites deprecated flag spellings to their current names before parsing, with one warning
 * each on stderr, so old command lines and manifests keep working while they move over.
 * `aliases` maps an old name to its new one, without dashes: { resync: 'resync-period' }.
 */
export function renameDeprecatedFlags(
  argv: readonly string[],
  aliases: Readonly<Record<string, string>>,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): string[] {
  return argv.map((arg) => {
    const match = /^--([^=]+)(=.*)?$/.exec(arg);
    const current = match ? aliases[match[1] as string] : undefined;
    if (!match || current === undefined) return arg;
    warn(`warning: --${match[1]} is deprecated, use --${current}`);
    return `--${current}${match[2] ?? ''}`;
  });
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1h30m", "90s", "250ms", "2.5d" -> milliseconds; throws ConfigError otherwise. */
export function parseDuration(text: string, flag: string): number {
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    part.lastIndex = index;
    const match = part.exec(text);
    if (!match) break;
    total += Number(match[1]) * (UNITS[match[2] as string] as number);
    index = part.lastIndex;
  }
  if (text.length === 0 || index !== text.length) {
    throw new ConfigError(`--${flag}: "${text}" is not a duration (examples: 250ms, 10s, 2m, 1h30m, 90d)`);
  }
  return Math.round(total);
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`--${flag}: "${value}" is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** 0-65535; 0 asks the OS for a free port. */
export function portNumber(text: string, flag: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new ConfigError(`--${flag}: "${text}" is not a port number (0-65535)`);
  return port;
}

// DNS-1123 label (Service, namespace and cluster names); good enough to catch typos.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function dnsLabel(value: string, flag: string): string {
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw new ConfigError(`--${flag}: "${value}" is not a DNS-1123 label (lower case alphanumerics and "-")`);
  }
  return value;
}

/** "KEY=VALUE" -> [KEY, VALUE]. */
export function keyValue(value: string, flag: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--${flag}: "${value}" is not KEY=VALUE`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

/** --virtual-node-label K=V and --virtual-node-taint K=V:EFFECT over Liqo's defaults. */
export function parseConvention(label: string | undefined, taint: string | undefined): VirtualNodeConvention {
  const convention = { ...LIQO_CONVENTION };
  if (label !== undefined) [convention.labelKey, convention.labelValue] = keyValue(label, 'virtual-node-label');
  if (taint !== undefined) {
    const colon = taint.lastIndexOf(':');
    if (colon < 0) throw new ConfigError(`--virtual-node-taint: "${taint}" is not KEY=VALUE:EFFECT`);
    [convention.taintKey, convention.taintValue] = keyValue(taint.slice(0, colon), 'virtual-node-taint');
    convention.taintEffect = oneOf(taint.slice(colon + 1), TAINT_EFFECTS, 'virtual-node-taint effect');
  }
  return convention;
}
