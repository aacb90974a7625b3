// Command-line flag parsing shared by every command (webhook, syncer, status, virtual-node).
// Everything that can be wrong with a command line is reported before any I/O, so a typo fails
// fast (exit 2) with a message that names the flag, the value and what is allowed.
import { parseArgs } from 'node:util';
import type { ParseArgsOptionsConfig } from 'node:util';
import type { VirtualNodeConvention } from '../../webhooks/keys.ts';
import { LIQO_CONVENTION } from '../../webhooks/keys.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  override name = 'ConfigError';
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
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(usage);
    return 0;
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
