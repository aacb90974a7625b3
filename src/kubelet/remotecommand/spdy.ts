// Remote commands (exec, attach) over SPDY, the way kube-apiserver calls a kubelet: after the
// upgrade the client opens one stream per standard stream, tagged by the `streamType` header
// (error, stdin, stdout, stderr, resize). The kubelet waits for all it expects, runs the
// command, writes the final Status on the error stream and closes the connection.
import { finished } from 'node:stream/promises';
import type { StreamOptions } from '../backend.ts';
import type { SpdyConnection, SpdyStream } from '../spdy/connection.ts';
import type { ClientExecStreams } from './relay.ts';
import { statusForProtocol } from './status.ts';

/** Offered in this order; the client's preference wins (k8s.io/streaming negotiateProtocol). */
export const SPDY_REMOTECOMMAND_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
];

/** 5 for v5.channel.k8s.io ... 1 for channel.k8s.io. */
export function remoteCommandVersion(protocol: string): number {
  const match = /^v(\d+)\./.exec(protocol);
  return match ? Number(match[1]) : 1;
}

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';

function expectedStreams(options: StreamOptions, version: number): Set<StreamType> {
  const expected = new Set<StreamType>(['error']);
  if (options.stdin) expected.add('stdin');
  if (options.stdout) expected.add('stdout');
  if (options.stderr) expected.add('stderr');
  if (options.tty && version >= 3) expected.add('resize');
  return expected;
}

/**
 * Waits until the client opened every stream the options call for (each accepted as it comes),
 * or rejects after `timeoutMs` or when the connection drops.
 */
export function acceptSpdyExecStreams(
  connection: SpdyConnection,
  version: number,
  options: StreamOptions,
  timeoutMs: number,
): Promise<ClientExecStreams> {
  const expected = expectedStreams(options, version);
  const streams = new Map<StreamType, SpdyStream>();
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer);
      connection.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error('timed out waiting for client to create streams')), timeoutMs);
    void connection.closed.then(() => fail(new Error('connection closed before all streams were created')));
    connection.on('stream', (stream) => {
      const type = stream.header('streamtype') as StreamType | undefined;
      stream.accept();
      if (streams.size === expected.size || !type || !expected.has(type) || streams.has(type)) {
        // Like the kubelet: a stream the options did not ask for is accepted and left unused
        // (a client that reads stderr although error=0 must not fail to start).
        stream.resume();
        return;
      }
      streams.set(type, stream);
      if (streams.size < expected.size) return;
      clearTimeout(timer);
      resolve(clientStreams(connection, streams, version));
    });
  });
}

function clientStreams(
  connection: SpdyConnection,
  streams: Map<StreamType, SpdyStream>,
  version: number,
): ClientExecStreams {
  const error = streams.get('error') as SpdyStream;
  error.resume(); // the client never writes to it; its FIN must not stall the connection
  return {
    ...optional('stdin', streams.get('stdin')),
    ...optional('stdout', streams.get('stdout')),
    ...optional('stderr', streams.get('stderr')),
    ...optional('resize', streams.get('resize')),
    writeStatus: async (status) => {
      const bytes = statusForProtocol(status, version);
      error.end(bytes.length > 0 ? bytes : undefined);
      await finished(error, { readable: false }).catch(() => undefined);
    },
    finish: () => connection.close(),
    abort: () => connection.destroy(),
    gone: connection.closed,
  };
}

function optional<K extends string>(key: K, stream: SpdyStream | undefined): { [P in K]?: SpdyStream } {
  return (stream ? { [key]: stream } : {}) as { [P in K]?: SpdyStream };
}
