// Flags of `kube-offload webhook`, parsed with node:util parseArgs into a validated, typed config.
// Everything that can be wrong with the command line is reported here, before any I/O, so a
// typo fails fast (exit 2) instead of half-starting a server.
import { isIP } from 'node:net';
import {
  CONNECTION_FLAGS,
  ConfigError,
  NAMESPACE_FLAG,
  connectionOf,
  connectionUsage,
  dnsLabel,
  namespaceOf,
  LOG_LEVELS,
  oneOf,
  parseConvention,
  parseDuration,
  parseFlags,
  portNumber,
} from '../common/flags.ts';
import type { LogLevel } from '../common/flags.ts';
import type { Placement, Preference, VirtualNodeConvention } from '../../webhooks/keys.ts';
import { DEFAULT_PLACEMENT, LIQO_CONVENTION, PLACEMENTS, PREFERENCES } from '../../webhooks/keys.ts';
import { MAX_BODY_BYTES } from './server/body.ts';

export interface WebhookConfig {
  port: number;
  host: string;
  /** Plain-HTTP /metrics, /healthz, /readyz (on host); undefined: not served; 0: a free port. */
  metricsPort?: number;
  certDir: string;
  standalone: boolean;
  kubeconfig?: string;
  /** The context of that kubeconfig (default: its current-context). */
  context?: string;
  defaultPlacement: Placement;
  defaultPrefer?: Preference;
  serviceName: string;
  namespace: string;
  /** Where replicas share the CA when we generate certificates (cluster mode only). */
  caSecret: { namespace: string; name: string };
  /** Selects OUR Mutating/ValidatingWebhookConfigurations, whose caBundle we keep current. */
  webhookSelector: string;
  /** Whether we keep caBundle current (false when cert-manager's cainjector does it). */
  manageCaBundle: boolean;
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
  /** Request bytes the admissions may hold at once; more wait (see server/gate.ts). */
  maxBufferedBytes: number;
  /** Admissions that may wait for those bytes; beyond, the answer is 429. */
  maxWaitingReviews: number;
  logLevel: LogLevel;
}

const { taintKey, taintValue, taintEffect } = LIQO_CONVENTION;
const DEFAULT_TAINT = `${taintKey}=${taintValue}:${taintEffect}`;

export const WEBHOOK_USAGE = `usage: kube-offload webhook --cert-dir DIR [flags]

  --port N                  HTTPS port (default 8443; 0 picks a free one)
  --host ADDR               address to listen on (default 0.0.0.0)
  --metrics-port N          also serve /metrics, /healthz, /readyz over plain HTTP on this port
                            (default: off, they are on the HTTPS port only; 0 picks a free one)
  --cert-dir DIR            tls.crt/tls.key to serve (hot-reloaded), or where to generate
                            ca.crt, ca.key, tls.crt, tls.key when it holds none (required)
  --standalone              no cluster access: placement from object annotations and defaults
${connectionUsage(28)}
  --default-placement P     Local | Remote | LocalAndRemote (default ${DEFAULT_PLACEMENT})
  --default-prefer P        Local | Remote (default: none)
  --service-name NAME       Service in front of the webhook, for certificate SANs (default kube-offload-webhook)
  -n, --namespace NS        where the webhook runs: its Service and CA Secret (default:
                            the pod's namespace, else kube-offload-system)
  --ca-secret NS/NAME       Secret that holds the shared CA (default <namespace>/kube-offload-webhook-ca)
  --webhook-selector SEL    label selector of our webhook configurations, whose caBundle is kept
                            current (default app.kubernetes.io/part-of=kube-offload)
  --ca-sync-interval DUR    how often caBundle and the CA Secret are checked (default 30s)
  --manage-ca-bundle BOOL   true: keep caBundle of those configurations current (default);
                            false: leave it to someone else (cert-manager's cainjector)
  --virtual-node-label K=V  label of virtual nodes (default ${LIQO_CONVENTION.labelKey}=${LIQO_CONVENTION.labelValue})
  --virtual-node-taint K=V:EFFECT
                            taint of virtual nodes (default ${DEFAULT_TAINT})
  --cert-validity DUR       lifetime of generated serving certs, e.g. 90d, 2m (default 365d)
  --cert-poll-interval DUR  fallback check of the cert files (default 10s)
  --request-timeout DUR     whole-request timeout (default 30s)
  --headers-timeout DUR     headers timeout (default 10s)
  --handler-timeout DUR     deadline for an admission verdict (default 9s)
  --drain-timeout DUR       max time to drain in-flight requests on SIGTERM (default 20s)
  --max-buffered-bytes SIZE request bytes admissions may hold at once, e.g. 16Mi; reviews
                            beyond it wait (default 8Mi, at least 3Mi: one largest review)
  --max-waiting-reviews N   reviews that may wait for that room; beyond, 429 (default 1000)
  --log-level LEVEL         ${LOG_LEVELS.join(' | ')} (default info)
  -h, --help                this text
`;

type DurationFlag =
  | 'ca-sync-interval'
  | 'cert-validity'
  | 'cert-poll-interval'
  | 'request-timeout'
  | 'headers-timeout'
  | 'handler-timeout'
  | 'drain-timeout';

