// A listener of the pod server: an HTTP server on 127.0.0.1 (any free port) that answers in the
// name of one pod port (or of any pod, for the shared one) and counts its connections.
import http from 'node:http';
import type net from 'node:net';
import { responder, type PodIdentity, type ResponderHooks } from './responder.ts';

export interface ConnectionCounts {
  /** Connections accepted since the listener started. */
  accepted: number;
  /** Connections open now. */
  open: number;
}

export class PodListener {
  readonly identity: PodIdentity;
  readonly counts: ConnectionCounts = { accepted: 0, open: 0 };
  /** Set once listening. */
  port: number | undefined;
  readonly #server: http.Server;
  readonly #sockets = new Set<net.Socket>();

  constructor(identity: PodIdentity, hooks: ResponderHooks) {
    this.identity = identity;
    this.#server = http.createServer({ keepAliveTimeout: 5000 }, responder(identity, hooks));
    this.#server.on('connection', (socket: net.Socket) => this.#track(socket));
  }

  /** Listens on 127.0.0.1:port (0: any free port); resolves to the port. */
  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: '127.0.0.1', port }, () => {
        this.port = (this.#server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  close(): void {
    this.#server.close();
    for (const socket of this.#sockets) socket.destroy();
  }

  #track(socket: net.Socket): void {
    this.counts.accepted++;
    this.counts.open++;
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.counts.open--;
      this.#sockets.delete(socket);
    });
  }
}
