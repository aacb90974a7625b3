// Authentication and authorization like a kubelet with webhook authn/authz and anonymous access
// off: a client certificate verified against the client CA (the TLS layer does the verifying),
// else a bearer token checked by TokenReview; then a SubjectAccessReview of the node
// attributes. Reviews go through injected functions (the provider supplies calls to the local
// apiserver, tests supply fakes) and their answers are cached briefly.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { nodeRequestAttributes } from './attributes.ts';
import type { NodeRequestAttributes } from './attributes.ts';
import { DecisionCache } from './ttl-cache.ts';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface TokenReviewResult {
  authenticated: boolean;
  user?: UserInfo;
}

export interface AccessReviewResult {
  allowed: boolean;
  reason?: string;
}

/** POST authentication.k8s.io/v1 tokenreviews, in short. */
export type TokenReviewer = (token: string) => Promise<TokenReviewResult>;
/** POST authorization.k8s.io/v1 subjectaccessreviews, in short. */
export type AccessReviewer = (user: UserInfo, attributes: NodeRequestAttributes) => Promise<AccessReviewResult>;

export interface KubeletAuthOptions {
  nodeName: string;
  /** Without it, bearer tokens are not accepted (client certificates only). */
  reviewToken?: TokenReviewer;
  reviewAccess: AccessReviewer;
  /** Defaults: the kubelet's (2 min for tokens, 5 min allowed, 30 s denied), 10 000 entries each. */
  tokenTtlMs?: number;
  allowedTtlMs?: number;
  deniedTtlMs?: number;
  maxCacheEntries?: number;
  now?: () => number;
}

export type AuthOutcome = { ok: true; user: UserInfo } | { ok: false; statusCode: 401 | 403 | 500; message: string };

const UNAUTHENTICATED_TTL_MS = 10_000;

export class KubeletAuth {
  readonly #nodeName: string;
  readonly #reviewToken: TokenReviewer | undefined;
  readonly #reviewAccess: AccessReviewer;
  readonly #tokens: DecisionCache<TokenReviewResult>;
  readonly #decisions: DecisionCache<AccessReviewResult>;

  constructor(options: KubeletAuthOptions) {
    this.#nodeName = options.nodeName;
    this.#reviewToken = options.reviewToken;
    this.#reviewAccess = options.reviewAccess;
    const max = options.maxCacheEntries ?? 10_000;
    const tokenTtl = options.tokenTtlMs ?? 120_000;
    this.#tokens = new DecisionCache(max, (r) => (r.authenticated ? tokenTtl : UNAUTHENTICATED_TTL_MS), options.now);
    const allowedTtl = options.allowedTtlMs ?? 300_000;
    const deniedTtl = options.deniedTtlMs ?? 30_000;
    this.#decisions = new DecisionCache(max, (r) => (r.allowed ? allowedTtl : deniedTtl), options.now);
  }

  /** Authenticates, then authorizes `req` for its method and path. */
  async check(req: IncomingMessage): Promise<AuthOutcome> {
    let user: UserInfo | undefined;
    try {
      user = await this.authenticate(req);
    } catch {
      return { ok: false, statusCode: 401, message: 'Unauthorized' };
    }
    if (!user) return { ok: false, statusCode: 401, message: 'Unauthorized' };
    const path = new URL(req.url ?? '/', 'https://kubelet').pathname;
    return this.authorize(user, req.method ?? 'GET', path);
  }

  async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
    const fromCertificate = certificateUser(req.socket as TLSSocket);
    if (fromCertificate) return fromCertificate;
    const token = bearerToken(req.headers.authorization);
    if (!token || !this.#reviewToken) return undefined;
    const review = this.#reviewToken;
    const key = createHash('sha256').update(token).digest('base64');
    const result = await this.#tokens.get(key, () => review(token));
    return result.authenticated ? result.user : undefined;
  }

  async authorize(user: UserInfo, method: string, path: string): Promise<AuthOutcome> {
    const attributes = nodeRequestAttributes(method, path, this.#nodeName);
    for (const attrs of attributes) {
      let decision: AccessReviewResult;
      try {
        decision = await this.#decisions.get(decisionKey(user, attrs), () => this.#reviewAccess(user, attrs));
      } catch {
        const who = `user=${user.username}, verb=${attrs.verb}`;
        const message = `Authorization error (${who}, resource=nodes, subresource=${attrs.subresource})`;
        return { ok: false, statusCode: 500, message };
      }
      if (decision.allowed) return { ok: true, user };
    }
    const first = attributes[0] as NodeRequestAttributes;
    const subresources = attributes.map((a) => a.subresource).join(' ');
    const who = `user=${user.username}, verb=${first.verb}`;
    const message = `Forbidden (${who}, resource=nodes, subresource(s)=[${subresources}])\n`;
    return { ok: false, statusCode: 403, message };
  }
}

/** The user of a client certificate the TLS layer verified against the client CA: CN and O. */
export function certificateUser(socket: TLSSocket): UserInfo | undefined {
  if (!socket.authorized || typeof socket.getPeerCertificate !== 'function') return undefined;
  const subject = socket.getPeerCertificate()?.subject as Record<string, string | string[] | undefined> | undefined;
  const username = [subject?.CN].flat()[0];
  if (!username) return undefined;
  const groups = [subject?.O ?? []].flat();
  return { username, groups };
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

function decisionKey(user: UserInfo, attrs: NodeRequestAttributes): string {
  const extra = Object.entries(user.extra ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([user.username, user.uid ?? '', [...user.groups].sort(), extra, attrs.verb, attrs.subresource]);
}
