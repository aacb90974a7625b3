// The admission HTTP contract over real HTTPS: AdmissionReview v1 in/out, every class of bad
// request, internal faults, deadlines, concurrency, and what gets logged.
import { expect } from 'chai';
import { Agent } from 'node:https';
import type { AdmissionHandler, AdmissionResponse } from '../../../webhooks/types.ts';
import type { TestWebhook } from './helpers.ts';
import { postReview, review, send, startTestWebhook, unhandledRejections, waitFor } from './helpers.ts';

const allow: AdmissionHandler = (request) => ({ uid: request.uid, allowed: true });

describe('webhook server: admission requests', function () {
  let server: TestWebhook;
  let nextVerdict: ((request: Parameters<AdmissionHandler>[0]) => AdmissionResponse) | undefined;
  const scripted: AdmissionHandler = (request, context) =>
    nextVerdict ? nextVerdict(request) : allow(request, context);
  const throwing: AdmissionHandler = () => {
    throw new Error('boom: handler bug');
  };
  const hanging = (() => new Promise(() => undefined)) as unknown as AdmissionHandler;

  before(async function () {
    server = await startTestWebhook({
      args: ['--handler-timeout', '300ms'],
      handlers: {
        '/mutate/pods': scripted,
        '/mutate/workloads': throwing,
        '/mutate/replicated': hanging,
        '/validate': allow,
      },
    });
  });
  after(async function () {
    await server?.stop();
    expect(unhandledRejections()).to.deep.equal([]);
  });
  afterEach(function () {
    nextVerdict = undefined;
  });

  const post = (path: string, body: unknown, headers?: Record<string, string>) =>
    postReview(server.url, path, body, { ca: server.ca, ...(headers ? { headers } : {}) });

  it('answers a v1 review with the request uid and the AdmissionReview shape', async function () {
    const reply = await post('/validate', review({ uid: 'uid-echo-1' }));
    expect(reply.status).to.equal(200);
    expect(reply.headers['content-type']).to.match(/^application\/json/);
    expect(reply.json).to.deep.equal({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'uid-echo-1', allowed: true },
    });
  });

  it('takes the uid from the request even if the handler returns another', async function () {
    nextVerdict = () => ({ uid: 'something-else', allowed: true });
    const reply = await post('/mutate/pods', review({ uid: 'uid-echo-2' }));
    expect(reply.json.response.uid).to.equal('uid-echo-2');
  });

  it('accepts the query string the API server appends (?timeout=10s)', async function () {
    const reply = await post('/validate?timeout=10s', review({ uid: 'uid-query' }));
    expect(reply.status).to.equal(200);
    expect(reply.json.response.uid).to.equal('uid-query');
  });

  it('base64-encodes a JSONPatch, passes warnings through, and omits the patch when empty', async function () {
    const patch = [{ op: 'add' as const, path: '/metadata/labels', value: { a: 'b' } }];
    nextVerdict = (request) => ({ uid: request.uid, allowed: true, patch, warnings: ['heads up'] });
    const patched = await post('/mutate/pods', review());
    expect(patched.json.response.patchType).to.equal('JSONPatch');
    expect(JSON.parse(Buffer.from(patched.json.response.patch, 'base64').toString('utf8'))).to.deep.equal(patch);
    expect(patched.json.response.warnings).to.deep.equal(['heads up']);

    nextVerdict = (request) => ({ uid: request.uid, allowed: true, patch: [] });
    const empty = await post('/mutate/pods', review());
    expect(empty.json.response).to.not.have.any.keys('patch', 'patchType', 'warnings');
  });

  it('returns denials with their status, and logs them at info level', async function () {
    const status = {
      code: 403,
      message: 'kube-offload.io/placement: "Remot" is not one of Local, Remote, LocalAndRemote',
      reason: 'Forbidden',
    };
    nextVerdict = (request) => ({ uid: request.uid, allowed: false, status });
    const reply = await post('/mutate/pods', review({ uid: 'uid-denied' }));
    expect(reply.status).to.equal(200);
    expect(reply.json.response).to.deep.equal({ uid: 'uid-denied', allowed: false, status });
    const line = await waitFor(
      () => server.logs.find('admission').find((entry) => entry.uid === 'uid-denied'),
      'the denial log line',
    );
    expect(line).to.include({ level: 'info', decision: 'denied' });
  });

  it('rejects malformed JSON with 400 saying where it goes wrong', async function () {
    const reply = await post('/validate', '{"apiVersion": "admission.k8s.io/v1", "kind": ');
    expect(reply.status).to.equal(400);
    expect(reply.json).to.include({ kind: 'Status', code: 400 });
    expect(reply.json.message).to.equal('request body is not valid JSON (it ends after 46 bytes, inside a value)');
  });

  it('rejects a wrong or missing content type with 400', async function () {
    const wrong = await send(server.url, {
      method: 'POST',
      path: '/validate',
      body: JSON.stringify(review()),
      headers: { 'content-type': 'text/plain' },
      ca: server.ca,
    });
    expect(wrong.status).to.equal(400);
    expect(wrong.json.message).to.equal('Content-Type must be application/json, got "text/plain"');
    const missing = await send(server.url, {
      method: 'POST',
      path: '/validate',
      body: JSON.stringify(review()),
      ca: server.ca,
    });
    expect(missing.status).to.equal(400);
    expect(missing.json.message).to.match(/Content-Type must be application\/json, got none/);
    // Parameters are fine.
    const charset = await post('/validate', review(), { 'content-type': 'application/json; charset=utf-8' });
    expect(charset.status).to.equal(200);
  });

  it('rejects bodies that are not AdmissionReviews with 400 saying what is missing', async function () {
    const cases: Array<[unknown, RegExp]> = [
      [[1, 2], /body is not a JSON object/],
      [{ apiVersion: 'v1', kind: 'Pod' }, /kind is "Pod", expected "AdmissionReview"/],
      [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /"request" is missing/],
      [
        {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { kind: { kind: 'Pod' }, operation: 'CREATE' },
        },
        /"request.uid" is missing/,
      ],
      [
        { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x', operation: 'CREATE' } },
        /"request.kind" is missing/,
      ],
    ];
    for (const [body, message] of cases) {
      const reply = await post('/validate', body);
      expect(reply.status, JSON.stringify(body)).to.equal(400);
      expect(reply.json.message, JSON.stringify(body)).to.match(message);
    }
  });

  it('rejects admission.k8s.io/v1beta1 with 400 naming the version', async function () {
    const reply = await post('/validate', review({ apiVersion: 'admission.k8s.io/v1beta1' }));
    expect(reply.status).to.equal(400);
    expect(reply.json.message).to.include('"admission.k8s.io/v1beta1"').and.include('only admission.k8s.io/v1');
  });

  it('rejects a body over 3 MiB with 413 and accepts one just under', async function () {
    const filler = (size: number) => {
      const base = review();
      const skeleton = JSON.stringify({ ...base, pad: '' });
      return JSON.stringify({ ...base, pad: 'x'.repeat(size - skeleton.length) });
    };
    const limit = 3 * 1024 * 1024;
    const over = filler(limit + 1);
    expect(Buffer.byteLength(over)).to.equal(limit + 1);
    const big = await post('/validate', over);
    expect(big.status).to.equal(413);
    expect(big.json.message).to.match(/exceeds the limit/);

    const under = filler(limit);
    const ok = await post('/validate', under);
    expect(ok.status).to.equal(200);
  });

  it('rejects an oversized chunked body (no content-length) with 413', async function () {
    const { request } = await import('node:https');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        new URL('/validate', server.url),
        { method: 'POST', ca: server.ca, agent: false, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(512 * 1024, 0x20);
      for (let i = 0; i < 8; i++) req.write(chunk);
      req.end();
    });
    expect(status).to.equal(413);
  });

  it('answers 500 and logs the failure when a handler throws', async function () {
    const before = server.logs.find('admission failed').length;
    const reply = await post('/mutate/workloads', review({ uid: 'uid-throws' }));
    expect(reply.status).to.equal(500);
    expect(reply.json).to.include({ kind: 'Status', code: 500, reason: 'InternalError' });
    // The class only: a handler's message may quote the object under review.
    expect(reply.json.message).to.equal(
      "kube-offload mutate-workloads: internal error (Error); the webhook's log has the details",
    );
    const lines = server.logs.find('admission failed');
    expect(lines.length).to.equal(before + 1);
    expect(lines.at(-1)).to.include({
      level: 'error',
      webhook: 'mutate-workloads',
      uid: 'uid-throws',
      err: 'boom: handler bug',
    });
  });

  it('answers 500 when the verdict misses the handler deadline', async function () {
    const started = Date.now();
    const reply = await post('/mutate/replicated', review({ uid: 'uid-slow' }));
    expect(reply.status).to.equal(500);
    expect(reply.json.message).to.include('did not complete within 300 ms');
    expect(Date.now() - started).to.be.lessThan(3000);
  });

  it('answers 405 for other methods on admission routes and 404 elsewhere', async function () {
    const get = await send(server.url, { path: '/mutate/pods', ca: server.ca });
    expect(get.status).to.equal(405);
    expect(get.headers.allow).to.equal('POST');
    const missing = await send(server.url, { method: 'POST', path: '/mutate/nothing', ca: server.ca });
    expect(missing.status).to.equal(404);
  });

  it('logs one line per admission with identifiers and the decision, never object contents', async function () {
    const secret = 'aHVudGVyMi1zdXBlci1zZWNyZXQ='; // base64("hunter2-super-secret")
    const body = review({
      uid: 'uid-secret',
      request: {
        kind: { group: '', version: 'v1', kind: 'Secret' },
        resource: { group: '', version: 'v1', resource: 'secrets' },
        name: 'db-password',
        operation: 'UPDATE',
        object: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'db-password', namespace: 'demo' },
          data: { password: secret },
        },
        oldObject: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'db-password', namespace: 'demo' },
          data: { password: secret },
        },
      },
    });
    nextVerdict = (request) => ({
      uid: request.uid,
      allowed: true,
      patch: [{ op: 'add', path: '/metadata/labels', value: { x: 'y' } }],
    });
    expect((await post('/mutate/pods', body)).status).to.equal(200);
    const line = await waitFor(
      () => server.logs.find('admission').find((entry) => entry.uid === 'uid-secret'),
      'the admission log line',
    );
    expect(line).to.include({
      level: 'debug',
      msg: 'admission',
      webhook: 'mutate-pods',
      kind: 'Secret',
      namespace: 'demo',
      name: 'db-password',
      operation: 'UPDATE',
      decision: 'patched',
    });
    expect(line).to.have.keys(
      'level',
      'time',
      'pid',
      'hostname',
      'webhook',
      'uid',
      'kind',
      'namespace',
      'name',
      'operation',
      'decision',
      'durationSeconds',
      'msg',
    );
    expect(line?.durationSeconds).to.be.a('number').and.greaterThan(0).and.lessThan(5);
    expect(server.logs.raw).to.not.include(secret);
    expect(server.logs.raw).to.not.include('hunter2');
  });

  it('answers 500 concurrent requests over keep-alive connections', async function () {
    this.timeout(60_000);
    const agent = new Agent({ keepAlive: true, maxSockets: 100, ca: server.ca });
    try {
      const replies = await Promise.all(
        Array.from({ length: 500 }, (_, index) =>
          postReview(server.url, '/validate', review({ uid: `uid-load-${index}` }), { ca: server.ca, agent }),
        ),
      );
      expect(replies.map((reply) => reply.status)).to.deep.equal(replies.map(() => 200));
      expect(replies.map((reply) => reply.json.response.uid)).to.deep.equal(
        replies.map((_, index) => `uid-load-${index}`),
      );
    } finally {
      agent.destroy();
    }
  });
});
