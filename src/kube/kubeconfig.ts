// A small kubeconfig loader for the common cases (client certificates, bearer tokens, token
// files, in-cluster service account). Why: importing @kubernetes/client-node loads its whole
// generated API (~60-80 MiB RSS), which alone blows the syncer's and the virtual node's memory
// budget; KubeClient only needs getCurrentCluster() and applyToHTTPSOptions(). Anything else
// (exec plugins, auth-provider, proxies) returns undefined from the light loader, and
// loadKubeClientConfig() falls back to client-node's KubeConfig, which is only loaded then.
//
// Which kubeconfig: kubectl's (client-go clientcmd's) loading rules, the same for every command
// and component: --kubeconfig FILE; else every file of $KUBECONFIG (a list separated by ":"),
// merged as kubectl merges them (the first file that sets current-context, or a cluster, user or
// context of a given name, wins; files that do not exist are skipped); else ~/.kube/config; else,
// with none of these, the in-cluster service account. --context picks a context of that config.
// client-node's own loadFromDefault() merges differently (the last current-context wins, a name
// in two files is an error), so it is not used.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type https from 'node:https';
import { parse as parseYaml, stringify } from 'yaml';
import { createRequire } from 'node:module';
import type { KubeConfig } from '@kubernetes/client-node';

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
  return liteFromDoc(doc, base);
}

/** A parsed kubeconfig's current context; undefined when it needs features only client-node has. */
function liteFromDoc(doc: Rec, base: string): KubeConfigLike | undefined {
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
export function liteInCluster(env: NodeJS.ProcessEnv = process.env): KubeConfigLike | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !fs.existsSync(`${SA_DIR}/token`)) return undefined;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new LiteKubeConfig(
    { name: 'inCluster', server, skipTLSVerify: false },
    { ca: fs.readFileSync(`${SA_DIR}/ca.crt`) },
    { tokenFile: `${SA_DIR}/token` },
  );
}

/** Flag names for error messages: a remote's kubeconfig is given with other flags than the local one. */
export interface KubeconfigFlags {
  kubeconfig: string;
  context: string;
}

export interface KubeconfigOptions {
  /** The context to use instead of the current-context (kubectl's --context). */
  context?: string | undefined;
  flags?: KubeconfigFlags;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

/** A kubeconfig as read from its file(s), every relative path made absolute, and where it came from. */
export interface KubeconfigDocument {
  doc: Rec;
  /** For messages: the file, or $KUBECONFIG and its value. */
  where: string;
}

const LISTS = ['clusters', 'users', 'contexts'] as const;

/** Makes the file names of one file's entries absolute, as client-go's ResolveLocalPaths does. */
function resolvePaths(doc: Rec, base: string): void {
  const resolve = (entry: Rec | undefined, key: string): void => {
    const value = str(entry, key);
    if (entry && value) entry[key] = path.resolve(base, value);
  };
  for (const { cluster } of listOf<Named<Rec>>(doc.clusters)) resolve(cluster, 'certificate-authority');
  for (const { user } of listOf<Named<Rec>>(doc.users)) {
    for (const key of ['client-certificate', 'client-key', 'tokenFile']) resolve(user, key);
    // Like client-go: an exec command is a path only when it names a directory, else it is looked up in $PATH.
    const exec = user?.exec as Rec | undefined;
    if (str(exec, 'command')?.includes('/')) resolve(exec, 'command');
  }
}

function listOf<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function readOne(file: string): Rec {
  let doc: unknown;
  try {
    doc = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read kubeconfig ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`kubeconfig ${file} is not a YAML mapping`);
  resolvePaths(doc as Rec, path.dirname(path.resolve(file)));
  return doc as Rec;
}

/** kubectl's merge: the first file that sets current-context, or names a cluster, user or context, wins. */
export function mergeKubeconfigs(docs: Rec[]): Rec {
  const merged: Rec = { apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] };
  for (const doc of docs) {
    if (merged['current-context'] === undefined && str(doc, 'current-context'))
      merged['current-context'] = doc['current-context'];
    for (const key of LISTS) {
      const into = merged[key] as Named<Rec>[];
      for (const entry of listOf<Named<Rec>>(doc[key]))
        if (entry?.name && !into.some((known) => known.name === entry.name)) into.push(entry);
    }
  }
  return merged;
}

/**
 * The kubeconfig of kubectl's loading rules (see the top of this file); undefined when there is
 * none (then the in-cluster service account applies). An unreadable --kubeconfig throws.
 */
