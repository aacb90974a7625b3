// A small kubeconfig loader for the common cases (client certificates, bearer tokens, token
// files, in-cluster service account). Why: importing @kubernetes/client-node loads its whole
// generated API (~60-80 MiB RSS), which alone blows the syncer's and the virtual node's memory
// budget; KubeClient only needs getCurrentCluster() and applyToHTTPSOptions(). Anything else
// (exec plugins, auth-provider, proxies, several files in $KUBECONFIG) returns undefined from the
// light loader, and loadKubeClientConfig() falls back to client-node's KubeConfig, which is only
// loaded then.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type https from 'node:https';
import { parse as parseYaml } from 'yaml';
import { loadKubeConfig } from './client.ts';

export interface LiteCluster {
  name: string;
  server: string;
  skipTLSVerify: boolean;
  proxyUrl?: string;
}

/** The part of client-node's KubeConfig that KubeClient uses. */
export interface KubeConfigLike {
  getCurrentCluster(): LiteCluster | null;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Named<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}
type Rec = Record<string, unknown>;
interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
}

/** A non-empty string field of a kubeconfig entry. */
function str(entry: Rec | undefined, key: string): string | undefined {
  const value = entry?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

class LiteKubeConfig implements KubeConfigLike {
  readonly #cluster: LiteCluster;
  readonly #tls: TlsMaterial;
  readonly #token: string | undefined;
  readonly #tokenFile: string | undefined;
  readonly #basic: string | undefined;
  #fileToken: { value: string; at: number } | undefined;

  constructor(cluster: LiteCluster, tls: TlsMaterial, auth: { token?: string; tokenFile?: string; basic?: string }) {
    this.#cluster = cluster;
    this.#tls = tls;
    this.#token = auth.token;
    this.#tokenFile = auth.tokenFile;
    this.#basic = auth.basic;
  }

  getCurrentCluster(): LiteCluster {
    return this.#cluster;
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    if (this.#tls.ca) opts.ca = this.#tls.ca;
    if (this.#tls.cert) opts.cert = this.#tls.cert;
    if (this.#tls.key) opts.key = this.#tls.key;
    if (this.#tls.servername) opts.servername = this.#tls.servername;
    if (this.#cluster.skipTLSVerify) opts.rejectUnauthorized = false;
    const headers = (opts.headers ?? {}) as Record<string, string>;
    const token = this.#token ?? this.#readTokenFile();
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (this.#basic) headers.Authorization = `Basic ${this.#basic}`;
    opts.headers = headers;
  }

  /** Bound service account tokens rotate: re-read the file at most once a minute. */
  #readTokenFile(): string | undefined {
    if (!this.#tokenFile) return undefined;
    const now = Date.now();
    if (!this.#fileToken || now - this.#fileToken.at > 60_000)
      this.#fileToken = { value: fs.readFileSync(this.#tokenFile, 'utf8').trim(), at: now };
    return this.#fileToken.value;
  }
}

function readData(entry: Rec | undefined, dataKey: string, fileKey: string, base: string): Buffer | undefined {
  const data = str(entry, dataKey);
  if (data) return Buffer.from(data, 'base64');
  const file = str(entry, fileKey);
  return file ? fs.readFileSync(path.resolve(base, file)) : undefined;
}

/** Parses one kubeconfig file; undefined when it needs features only client-node has. */
export function liteFromFile(file: string): KubeConfigLike | undefined {
  return liteFromText(fs.readFileSync(file, 'utf8'), path.dirname(path.resolve(file)));
}

/**
 * Parses a kubeconfig given as text (e.g. from a Secret); relative file names are resolved from
 * `base`. Undefined when it needs features only client-node has.
 */
export function liteFromText(text: string, base = process.cwd()): KubeConfigLike | undefined {
  const doc = parseYaml(text) as Rec | null;
  if (!doc || typeof doc !== 'object') return undefined;
  const find = <T>(list: unknown, name: string | undefined): T | undefined =>
    Array.isArray(list) ? ((list as Named<T>[]).find((entry) => entry.name === name) as T | undefined) : undefined;
  const ctxName = str(doc, 'current-context');
  const ctx = find<Named<Rec>>(doc.contexts, ctxName)?.context;
  if (!ctx) return undefined;
  const clusterName = str(ctx, 'cluster');
  const cluster = find<Named<Rec>>(doc.clusters, clusterName)?.cluster;
  const user = find<Named<Rec>>(doc.users, str(ctx, 'user'))?.user ?? {};
  const server = str(cluster, 'server');
  if (!cluster || !server) return undefined;
  if (str(cluster, 'proxy-url') || user.exec || user['auth-provider'] || user.as || user.impersonate) return undefined;
  const servername = str(cluster, 'tls-server-name');
  const ca = readData(cluster, 'certificate-authority-data', 'certificate-authority', base);
  const cert = readData(user, 'client-certificate-data', 'client-certificate', base);
  const key = readData(user, 'client-key-data', 'client-key', base);
  const username = str(user, 'username');
  const password = str(user, 'password');
  const tokenFile = str(user, 'tokenFile');
  return new LiteKubeConfig(
    { name: clusterName ?? '', server, skipTLSVerify: cluster['insecure-skip-tls-verify'] === true },
    {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(servername ? { servername } : {}),
    },
    {
      ...(str(user, 'token') ? { token: str(user, 'token') as string } : {}),
      ...(tokenFile ? { tokenFile: path.resolve(base, tokenFile) } : {}),
      ...(username && password ? { basic: Buffer.from(`${username}:${password}`).toString('base64') } : {}),
    },
  );
}

/** The in-cluster service account config, when running in a pod. */
export function liteInCluster(): KubeConfigLike | undefined {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !fs.existsSync(`${SA_DIR}/token`)) return undefined;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new LiteKubeConfig(
    { name: 'inCluster', server, skipTLSVerify: false },
    { ca: fs.readFileSync(`${SA_DIR}/ca.crt`) },
    { tokenFile: `${SA_DIR}/token` },
  );
}

/**
 * client-node's loadFromDefault() order: the given file, else $KUBECONFIG (a single file), else
 * ~/.kube/config, else in-cluster. Undefined when the lite loader cannot handle it.
 */
export function loadLiteKubeConfig(file?: string): KubeConfigLike | undefined {
  try {
    if (file) return liteFromFile(file);
    const env = process.env.KUBECONFIG;
    if (env) return env.includes(path.delimiter) ? undefined : liteFromFile(env);
    const home = path.join(os.homedir(), '.kube', 'config');
    if (fs.existsSync(home)) return liteFromFile(home);
    return liteInCluster();
  } catch {
    return undefined; // let client-node produce its own (better) error
  }
}

/**
 * The kubeconfig for a KubeClient: the light loader's when it can handle the file (or the default
 * chain), else client-node's KubeConfig (exec plugins, OIDC and other auth providers, proxies,
 * several files in $KUBECONFIG), imported on this first need only. Errors are client-node's.
 */
export function loadKubeClientConfig(file?: string): KubeConfigLike {
  return loadLiteKubeConfig(file) ?? loadKubeConfig(file);
}

/**
 * A KubeConfigLike whose credentials can be replaced while clients and informers use it: every
 * request asks for the current ones, so a rotated token is used from the next request on (a
 * KubeClient rebuilds its connections when the TLS material changes). The API server must stay
 * the same: a KubeClient keeps the URL it was built with.
 */
export class SwappableKubeConfig implements KubeConfigLike {
  #current: KubeConfigLike;

  constructor(initial: KubeConfigLike) {
    this.#current = initial;
  }

  /** Uses `next` from now on; throws when it names another API server. */
  swap(next: KubeConfigLike): void {
    const before = this.#current.getCurrentCluster()?.server;
    const after = next.getCurrentCluster()?.server;
    if (before !== after) throw new Error(`cannot swap credentials of ${before} for those of ${after}`);
    this.#current = next;
  }

  getCurrentCluster(): LiteCluster | null {
    return this.#current.getCurrentCluster();
  }

  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    return this.#current.applyToHTTPSOptions(opts);
  }
}
