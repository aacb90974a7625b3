// Port-forward over SPDY relayed byte for byte: the client's upgraded connection (kube-apiserver's
// SPDY session) joined to an upgraded connection with the pod's own kubelet (the remote apiserver
// proxies it there), the way kube-apiserver itself relays to a kubelet. Every forwarded connection
// of the session is a stream pair on that one upstream: no handshake per connection, and no
// framing work here, only TLS on both sides. Backpressure is TCP's through pipe(); whichever side
// closes or fails takes the other with it.
import type { Duplex } from 'node:stream';
import type { UpgradedConnection } from '../backend.ts';

/** Relays until either side is gone; `clientHead` is what the client sent after its request. */
export function relayUpgraded(client: Duplex, clientHead: Buffer, upstream: UpgradedConnection): Promise<void> {
  const { socket: pod, head } = upstream;
  return new Promise((resolve) => {
    let over = false;
    const finish = (): void => {
      if (over) return;
      over = true;
      client.destroy();
      pod.destroy();
      resolve();
    };
    for (const side of [client, pod]) {
      side.once('close', finish);
      side.once('error', finish);
    }
    if (head.length > 0) client.write(head);
    if (clientHead.length > 0) pod.write(clientHead);
    client.pipe(pod);
    pod.pipe(client);
  });
}
