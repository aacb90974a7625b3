// Hostile input to the server shell: malformed JSON must not be echoed, deep nesting must never
// turn into a 500 or a logged stack, client-controlled strings are truncated in logs, header and
// request timeouts hold within a second or two, and /healthz keeps answering while large
// reviews are being decided.
import { expect } from 'chai';
import { connect } from 'node:tls';
import { Worker } from 'node:worker_threads';
import type { TLSSocket } from 'node:tls';
import { MAX_CLUSTER_SELECTOR_LENGTH, MAX_CLUSTER_SELECTOR_REQUIREMENTS } from '../../../webhooks/index.ts';
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
    /** Posts every body (odd ones to /validate, even ones to /mutate/pods) at once, `rounds` times. */
    const BURST_CLIENT = `
      const { workerData, parentPort } = require('node:worker_threads');
      const https = require('node:https');
      const { url, ca, bodies, rounds } = workerData;
      const post = (path, body) => new Promise((resolve) => {
        const headers = { 'content-type': 'application/json' };
        const req = https.request(new URL(path, url), { method: 'POST', ca, agent: false, headers }, (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => {
            let patched = false;
            try { patched = Boolean(JSON.parse(Buffer.concat(chunks)).response.patchType); } catch {}
            resolve(res.statusCode + (patched ? ' patched' : ''));
          });
        });
        req.on('error', (error) => resolve(error.message));
        req.end(body);
      });
      (async () => {
        const outcomes = [];
        for (let round = 0; round < rounds; round++) {
          const replies = bodies.map((body, i) => post(i % 2 ? '/validate' : '/mutate/pods', body));
          outcomes.push(...(await Promise.all(replies)));
        }
        parentPort.postMessage(outcomes);
      })();
    `;

    let server: TestWebhook;
    before(async function () {
      server = await startTestWebhook({ args: ['--log-level', 'info'] });
    });
    after(async function () {
      await server?.stop();
    });

    /**
     * The largest pod review the webhook still places, shaped to cost the most: a clusters
     * selector at both limits webhooks/ sets, and a node affinity of the pod's own (64 required
     * and 64 preferred terms of 16 expressions of 3 values, a ~1 MiB pod once merged, near
     * etcd's 1.5 MiB) that every imposed term is ANDed with.
     */
    function worstAdmissibleReview(index: number): string {
      const values = (prefix: string, count: number) =>
        Array.from({ length: count }, (_, value) => `${prefix}v${value}`);
      const requirements: string[] = [];
      for (let key = 0; key < MAX_CLUSTER_SELECTOR_REQUIREMENTS; key++) requirements.push(`k${key} in (v)`);
      let selector = requirements.join(',');
      // Widen the value lists while the selector stays within its length limit.
      for (let width = 2; ; width++) {
        const wider = requirements.map((_, key) => `k${key} in (${values(`k${key}`, width).join(',')})`).join(',');
        if (wider.length > MAX_CLUSTER_SELECTOR_LENGTH) break;
        selector = wider;
      }
      const terms = Array.from({ length: 64 }, (_, term) => ({
        matchExpressions: Array.from({ length: 16 }, (_, expression) => ({
          key: `own.example.com/t${term}e${expression}`,
          operator: 'In',
          values: values(`t${term}e${expression}`, 3),
        })),
      }));
      const annotations = {
        'kube-offload.io/placement': 'LocalAndRemote',
        'kube-offload.io/prefer': 'Local',
        'kube-offload.io/clusters': selector,
      };
      const affinity = {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms },
          preferredDuringSchedulingIgnoredDuringExecution: terms.map((preference, term) => ({
            weight: 1 + term,
            preference,
          })),
        },
      };
      return JSON.stringify(
        review({
          uid: `uid-worst-${index}`,
          request: {
            object: {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: `p${index}`, namespace: 'demo', annotations },
              spec: { containers: [{ name: 'c', image: 'nginx' }], affinity },
            },
          },
        }),
      );
    }

    it('/healthz answers within its 1 s probe timeout during bursts of worst admissible reviews', async function () {
      this.timeout(120_000);
      const bodies = Array.from({ length: 16 }, (_, index) => worstAdmissibleReview(index));
      // The bursts come from a worker thread, as they would from the API server: the server's
      // event loop (and the probes, on it) must not also pay for sending and reading them.
      const worker = new Worker(BURST_CLIENT, {
        eval: true,
        workerData: { url: server.url, ca: server.ca, bodies, rounds: 3 },
      });
      let outcomes: string[] | undefined;
      const finished = new Promise<void>((resolve, reject) => {
        worker.once('message', (message: string[]) => {
          outcomes = message;
          resolve();
        });
        worker.once('error', reject);
      });
      const probes: number[] = [];
      const deadline = Date.now() + 90_000;
      try {
        while (outcomes === undefined && Date.now() < deadline) {
          const started = performance.now();
          // A new connection each time, as the kubelet probes.
          const status = await send(server.url, { path: '/healthz', ca: server.ca, timeoutMs: 5_000 }).then(
            (reply) => reply.status,
            () => 0,
          );
          probes.push(status === 200 ? performance.now() - started : Infinity);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await finished;
      } finally {
        await worker.terminate();
      }
      const expected = bodies.map((_, index) => (index % 2 ? '200' : '200 patched'));
      expect(outcomes).to.deep.equal([...expected, ...expected, ...expected]);
      expect(probes.length).to.be.greaterThan(3);
      const shown = probes.map((ms) => ms.toFixed(0)).join(', ');
      expect(Math.max(...probes), `probe latencies ${shown} ms`).to.be.lessThan(1000);
    });
  });
});
