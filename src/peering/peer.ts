// `kube-offload peer`: connects a remote cluster. In the remote: the identities and their RBAC
// (apply.ts), and a token per component (credentials.ts); in the local cluster: one peer Secret
// per component holding its kubeconfig, which the running components pick up by themselves.
//
// Idempotent: what is already as wanted is not written (a second run sends only reads), and a
// token is kept while it is valid: its token Secret exists, it points at the same endpoint, and
// less than two thirds of its lifetime are gone. `rotate` mints new tokens, stores them, and only
// then revokes the old ones, so the components switch without a gap.
import {
  PEER_ANNOTATIONS,
  PEER_COMPONENTS,
  PEER_NAMESPACE,
  peerSecretLabels,
  peerSecretName,
  readPeerSecret,
} from '../common/peer-secret.ts';
import type { PeerComponent } from '../common/peer-secret.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { describeObject, pathOf } from './api.ts';
import type { PeeringClient } from './api.ts';
import { applyObject } from './apply.ts';
import { mintToken, revokeToken, tokenSecretFromAnnotations } from './credentials.ts';
import type { MintedToken, TokenSecretRef } from './credentials.ts';
import { componentKubeconfig, endpointOf, sameEndpoint } from './kubeconfig.ts';
import type { RemoteEndpoint } from './kubeconfig.ts';
import { ensurePeerNamespace, storePeerSecret } from './local.ts';
import type { RemoteManifests, ServiceAccountRef } from './manifests.ts';

export interface PeerOptions {
  /** The remote's name in this cluster. */
  name: string;
  localCluster: string;
  local: PeeringClient;
  /** Admin access to the remote. */
  remote: PeeringClient;
  /** How the local components reach the remote's API server. */
  endpoint: RemoteEndpoint;
  manifests: RemoteManifests;
  /** Mint new tokens (and revoke the old ones) even if the current ones are valid. */
  rotate: boolean;
  /** Lifetime asked for each token. */
  tokenSeconds: number;
  /** Where the peer Secrets go in the local cluster (default kube-offload-system). */
  namespace?: string;
  now?: () => number;
}

export interface Step {
  cluster: 'local' | 'remote';
  object: string;
  action: string;
  detail?: string;
}

export interface PeerReport {
  remote: string;
  localCluster: string;
  server: string;
  manifests: string;
  steps: Step[];
  /** False when nothing was written. */
  changed: boolean;
}

const UNCHANGED = new Set(['unchanged', 'kept']);

export async function peer(options: PeerOptions): Promise<PeerReport> {
  const steps: Step[] = [];
  for (const object of options.manifests.objects) {
    steps.push({
      cluster: 'remote',
      object: describeObject(object),
      action: await applyObject(options.remote, object),
    });
  }
  const namespace = options.namespace ?? PEER_NAMESPACE;
  if (await ensurePeerNamespace(options.local, namespace)) {
    steps.push({ cluster: 'local', object: `namespace/${namespace}`, action: 'created' });
  }
  for (const component of PEER_COMPONENTS) steps.push(...(await peerComponent(options, component)));
  return {
    remote: options.name,
    localCluster: options.localCluster,
    server: options.endpoint.server,
    manifests: options.manifests.source,
    steps,
    changed: steps.some((step) => !UNCHANGED.has(step.action)),
  };
}