export function readKubeconfig(
  file?: string,
  { env = process.env, home = os.homedir() }: Pick<KubeconfigOptions, 'env' | 'home'> = {},
): KubeconfigDocument | undefined {
  if (file) return { doc: mergeKubeconfigs([readOne(file)]), where: file };
  const list = [...new Set((env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean))];
  if (list.length > 0) {
    const present = list.filter((entry) => fs.existsSync(entry));
    if (present.length === 0) return undefined;
    return { doc: mergeKubeconfigs(present.map(readOne)), where: `$KUBECONFIG (${env.KUBECONFIG})` };
  }
  const homeConfig = path.join(home, '.kube', 'config');
  return fs.existsSync(homeConfig) ? { doc: mergeKubeconfigs([readOne(homeConfig)]), where: homeConfig } : undefined;
}

const DEFAULT_FLAGS: KubeconfigFlags = { kubeconfig: 'kubeconfig', context: 'context' };

/** The document with `context` as its current-context; throws naming the flag and the contexts there are. */
function withContext(found: KubeconfigDocument, options: KubeconfigOptions): Rec {
  const { context, flags = DEFAULT_FLAGS } = options;
  const names = listOf<Named<Rec>>(found.doc.contexts).map((entry) => entry.name);
  const known = `contexts: ${names.length ? names.join(', ') : 'none'}`;
  if (context !== undefined && !names.includes(context))
    throw new Error(`--${flags.context}: "${context}" is not a context of ${found.where} (${known})`);
  const current = context ?? str(found.doc, 'current-context');
  if (!current) throw new Error(`${found.where} has no current-context: give --${flags.context} (${known})`);
  if (!names.includes(current)) {
    const what = `its current-context "${current}" is not one of its contexts`;
    throw new Error(`${found.where}: ${what}; give --${flags.context} (${known})`);
  }
  return { ...found.doc, 'current-context': current };
}

/** No kubeconfig and no service account: the process has no cluster to talk to. */
export class NoKubeconfigError extends Error {
  override name = 'NoKubeconfigError';
}

function nothingFound(options: KubeconfigOptions): NoKubeconfigError {
  const flags = options.flags ?? DEFAULT_FLAGS;
  const env = options.env ?? process.env;
  const where = env.KUBECONFIG
    ? `none of the files of $KUBECONFIG (${env.KUBECONFIG}) exists`
    : `no --${flags.kubeconfig}, no $KUBECONFIG, no ~/.kube/config`;
  const inCluster = options.context === undefined ? ' and not in a pod (no service account token)' : '';
  return new NoKubeconfigError(
    `no kubeconfig${options.context === undefined ? '' : ` to find --${flags.context} in`}: ${where}${inCluster}`,
  );
}

/**
 * The light loader's config for the file (or kubectl's loading rules) and context; undefined
 * when it cannot handle it (exec plugins, auth providers, proxies) or cannot read it.
 */
export function loadLiteKubeConfig(file?: string, options: KubeconfigOptions = {}): KubeConfigLike | undefined {
  try {
    const found = readKubeconfig(file, options);
    if (!found) return options.context === undefined ? liteInCluster(options.env) : undefined;
    return liteFromDoc(withContext(found, options), process.cwd());
  } catch {
    return undefined; // loadKubeClientConfig() says what is wrong
  }
}

/**
 * The kubeconfig for a KubeClient: the light loader's when it can handle it, else client-node's
 * KubeConfig (exec plugins, OIDC and other auth providers, proxies), imported on this first need
 * only. Throws naming the flag when the file cannot be read, the context is not in it or there
 * is no kubeconfig at all.
 */
export function loadKubeClientConfig(file?: string, options: KubeconfigOptions = {}): KubeConfigLike {
  return loadLiteKubeConfig(file, options) ?? loadClientNodeConfig(file, options);
}

/** client-node's KubeConfig of the same kubeconfig and context (kubectl's rules, kubectl's merge). */
export function loadClientNodeConfig(file?: string, options: KubeconfigOptions = {}): KubeConfig {
  const flags = options.flags ?? DEFAULT_FLAGS;
  let found: KubeconfigDocument | undefined;
  try {
    found = readKubeconfig(file, options);
  } catch (error) {
    const message = (error as Error).message;
    throw new Error(file ? `--${flags.kubeconfig}: ${message}` : message, { cause: error });
  }
  const clientNode = createRequire(import.meta.url)(
    '@kubernetes/client-node',
  ) as typeof import('@kubernetes/client-node');
  const kubeConfig = new clientNode.KubeConfig();
  if (found) kubeConfig.loadFromString(stringify(withContext(found, options)));
  else if (options.context === undefined && liteInCluster(options.env)) kubeConfig.loadFromCluster();
  else throw nothingFound(options);
  if (!kubeConfig.getCurrentCluster())
    throw new Error(`--${flags.context}: ${found?.where ?? 'in-cluster config'}: the context names no cluster`);
  return kubeConfig;
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
