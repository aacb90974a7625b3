// Peer Secrets: `kube-offload peer` stores, in the local cluster's kube-offload-system namespace,
// one Secret per remote cluster and component, holding the kubeconfig that component uses in that
// remote. The syncer and the virtual node provider find them by label, and `unpeer` and `status`
// read them, so the format is defined once, here. Pure: no I/O.
import { DOMAIN, REMOTE_CLUSTER_LABEL } from '../../webhooks/keys.ts';

/** The components that get credentials in a remote cluster. */
export const PEER_COMPONENTS = ['syncer', 'virtual-node'] as const;
export type PeerComponent = (typeof PEER_COMPONENTS)[number];

/** Where peer Secrets live in the local cluster (and the remote identities in the remote one). */
export const PEER_NAMESPACE = 'kube-offload-system';
/** Label: the remote cluster's name (the same key our virtual nodes carry). */
export const PEER_REMOTE_LABEL = REMOTE_CLUSTER_LABEL;
/** Label: which component the credentials are for (`syncer` or `virtual-node`). */
export const PEER_COMPONENT_LABEL = `${DOMAIN}/component`;
/** The data key that holds the kubeconfig. */
export const PEER_KUBECONFIG_KEY = 'kubeconfig';

/** Annotations `peer` writes so that `unpeer`, `status` and `peer --rotate` need no flags. */
export const PEER_ANNOTATIONS = {
  /** This (local) cluster's name: twin namespaces in the remote are `<namespace>-<it>`. */
  localCluster: `${DOMAIN}/local-cluster`,
  /** The remote ServiceAccount the token authenticates as: `namespace/name`. */
  serviceAccount: `${DOMAIN}/service-account`,
  /** The remote Secret the token is bound to (`namespace/name`); deleting it revokes the token. */
  tokenSecret: `${DOMAIN}/token-secret`,
  tokenSecretUid: `${DOMAIN}/token-secret-uid`,
  /** When the token expires (RFC 3339), as the remote apiserver granted it. */
  tokenExpires: `${DOMAIN}/token-expires`,
} as const;

/** The name of the peer Secret of `component` for `remote`. */
export function peerSecretName(remote: string, component: PeerComponent): string {
  return `kube-offload-peer-${remote}-${component}`;
}

/** The label selector of the peer Secrets of one component, or of every component. */
export function peerSecretSelector(component?: PeerComponent): string {
  return component ? `${PEER_REMOTE_LABEL},${PEER_COMPONENT_LABEL}=${component}` : `${PEER_REMOTE_LABEL}`;
}

/** The labels of a peer Secret. */
export function peerSecretLabels(remote: string, component: PeerComponent): Record<string, string> {
  return {
    'app.kubernetes.io/part-of': 'kube-offload',
    [PEER_REMOTE_LABEL]: remote,
    [PEER_COMPONENT_LABEL]: component,
  };
}

interface SecretLike {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

/** What a peer Secret says. */
export interface PeerEntry {
  /** The Secret's name. */
  secret: string;
  remote: string;
  component: PeerComponent;
  /** The kubeconfig, as text. */
  kubeconfig: string;
  annotations: Record<string, string>;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A valid remote name: a DNS-1123 label of at most 63 characters. */
export function validPeerName(name: string): boolean {
  return name.length <= 63 && DNS_LABEL.test(name);
}

/** Reads a peer Secret; `error` says what is wrong with it (naming the field and the value). */
export function readPeerSecret(secret: SecretLike): PeerEntry | { secret: string; error: string } {
  const name = secret.metadata?.name ?? '';
  const labels = secret.metadata?.labels ?? {};
  const remote = labels[PEER_REMOTE_LABEL] ?? '';
  const component = labels[PEER_COMPONENT_LABEL] ?? '';
  if (!validPeerName(remote)) {
    return { secret: name, error: `label ${PEER_REMOTE_LABEL}: "${remote}" is not a DNS-1123 label` };
  }
  if (!(PEER_COMPONENTS as readonly string[]).includes(component)) {
    const allowed = PEER_COMPONENTS.join(', ');
    return { secret: name, error: `label ${PEER_COMPONENT_LABEL}: "${component}" is not one of ${allowed}` };
  }
  const encoded = secret.data?.[PEER_KUBECONFIG_KEY];
  if (!encoded) return { secret: name, error: `data.${PEER_KUBECONFIG_KEY} is missing or empty` };
  const kubeconfig = Buffer.from(encoded, 'base64').toString('utf8');
  const annotations = secret.metadata?.annotations ?? {};
  return { secret: name, remote, component: component as PeerComponent, kubeconfig, annotations };
}

/** How the set of remotes must change to match the peer Secrets. */
export type PeerChange =
  | { type: 'add'; remote: string }
  | { type: 'remove'; remote: string }
  /** Same API server, new credentials: swap them in place. */
  | { type: 'rotate'; remote: string }
  /** Another API server: tear the remote down and build it again. */
  | { type: 'replace'; remote: string };

/** A remote's connection as far as change detection goes. */
export interface PeerFingerprint {
  server: string;
  /** Changes whenever anything in the kubeconfig does (e.g. a digest of its text). */
  digest: string;
}

/**
 * The changes that take the remotes we run (`current`) to those the Secrets name (`desired`).
 * `keep` names remotes whose Secret is unreadable right now: they are left as they are.
 */
export function planPeerChanges(
  current: ReadonlyMap<string, PeerFingerprint>,
  desired: ReadonlyMap<string, PeerFingerprint>,
  keep: ReadonlySet<string> = new Set(),
): PeerChange[] {
  const changes: PeerChange[] = [];
  for (const remote of current.keys()) {
    if (!desired.has(remote) && !keep.has(remote)) changes.push({ type: 'remove', remote });
  }
  for (const [remote, next] of desired) {
    const now = current.get(remote);
    if (!now) changes.push({ type: 'add', remote });
    else if (now.server !== next.server) changes.push({ type: 'replace', remote });
    else if (now.digest !== next.digest) changes.push({ type: 'rotate', remote });
  }
  return changes;
}
