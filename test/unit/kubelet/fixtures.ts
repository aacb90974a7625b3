// Test fixtures for the kubelet API: certificates, a backend that runs commands as local
// processes and forwards ports to local TCP servers, and a server wired to them.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { Readable } from 'node:stream';
import { generate } from 'selfsigned';
import { KubeletAuth } from '../../../src/kubelet/auth/auth.ts';
import type { AccessReviewer, TokenReviewer } from '../../../src/kubelet/auth/auth.ts';
import type {
  ExecOptions,
  ExecSession,
  KubeletBackend,
  LogQuery,
  PortForwardSession,
  RemotePodTarget,
  StreamOptions,
  TerminalSize,
} from '../../../src/kubelet/backend.ts';
import { exitCodeStatus, successStatus } from '../../../src/kubelet/remotecommand/status.ts';
import { KubeletServer } from '../../../src/kubelet/server.ts';
import { generateServingCert } from '../../../src/kubelet/tls.ts';
import type { ServingCert } from '../../../src/kubelet/tls.ts';

export const NODE_NAME = 'virtual-remote';
export const APISERVER_USER = 'kube-apiserver-kubelet-client';

export interface ClientCertificates {
  ca: string;
  cert: string;
  key: string;
  /** A certificate for the same name from a CA the server does not trust. */
  strangerCert: string;
  strangerKey: string;
}

async function clientCert(
  ca: { cert: string; key: string },
  commonName: string,
): Promise<{ cert: string; key: string }> {
  const leaf = await generate(
    [
      { name: 'commonName', value: commonName },
      { name: 'organizationName', value: 'system:masters' },
    ],
    {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(Date.now() - 60_000),
      notAfterDate: new Date(Date.now() + 86_400_000),
      ca,
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ],
    },
  );
  return { cert: leaf.cert, key: leaf.private };
}

async function certificateAuthority(name: string): Promise<{ cert: string; key: string }> {
  const ca = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: ca.cert, key: ca.private };
}

export async function clientCertificates(): Promise<ClientCertificates> {
  const ca = await certificateAuthority('kubelet-client-ca');
  const stranger = await certificateAuthority('stranger-ca');
  const good = await clientCert(ca, APISERVER_USER);
  const bad = await clientCert(stranger, APISERVER_USER);
  return { ca: ca.cert, cert: good.cert, key: good.key, strangerCert: bad.cert, strangerKey: bad.key };
}

export interface LocalBackendOptions {
  /** local "namespace/name" → the remote target; others are not bound here. */
  pods: Record<string, RemotePodTarget>;
  /** Remote pod port → local TCP port. */
  ports?: Record<number, number>;
  logLines?: string[];
}

export interface LocalBackend extends KubeletBackend {
  resizes: TerminalSize[];
  /** Sessions (exec, attach, port-forward) not yet over. */
  open: Set<string>;
  logQueries: LogQuery[];
  logAborts: number;
}

function commandStatus(code: number | null, signal: NodeJS.Signals | null): Buffer {
  if (code === 0) return successStatus();
  return exitCodeStatus(code ?? (signal ? 128 + (signalNumbers[signal] ?? 0) : 1));
}
const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2 };

/** Runs exec commands as local processes; attach runs `cat` (what you type comes back). */
export function localBackend(options: LocalBackendOptions): LocalBackend {
  const backend: LocalBackend = {
    resizes: [],
    open: new Set(),
    logQueries: [],
    logAborts: 0,
    resolvePod: async (namespace, name) => options.pods[`${namespace}/${name}`],
    exec: async (_target, _container, exec: ExecOptions, signal) => runLocal(backend, exec.command, exec, signal),
    attach: async (_target, _container, streams: StreamOptions, signal) => runLocal(backend, ['cat'], streams, signal),
    portForward: async (_target, port, signal) => forwardLocal(backend, options.ports?.[port] ?? port, signal),
    logs: async (_target, _container, query, signal) => {
      backend.logQueries.push(query);
      signal.addEventListener('abort', () => backend.logAborts++);
      return { statusCode: 200, contentType: 'text/plain', body: logStream(options.logLines ?? [], query, signal) };
    },
  };
  return backend;
}

