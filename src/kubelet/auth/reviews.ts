// The real reviewers: TokenReview and SubjectAccessReview against the local apiserver, the one
// whose users call this kubelet. The caller's identity needs create on both (the kubelet's
// system:auth-delegator binding).
import type { KubeClient, KubernetesObject } from '../../kube/client.ts';
import type { NodeRequestAttributes } from './attributes.ts';
import type { AccessReviewResult, AccessReviewer, TokenReviewResult, TokenReviewer, UserInfo } from './auth.ts';

type Creator = Pick<KubeClient, 'create'>;

interface TokenReview extends KubernetesObject {
  status?: {
    authenticated?: boolean;
    user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  };
}

interface SubjectAccessReview extends KubernetesObject {
  status?: { allowed?: boolean; denied?: boolean; reason?: string };
}

export function apiserverTokenReviewer(client: Creator, audiences: string[] = []): TokenReviewer {
  return async (token: string): Promise<TokenReviewResult> => {
    const review = await client.create<TokenReview>('/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, ...(audiences.length ? { audiences } : {}) },
    } as TokenReview);
    const user = review.status?.user;
    if (!review.status?.authenticated || !user?.username) return { authenticated: false };
    return {
      authenticated: true,
      user: {
        username: user.username,
        groups: user.groups ?? [],
        ...(user.uid ? { uid: user.uid } : {}),
        ...(user.extra ? { extra: user.extra } : {}),
      },
    };
  };
}

export function apiserverAccessReviewer(client: Creator): AccessReviewer {
  return async (user: UserInfo, attributes: NodeRequestAttributes): Promise<AccessReviewResult> => {
    const review = await client.create<SubjectAccessReview>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: user.username,
        groups: user.groups,
        ...(user.uid ? { uid: user.uid } : {}),
        ...(user.extra ? { extra: user.extra } : {}),
        resourceAttributes: {
          verb: attributes.verb,
          version: 'v1',
          resource: attributes.resource,
          subresource: attributes.subresource,
          name: attributes.name,
        },
      },
    } as SubjectAccessReview);
    return {
      allowed: review.status?.allowed === true,
      ...(review.status?.reason ? { reason: review.status.reason } : {}),
    };
  };
}
