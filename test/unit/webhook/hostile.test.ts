// Hostile input to the server shell: malformed JSON must not be echoed, deep nesting must never
// turn into a 500 or a logged stack, client-controlled strings are truncated in logs, header and
// request timeouts hold within a second or two, and /healthz keeps answering while large
// reviews are being decided.
import { expect } from 'chai';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { AdmissionHandler } from '../../../webhooks/types.ts';
import type { TestWebhook } from './helpers.ts';
import { postReview, review, send, startTestWebhook, unhandledRejections, waitFor } from './helpers.ts';

const allow: AdmissionHandler = (request) => ({ uid: request.uid, allowed: true });
const deny: AdmissionHandler = (request) => ({
  uid: request.uid,
  allowed: false,
  status: { code: 403, message: `denied ${request.name}` },
});

/** A stack frame as V8 prints it, e.g. "    at parse (file.ts:1:2)". */
const STACK_FRAME = /\n\s+at /;

/** JSON text of `depth` nested arrays or objects around a 1. Built as text: JSON.stringify would overflow. */
function deepJson(depth: number, shape: 'array' | 'object'): string {
  return shape === 'array'
    ? `${'['.repeat(depth)}1${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** A review whose JSON has `"__DEEP__"` replaced by a deeply nested value. */
function withDeepValue(body: Record<string, unknown>, deep: string): string {
  const text = JSON.stringify(body);
  expect(text).to.include('"__DEEP__"');
  return text.replace('"__DEEP__"', () => deep);
}

/** Connects with TLS and resolves once the handshake is done. */
function tlsConnect(url: string, ca: string): Promise<TLSSocket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with the milliseconds from now until the server closes `socket`. */
function closedAfter(socket: TLSSocket): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    const done = (): void => resolve(Date.now() - started);
    socket.on('data', () => undefined);
    socket.once('close', done);
    socket.once('error', () => undefined);
  });
}

describe('webhook server: hostile input', function () {
  this.timeout(60_000);

  describe('malformed JSON', function () {
    let server: TestWebhook;
    before(async function () {
      server = await startTestWebhook();
    });
    after(async function () {
      await server?.stop();
    });

    it('answers 400 with the byte position only, never the text around the error', async function () {
      const cases: Array<[string, string]> = [
        ['{"password":hunter2x}', 'request body is not valid JSON (at byte 13)'],
        ['{"password":"hunter2x"', 'request body is not valid JSON (it ends after 22 bytes, inside a value)'],
        ['{"password":"hunter2x"} hunter2x', 'request body is not valid JSON (at byte 25)'],
        ['[1,2,hunter2x]', 'request body is not valid JSON (at byte 6)'],
        ['{"password":"hunter2x\u0001"}', 'request body is not valid JSON (at byte 22)'],
        ['{"pässword":hunter2x}', 'request body is not valid JSON (at byte 14)'],
        ['', 'request body is not valid JSON (it is empty)'],
      ];
      for (const [body, message] of cases) {
        const reply = await postReview(server.url, '/validate', body, { ca: server.ca });
        expect(reply.status, body).to.equal(400);
        expect(reply.json, body).to.include({ kind: 'Status', code: 400, reason: 'BadRequest', message });
      }
      await waitFor(
        () => server.logs.find('bad admission request').length >= cases.length,
        'the bad-request log lines',
      );
      expect(server.logs.raw).to.not.include('hunter2');
    });
  });

  describe('deep nesting', function () {
    let server: TestWebhook;
    let recursive: TestWebhook;
    // A handler that walks the object recursively, as a careless core would.
    const walking: AdmissionHandler = (request) => ({
      uid: request.uid,
      allowed: JSON.stringify(request.object).length > 0,
    });

    before(async function () {
      server = await startTestWebhook();
      recursive = await startTestWebhook({
        handlers: {
          '/mutate/pods': walking,
          '/mutate/workloads': walking,
          '/mutate/replicated': walking,
          '/validate': walking,
        },
      });
    });
    after(async function () {
      await server?.stop();
      await recursive?.stop();
      expect(unhandledRejections()).to.deep.equal([]);
    });

    const placements: Array<[string, Record<string, unknown>]> = [
      [
        'a field of the object',
        review({
          request: {
            object: {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: 'p', namespace: 'demo' },
              spec: { containers: [{ name: 'c', image: 'nginx', x: '__DEEP__' }] },
            },
          },
        }),
      ],
      [
        'a label value',
        review({
          request: {
            object: {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: 'p', namespace: 'demo', labels: { a: '__DEEP__' } },
              spec: { containers: [] },
            },
          },
        }),
      ],
      [
        'the old object',
        review({
          request: { operation: 'UPDATE', oldObject: { metadata: { name: 'p', annotations: { x: '__DEEP__' } } } },
        }),
      ],
      ['the review kind', { apiVersion: 'admission.k8s.io/v1', kind: '__DEEP__' }],
      ['the request kind', review({ request: { kind: '__DEEP__' } })],
      ['the request name', review({ request: { name: '__DEEP__' } })],
      ['userInfo', review({ request: { userInfo: { username: 'x', extra: { y: '__DEEP__' } } } })],
    ];

    for (const depth of [5_000, 100_000]) {
      it(`answers 200 or 400 (never 500) and logs no stack for values nested ${depth} levels deep`, async function () {
        for (const target of [server, recursive]) {
          for (const shape of ['array', 'object'] as const) {
            for (const [where, body] of placements) {
              for (const path of ['/mutate/pods', '/mutate/workloads', '/mutate/replicated', '/validate']) {
                const what = `${where}, ${shape}s, ${path}${target === recursive ? ', recursive handler' : ''}`;
                const reply = await postReview(target.url, path, withDeepValue(body, deepJson(depth, shape)), {
                  ca: target.ca,
                });
                expect([200, 400], `${what}: ${reply.status} ${reply.text.slice(0, 300)}`).to.include(reply.status);
                expect(reply.text.length, what).to.be.lessThan(2000);
                expect(reply.text, what).to.not.match(STACK_FRAME);
              }
            }
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
        for (const target of [server, recursive]) {
          expect(target.logs.lines.filter((line) => 'stack' in line)).to.deep.equal([]);
          expect(target.logs.raw).to.not.match(/\\n\s+at /);
        }
      });
    }

    it('says that the review is nested too deeply when a handler overflows the stack on it', async function () {
      const body = placements[0]?.[1] as Record<string, unknown>;
      const reply = await postReview(recursive.url, '/mutate/pods', withDeepValue(body, deepJson(100_000, 'array')), {
        ca: recursive.ca,
      });
      expect(reply.status).to.equal(400);
      expect(reply.json.message).to.match(/nested too deeply/);
    });
  });

  describe('unexpected handler errors', function () {
    let server: TestWebhook;
    const leaky: AdmissionHandler = (request) => {
      throw new TypeError(`cannot read ${String(request.name)}`);
    };
    before(async function () {
      server = await startTestWebhook({
        handlers: {
          '/mutate/pods': leaky,
          '/mutate/workloads': leaky,
          '/mutate/replicated': leaky,
          '/validate': leaky,
        },
      });
    });
    after(async function () {
      await server?.stop();
    });

    it('answer 500 without error text or stack; log the class, a bounded message and code frames', async function () {
      const reply = await postReview(
        server.url,
        '/validate',
        review({ request: { name: `secret-name-${'x'.repeat(100_000)}` } }),
        { ca: server.ca },
      );
      expect(reply.status).to.equal(500);
      expect(reply.json).to.include({ kind: 'Status', code: 500, reason: 'InternalError' });
      expect(reply.json.message).to.include('TypeError');
      expect(reply.text).to.not.include('secret-name');
      expect(reply.text).to.not.match(STACK_FRAME);
      const line = await waitFor(() => server.logs.find('admission failed')[0], 'the failure log line');
      expect(line).to.include({ level: 'error', errorClass: 'TypeError' });
      expect(String(line.err).length).to.be.lessThan(400);
      expect(String(line.frames)).to.not.include('secret-name');
      expect(JSON.stringify(line).length).to.be.lessThan(4000);
    });
  });

  describe('client-controlled strings in logs', function () {
    let server: TestWebhook;
    before(async function () {
      server = await startTestWebhook({
        handlers: { '/mutate/pods': allow, '/mutate/workloads': allow, '/mutate/replicated': allow, '/validate': deny },
      });
    });
    after(async function () {
      await server?.stop();
    });

    it('truncates a 3 MB uid, name and namespace in the log line but answers with the whole uid', async function () {
      const uid = `uid-${'u'.repeat(3_000_000)}`;
      const reply = await postReview(
        server.url,
        '/validate',
        review({ uid, request: { name: 'n'.repeat(50_000), namespace: 's'.repeat(50_000) } }),
        { ca: server.ca },
      );
      expect(reply.status).to.equal(200);
      expect(reply.json.response.uid === uid, 'the whole uid in the response').to.equal(true);
      const line = await waitFor(
        () => server.logs.find('admission').find((entry) => String(entry.uid).startsWith('uid-u')),
        'the denial line',
      );
      // Compared as booleans: a failing comparison of megabyte strings would print them.
      const clipped = (field: unknown, expected: string) => field === expected || `${String(field).length} chars`;
      expect(clipped(line.uid, `uid-${'u'.repeat(252)}…(2999748 more)`), 'uid').to.equal(true);
      expect(clipped(line.name, `${'n'.repeat(256)}…(49744 more)`), 'name').to.equal(true);
      expect(clipped(line.namespace, `${'s'.repeat(256)}…(49744 more)`), 'namespace').to.equal(true);
      const raw = server.logs.raw.split('\n').find((text) => text.includes('"uid":"uid-u')) ?? '';
      expect(raw.length).to.be.lessThan(2000);
    });

    it('truncates client values quoted in a 400 answer and its log line', async function () {
      const kind = `K${'k'.repeat(1_000_000)}`;
      const reply = await postReview(
        server.url,
        '/validate',
        { apiVersion: 'admission.k8s.io/v1', kind },
        { ca: server.ca },
      );
      expect(reply.status).to.equal(400);
      expect(reply.text.length).to.be.lessThan(1000);
      expect(reply.json.message).to.match(
        /^not an AdmissionReview: kind is "Kk+…\(\d+ more\)", expected "AdmissionReview"$/,
      );
      await waitFor(() => server.logs.find('bad admission request').length > 0, 'the log line');
      expect(server.logs.raw.length).to.be.lessThan(20_000);
    });

    it('logs a non-string name or namespace as absent rather than serializing it', async function () {
      const reply = await postReview(
        server.url,
        '/validate',
        review({ uid: 'uid-object-name', request: { name: { deep: { er: 1 } }, namespace: ['x'] } }),
        { ca: server.ca },
      );
      expect(reply.status).to.equal(200);
      const line = await waitFor(
        () => server.logs.find('admission').find((entry) => entry.uid === 'uid-object-name'),
        'the line',
      );
      expect(line).to.not.have.any.keys('name', 'namespace');
    });
  });

  describe('slow clients', function () {
    let server: TestWebhook;
    before(async function () {
      server = await startTestWebhook({
        args: ['--headers-timeout', '2s', '--request-timeout', '3s', '--handler-timeout', '20s'],
      });
    });
    after(async function () {
      await server?.stop();
    });

    it('closes a connection that trickles its headers within --headers-timeout + 2 s', async function () {
      const socket = await tlsConnect(server.url, server.ca);
      const closed = closedAfter(socket);
      socket.write('POST /validate HTTP/1.1\r\nHost: localhost\r\n');
      const trickle = setInterval(() => socket.writable && socket.write('X'), 200);
      try {
        const ms = await Promise.race([
          closed,
          new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 15_000)),
        ]);
        expect(ms).to.be.lessThan(4000);
      } finally {
        clearInterval(trickle);
        socket.destroy();
      }
    });

    it('closes a connection that trickles its body within --request-timeout + 2 s', async function () {
      const socket = await tlsConnect(server.url, server.ca);
      const closed = closedAfter(socket);
      socket.write('POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n');
      socket.write('Content-Length: 100000\r\n\r\n{');
      const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
      try {
        const ms = await Promise.race([
          closed,
          new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 15_000)),
        ]);
        expect(ms).to.be.lessThan(5000);
      } finally {
        clearInterval(trickle);
        socket.destroy();
      }
    });

    it('answers other clients meanwhile', async function () {
      const socket = await tlsConnect(server.url, server.ca);
      socket.write('POST /validate HTTP/1.1\r\nHost: localhost\r\n');
      try {
        const reply = await postReview(server.url, '/validate', review({ uid: 'uid-meanwhile' }), { ca: server.ca });
        expect(reply.json.response.uid).to.equal('uid-meanwhile');
      } finally {
        socket.destroy();
      }
    });
  });

  describe('liveness under large reviews', function () {
    let server: TestWebhook;
    before(async function () {
      server = await startTestWebhook({ args: ['--log-level', 'info'] });
    });
    after(async function () {
      await server?.stop();
    });

    /** A pod review of about `bytes` whose clusters selector is as long as the body allows. */
    function largeSelectorReview(bytes: number, index: number): string {
      const clauses: string[] = [];
      let length = 0;
      for (let i = 0; length < bytes - 2000; i++) {
        const clause = `topology.kubernetes.io/k${i} in (a,b,c)`;
        clauses.push(clause);
        length += clause.length + 1;
      }
      const annotations = { 'kube-offload.io/placement': 'Remote', 'kube-offload.io/clusters': clauses.join(',') };
      return JSON.stringify(
        review({
          uid: `uid-large-${index}`,
          request: {
            object: {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: `p${index}`, namespace: 'demo', annotations },
              spec: { containers: [{ name: 'c', image: 'nginx' }] },
            },
          },
        }),
      );
    }

    it('/healthz answers within its 1 s probe timeout during a burst of large admissible reviews', async function () {
      this.timeout(120_000);
      const body = largeSelectorReview(2_900_000, 0);
      expect(Buffer.byteLength(body)).to.be.lessThan(3 * 1024 * 1024);
      let burstDone = false;
      const burst = Promise.all(
        Array.from({ length: 8 }, (_, index) =>
          postReview(server.url, index % 2 ? '/validate' : '/mutate/pods', body, { ca: server.ca }).then(
            (reply) => String(reply.status),
            (error: Error) => error.message,
          ),
        ),
      ).finally(() => (burstDone = true));
      const probes: number[] = [];
      const deadline = Date.now() + 60_000;
      while ((!burstDone || probes.length < 5) && Date.now() < deadline) {
        const started = performance.now();
        // A new connection each time, as the kubelet probes.
        const status = await send(server.url, { path: '/healthz', ca: server.ca, timeoutMs: 5_000 }).then(
          (reply) => reply.status,
          () => 0,
        );
        probes.push(status === 200 ? performance.now() - started : Infinity);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const outcomes = await burst;
      expect(
        outcomes.every((outcome) => outcome === '200'),
        outcomes.join(', '),
      ).to.equal(true);
      expect(Math.max(...probes), `probe latencies ${probes.map((ms) => ms.toFixed(0)).join(', ')} ms`).to.be.lessThan(
        1000,
      );
    });
  });
});
