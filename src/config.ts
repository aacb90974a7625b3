// Flags of `kube-offload webhook`, parsed with node:util parseArgs into a validated, typed config.
// Everything that can be wrong with the command line is reported here, before any I/O, so a
// typo fails fast (exit 2) instead of half-starting a server.
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { Placement, Preference, VirtualNodeConvention } from '../webhooks/keys.ts';
import { DEFAULT_PLACEMENT, LIQO_CONVENTION, PLACEMENTS, PREFERENCES } from '../webhooks/keys.ts';

export interface WebhookConfig {
  port: number;
  host: string;
  certDir: string;
  standalone: boolean;
  kubeconfig?: string;
  defaultPlacement: Placement;
  defaultPrefer?: Preference;
  serviceName: string;
  namespace: string;
  /** Where replicas share the CA when we generate certificates (cluster mode only). */
  caSecret: { namespace: string; name: string };
  /** Selects OUR Mutating/ValidatingWebhookConfigurations, whose caBundle we keep current. */
  webhookSelector: string;
  /** How often caBundle (and the shared CA Secret) are checked. */
  caSyncIntervalMs: number;
  convention: VirtualNodeConvention;
  /** Lifetime of a generated serving certificate; renewed after 2/3 of it. */
  certValidityMs: number;
  /** Fallback poll of the cert files, for changes fs.watch misses. */
  certPollIntervalMs: number;
  /** Node's server.requestTimeout: the whole request must arrive within it. */
  requestTimeoutMs: number;
  /** Node's server.headersTimeout. */
  headersTimeoutMs: number;
  /** Deadline for producing an admission verdict once the body is read. */
  handlerTimeoutMs: number;
  /** On SIGTERM, how long in-flight requests may take before connections are cut. */
  drainTimeoutMs: number;
  logLevel: LogLevel;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses a command's flags; returns the config, or the exit code when the command should stop
 * here: 0 after printing --help, 2 after printing what is wrong with the flags and the usage.
 */
export function parseCommandFlags<T>(command: string, argv: string[], parse: (argv: string[]) => T | 'help', usage: string): T | number {
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

export const WEBHOOK_USAGE = `usage: kube-offload webhook --cert-dir DIR [flags]

  --port N                  HTTPS port (default 8443; 0 picks a free one)
  --host ADDR               address to listen on (default 0.0.0.0)
  --cert-dir DIR            tls.crt/tls.key to serve (hot-reloaded), or where to generate
                            ca.crt, ca.key, tls.crt, tls.key when it holds none (required)
  --standalone              no cluster access: placement from object annotations and defaults
  --kubeconfig FILE         kubeconfig (default: in-cluster config, then $KUBECONFIG/~/.kube/config)
  --default-placement P     Local | Remote | LocalAndRemote (default ${DEFAULT_PLACEMENT})
  --default-prefer P        Local | Remote (default: none)
  --service-name NAME       Service in front of the webhook, for certificate SANs (default kube-offload-webhook)
  --namespace NS            namespace of that Service (default kube-offload-system)
  --ca-secret NS/NAME       Secret that holds the shared CA (default <namespace>/kube-offload-webhook-ca)
  --webhook-selector SEL    label selector of our webhook configurations, whose caBundle is kept
                            current (default app.kubernetes.io/part-of=kube-offload)
  --ca-sync-interval DUR    how often caBundle and the CA Secret are checked (default 30s)
  --virtual-node-label K=V  label of virtual nodes (default ${LIQO_CONVENTION.labelKey}=${LIQO_CONVENTION.labelValue})
  --virtual-node-taint K=V:EFFECT
                            taint of virtual nodes (default ${LIQO_CONVENTION.taintKey}=${LIQO_CONVENTION.taintValue}:${LIQO_CONVENTION.taintEffect})
  --cert-validity DUR       lifetime of generated serving certs, e.g. 90d, 2m (default 365d)
  --cert-poll-interval DUR  fallback check of the cert files (default 10s)
  --request-timeout DUR     whole-request timeout (default 30s)
  --headers-timeout DUR     headers timeout (default 10s)
  --handler-timeout DUR     deadline for an admission verdict (default 9s)
  --drain-timeout DUR       max time to drain in-flight requests on SIGTERM (default 20s)
  --log-level LEVEL         ${LOG_LEVELS.join(' | ')} (default info)
  -h, --help                this text
`;

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

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`--${flag}: "${value}" is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

// DNS-1123 label (Service names) and subdomain-ish names; good enough to catch typos.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function dnsLabel(value: string, flag: string): string {
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw new ConfigError(`--${flag}: "${value}" is not a DNS-1123 label (lower case alphanumerics and "-")`);
  }
  return value;
}

/** "KEY=VALUE" -> [KEY, VALUE]; shared by every command's flag parser. */
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

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new ConfigError(`--port: "${text}" is not a port number (0-65535)`);
  return port;
}

/** Parses argv (after "webhook"); returns "help" for -h/--help. Throws ConfigError. */
export function parseWebhookArgs(argv: string[]): WebhookConfig | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'cert-dir': { type: 'string' },
        standalone: { type: 'boolean' },
        kubeconfig: { type: 'string' },
        'default-placement': { type: 'string' },
        'default-prefer': { type: 'string' },
        'service-name': { type: 'string' },
        namespace: { type: 'string' },
        'ca-secret': { type: 'string' },
        'webhook-selector': { type: 'string' },
        'ca-sync-interval': { type: 'string' },
        'virtual-node-label': { type: 'string' },
        'virtual-node-taint': { type: 'string' },
        'cert-validity': { type: 'string' },
        'cert-poll-interval': { type: 'string' },
        'request-timeout': { type: 'string' },
        'headers-timeout': { type: 'string' },
        'handler-timeout': { type: 'string' },
        'drain-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    // parseArgs' messages already name the flag ("Unknown option '--prot'").
    throw new ConfigError((error as Error).message);
  }
  if (values.help) return 'help';

  const certDir = values['cert-dir'];
  if (!certDir) throw new ConfigError('--cert-dir is required (a directory with tls.crt/tls.key, or where to generate them)');
  if (values.standalone && values.kubeconfig) throw new ConfigError('--standalone and --kubeconfig exclude each other');

  const host = values.host ?? '0.0.0.0';
  if (host !== 'localhost' && isIP(host) === 0) throw new ConfigError(`--host: "${host}" is not an IP address`);

  const namespace = dnsLabel(values.namespace ?? 'kube-offload-system', 'namespace');
  const caSecretText = values['ca-secret'] ?? `${namespace}/kube-offload-webhook-ca`;
  const slash = caSecretText.indexOf('/');
  if (slash <= 0 || slash === caSecretText.length - 1) throw new ConfigError(`--ca-secret: "${caSecretText}" is not NAMESPACE/NAME`);

  const config: WebhookConfig = {
    port: parsePort(values.port ?? '8443'),
    host,
    certDir,
    standalone: values.standalone ?? false,
    defaultPlacement: oneOf(values['default-placement'] ?? DEFAULT_PLACEMENT, PLACEMENTS, 'default-placement'),
    serviceName: dnsLabel(values['service-name'] ?? 'kube-offload-webhook', 'service-name'),
    namespace,
    caSecret: { namespace: caSecretText.slice(0, slash), name: caSecretText.slice(slash + 1) },
    webhookSelector: values['webhook-selector'] ?? 'app.kubernetes.io/part-of=kube-offload',
    caSyncIntervalMs: parseDuration(values['ca-sync-interval'] ?? '30s', 'ca-sync-interval'),
    convention: parseConvention(values['virtual-node-label'], values['virtual-node-taint']),
    certValidityMs: parseDuration(values['cert-validity'] ?? '365d', 'cert-validity'),
    certPollIntervalMs: parseDuration(values['cert-poll-interval'] ?? '10s', 'cert-poll-interval'),
    requestTimeoutMs: parseDuration(values['request-timeout'] ?? '30s', 'request-timeout'),
    headersTimeoutMs: parseDuration(values['headers-timeout'] ?? '10s', 'headers-timeout'),
    handlerTimeoutMs: parseDuration(values['handler-timeout'] ?? '9s', 'handler-timeout'),
    drainTimeoutMs: parseDuration(values['drain-timeout'] ?? '20s', 'drain-timeout'),
    logLevel: oneOf(values['log-level'] ?? 'info', LOG_LEVELS, 'log-level'),
  };
  if (values.kubeconfig !== undefined) config.kubeconfig = values.kubeconfig;
  if (values['default-prefer'] !== undefined) config.defaultPrefer = oneOf(values['default-prefer'], PREFERENCES, 'default-prefer');

  // A certificate shorter-lived than this cannot be renewed safely at 2/3 of its lifetime.
  if (config.certValidityMs < 3000) throw new ConfigError('--cert-validity must be at least 3s');
  if (config.certPollIntervalMs < 100) throw new ConfigError('--cert-poll-interval must be at least 100ms');
  if (config.caSyncIntervalMs < 100) throw new ConfigError('--ca-sync-interval must be at least 100ms');
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new ConfigError('--headers-timeout must not exceed --request-timeout');
  }
  return config;
}
