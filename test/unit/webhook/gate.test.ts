// The admission gate: request bytes held at once stay within the bound, waiters are let in first
// come first served, one admission always fits, and only a full waiting room refuses.
import { expect } from 'chai';
import fc from 'fast-check';
import type { AdmissionGate as Gate } from '../../../src/webhook/server/gate.ts';
import { AdmissionGate } from '../../../src/webhook/server/gate.ts';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { TestWebhook } from './helpers.ts';
import { metricValue, postReview, review, send, startTestWebhook, waitFor } from './helpers.ts';

function tlsConnect(url: string, ca: string): Promise<TLSSocket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

const gauge = (text: string, name: string): number | undefined => metricValue(text, name);

/** A POST to /validate up to its Content-Length header. */
const POST_HEAD = 'POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n';

describe('admission gate', function () {
  it('admits within the byte bound and lets waiters in, in order, as bytes are returned', function () {
    const gate = new AdmissionGate({ maxBytes: 10, maxWaiting: 10 });
    const admitted: string[] = [];
    expect(gate.enter(6, () => admitted.push('a'))).to.be.a('function');
    gate.enter(6, () => admitted.push('b'));
    // Fits, but must not pass the waiter ahead of it.
    gate.enter(1, () => admitted.push('c'));
    expect(admitted).to.deep.equal(['a']);
    expect(gate.stats()).to.deep.equal({ admittedBytes: 6, admitted: 1, waiting: 2 });
    gate.leave(6);
    expect(admitted).to.deep.equal(['a', 'b', 'c']);
    expect(gate.stats()).to.deep.equal({ admittedBytes: 7, admitted: 2, waiting: 0 });
  });

  it('always admits one request, however large, when nothing else is in', function () {
    const gate = new AdmissionGate({ maxBytes: 10, maxWaiting: 1 });
    let admitted = false;
    gate.enter(50, () => (admitted = true));
    expect(admitted).to.equal(true);
  });

  it('refuses only when the waiting room is full, and skips cancelled waiters', function () {
    const gate = new AdmissionGate({ maxBytes: 10, maxWaiting: 2 });
    const admitted: string[] = [];
    gate.enter(10, () => admitted.push('a'));
    const cancelB = gate.enter(10, () => admitted.push('b'));
    gate.enter(10, () => admitted.push('c'));
    expect(gate.enter(10, () => admitted.push('d'))).to.equal(undefined);
    cancelB?.();
    expect(gate.stats().waiting).to.equal(1);
    gate.leave(10);
    expect(admitted).to.deep.equal(['a', 'c']);
  });

  it('copes with an admission that leaves at once (client gone)', function () {
    const gate = new AdmissionGate({ maxBytes: 10, maxWaiting: 10 });
    const admitted: string[] = [];
    gate.enter(10, () => admitted.push('a'));
    gate.enter(10, () => (admitted.push('b'), gate.leave(10)));
    gate.enter(10, () => admitted.push('c'));
    gate.leave(10);
    expect(admitted).to.deep.equal(['a', 'b', 'c']);
    expect(gate.stats()).to.deep.equal({ admittedBytes: 10, admitted: 1, waiting: 0 });
  });

  it('never holds more than the bound (beyond a lone admission), whatever the order of events', function () {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('enter' as const), bytes: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('leave' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const gate: Gate = new AdmissionGate({ maxBytes: 32, maxWaiting: 20 });
        const inside: number[] = [];
        const cancels: Array<() => void> = [];
        const order: number[] = [];
        let next = 0;
        for (const event of steps) {
          if (event.kind === 'enter') {
            const id = next++;
            const cancel = gate.enter(event.bytes, () => {
              inside.push(event.bytes);
              order.push(id);
            });
            if (cancel) cancels.push(cancel);
          } else if (event.kind === 'leave' && inside.length > 0) {
            const [bytes] = inside.splice(event.pick % inside.length, 1);
            gate.leave(bytes as number);
          } else if (event.kind === 'cancel' && cancels.length > 0) {
            cancels[event.pick % cancels.length]?.();
          }
          const held = inside.reduce((sum, bytes) => sum + bytes, 0);
          expect(gate.stats().admittedBytes).to.equal(held);
          expect(held <= 32 || inside.length === 1, `held ${held} in ${inside.length}`).to.equal(true);
        }
        // First come, first served.
        expect(order).to.deep.equal([...order].sort((a, b) => a - b));
      }),
    );
  });

  describe('in the server', function () {
    let server: TestWebhook;
    before(async function () {
      server = await startTestWebhook({
        args: ['--max-buffered-bytes', '3Mi', '--max-waiting-reviews', '4', '--handler-timeout', '20s'],
      });
    });
    after(async function () {
      await server?.stop();
    });
    const scrape = () => send(server.url, { path: '/metrics', ca: server.ca }).then((reply) => reply.text);

    it('makes large reviews wait their turn instead of refusing them', async function () {
      this.timeout(60_000);
      const large = (index: number) =>
        JSON.stringify(
          review({
            uid: `uid-large-${index}`,
            request: { object: { metadata: { name: 'x', annotations: { pad: 'x'.repeat(1_000_000) } } } },
          }),
        );
      const replies = await Promise.all(
        Array.from({ length: 4 }, (_, index) => postReview(server.url, '/validate', large(index), { ca: server.ca })),
      );
      expect(replies.map((reply) => reply.status)).to.deep.equal([200, 200, 200, 200]);
      expect(replies.map((reply) => reply.json.response.uid)).to.deep.equal(
        [0, 1, 2, 3].map((index) => `uid-large-${index}`),
      );
    });

    it('answers 429 only beyond the waiting room, and lets the waiters in once there is room', async function () {
      this.timeout(60_000);
      // A review that declares 3 MiB (all the room) and sends its body later.
      const body = JSON.stringify(
        review({ uid: 'uid-holder', request: { object: { metadata: { name: 'x', annotations: { pad: '' } } } } }),
      );
      const holderBody = body.replace('"pad":""', `"pad":"${'x'.repeat(3 * 1024 * 1024 - Buffer.byteLength(body))}"`);
      const holder = await tlsConnect(server.url, server.ca);
      const holderReply = new Promise<string>((resolve) => {
        let text = '';
        holder.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('uid-holder')) resolve(text);
        });
      });
      const length = Buffer.byteLength(holderBody);
      holder.write(`${POST_HEAD}Content-Length: ${length}\r\n\r\n`);
      await waitFor(
        async () =>
          gauge(await scrape(), 'kube_offload_webhook_admission_buffered_bytes') === Buffer.byteLength(holderBody),
        'the holder admitted',
      );

      const waiters = Array.from({ length: 4 }, (_, index) =>
        postReview(server.url, '/validate', review({ uid: `uid-wait-${index}` }), { ca: server.ca }),
      );
      await waitFor(async () => gauge(await scrape(), 'kube_offload_webhook_admission_waiting') === 4, 'four waiting');
      const refused = await postReview(server.url, '/validate', review({ uid: 'uid-refused' }), { ca: server.ca });
      expect(refused.status).to.equal(429);
      expect(refused.headers['retry-after']).to.equal('1');
      expect(refused.json).to.include({ kind: 'Status', code: 429, reason: 'TooManyRequests' });

      holder.write(holderBody);
      expect(await holderReply).to.match(/^HTTP\/1.1 200/);
      holder.destroy();
      const replies = await Promise.all(waiters);
      expect(replies.map((reply) => reply.json.response.uid)).to.deep.equal(
        [0, 1, 2, 3].map((index) => `uid-wait-${index}`),
      );
      expect(gauge(await scrape(), 'kube_offload_webhook_admission_buffered_bytes')).to.equal(0);
    });

    it('lets a waiter whose client went away go without answering, and gives its room back', async function () {
      const short = await startTestWebhook({ args: ['--max-buffered-bytes', '3Mi', '--handler-timeout', '300ms'] });
      const scrape = () => send(short.url, { path: '/metrics', ca: short.ca }).then((reply) => reply.text);
      const sockets: TLSSocket[] = [];
      try {
        // A slow upload takes all the room until its deadline.
        const holder = await tlsConnect(short.url, short.ca);
        holder.on('data', () => undefined);
        holder.on('error', () => undefined);
        holder.write(`${POST_HEAD}Content-Length: 3145728\r\n\r\n{`);
        sockets.push(holder);
        await waitFor(
          async () => gauge(await scrape(), 'kube_offload_webhook_admission_buffered_bytes') === 3145728,
          'the holder',
        );
        // A whole small review waits behind it, and its client gives up.
        const body = JSON.stringify(review({ uid: 'uid-gone' }));
        const gone = await tlsConnect(short.url, short.ca);
        gone.on('error', () => undefined);
        gone.write(`${POST_HEAD}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        await waitFor(async () => gauge(await scrape(), 'kube_offload_webhook_admission_waiting') === 1, 'one waiting');
        gone.destroy();
        await waitFor(async () => {
          const text = await scrape();
          return (
            gauge(text, 'kube_offload_webhook_admission_waiting') === 0 &&
            gauge(text, 'kube_offload_webhook_admission_buffered_bytes') === 0 &&
            gauge(text, 'kube_offload_webhook_admission_requests_total{webhook="validate",outcome="bad_request"}') === 1
          );
        }, 'the room given back, the gone client counted once');
      } finally {
        for (const socket of sockets) socket.destroy();
        await short.stop();
      }
    });
  });
});
