// /healthz, /readyz and /metrics in standalone mode: status codes, JSON bodies, metric names,
// labels and units.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AdmissionHandler } from '../../../webhooks/types.ts';
import type { TestWebhook } from './helpers.ts';
import { metricValue, postReview, review, send, startTestWebhook, unhandledRejections } from './helpers.ts';

describe('webhook server: health and metrics', function () {
  let server: TestWebhook;
  const deny: AdmissionHandler = (request) => ({
    uid: request.uid,
    allowed: false,
    status: { code: 403, message: 'no' },
  });
  const patch: AdmissionHandler = (request) => ({
    uid: request.uid,
    allowed: true,
    patch: [{ op: 'add', path: '/metadata/labels', value: {} }],
  });
  const allow: AdmissionHandler = (request) => ({ uid: request.uid, allowed: true });
  const fail: AdmissionHandler = () => {
    throw new Error('nope');
  };

  before(async function () {
    server = await startTestWebhook({
      processMetrics: true,
      args: ['--metrics-port', '0'],
      handlers: { '/mutate/pods': patch, '/mutate/workloads': fail, '/mutate/replicated': allow, '/validate': deny },
    });
  });
  after(async function () {
    await server?.stop();
    expect(unhandledRejections()).to.deep.equal([]);
  });

  it('/healthz and /readyz answer 200 with the checks they ran', async function () {
    const health = await send(server.url, { path: '/healthz', ca: server.ca });
    expect(health.status).to.equal(200);
    expect(health.json).to.deep.equal({ status: 'ok', checks: { certificate: { ok: true } } });
    const ready = await send(server.url, { path: '/readyz', ca: server.ca });
    expect(ready.status).to.equal(200);
    // Standalone: no informer caches to wait for.
    expect(Object.keys(ready.json.checks)).to.deep.equal(['certificate', 'shutdown']);
  });

  it('/metrics counts admissions by webhook and outcome and times them in seconds', async function () {
    const post = (path: string, body: unknown) => postReview(server.url, path, body, { ca: server.ca });
    await post('/mutate/pods', review());
    await post('/mutate/pods', review());
    await post('/validate', review());
    await post('/mutate/replicated', review());
    await post('/mutate/workloads', review());
    await post('/validate', '{not json');

    const reply = await send(server.url, { path: '/metrics', ca: server.ca });
    expect(reply.status).to.equal(200);
    expect(reply.headers['content-type']).to.match(/^text\/plain/);
    const text = reply.text;
    const count = (webhook: string, outcome: string) =>
      metricValue(text, `kube_offload_webhook_admission_requests_total{webhook="${webhook}",outcome="${outcome}"}`);
    expect(count('mutate-pods', 'patched')).to.equal(2);
    expect(count('validate', 'denied')).to.equal(1);
    expect(count('mutate-replicated', 'allowed')).to.equal(1);
    expect(count('mutate-workloads', 'error')).to.equal(1);
    expect(count('validate', 'bad_request')).to.equal(1);

    expect(text).to.include('# TYPE kube_offload_webhook_admission_duration_seconds histogram');
    // Sub-millisecond buckets exist, and durations are seconds: 2 fast requests sum far below 1.
    expect(
      metricValue(text, 'kube_offload_webhook_admission_duration_seconds_bucket{le="0.0001",webhook="mutate-pods"}'),
    ).to.be.a('number');
    expect(
      metricValue(text, 'kube_offload_webhook_admission_duration_seconds_bucket{le="1",webhook="mutate-pods"}'),
    ).to.equal(2);
    expect(metricValue(text, 'kube_offload_webhook_admission_duration_seconds_count{webhook="mutate-pods"}')).to.equal(
      2,
    );
    const sum = metricValue(text, 'kube_offload_webhook_admission_duration_seconds_sum{webhook="mutate-pods"}') ?? -1;
    expect(sum).to.be.greaterThan(0).and.lessThan(1);
  });

  it('/metrics exposes the serving cert expiry as a Unix timestamp in seconds, and process metrics', async function () {
    const text = (await send(server.url, { path: '/metrics', ca: server.ca })).text;
    const notAfter =
      new Date(new X509Certificate(await readFile(join(server.dir, 'tls.crt'))).validTo).getTime() / 1000;
    expect(text).to.include('# TYPE kube_offload_webhook_serving_cert_expiry_timestamp_seconds gauge');
    expect(metricValue(text, 'kube_offload_webhook_serving_cert_expiry_timestamp_seconds')).to.equal(notAfter);
    expect(text).to.include('# TYPE kube_offload_webhook_serving_cert_reloads_total counter');
    expect(metricValue(text, 'process_cpu_user_seconds_total')).to.be.a('number');
  });

  it('--metrics-port serves /metrics, /healthz and /readyz over plain HTTP, and no admission', async function () {
    const base = server.webhook.metricsUrl;
    expect(base).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const get = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(5000) });
      return { status: res.status, text: await res.text() };
    };
    const plain = await get('/metrics');
    expect(plain.status).to.equal(200);
    const families = (text: string) => [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]).sort();
    const tls = (await send(server.url, { path: '/metrics', ca: server.ca })).text;
    expect(families(plain.text)).to.deep.equal(families(tls));
    expect(families(plain.text)).to.include.members([
      'kube_offload_webhook_admission_requests_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ]);
    expect(JSON.parse((await get('/healthz')).text)).to.deep.equal({
      status: 'ok',
      checks: { certificate: { ok: true } },
    });
    expect((await get('/readyz')).status).to.equal(200);
    expect((await get('/mutate/pods', { method: 'POST', body: '{}' })).status).to.equal(404);
    expect((await get('/validate')).status).to.equal(404);
  });

  it('/metrics counts TLS handshakes by protocol: one per connection, not per request', async function () {
    const { Agent } = await import('node:https');
    const handshakes = async () =>
      metricValue(
        (await send(server.url, { path: '/metrics', ca: server.ca })).text,
        'kube_offload_webhook_tls_handshakes_total{protocol="http/1.1"}',
      ) ?? 0;
    const before = await handshakes();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++)
        await postReview(server.url, '/mutate/replicated', review(), { ca: server.ca, agent });
    } finally {
      agent.destroy();
    }
    // The keep-alive connection, and the second scrape's own connection (counted before it is answered).
    expect((await handshakes()) - before).to.equal(2);
  });

  it('on shutdown finishes the request in flight (closing its connection), refuses connections', async function () {
    // Last test of this block: shuts the server down.
    const { request } = await import('node:https');
    const body = JSON.stringify(review({ uid: 'uid-in-flight' }));
    let drained: Promise<'drained' | 'forced'> | undefined;
    const reply = await new Promise<{ status: number; connection: string | undefined; uid: string }>(
      (resolve, reject) => {
        const req = request(
          new URL('/validate', server.url),
          {
            method: 'POST',
            ca: server.ca,
            agent: false,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                connection: res.headers.connection,
                uid: JSON.parse(Buffer.concat(chunks).toString()).response.uid,
              }),
            );
          },
        );
        req.on('error', reject);
        // Half the body now, so the request is in flight when the drain starts; the rest after.
        req.write(body.slice(0, 20), () => {
          drained = server.webhook.shutdown();
          setTimeout(() => req.end(body.slice(20)), 200);
        });
      },
    );
    expect(reply).to.deep.equal({ status: 200, connection: 'close', uid: 'uid-in-flight' });
    expect(await drained).to.equal('drained');
    let error: NodeJS.ErrnoException | undefined;
    await send(server.url, { path: '/healthz', ca: server.ca }).catch(
      (caught: NodeJS.ErrnoException) => (error = caught),
    );
    expect(error?.code).to.equal('ECONNREFUSED');
  });
});
