// Flags of `kube-offload virtual-node`, parsed into a validated config before any I/O.
import { isIP } from 'node:net';
import {
  CONNECTION_FLAGS,
  ConfigError,
  LOG_LEVELS,
  NAMESPACE_FLAG,
  connectionOf,
  connectionUsage,
  dnsLabel,
  namespaceOf,
  keyValue,
  oneOf,
  parseConvention,
  parseDuration,
  parseFlags,
  portNumber,
  renameDeprecatedFlags,
} from '../common/flags.ts';
import type { LogLevel } from '../common/flags.ts';
import type { VirtualNodeConvention } from '../../webhooks/keys.ts';
import { LIQO_CONVENTION } from '../../webhooks/keys.ts';

export interface RemoteConfig {
  name: string;
  kubeconfig: string;
  nodeName: string;
}

/** The kubelet API each virtual node serves (the apiserver's logs, exec, port-forward, top). */
export interface KubeletApiConfig {
  /** The first node's port; the next remotes take the following ones. 0: ephemeral ports. */
  port: number;
  address: string;
  certDir?: string;
  clientCaFile?: string;
}

export interface VirtualNodeCommandConfig {
  clusterName: string;
  remotes: RemoteConfig[];
  /** Where the peer Secrets are (remotes found at run time). */
  peerNamespace: string;
  kubeconfig?: string;
  /** The context of the local kubeconfig (default: its current-context). */
  context?: string;
  nodeIP: string;
  kubelet: KubeletApiConfig;
  extraLabels: Record<string, string>;
  convention: VirtualNodeConvention;
  metricsPort?: number;
  metricsHost: string;
  workers: number;
  qps: number;
  burst: number;
  probeIntervalMs: number;
  unreachableAfter: number;
  leaseIntervalMs: number;
  resyncPeriodMs: number;
  referencesWarnAfterMs: number;
  leaderElect: boolean;
  leaseNamespace: string;
  logLevel: LogLevel;
}

const { labelKey, labelValue, taintKey, taintValue, taintEffect } = LIQO_CONVENTION;

const SYNOPSIS = 'usage: kube-offload virtual-node --cluster-name LOCAL [--remote NAME=KUBECONFIG ...] [flags]';

export const VIRTUAL_NODE_USAGE = `${SYNOPSIS}

Registers one virtual node per remote cluster in the local cluster and runs the pods bound to
it in the remote cluster's twin namespace (<namespace>-<LOCAL>, or <namespace> with
kube-offload.io/twin-name: SameName). The remotes are those
"kube-offload peer" connected (Secrets labelled kube-offload.io/component=virtual-node in
--peer-namespace, followed while running) plus those given with --remote.

  --cluster-name NAME       name of the local cluster (origin marks, twin namespace names)
                            (required)
  --remote NAME=KUBECONFIG  a remote cluster and its kubeconfig; repeatable (a peer Secret
                            for the same NAME is then ignored)
  -n, --namespace NS        where the provider runs: its peer Secrets and its Lease are there
                            (default: the pod's namespace, else kube-offload-system)
  --peer-namespace NS       where the peer Secrets are, if not there (default: --namespace)
${connectionUsage(28)}
  --node-name NAME          virtual node name (default virtual-<remote>); with several remotes
                            give REMOTE=NAME, repeatable
  --node-ip IP              InternalIP of the virtual node and hostIP of its pods
                            (default $POD_IP, else 127.0.0.1)
  --kubelet-port N          port of the kubelet API (logs, exec, attach, port-forward, stats) the
                            node publishes; with several remotes the next ones take N+1, ...
                            (default 10250; 0 = ephemeral ports)
  --kubelet-address ADDR    address the kubelet API listens on (default 0.0.0.0)
  --kubelet-cert-dir DIR    keeps each node's self-made serving certificate in DIR/<node>/
                            (kubelet.crt, kubelet.key); default: a new one at every start
  --client-ca-file FILE     CA bundle that client certificates (the apiserver's
                            --kubelet-client-certificate) are checked against; without it only
                            bearer tokens (TokenReview) authenticate
  --label K=V               extra label on the virtual node(s); repeatable
  --virtual-node-label K=V  label of virtual nodes (default ${labelKey}=${labelValue})
  --virtual-node-taint K=V:EFFECT
                            taint of virtual nodes (default ${taintKey}=${taintValue}:${taintEffect})
  --metrics-port N          serve /metrics, /healthz, /readyz on this port (default: off; 0 = any)
  --metrics-host ADDR       address for that server (default 0.0.0.0)
  --workers N               pods reconciled in parallel per remote (default 16)
  --qps N, --burst N        client-side write rate limit per cluster (default 100, 200: a virtual
                            node stands for a whole cluster, twice a kubelet's 50/100)
  --probe-interval DUR      remote reachability probe and capacity refresh (default 5s)
  --unreachable-after N     failed probes before the node turns NotReady (default 2)
  --lease-interval DUR      node Lease renewal (default 10s)
  --resync-period DUR       full reconcile of every pod (default 5m)
  --references-warn-after DUR
                            a pod still waiting this long for its ConfigMaps/Secrets in the twin
                            namespace gets a MissingReferences Warning Event (default 30s)
  --leader-elect            run only while holding a Lease (for several replicas)
  --lease-namespace NS      namespace of that Lease, if not there (default: --namespace)
  --log-level LEVEL         ${LOG_LEVELS.join(' | ')} (default info)
  -h, --help                this text

Deprecated spellings, still accepted with a warning: --concurrency (--workers), --resync
(--resync-period), --leader-elect-namespace (--lease-namespace).
`;

