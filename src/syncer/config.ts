// Flags of `kube-offload syncer` and `kube-offload status` (pure parsing, unit-tested).
import type { ParseArgsOptionsConfig } from 'node:util';
import {
  CONNECTION_FLAGS,
  ConfigError,
  LOG_LEVELS,
  NAMESPACE_FLAG,
  OUTPUT_FLAG,
  connectionOf,
  connectionUsage,
  dnsLabel,
  namespaceOf,
  oneOf,
  outputFormat,
  outputUsage,
  parseDuration,
  parseFlags,
} from '../common/flags.ts';
import type { LogLevel, OutputFormat } from '../common/flags.ts';
import { validRemoteName } from './keys.ts';

export const SYNCER_USAGE = `usage: kube-offload syncer --cluster-name NAME [--remote NAME=KUBECONFIG ...] [flags]

Copies stamped Services, Secrets and ConfigMaps (and the EndpointSlices of replicated Services)
of opted-in namespaces into each remote's twin namespace. The remotes are those "kube-offload peer"
connected (Secrets labelled kube-offload.io/component=syncer in --peer-namespace, followed while
running: added, removed, credentials rotated) plus those given with --remote.

  --cluster-name NAME         this (local) cluster's name; twins are <namespace>-<NAME> (or <namespace>
                              with kube-offload.io/twin-name: SameName)
  --remote NAME=KUBECONFIG    a remote cluster and the kubeconfig file to reach it (repeatable; a peer
                              Secret for the same NAME is then ignored)
  -n, --namespace NS          where the syncer runs: its peer Secrets and its Lease are there
                              (default: the pod's namespace, else kube-offload-system)
  --peer-namespace NS         where the peer Secrets are, if not there (default: --namespace)
  --remote-labels NAME=K=V,K2=V2
                              labels of remote NAME, matched by a namespace's kube-offload.io/clusters
                              selector (repeatable). Every remote also has kube-offload.io/remote-cluster=NAME
                              and the labels of its virtual node, if there is one
${connectionUsage(30)}
  --metrics-port PORT         /metrics, /healthz, /readyz on this port (default 8080; 0 picks a free one)
  --leader-elect              run as one of several replicas; only the Lease holder writes
  --lease-namespace NS        namespace of the Lease, if not there (default: --namespace)
  --lease-name NAME           default kube-offload-syncer
  --lease-duration D          default 15s (renew deadline 2/3 of it, retry period 2/15 of it)
  --qps N --burst N           client-side write rate limit per cluster (default 200 / 400)
  --workers N                 parallel reconciles (default 16)
  --resync-period D           every D, compare everything again (default 5m; writes only on difference)
  --backfill-period D         every D, stamp unstamped objects of opted-in namespaces (default 1m)
  --log-level LEVEL           ${LOG_LEVELS.join(' | ')} (default info)
  -h, --help                  this text
`;

export const STATUS_USAGE = `usage: kube-offload status [flags]

Prints each remote: whether it answers, its virtual node's readiness and capacity, its twin
namespaces, the objects in sync, pending and in conflict, the offloaded pods and the last error;
then each opted-in namespace per remote. The remotes are those "kube-offload peer" connected (their
peer Secrets, read with the syncer's and the provider's credentials), or those given with --remote.
Computed by reading both clusters with the comparison the syncer uses; the last replication error
comes from the syncer's Events.

${connectionUsage(30)}
  -n, --namespace NS          where the peer Secrets and kube-offload-config are (default:
                              the pod's namespace, else kube-offload-system)
  --cluster-name NAME         the local cluster's name (default: from the peer Secrets, else
                              kube-offload-system/kube-offload-config's cluster-name)
  --remote NAME=KUBECONFIG    a remote and a kubeconfig for it, instead of the peer Secrets (repeatable)
  --remote-labels NAME=K=V,.. as for the syncer
${outputUsage(30)}
  -h, --help                  this text
`;

export interface RemoteFlag {
  name: string;
  kubeconfig: string;
  labels: Record<string, string>;
}

export interface SyncerConfig {
  clusterName: string;
  remotes: RemoteFlag[];
  peerNamespace: string;
  kubeconfig?: string;
  /** The context of the local kubeconfig (default: its current-context). */
  context?: string;
  metricsPort: number;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationMs: number;
  qps: number;
  burst: number;
  workers: number;
  resyncPeriodMs: number;
  backfillPeriodMs: number;
  logLevel: LogLevel;
}

export interface StatusConfig {
  /** Undefined: found in the peer Secrets or kube-offload-config. */
  clusterName?: string;
  /** Empty: the peered remotes. */
  remotes: RemoteFlag[];
  kubeconfig?: string;
  context?: string;
  /** Where the peer Secrets (and kube-offload-config) are. */
  namespace: string;
  output: OutputFormat;
}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

