// Certificates over real HTTPS: generation into an empty dir, reuse on restart, hot reload of
// provided certs swapped the way the kubelet swaps a mounted Secret (while under load), renewal
// of short-lived generated certs, and health when the certificate is bad.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { generateCa, issueServingCert, servingNames } from '../../../src/webhook/tls/generate.ts';
import type { CertAuthority, KeyPair } from '../../../src/webhook/tls/generate.ts';
import type { Reply, TestWebhook } from './helpers.ts';
import {
  metricValue,
  postReview,
  removeDir,
  review,
  send,
  startTestWebhook,
  tempDir,
  unhandledRejections,
  waitFor,
} from './helpers.ts';

const NAMES = servingNames('kube-offload-webhook', 'kube-offload-system');

/** Writes files the way the kubelet's AtomicWriter updates a Secret volume: a timestamped dir,
 * a `..data` symlink swapped by rename, and per-file symlinks into `..data`. */
async function writeSecretVolume(dir: string, files: Record<string, string>): Promise<void> {
  const stamp = `..${Date.now()}_${Math.random().toString(36).slice(2)}`;
  await mkdir(join(dir, stamp), { recursive: true });
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, stamp, name), data);
  const previous = await readlink(join(dir, '..data')).catch(() => undefined);
  await symlink(stamp, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) {
    try {
      await symlink(join('..data', name), join(dir, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  if (previous) await rm(join(dir, previous), { recursive: true, force: true });
}

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Sends requests from `workers` loops (a new TLS connection each) until stopped. */
function loadLoop(server: { url: string }, ca: string[], workers: number) {
  const replies: Reply[] = [];
  const failures: Error[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_, worker) => {
    for (let i = 0; running; i++) {
      try {
        replies.push(await postReview(server.url, '/validate', review({ uid: `w${worker}-${i}` }), { ca }));
      } catch (error) {
        failures.push(error as Error);
      }
    }
  });
  return {
    replies,
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('webhook server: certificates', function () {
  this.timeout(60_000);
  after(function () {
    expect(unhandledRejections()).to.deep.equal([]);
  });

  describe('generated into an empty dir', function () {
    let dir: string;
    let server: TestWebhook | undefined;
    beforeEach(async function () {
      dir = join(await tempDir(), 'certs'); // does not exist yet: created
    });
    afterEach(async function () {
      await server?.stop();
      server = undefined;
      await removeDir(join(dir, '..'));
    });

    it('writes ca.crt, ca.key, tls.crt, tls.key (keys 0600) for the Service names, and serves it', async function () {
      server = await startTestWebhook({ dir });
      for (const name of ['ca.crt', 'tls.crt'])
        expect((await stat(join(dir, name))).mode & 0o777, name).to.equal(0o644);
      for (const name of ['ca.key', 'tls.key'])
        expect((await stat(join(dir, name))).mode & 0o777, name).to.equal(0o600);

      const ca = new X509Certificate(await readFile(join(dir, 'ca.crt')));
      const leaf = new X509Certificate(await readFile(join(dir, 'tls.crt')));
      expect(ca.ca).to.equal(true);
      expect(leaf.ca).to.equal(false);
      expect(leaf.checkIssued(ca)).to.equal(true);
      expect(leaf.subjectAltName?.split(', ')).to.deep.equal([
        'DNS:kube-offload-webhook',
        'DNS:kube-offload-webhook.kube-offload-system',
        'DNS:kube-offload-webhook.kube-offload-system.svc',
        'DNS:kube-offload-webhook.kube-offload-system.svc.cluster.local',
        'DNS:localhost',
        'IP Address:127.0.0.1',
      ]);

      const reply = await send(server.url, { path: '/healthz', ca: server.ca });
      expect(reply.status).to.equal(200);
      expect(reply.fingerprint256).to.equal(leaf.fingerprint256);
      // Another CA is not trusted: the served chain really is ours.
      const other = await generateCa();
      let error: Error | undefined;
      await send(server.url, { path: '/healthz', ca: other.cert }).catch((caught: Error) => (error = caught));
      expect(error?.message).to.match(/self.signed|unable to verify|certificate/i);
    });

    it('negotiates TLS 1.2 and refuses TLS 1.1', async function () {
      server = await startTestWebhook({ dir });
      const port = server.webhook.port;
      const attempt = (maxVersion: 'TLSv1.1' | 'TLSv1.2') =>
        new Promise<string>((resolve) => {
          const socket = connect(
            {
              host: '127.0.0.1',
              port,
              ca: server?.ca,
              servername: 'localhost',
              minVersion: 'TLSv1',
              maxVersion,
              ciphers: 'DEFAULT@SECLEVEL=0',
            },
            () => {
              resolve(socket.getProtocol() ?? 'none');
              socket.end();
            },
          );
          socket.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
        });
      expect(await attempt('TLSv1.2')).to.equal('TLSv1.2');
      expect(await attempt('TLSv1.1')).to.match(/^error /);
    });

    it('reuses the CA and a fresh serving cert on restart, and re-issues for another Service name', async function () {
      server = await startTestWebhook({ dir });
      const firstCa = await readFile(join(dir, 'ca.crt'), 'utf8');
      const firstLeaf = await readFile(join(dir, 'tls.crt'), 'utf8');
      await server.stop();

      server = await startTestWebhook({ dir });
      expect(await readFile(join(dir, 'ca.crt'), 'utf8')).to.equal(firstCa);
      expect(await readFile(join(dir, 'tls.crt'), 'utf8')).to.equal(firstLeaf);
      expect((await send(server.url, { path: '/healthz', ca: firstCa })).fingerprint256).to.equal(
        fingerprint(firstLeaf),
      );
      await server.stop();

      server = await startTestWebhook({ dir, args: ['--service-name', 'other-webhook'] });
      expect(await readFile(join(dir, 'ca.crt'), 'utf8')).to.equal(firstCa);
      const leaf = new X509Certificate(await readFile(join(dir, 'tls.crt')));
      expect(leaf.fingerprint256).to.not.equal(fingerprint(firstLeaf));
      expect(leaf.subjectAltName).to.include('DNS:other-webhook.kube-offload-system.svc');
      expect(leaf.checkIssued(new X509Certificate(firstCa))).to.equal(true);
    });

    it('renews a short-lived serving cert before it expires, same CA, no failed request', async function () {
      server = await startTestWebhook({ dir, args: ['--cert-validity', '6s'] });
      const ca = server.ca;
      const first = fingerprint(await readFile(join(dir, 'tls.crt'), 'utf8'));
      const expiryBefore = metricValue(
        await server.webhook.metrics.registry.metrics(),
        'kube_offload_webhook_serving_cert_expiry_timestamp_seconds',
      );
      // Trusting only the CA from the start proves renewals keep the CA.
      const load = loadLoop(server, [ca], 4);
      const seen = new Set<string>();
      const health: number[] = [];
      try {
        await waitFor(
          async () => {
            health.push((await send(server!.url, { path: '/healthz', ca })).status);
            for (const reply of load.replies) seen.add(reply.fingerprint256);
            return seen.size >= 3;
          },
          'two renewals',
          20_000,
          100,
        );
      } finally {
        await load.stop();
      }
      expect(load.failures.map((error) => error.message)).to.deep.equal([]);
      expect(load.replies.every((reply) => reply.status === 200)).to.equal(true);
      expect(seen.has(first)).to.equal(true);
      expect(
        health.every((status) => status === 200),
        `healthz statuses ${health.join(',')}`,
      ).to.equal(true);

      const metrics = await server.webhook.metrics.registry.metrics();
      expect(
        metricValue(metrics, 'kube_offload_webhook_serving_cert_reloads_total{trigger="renewal",result="success"}'),
      ).to.be.at.least(2);
      expect(metricValue(metrics, 'kube_offload_webhook_serving_cert_expiry_timestamp_seconds')).to.be.greaterThan(
        expiryBefore ?? Infinity,
      );
      // What is served is what is on disk (the next restart reuses it).
      const served = (await send(server.url, { path: '/healthz', ca })).fingerprint256;
      expect(fingerprint(await readFile(join(dir, 'tls.crt'), 'utf8'))).to.equal(served);
      expect(await readFile(join(dir, 'ca.crt'), 'utf8')).to.equal(ca);
      expect((await stat(join(dir, 'tls.key'))).mode & 0o777).to.equal(0o600);
    });
  });

  describe('provided in a Secret volume', function () {
    let dir: string;
    let caA: CertAuthority;
    let caB: CertAuthority;
    let pairA: KeyPair;
    let pairB: KeyPair;
    let server: TestWebhook | undefined;
    before(async function () {
      [caA, caB] = await Promise.all([generateCa('ca-a'), generateCa('ca-b')]);
      [pairA, pairB] = await Promise.all([
        issueServingCert(caA, NAMES, 3_600_000),
        issueServingCert(caB, NAMES, 3_600_000),
      ]);
    });
    beforeEach(async function () {
      dir = await tempDir();
    });
    afterEach(async function () {
      await server?.stop();
      server = undefined;
      await removeDir(dir);
    });

    it('hot-reloads a swapped cert while under load without failing a request', async function () {
      await writeSecretVolume(dir, { 'tls.crt': pairA.cert, 'tls.key': pairA.key, 'ca.crt': caA.cert });
      // A long poll interval: the directory watch must notice the ..data swap by itself.
      server = await startTestWebhook({ dir, args: ['--cert-poll-interval', '1h'] });
      expect(server.webhook.certs.mode).to.equal('provided');
      const trust = [caA.cert, caB.cert];
      const load = loadLoop(server, trust, 6);
      try {
        await waitFor(() => load.replies.length >= 30, 'traffic before the swap');
        await writeSecretVolume(dir, { 'tls.crt': pairB.cert, 'tls.key': pairB.key, 'ca.crt': caB.cert });
        const swappedAt = load.replies.length;
        await waitFor(
          () =>
            load.replies.slice(swappedAt).filter((reply) => reply.fingerprint256 === fingerprint(pairB.cert)).length >=
            30,
          'traffic on the new cert',
        );
      } finally {
        await load.stop();
      }
      expect(load.failures.map((error) => error.message)).to.deep.equal([]);
      expect(load.replies.every((reply) => reply.status === 200)).to.equal(true);
      const serials = new Set(load.replies.map((reply) => reply.serialNumber));
      expect(serials).to.deep.equal(
        new Set([new X509Certificate(pairA.cert).serialNumber, new X509Certificate(pairB.cert).serialNumber]),
      );
      expect(server.webhook.certs.caBundle()).to.equal(caB.cert);
      const metrics = await server.webhook.metrics.registry.metrics();
      expect(
        metricValue(metrics, 'kube_offload_webhook_serving_cert_reloads_total{trigger="file",result="success"}'),
      ).to.equal(1);
      expect(metricValue(metrics, 'kube_offload_webhook_serving_cert_expiry_timestamp_seconds')).to.equal(
        Math.floor(new Date(new X509Certificate(pairB.cert).validTo).getTime() / 1000),
      );
    });

    it('keeps serving the old cert when the new pair does not match, then picks up a good one', async function () {
      await writeSecretVolume(dir, { 'tls.crt': pairA.cert, 'tls.key': pairA.key });
      server = await startTestWebhook({ dir, args: ['--cert-poll-interval', '200ms'] });
      const trust = [caA.cert, caB.cert];
      await writeSecretVolume(dir, { 'tls.crt': pairB.cert, 'tls.key': pairA.key });
      await waitFor(
        async () =>
          metricValue(
            await server!.webhook.metrics.registry.metrics(),
            'kube_offload_webhook_serving_cert_reloads_total{trigger="file",result="error"}',
          ),
        'a failed reload',
      );
      expect((await send(server.url, { path: '/healthz', ca: trust })).fingerprint256).to.equal(
        fingerprint(pairA.cert),
      );
      expect(server.logs.find('cannot reload serving certificate; keeping the current one').at(-1)?.err).to.match(
        /does not match/,
      );

      await writeSecretVolume(dir, { 'tls.crt': pairB.cert, 'tls.key': pairB.key });
      await waitFor(
        async () =>
          (await send(server!.url, { path: '/healthz', ca: trust })).fingerprint256 === fingerprint(pairB.cert),
        'the good pair',
      );
    });

    it('reports an expired certificate on /healthz and /readyz with 503 naming the check', async function () {
      const expired = await issueServingCert(caA, NAMES, 10_000, Date.now() - 60_000);
      await writeSecretVolume(dir, { 'tls.crt': expired.cert, 'tls.key': expired.key });
      server = await startTestWebhook({ dir });
      for (const path of ['/healthz', '/readyz']) {
        const reply = await send(server.url, { path, insecure: true });
        expect(reply.status, path).to.equal(503);
        expect(reply.json.failing, path).to.deep.equal(['certificate']);
        expect(reply.json.checks.certificate.reason, path).to.match(/^serving certificate expired at /);
      }
    });

    it('refuses to start with tls.crt but no tls.key', async function () {
      await writeFile(join(dir, 'tls.crt'), pairA.cert);
      let error: Error | undefined;
      await startTestWebhook({ dir }).catch((caught: Error) => (error = caught));
      expect(error?.message).to.include('tls.key is missing');
    });
  });
});