/** A token for one component, its peer Secret, and the old token revoked if it was replaced. */
async function peerComponent(options: PeerOptions, component: PeerComponent): Promise<Step[]> {
  const account = options.manifests.accounts[component];
  const name = peerSecretName(options.name, component);
  const namespace = options.namespace ?? PEER_NAMESPACE;
  const existing = await options.local.getOrUndefined(pathOf('Secret', name, namespace));
  const kept = options.rotate || !existing ? undefined : await reusableToken(options, component, existing);
  const steps: Step[] = [];
  const tokenStep = {
    cluster: 'remote' as const,
    object: `token of serviceaccount/${account.namespace}/${account.name}`,
  };
  let desired: KubeObject;
  let minted: MintedToken | undefined;
  if (kept) {
    desired = peerSecret(options, component, account, kept);
    steps.push({ ...tokenStep, action: 'kept', detail: `expires ${kept.expires}` });
  } else {
    minted = await mintToken(options.remote, account, {
      localCluster: options.localCluster,
      expirationSeconds: options.tokenSeconds,
    });
    const kubeconfig = componentKubeconfig(options.name, options.endpoint, account, minted.token);
    desired = peerSecret(options, component, account, { ...minted, kubeconfig });
    const { namespace, name: secret } = minted.tokenSecret;
    const detail = `bound to secret/${namespace}/${secret}, expires ${minted.expires}`;
    steps.push({ ...tokenStep, action: 'minted', detail });
  }
  const action = await storePeerSecret(options.local, desired, existing);
  steps.push({ cluster: 'local', object: `secret/${namespace}/${name}`, action });
  const old = existing && tokenSecretFromAnnotations(existing.metadata?.annotations ?? {});
  if (minted && old && old.uid !== minted.tokenSecret.uid) steps.push(await revokeStep(options.remote, old));
  return steps;
}

async function revokeStep(remote: PeeringClient, old: TokenSecretRef): Promise<Step> {
  const revoked = await revokeToken(remote, old);
  const object = `secret/${old.namespace}/${old.name}`;
  return { cluster: 'remote', object, action: revoked ? 'deleted' : 'gone', detail: 'the old token is revoked' };
}

interface KeptToken {
  kubeconfig: string;
  expires: string;
  tokenSecret: TokenSecretRef;
}

/** The current token of a peer Secret, if it may stay: same endpoint, bound Secret there, young enough. */
async function reusableToken(
  options: PeerOptions,
  component: PeerComponent,
  existing: KubeObject,
): Promise<KeptToken | undefined> {
  const entry = readPeerSecret(existing);
  if ('error' in entry || entry.component !== component || entry.remote !== options.name) return undefined;
  const annotations = entry.annotations;
  const account = options.manifests.accounts[component];
  if (annotations[PEER_ANNOTATIONS.localCluster] !== options.localCluster) return undefined;
  if (annotations[PEER_ANNOTATIONS.serviceAccount] !== `${account.namespace}/${account.name}`) return undefined;
  if (!sameEndpoint(endpointOf(entry.kubeconfig), options.endpoint)) return undefined;
  const tokenSecret = tokenSecretFromAnnotations(annotations);
  const expires = annotations[PEER_ANNOTATIONS.tokenExpires] ?? '';
  if (!tokenSecret || !(await youngEnough(options, tokenSecret, expires))) return undefined;
  return { kubeconfig: entry.kubeconfig, expires, tokenSecret };
}

/** The token Secret exists (the token is valid) and less than two thirds of its lifetime are gone. */
async function youngEnough(options: PeerOptions, tokenSecret: TokenSecretRef, expires: string): Promise<boolean> {
  const live = await options.remote.getOrUndefined(pathOf('Secret', tokenSecret.name, tokenSecret.namespace));
  if (live?.metadata?.uid !== tokenSecret.uid || live.metadata?.deletionTimestamp) return false;
  const issued = Date.parse(String(live.metadata?.creationTimestamp ?? ''));
  const end = Date.parse(expires);
  if (Number.isNaN(issued) || Number.isNaN(end)) return false;
  const now = (options.now ?? Date.now)();
  return end - now > (end - issued) / 3;
}

/** The peer Secret of one component. */
function peerSecret(
  options: PeerOptions,
  component: PeerComponent,
  account: ServiceAccountRef,
  token: KeptToken,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: peerSecretName(options.name, component),
      namespace: options.namespace ?? PEER_NAMESPACE,
      labels: peerSecretLabels(options.name, component),
      annotations: {
        [PEER_ANNOTATIONS.localCluster]: options.localCluster,
        [PEER_ANNOTATIONS.serviceAccount]: `${account.namespace}/${account.name}`,
        [PEER_ANNOTATIONS.tokenSecret]: `${token.tokenSecret.namespace}/${token.tokenSecret.name}`,
        [PEER_ANNOTATIONS.tokenSecretUid]: token.tokenSecret.uid,
        [PEER_ANNOTATIONS.tokenExpires]: token.expires,
      },
    },
    data: { kubeconfig: Buffer.from(token.kubeconfig).toString('base64') },
  };
}
