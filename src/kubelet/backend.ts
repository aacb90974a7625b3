// What the kubelet API needs from whoever runs the pods. The server handles HTTP, TLS, auth and
// the streaming protocols; a backend only finds the pod and opens plain streams to it. The
// virtual node provider plugs in the remote cluster (remote-backend.ts); tests plug in local
// processes and sockets.
import type { Duplex, Readable, Writable } from 'node:stream';

/** Where a local pod really runs; opaque to the server, which only hands it back. */
export interface RemotePodTarget {
  namespace: string;
  name: string;
}

/** PodLogOptions as the kubelet's containerLogs endpoint takes them (validated). */
export interface LogQuery {
  follow?: boolean;
  previous?: boolean;
  timestamps?: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  sinceTime?: string;
  limitBytes?: number;
  /** All, Stdout or Stderr (split log streams). */
  stream?: string;
}

export interface LogResponse {
  statusCode: number;
  contentType?: string;
  /** Streamed to the client as it comes; destroyed when the client goes away. */
  body: Readable;
}

export interface StreamOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface ExecOptions extends StreamOptions {
  command: string[];
}

export interface TerminalSize {
  width: number;
  height: number;
}

/** A running exec or attach, as plain streams. */
export interface ExecSession {
  /** end() means stdin EOF. */
  stdin?: Writable;
  stdout?: Readable;
  stderr?: Readable;
  resize(size: TerminalSize): void;
  /**
   * Settles when the command is over and its output has been handed over: the meta/v1 Status
   * JSON the remote reported (passed to the client verbatim), or undefined when it reported
   * none (treated as success). Rejects when the connection to the pod broke.
   */
  done: Promise<Buffer | undefined>;
  /** Gives up: the client went away. */
  abort(): void;
}

/** One forwarded connection to a pod port. */
export interface PortForwardSession {
  /** The bytes to and from the pod port; end() half-closes towards the pod. */
  stream: Duplex;
  /** Error text the remote side reported for this connection, once it is over. */
  errors: Promise<string | undefined>;
  abort(): void;
}

/** A connection upgraded to `protocol` with the pod's side, to be relayed byte for byte. */
export interface UpgradedConnection {
  socket: Duplex;
  /** What the far side sent right after switching protocols. */
  head: Buffer;
  protocol: string;
}

export interface KubeletBackend {
  /** The pod, if it is bound to this node; undefined answers 404. */
  resolvePod(namespace: string, name: string): Promise<RemotePodTarget | undefined>;
  logs(target: RemotePodTarget, container: string, query: LogQuery, signal: AbortSignal): Promise<LogResponse>;
  exec(target: RemotePodTarget, container: string, options: ExecOptions, signal: AbortSignal): Promise<ExecSession>;
  attach(target: RemotePodTarget, container: string, options: StreamOptions, signal: AbortSignal): Promise<ExecSession>;
  portForward(target: RemotePodTarget, port: number, signal: AbortSignal): Promise<PortForwardSession>;
  /**
   * Port-forward over SPDY as one upgraded connection that speaks `protocols` with the pod's own
   * kubelet, which the server relays byte for byte, as kube-apiserver relays to a kubelet. Absent:
   * the server speaks SPDY itself and opens each forwarded connection through portForward().
   */
  portForwardUpgrade?(target: RemotePodTarget, protocols: string[], signal: AbortSignal): Promise<UpgradedConnection>;
  /** stats/v1alpha1 Summary; a summary without pods when absent. */
  statsSummary?(signal: AbortSignal): Promise<unknown>;
  /** Prometheus text for /metrics/resource; only the metric descriptions when absent. */
  metricsResource?(signal: AbortSignal): Promise<string>;
}

/**
 * The backend could not open a stream and knows why in API terms (the remote apiserver
 * answered 403, 404, ...): the status code and meta/v1 Status reach the client unchanged.
 */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly statusCode: number;
  readonly status: Record<string, unknown> | undefined;

  constructor(statusCode: number, message: string, status?: Record<string, unknown>) {
    super(message);
    this.statusCode = statusCode;
    this.status = status;
  }
}