function parseRemotes(remoteFlags: string[], labelFlags: string[]): RemoteFlag[] {
  const remotes: RemoteFlag[] = [];
  for (const flag of remoteFlags) {
    const equals = flag.indexOf('=');
    if (equals <= 0 || equals === flag.length - 1) throw new ConfigError(`--remote: "${flag}" is not NAME=KUBECONFIG`);
    const name = flag.slice(0, equals);
    if (!validRemoteName(name)) throw new ConfigError(`--remote: "${name}" is not a DNS-1123 label`);
    if (remotes.some((r) => r.name === name)) throw new ConfigError(`--remote: "${name}" given twice`);
    remotes.push({ name, kubeconfig: flag.slice(equals + 1), labels: {} });
  }
  for (const flag of labelFlags) {
    const equals = flag.indexOf('=');
    const name = flag.slice(0, Math.max(0, equals));
    const remote = remotes.find((r) => r.name === name);
    if (equals <= 0 || !remote) {
      throw new ConfigError(`--remote-labels: "${flag}" must be NAME=K=V[,K=V...] for a NAME given with --remote`);
    }
    for (const pair of flag.slice(equals + 1).split(',')) {
      if (pair.trim() === '') continue;
      const split = pair.indexOf('=');
      const key = split < 0 ? pair : pair.slice(0, split);
      const value = split < 0 ? '' : pair.slice(split + 1);
      if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
        throw new ConfigError(`--remote-labels: "${pair}" is not a valid label K=V`);
      }
      remote.labels[key] = value;
    }
  }
  return remotes;
}

function positiveNumber(text: string, flag: string, integer: boolean): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value)))
    throw new ConfigError(`--${flag}: "${text}" is not a positive ${integer ? 'integer' : 'number'}`);
  return value;
}

function clusterName(name: string | undefined): string {
  if (!name) throw new ConfigError('--cluster-name NAME is required');
  if (!validRemoteName(name)) throw new ConfigError(`--cluster-name: "${name}" is not a DNS-1123 label`);
  return name;
}

/** The flags that name the clusters; `syncer` and `status` read them alike. */
const CLUSTER_FLAGS = {
  'cluster-name': { type: 'string' },
  remote: { type: 'string', multiple: true },
  'remote-labels': { type: 'string', multiple: true },
  ...CONNECTION_FLAGS,
  ...NAMESPACE_FLAG,
} as const satisfies ParseArgsOptionsConfig;

export function parseSyncerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): SyncerConfig | 'help' {
  const values = parseFlags(argv, {
    ...CLUSTER_FLAGS,
    'peer-namespace': { type: 'string' },
    'metrics-port': { type: 'string' },
    'leader-elect': { type: 'boolean' },
    'lease-namespace': { type: 'string' },
    'lease-name': { type: 'string' },
    'lease-duration': { type: 'string' },
    qps: { type: 'string' },
    burst: { type: 'string' },
    workers: { type: 'string' },
    'resync-period': { type: 'string' },
    'backfill-period': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const metricsPort = Number(values['metrics-port'] ?? '8080');
  // Looser than portNumber() (whatever Number() reads as an integer, e.g. "8e3"), so that
  // command lines that work today keep working.
  if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)
    throw new ConfigError(`--metrics-port: "${values['metrics-port']}" is not a port number`);
  const logLevel = oneOf(values['log-level'] ?? 'info', LOG_LEVELS, 'log-level');
  const qps = positiveNumber(values.qps ?? '200', 'qps', false);
  const burst = positiveNumber(values.burst ?? String(Math.max(1, Math.ceil(qps * 2))), 'burst', true);
  const leaseDurationMs = parseDuration(values['lease-duration'] ?? '15s', 'lease-duration');
  if (leaseDurationMs < 3000) throw new ConfigError('--lease-duration: must be at least 3s');
  const namespace = namespaceOf(values.namespace, env);
  const config: SyncerConfig = {
    clusterName: clusterName(values['cluster-name']),
    remotes: parseRemotes(values.remote ?? [], values['remote-labels'] ?? []),
    peerNamespace: values['peer-namespace'] ? dnsLabel(values['peer-namespace'], 'peer-namespace') : namespace,
    metricsPort,
    leaderElect: values['leader-elect'] === true,
    leaseNamespace: values['lease-namespace'] ? dnsLabel(values['lease-namespace'], 'lease-namespace') : namespace,
    leaseName: values['lease-name'] ?? 'kube-offload-syncer',
    leaseDurationMs,
    qps,
    burst,
    workers: positiveNumber(values.workers ?? '16', 'workers', true),
    resyncPeriodMs: parseDuration(values['resync-period'] ?? '5m', 'resync-period'),
    backfillPeriodMs: parseDuration(values['backfill-period'] ?? '1m', 'backfill-period'),
    logLevel,
    ...connectionOf(values),
  };
  if (config.resyncPeriodMs < 1000) throw new ConfigError('--resync-period: must be at least 1s');
  if (config.backfillPeriodMs < 1000) throw new ConfigError('--backfill-period: must be at least 1s');
  return config;
}

export function parseStatusArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): StatusConfig | 'help' {
  const values = parseFlags(argv, {
    ...CLUSTER_FLAGS,
    ...OUTPUT_FLAG,
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const config: StatusConfig = {
    remotes: parseRemotes(values.remote ?? [], values['remote-labels'] ?? []),
    namespace: namespaceOf(values.namespace, env),
    output: outputFormat(values.output),
    ...connectionOf(values),
  };
  if (values['cluster-name'] !== undefined) config.clusterName = clusterName(values['cluster-name']);
  return config;
}
