// Flags of `kube-offload peer` and `kube-offload unpeer` (pure parsing, unit-tested). Every
// mistake is reported before any I/O, naming the flag, the value and what is allowed.
import {
  CONNECTION_FLAGS,
  ConfigError,
  NAMESPACE_FLAG,
  OUTPUT_FLAG,
  connectionOf,
  connectionUsage,
  dnsLabel,
  namespaceOf,
  outputFormat,
  outputUsage,
  parseDuration,
  parseFlags,
} from '../common/flags.ts';
import type { OutputFormat } from '../common/flags.ts';

const PEER_SYNOPSIS = 'usage: kube-offload peer --name NAME (--remote-context CTX | --remote-kubeconfig FILE) [flags]';

export const PEER_USAGE = `${PEER_SYNOPSIS}

Connects a remote cluster: applies the identities of the syncer and the virtual node provider and
their least-privilege RBAC in the remote (manifests/remote), mints a token for each, and stores one
kubeconfig Secret per component in this cluster's kube-offload-system namespace (-n), where the
running components find it (no restart). Running it again changes nothing; --rotate renews the tokens.

  --name NAME                 the remote's name here (a DNS-1123 label): its virtual node is
                              virtual-NAME, and namespaces select it with kube-offload.io/remote-cluster=NAME
  --remote-kubeconfig FILE    a kubeconfig with admin rights in the remote (default: $KUBECONFIG, ~/.kube/config)
  --remote-context CTX        the remote's context in it (default: its current context)
  --remote-server URL         the remote API server as the local components reach it (default: the
                              server of that context)
${connectionUsage(30)}
  -n, --namespace NS          where the peer Secrets go, where the components run (default:
                              the pod's namespace, else kube-offload-system)
  --cluster-name NAME         this cluster's name, as the components run with it (default: from an
                              earlier peer, else <namespace>/kube-offload-config's cluster-name)
  --manifests DIR             where the remote identities are (default: manifests/ of this checkout:
                              remote/kustomization.yaml, else syncer/ and virtual-node/remote-rbac.yaml)
  --token-ttl D               lifetime asked for each token (default 8760h; the remote may grant less)
  --rotate                    mint new tokens, store them, then revoke the old ones
${outputUsage(30)}
  -h, --help                  this text
`;

export const UNPEER_USAGE = `usage: kube-offload unpeer --name NAME [flags]

Disconnects a remote cluster: stops the syncer replicating there, cordons and drains its virtual
node (offloaded pods are deleted, so their controllers recreate them elsewhere), deletes the twin
namespaces and the copies kube-offload owns in the remote (nothing else), then the peer Secrets
and their tokens. Prints what it removed.

  --name NAME                 the remote to disconnect
${connectionUsage(30)}
  -n, --namespace NS          where the peer Secrets are (default: the pod's namespace, else
                              kube-offload-system)
  --remote-kubeconfig FILE    act in the remote with these credentials instead of the stored ones
  --remote-context CTX        (e.g. when the stored tokens were revoked already)
  --cluster-name NAME         this cluster's name (default: from the peer Secrets)
  --drain-timeout D           how long offloaded pods get to terminate before they are deleted at
                              once (default 2m)
  --timeout D                 how long to wait for the twin namespaces to be gone (default 5m)
${outputUsage(30)}
  -h, --help                  this text
`;

const CLUSTER_FLAGS = {
  name: { type: 'string' },
  ...CONNECTION_FLAGS,
  ...NAMESPACE_FLAG,
  'remote-kubeconfig': { type: 'string' },
  'remote-context': { type: 'string' },
  'cluster-name': { type: 'string' },
  ...OUTPUT_FLAG,
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where the clusters are. */
export interface ClusterFlags {
  name: string;
  kubeconfig?: string;
  context?: string;
  remoteKubeconfig?: string;
  remoteContext?: string;
  clusterName?: string;
  /** Where the peer Secrets are (-n). */
  namespace: string;
  output: OutputFormat;
}

export interface PeerConfig extends ClusterFlags {
  remoteServer?: string;
  manifests?: string;
  tokenSeconds: number;
  rotate: boolean;
}

export interface UnpeerConfig extends ClusterFlags {
  drainTimeoutMs: number;
  timeoutMs: number;
}

type ClusterValues = Partial<Record<Exclude<keyof typeof CLUSTER_FLAGS, 'help'>, string>>;

function clusterFlags(values: ClusterValues, env: NodeJS.ProcessEnv): ClusterFlags {
  if (!values.name) throw new ConfigError('--name NAME is required (the remote cluster)');
  const flags: ClusterFlags = {
    name: dnsLabel(values.name, 'name'),
    namespace: namespaceOf(values.namespace, env),
    output: outputFormat(values.output),
    ...connectionOf(values),
  };
  const optional = {
    remoteKubeconfig: values['remote-kubeconfig'],
    remoteContext: values['remote-context'],
    clusterName: values['cluster-name'] === undefined ? undefined : dnsLabel(values['cluster-name'], 'cluster-name'),
  };
  for (const [key, value] of Object.entries(optional))
    if (value) (flags as unknown as Record<string, string>)[key] = value;
  return flags;
}

/** The shortest token the TokenRequest API issues. */
const MIN_TOKEN_SECONDS = 600;

export function parsePeerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): PeerConfig | 'help' {
  const values = parseFlags(argv, {
    ...CLUSTER_FLAGS,
    'remote-server': { type: 'string' },
    manifests: { type: 'string' },
    'token-ttl': { type: 'string' },
    rotate: { type: 'boolean' },
  });
  if (values.help) return 'help';
  const flags = clusterFlags(values, env);
  if (!flags.remoteKubeconfig && !flags.remoteContext) {
    throw new ConfigError('--remote-context CTX or --remote-kubeconfig FILE is required (the remote cluster)');
  }
  const tokenSeconds = Math.floor(parseDuration(values['token-ttl'] ?? '8760h', 'token-ttl') / 1000);
  if (tokenSeconds < MIN_TOKEN_SECONDS) {
    throw new ConfigError(`--token-ttl: "${values['token-ttl']}" is shorter than 10m (the TokenRequest API's minimum)`);
  }
  const config: PeerConfig = { ...flags, tokenSeconds, rotate: values.rotate === true };
  const server = values['remote-server'];
  if (server !== undefined) {
    if (!/^https?:\/\/[^/\s]+/.test(server)) {
      throw new ConfigError(`--remote-server: "${server}" is not an http(s) URL (e.g. https://eu.example.com:6443)`);
    }
    config.remoteServer = server.replace(/\/$/, '');
  }
  if (values.manifests) config.manifests = values.manifests;
  return config;
}

export function parseUnpeerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): UnpeerConfig | 'help' {
  const values = parseFlags(argv, {
    ...CLUSTER_FLAGS,
    'drain-timeout': { type: 'string' },
    timeout: { type: 'string' },
  });
  if (values.help) return 'help';
  return {
    ...clusterFlags(values, env),
    drainTimeoutMs: parseDuration(values['drain-timeout'] ?? '2m', 'drain-timeout'),
    timeoutMs: parseDuration(values.timeout ?? '5m', 'timeout'),
  };
}