/** Parses argv (after "webhook"); returns "help" for -h/--help. Throws ConfigError. */
export function parseWebhookArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): WebhookConfig | 'help' {
  const values = parseFlags(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    'metrics-port': { type: 'string' },
    'cert-dir': { type: 'string' },
    standalone: { type: 'boolean' },
    ...CONNECTION_FLAGS,
    'default-placement': { type: 'string' },
    'default-prefer': { type: 'string' },
    'service-name': { type: 'string' },
    ...NAMESPACE_FLAG,
    'ca-secret': { type: 'string' },
    'webhook-selector': { type: 'string' },
    'ca-sync-interval': { type: 'string' },
    'manage-ca-bundle': { type: 'string' },
    'virtual-node-label': { type: 'string' },
    'virtual-node-taint': { type: 'string' },
    'cert-validity': { type: 'string' },
    'cert-poll-interval': { type: 'string' },
    'request-timeout': { type: 'string' },
    'headers-timeout': { type: 'string' },
    'handler-timeout': { type: 'string' },
    'drain-timeout': { type: 'string' },
    'max-buffered-bytes': { type: 'string' },
    'max-waiting-reviews': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';

  const certDir = values['cert-dir'];
  if (!certDir)
    throw new ConfigError('--cert-dir is required (a directory with tls.crt/tls.key, or where to generate them)');
  for (const flag of ['kubeconfig', 'context'] as const)
    if (values.standalone && values[flag] !== undefined)
      throw new ConfigError(`--standalone and --${flag} exclude each other (standalone: no cluster access)`);

  const host = values.host ?? '0.0.0.0';
  if (host !== 'localhost' && isIP(host) === 0) throw new ConfigError(`--host: "${host}" is not an IP address`);

  const namespace = namespaceOf(values.namespace, env);
  const duration = (flag: DurationFlag, fallback: string): number => parseDuration(values[flag] ?? fallback, flag);

  const config: WebhookConfig = {
    port: portNumber(values.port ?? '8443', 'port'),
    host,
    certDir,
    standalone: values.standalone ?? false,
    defaultPlacement: oneOf(values['default-placement'] ?? DEFAULT_PLACEMENT, PLACEMENTS, 'default-placement'),
    serviceName: dnsLabel(values['service-name'] ?? 'kube-offload-webhook', 'service-name'),
    namespace,
    caSecret: parseCaSecret(values['ca-secret'] ?? `${namespace}/kube-offload-webhook-ca`),
    webhookSelector: values['webhook-selector'] ?? 'app.kubernetes.io/part-of=kube-offload',
    manageCaBundle: parseBoolean(values['manage-ca-bundle'] ?? 'true', 'manage-ca-bundle'),
    caSyncIntervalMs: duration('ca-sync-interval', '30s'),
    convention: parseConvention(values['virtual-node-label'], values['virtual-node-taint']),
    certValidityMs: duration('cert-validity', '365d'),
    certPollIntervalMs: duration('cert-poll-interval', '10s'),
    requestTimeoutMs: duration('request-timeout', '30s'),
    headersTimeoutMs: duration('headers-timeout', '10s'),
    handlerTimeoutMs: duration('handler-timeout', '9s'),
    drainTimeoutMs: duration('drain-timeout', '20s'),
    maxBufferedBytes: parseByteSize(values['max-buffered-bytes'] ?? '8Mi', 'max-buffered-bytes'),
    maxWaitingReviews: count(values['max-waiting-reviews'] ?? '1000', 'max-waiting-reviews'),
    logLevel: oneOf(values['log-level'] ?? 'info', LOG_LEVELS, 'log-level'),
  };
  Object.assign(config, connectionOf(values));
  if (values['metrics-port'] !== undefined) config.metricsPort = portNumber(values['metrics-port'], 'metrics-port');
  if (values['default-prefer'] !== undefined)
    config.defaultPrefer = oneOf(values['default-prefer'], PREFERENCES, 'default-prefer');
  checkRanges(config);
  return config;
}

/** "true" or "false"; a string flag because parseArgs refuses `--flag=false` on booleans. */
function parseBoolean(text: string, flag: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new ConfigError(`--${flag}: "${text}" is not true or false`);
}

function parseCaSecret(text: string): { namespace: string; name: string } {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) throw new ConfigError(`--ca-secret: "${text}" is not NAMESPACE/NAME`);
  return { namespace: text.slice(0, slash), name: text.slice(slash + 1) };
}

function checkRanges(config: WebhookConfig): void {
  // A certificate shorter-lived than this cannot be renewed safely at 2/3 of its lifetime.
  if (config.certValidityMs < 3000) throw new ConfigError('--cert-validity must be at least 3s');
  if (config.certPollIntervalMs < 100) throw new ConfigError('--cert-poll-interval must be at least 100ms');
  if (config.caSyncIntervalMs < 100) throw new ConfigError('--ca-sync-interval must be at least 100ms');
  if (config.metricsPort !== undefined && config.metricsPort !== 0 && config.metricsPort === config.port) {
    throw new ConfigError(
      `--metrics-port ${config.metricsPort} is --port too: the plain-HTTP port needs one of its own`,
    );
  }
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new ConfigError('--headers-timeout must not exceed --request-timeout');
  }
  if (config.maxBufferedBytes < MAX_BODY_BYTES) {
    throw new ConfigError('--max-buffered-bytes must be at least 3Mi, the largest review');
  }
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  k: 1000,
  M: 1000 ** 2,
  G: 1000 ** 3,
};

/** "16Mi", "512Ki", "20M", "1048576" (Kubernetes quantity suffixes) -> bytes; throws ConfigError. */
export function parseByteSize(text: string, flag: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(text);
  const bytes = match ? Number(match[1]) * (BYTE_UNITS[match[2] ?? ''] as number) : Number.NaN;
  if (!Number.isSafeInteger(bytes))
    throw new ConfigError(`--${flag}: "${text}" is not a size in bytes (examples: 16Mi, 512Ki, 20000000)`);
  return bytes;
}

function count(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new ConfigError(`--${flag}: "${text}" is not a whole number`);
  return Number(text);
}
