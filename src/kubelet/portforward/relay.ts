// Joins one client port-forward connection (a SPDY data/error stream pair, or a WebSocket
// channel pair) to the backend's connection to the pod port. Bytes flow both ways with
// backpressure through pipe(); a FIN travels as end(); whichever side goes away first takes
// the other with it, so no upstream outlives its client connection.
import type { Duplex } from 'node:stream';
import type { PortForwardSession } from '../backend.ts';

/** The client's side of one forwarded connection. */
export interface ClientForward {
  data: Duplex;
  /** Ends the error channel, with the error text when there is one. */
  endError(message?: string): void;
  /** Aborts the data channel (the pod side failed). */
  resetData(): void;
}

export function relayForward(client: ClientForward, session: PortForwardSession): Promise<void> {
  const { data } = client;
  const pod = session.stream;
  return new Promise((resolve) => {
    let over = false;
    const finish = (message?: string): void => {
      if (over) return;
      over = true;
      session.abort();
      if (message && !data.writableEnded) client.resetData();
      client.endError(message);
      resolve();
    };
    data.on('error', () => undefined);
    pod.on('error', () => undefined);
    data.pipe(pod);
    pod.pipe(data);
    const podDone = new Promise<void>((done) => {
      pod.once('end', done);
      pod.once('close', done);
    });
    void Promise.all([podDone, session.errors.catch((err: Error) => err.message)]).then(([, message]) =>
      finish(message),
    );
    data.once('close', () => finish());
  });
}

/** The text the kubelet writes when it cannot forward a port. */
export function forwardErrorMessage(port: number, pod: string, err: unknown): string {
  const reason = err instanceof Error ? err.message : String(err);
  return `error forwarding port ${port} to pod ${pod}: ${reason}`;
}
