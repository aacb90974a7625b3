// Credentials of a component in a remote cluster: a TokenRequest token for its ServiceAccount,
// bound to a Secret of its own in the remote (the "token Secret", which holds no data).
//
// Why a bound TokenRequest token and not a kubernetes.io/service-account-token Secret:
// - revocable one by one: deleting the token Secret invalidates exactly this token at once (the
//   apiserver checks that the object a token is bound to still exists, with the same uid), while
//   the other clusters peered with the same remote, sharing the ServiceAccount, keep theirs;
// - nothing secret is stored in the remote: a legacy token Secret holds the token in clear, and
//   the syncer's own remote identity may read Secrets cluster-wide (it copies them), so it could
//   read the provider's token; the token Secret here is empty;
// - it expires (we ask for --token-ttl, a year by default; the apiserver may grant less, e.g.
//   with --service-account-max-token-expiration), and `peer` renews it once two thirds of its
//   lifetime are gone; legacy tokens never expire and Kubernetes now cleans up unused ones.
import { isConflict, isNotFound } from '../kube/client.ts';
import { PEER_ANNOTATIONS } from '../common/peer-secret.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { FIELD_MANAGER, collectionOf, pathOf } from './api.ts';
import type { PeeringClient } from './api.ts';
import type { ServiceAccountRef } from './manifests.ts';

/** Labels of a token Secret: whose token it anchors, for which local cluster. */
export const TOKEN_FOR_LABEL = 'kube-offload.io/token-for';
export const TOKEN_LOCAL_CLUSTER_LABEL = PEER_ANNOTATIONS.localCluster;

export interface TokenSecretRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface MintedToken {
  token: string;
  /** RFC 3339, as granted. */
  expires: string;
  tokenSecret: TokenSecretRef;
}

/** The selector of the token Secrets of one ServiceAccount for one local cluster. */
export function tokenSecretSelector(account: ServiceAccountRef, localCluster: string): string {
  return `${TOKEN_FOR_LABEL}=${account.name},${TOKEN_LOCAL_CLUSTER_LABEL}=${localCluster}`;
}

async function createTokenSecret(
  remote: PeeringClient,
  account: ServiceAccountRef,
  localCluster: string,
): Promise<TokenSecretRef> {
  const serviceAccount = await remote.getOrUndefined(pathOf('ServiceAccount', account.name, account.namespace));
  if (!serviceAccount?.metadata?.uid) throw new Error(`ServiceAccount ${account.namespace}/${account.name} not found`);
  const secret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      generateName: `${account.name}-${localCluster}-`,
      namespace: account.namespace,
      labels: {
        'app.kubernetes.io/part-of': 'kube-offload',
        [TOKEN_FOR_LABEL]: account.name,
        [TOKEN_LOCAL_CLUSTER_LABEL]: localCluster,
      },
      // Removing the ServiceAccount removes its token Secrets, and so revokes their tokens.
      ownerReferences: [
        { apiVersion: 'v1', kind: 'ServiceAccount', name: account.name, uid: serviceAccount.metadata.uid },
      ],
    },
  };
  const created = await remote.create(collectionOf('Secret', account.namespace), secret, {
    fieldManager: FIELD_MANAGER,
  });
  return { namespace: account.namespace, name: String(created.metadata?.name), uid: String(created.metadata?.uid) };
}

/** A new token for `account`, bound to a new token Secret (removed again if the request fails). */
export async function mintToken(
  remote: PeeringClient,
  account: ServiceAccountRef,
  options: { localCluster: string; expirationSeconds: number },
): Promise<MintedToken> {
  const tokenSecret = await createTokenSecret(remote, account, options.localCluster);
  const request: KubeObject = {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {
      expirationSeconds: options.expirationSeconds,
      boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: tokenSecret.name, uid: tokenSecret.uid },
    },
  };
  try {
    const path = `${pathOf('ServiceAccount', account.name, account.namespace)}/token`;
    const answer = await remote.create(path, request, { fieldManager: FIELD_MANAGER });
    const status = (answer.status ?? {}) as { token?: string; expirationTimestamp?: string };
    if (!status.token) throw new Error(`TokenRequest for ${account.namespace}/${account.name} returned no token`);
    return { token: status.token, expires: status.expirationTimestamp ?? '', tokenSecret };
  } catch (err) {
    await revokeToken(remote, tokenSecret).catch(() => undefined);
    throw err;
  }
}

/** Revokes a token by deleting the Secret it is bound to; false when it was gone already. */
export async function revokeToken(remote: PeeringClient, tokenSecret: TokenSecretRef): Promise<boolean> {
  try {
    await remote.delete(pathOf('Secret', tokenSecret.name, tokenSecret.namespace), {
      preconditions: { uid: tokenSecret.uid },
    });
    return true;
  } catch (err) {
    if (isNotFound(err) || isConflict(err)) return false; // gone, or a successor we do not touch
    throw err;
  }
}

/** The token Secret with this name and uid still exists (so its token is still valid). */
export async function tokenSecretExists(remote: PeeringClient, tokenSecret: TokenSecretRef): Promise<boolean> {
  const live = await remote.getOrUndefined(pathOf('Secret', tokenSecret.name, tokenSecret.namespace));
  return live?.metadata?.uid === tokenSecret.uid && !live.metadata?.deletionTimestamp;
}

/** "namespace/name" of a token Secret, as the peer Secret's annotation has it, and its uid. */
export function tokenSecretFromAnnotations(annotations: Record<string, string>): TokenSecretRef | undefined {
  const [namespace, name] = (annotations[PEER_ANNOTATIONS.tokenSecret] ?? '').split('/');
  const uid = annotations[PEER_ANNOTATIONS.tokenSecretUid];
  return namespace && name && uid ? { namespace, name, uid } : undefined;
}