/** Old flag names -> their current spelling (the one every command uses). */
export const DEPRECATED_FLAGS: Readonly<Record<string, string>> = {
  concurrency: 'workers',
  resync: 'resync-period',
  'leader-elect-namespace': 'lease-namespace',
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function positiveInt(text: string, flag: string, min = 1): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min) throw new ConfigError(`--${flag}: "${text}" is not an integer >= ${min}`);
  return value;
}

function readFlags(argv: string[], warn: ((line: string) => void) | undefined) {
  return parseFlags(renameDeprecatedFlags(argv, DEPRECATED_FLAGS, warn), {
    'cluster-name': { type: 'string' },
    remote: { type: 'string', multiple: true },
    ...NAMESPACE_FLAG,
    'peer-namespace': { type: 'string' },
    ...CONNECTION_FLAGS,
    'node-name': { type: 'string', multiple: true },
    'node-ip': { type: 'string' },
    'kubelet-port': { type: 'string', default: '10250' },
    'kubelet-address': { type: 'string', default: '0.0.0.0' },
    'kubelet-cert-dir': { type: 'string' },
    'client-ca-file': { type: 'string' },
    label: { type: 'string', multiple: true },
    'virtual-node-label': { type: 'string' },
    'virtual-node-taint': { type: 'string' },
    'metrics-port': { type: 'string' },
    'metrics-host': { type: 'string', default: '0.0.0.0' },
    workers: { type: 'string', default: '16' },
    qps: { type: 'string', default: '100' },
    burst: { type: 'string', default: '200' },
    'probe-interval': { type: 'string', default: '5s' },
    'unreachable-after': { type: 'string', default: '2' },
    'lease-interval': { type: 'string', default: '10s' },
    'resync-period': { type: 'string', default: '5m' },
    'references-warn-after': { type: 'string', default: '30s' },
    'leader-elect': { type: 'boolean', default: false },
    'lease-namespace': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    help: { type: 'boolean', short: 'h', default: false },
  });
}

