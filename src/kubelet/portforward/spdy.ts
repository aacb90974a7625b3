// Port forwarding over SPDY (portforward.k8s.io), the way kube-apiserver calls a kubelet: for
// every client TCP connection the client opens an error stream and a data stream carrying the
// same `port` and `requestID` headers; once both are there the kubelet connects to the pod port
// and relays. Each pair gets its own upstream, and it ends with the pair or the connection.
import { RstStatus } from '../spdy/frames.ts';
import type { SpdyConnection, SpdyStream } from '../spdy/connection.ts';
import type { PortForwardSession } from '../backend.ts';
import { forwardErrorMessage, relayForward } from './relay.ts';

export const SPDY_PORTFORWARD_PROTOCOLS = ['portforward.k8s.io'];

export type OpenPortForward = (port: number, signal: AbortSignal) => Promise<PortForwardSession>;

interface StreamPair {
  requestId: string;
  port: number;
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** Parses the port header: 1..65535, else undefined. */
function streamPort(stream: SpdyStream): number | undefined {
  const text = stream.header('port') ?? '';
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** kubectl sends requestID; very old clients did not, and the kubelet derives one from stream ids. */
function requestIdOf(stream: SpdyStream, type: string): string {
  return stream.header('requestid') ?? String(type === 'error' ? stream.id : stream.id - 2);
}

/** Serves port-forward streams on `connection` until it closes. */
export function serveSpdyPortForward(
  connection: SpdyConnection,
  podName: string,
  open: OpenPortForward,
  streamCreationTimeoutMs: number,
): void {
  const pairs = new Map<string, StreamPair>();
  const sessions = new Set<AbortController>();
  connection.on('stream', (stream) => {
    const type = stream.header('streamtype');
    const port = streamPort(stream);
    if (port === undefined || (type !== 'data' && type !== 'error')) return stream.reset(RstStatus.protocolError);
    const requestId = requestIdOf(stream, type);
    let pair = pairs.get(requestId);
    if (!pair) {
      pair = { requestId, port, timer: setTimeout(() => expire(requestId), streamCreationTimeoutMs) };
      pairs.set(requestId, pair);
    }
    if (pair[type]) return stream.reset(RstStatus.protocolError);
    stream.accept();
    pair[type] = stream;
    if (!pair.data || !pair.error) return;
    clearTimeout(pair.timer);
    pairs.delete(requestId);
    void forward(pair as Required<StreamPair>);
  });

  const expire = (requestId: string): void => {
    const pair = pairs.get(requestId);
    pairs.delete(requestId);
    pair?.error?.end(`timed out waiting for streams of request ${requestId}`);
    pair?.data?.reset();
  };

  const forward = async (pair: Required<StreamPair>): Promise<void> => {
    const abort = new AbortController();
    sessions.add(abort);
    pair.error.resume(); // the client half-closes it at once; its FIN must not stall the connection
    const client = {
      data: pair.data,
      endError: (message?: string) => pair.error.end(message),
      resetData: () => pair.data.reset(),
    };
    try {
      const session = await open(pair.port, abort.signal);
      if (abort.signal.aborted) return session.abort();
      await relayForward(client, session);
    } catch (err) {
      client.endError(forwardErrorMessage(pair.port, podName, err));
      client.resetData();
    } finally {
      sessions.delete(abort);
    }
  };

  void connection.closed.then(() => {
    for (const pair of pairs.values()) clearTimeout(pair.timer);
    pairs.clear();
    for (const abort of sessions) abort.abort();
  });
}