function runLocal(backend: LocalBackend, command: string[], options: StreamOptions, signal: AbortSignal): ExecSession {
  const [file, ...args] = command;
  const child = spawn(file ?? 'true', args, { stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const id = `exec-${child.pid}`;
  backend.open.add(id);
  const kill = (): boolean => child.kill('SIGKILL');
  signal.addEventListener('abort', kill, { once: true });
  child.stdin?.on('error', () => undefined);
  const done = new Promise<Buffer>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, sig) => {
      backend.open.delete(id);
      signal.removeEventListener('abort', kill);
      resolve(commandStatus(code, sig));
    });
  });
  return {
    ...(child.stdin ? { stdin: child.stdin } : {}),
    ...(options.stdout ? { stdout: child.stdout as Readable } : {}),
    ...(options.stderr ? { stderr: child.stderr as Readable } : {}),
    resize: (size) => void backend.resizes.push(size),
    done,
    abort: () => void kill(),
  };
}

async function forwardLocal(backend: LocalBackend, port: number, signal: AbortSignal): Promise<PortForwardSession> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const id = `forward-${socket.localPort}`;
  backend.open.add(id);
  const abort = (): void => void socket.destroy();
  signal.addEventListener('abort', abort, { once: true });
  const errors = new Promise<string | undefined>((resolve) =>
    socket.once('close', () => {
      backend.open.delete(id);
      resolve(undefined);
    }),
  );
  return { stream: socket, errors, abort };
}

function logStream(lines: string[], query: LogQuery, signal: AbortSignal): Readable {
  const tail = query.tailLines === undefined ? lines : lines.slice(-query.tailLines || lines.length);
  const body = new Readable({ read() {} });
  for (const line of tail) body.push(`${query.timestamps ? '2026-01-01T00:00:00Z ' : ''}${line}\n`);
  if (!query.follow) {
    body.push(null);
    return body;
  }
  let n = 0;
  const timer = setInterval(() => body.push(`follow ${n++}\n`), 20);
  signal.addEventListener('abort', () => {
    clearInterval(timer);
    body.destroy();
  });
  return body;
}

/** A TCP server that echoes everything and half-closes when its client does. */
export async function echoServer(): Promise<{ port: number; close(): Promise<void>; connections: () => number }> {
  let open = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    open++;
    socket.once('close', () => open--);
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => open,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface TestServer {
  server: KubeletServer;
  port: number;
  serving: ServingCert;
  clients: ClientCertificates;
  reviews: { tokens: string[]; access: Array<{ user: string; verb: string; subresource: string }> };
  errors: unknown[];
  close(): Promise<void>;
}

/** A kubelet server on an ephemeral port that trusts `clients.ca`, allows APISERVER_USER and the token "good". */
export async function startTestServer(backend: KubeletBackend, streamCreationTimeoutMs = 30_000): Promise<TestServer> {
  const [serving, clients] = await Promise.all([generateServingCert(['127.0.0.1', 'localhost']), clientCertificates()]);
  const reviews: TestServer['reviews'] = { tokens: [], access: [] };
  const reviewToken: TokenReviewer = async (token) => {
    reviews.tokens.push(token);
    return token === 'good'
      ? { authenticated: true, user: { username: 'alice', groups: ['devs'] } }
      : { authenticated: false };
  };
  const reviewAccess: AccessReviewer = async (user, attributes) => {
    reviews.access.push({ user: user.username, verb: attributes.verb, subresource: attributes.subresource });
    return {
      allowed: user.username === APISERVER_USER || (user.username === 'alice' && attributes.subresource !== 'proxy'),
    };
  };
  const errors: unknown[] = [];
  const server = new KubeletServer({
    nodeName: NODE_NAME,
    backend,
    auth: new KubeletAuth({ nodeName: NODE_NAME, reviewToken, reviewAccess }),
    tls: { cert: serving.cert, key: serving.key, clientCa: clients.ca },
    streamCreationTimeoutMs,
    onError: (err) => errors.push(err),
  });
  const port = await server.listen(0, '127.0.0.1');
  return { server, port, serving, clients, reviews, errors, close: () => server.close() };
}