/** `warn` hears of deprecated flag spellings (default: a line on stderr). */
export function parseVirtualNodeArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  warn?: (line: string) => void,
): VirtualNodeCommandConfig | 'help' {
  const values = readFlags(argv, warn);
  if (values.help) return 'help';

  const clusterName = values['cluster-name'];
  if (!clusterName) throw new ConfigError('--cluster-name is required');
  dnsLabel(clusterName, 'cluster-name');
  const remotes = parseRemotes(values.remote ?? [], values['node-name'] ?? []);

  const nodeIP = values['node-ip'] ?? (env.POD_IP && isIP(env.POD_IP) ? env.POD_IP : '127.0.0.1');
  if (!isIP(nodeIP)) throw new ConfigError(`--node-ip: "${nodeIP}" is not an IP address`);
  const kubelet = parseKubeletApi(values);
  if (kubelet.port > 0 && kubelet.port + remotes.length - 1 > 65535) {
    throw new ConfigError(`--kubelet-port: ${kubelet.port} leaves no port for each of ${remotes.length} remotes`);
  }
  const extraLabels = parseLabels(values.label ?? []);
  const metricsPort =
    values['metrics-port'] === undefined ? undefined : portNumber(values['metrics-port'], 'metrics-port');
  const logLevel = oneOf(values['log-level'], LOG_LEVELS, 'log-level');
  const namespace = namespaceOf(values.namespace, env);
  const inNamespace = (flag: 'peer-namespace' | 'lease-namespace'): string =>
    values[flag] ? dnsLabel(values[flag], flag) : namespace;

  return {
    clusterName,
    remotes,
    peerNamespace: inNamespace('peer-namespace'),
    ...connectionOf(values),
    nodeIP,
    kubelet,
    extraLabels,
    convention: parseConvention(values['virtual-node-label'], values['virtual-node-taint']),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    metricsHost: values['metrics-host'],
    workers: positiveInt(values.workers, 'workers'),
    qps: positiveInt(values.qps, 'qps'),
    burst: positiveInt(values.burst, 'burst'),
    probeIntervalMs: parseDuration(values['probe-interval'], 'probe-interval'),
    unreachableAfter: positiveInt(values['unreachable-after'], 'unreachable-after'),
    leaseIntervalMs: parseDuration(values['lease-interval'], 'lease-interval'),
    resyncPeriodMs: parseDuration(values['resync-period'], 'resync-period'),
    referencesWarnAfterMs: parseDuration(values['references-warn-after'], 'references-warn-after'),
    leaderElect: values['leader-elect'],
    leaseNamespace: inNamespace('lease-namespace'),
    logLevel,
  };
}

/** --node-name: a plain NAME with a single remote, else REMOTE=NAME pairs. */
function parseNodeNames(remoteFlags: string[], nodeFlags: string[]): Map<string, string> {
  const nodeNames = new Map<string, string>();
  if (nodeFlags.length === 1 && remoteFlags.length === 1 && !nodeFlags[0]?.includes('=')) {
    const [remote] = keyValue(remoteFlags[0] ?? '', 'remote');
    nodeNames.set(remote, nodeFlags[0] ?? '');
    return nodeNames;
  }
  for (const flag of nodeFlags) {
    const [remote, node] = keyValue(flag, 'node-name');
    nodeNames.set(remote, node);
  }
  return nodeNames;
}

function parseRemotes(remoteFlags: string[], nodeFlags: string[]): RemoteConfig[] {
  const nodeNames = parseNodeNames(remoteFlags, nodeFlags);
  const remotes: RemoteConfig[] = [];
  const seenNodes = new Set<string>();
  for (const flag of remoteFlags) {
    const [name, kubeconfig] = keyValue(flag, 'remote');
    dnsLabel(name, 'remote');
    if (!kubeconfig) throw new ConfigError(`--remote ${name}: empty kubeconfig path`);
    if (remotes.some((remote) => remote.name === name)) throw new ConfigError(`--remote ${name}: given twice`);
    const nodeName = nodeNames.get(name) ?? `virtual-${name}`;
    if (nodeName.length > 253 || !DNS_SUBDOMAIN.test(nodeName)) {
      throw new ConfigError(`--node-name: "${nodeName}" is not a valid node name`);
    }
    if (seenNodes.has(nodeName)) throw new ConfigError(`--node-name: "${nodeName}" used for two remotes`);
    seenNodes.add(nodeName);
    remotes.push({ name, kubeconfig, nodeName });
  }
  for (const remote of nodeNames.keys()) {
    if (!remotes.some((r) => r.name === remote)) {
      throw new ConfigError(`--node-name ${remote}=...: no --remote ${remote}`);
    }
  }
  return remotes;
}

function parseKubeletApi(values: {
  'kubelet-port': string;
  'kubelet-address': string;
  'kubelet-cert-dir'?: string | undefined;
  'client-ca-file'?: string | undefined;
}): KubeletApiConfig {
  const address = values['kubelet-address'];
  if (!isIP(address)) throw new ConfigError(`--kubelet-address: "${address}" is not an IP address`);
  return {
    port: portNumber(values['kubelet-port'], 'kubelet-port'),
    address,
    ...(values['kubelet-cert-dir'] ? { certDir: values['kubelet-cert-dir'] } : {}),
    ...(values['client-ca-file'] ? { clientCaFile: values['client-ca-file'] } : {}),
  };
}

function parseLabels(flags: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const flag of flags) {
    const [key, value] = keyValue(flag, 'label');
    labels[key] = value;
  }
  return labels;
}
