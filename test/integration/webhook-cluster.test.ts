// The webhook in cluster mode against a real control plane (controlplane/ binaries, started by
// src/sandbox): the shared CA Secret (created once, reused by a second replica, create races
// converge), caBundle patched into OUR webhook configurations only and not rewritten when equal,
// readiness after the informers sync, and admission through the real API server with the
// namespace policy coming from the informer cache.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { ensureBinaries } from '../../src/sandbox/binaries.ts';
import { startCluster } from '../../src/sandbox/cluster.ts';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import { parseWebhookArgs } from '../../src/webhook/config.ts';
import { createLogger } from '../../src/common/log.ts';
import { createWebhookMetrics } from '../../src/webhook/metrics.ts';
import { startWebhook } from '../../src/webhook/server/webhook.ts';
import type { RunningWebhook } from '../../src/webhook/server/webhook.ts';
import { generateCa } from '../../src/webhook/tls/generate.ts';
import { LogCapture, removeDir, send, tempDir, unhandledRejections, waitFor } from '../unit/webhook/helpers.ts';

const NAMESPACE = 'kube-offload-system';
const SECRET = 'kube-offload-webhook-ca';
const b64 = (text: string) => Buffer.from(text).toString('base64');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Replica {
  webhook: RunningWebhook;
  dir: string;
  logs: LogCapture;
  ca(): Promise<string>;
}

describe('webhook in cluster mode (real API server)', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  const replicas: Replica[] = [];
  let port: number;

  async function startReplica(portNumber: number, extra: string[] = []): Promise<Replica> {
    const dir = await tempDir();
    const config = parseWebhookArgs([
      '--cert-dir',
      dir,
      '--port',
      String(portNumber),
      '--host',
      '127.0.0.1',
      '--kubeconfig',
      cluster!.kubeconfigPath,
      ...extra,
    ]);
    if (config === 'help') throw new Error('help');
    const logs = new LogCapture();
    const webhook = await startWebhook(config, {
      logger: createLogger('debug', logs),
      metrics: createWebhookMetrics({ processMetrics: false }),
    });
    const replica = { webhook, dir, logs, ca: () => readFile(join(dir, 'ca.crt'), 'utf8') };
    replicas.push(replica);
    return replica;
  }
  async function stopReplica(replica: Replica): Promise<void> {
    await replica.webhook.shutdown();
    await removeDir(replica.dir);
    replicas.splice(replicas.indexOf(replica), 1);
  }
  const api = async (method: string, path: string, body?: unknown, contentType?: string) => {
    const result = await cluster!.api(method, path, body, contentType);
    if (result.status >= 300) throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body as any;
  };
  const webhookConfig = (
    kind: 'Mutating' | 'Validating',
    name: string,
    labels: Record<string, string>,
    webhooks: Array<{ name: string; path: string; resources: string[] }>,
  ) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: `${kind}WebhookConfiguration`,
    metadata: { name, labels },
    webhooks: webhooks.map((webhook) => ({
      name: webhook.name,
      clientConfig: { url: `https://127.0.0.1:${port}${webhook.path}` },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: webhook.resources }],
      namespaceSelector: { matchLabels: { 'kube-offload.io/enabled': 'true' } as Record<string, string> },
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Fail',
      timeoutSeconds: 5,
    })),
  });

  before(async function () {
    this.timeout(60 * 60_000); // a cold control-plane build is long; a cached one is instant
    const binDir = await ensureBinaries();
    cluster = await startCluster({ name: 'local', binDir });
    port = await freePort();
    await api('POST', '/api/v1/namespaces', { metadata: { name: NAMESPACE } });
    await api('POST', '/api/v1/namespaces', {
      metadata: {
        name: 'demo',
        labels: { 'kube-offload.io/enabled': 'true' },
        annotations: { 'kube-offload.io/placement': 'Remote' },
      },
    });
    const ours = { 'app.kubernetes.io/part-of': 'kube-offload' };
    await api(
      'POST',
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      webhookConfig('Mutating', 'kube-offload', ours, [
        { name: 'pods.kube-offload.io', path: '/mutate/pods', resources: ['pods'] },
      ]),
    );
    await api(
      'POST',
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
      webhookConfig('Validating', 'kube-offload', ours, [
        { name: 'validate.kube-offload.io', path: '/validate', resources: ['pods', 'services'] },
      ]),
    );
    // Someone else's configuration (no label, selects no namespace): must never be touched.
    const foreign = webhookConfig('Validating', 'someone-else', {}, [
      { name: 'other.example.com', path: '/validate', resources: ['configmaps'] },
    ]);
    foreign.webhooks[0]!.namespaceSelector = { matchLabels: { 'example.com/never': 'true' } };
    await api('POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', foreign);
  });

  after(async function () {
    this.timeout(120_000);
    for (const replica of [...replicas]) await stopReplica(replica);
    await cluster?.stop();
    expect(unhandledRejections()).to.deep.equal([]);
  });

  it('publishes its CA in the Secret, patches caBundle of our configurations only, becomes ready', async function () {
    const first = await startReplica(port);
    const ca = await first.ca();
    const secret = await api('GET', `/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`);
    expect(Buffer.from(secret.data['ca.crt'], 'base64').toString()).to.equal(ca);
    expect(secret.data).to.have.property('ca.key');

    const bundle = (path: string) =>
      api('GET', path).then((config) => config.webhooks.map((webhook: any) => webhook.clientConfig.caBundle));
    await waitFor(
      async () =>
        (await bundle('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kube-offload'))[0] ===
        b64(ca),
      'mutating caBundle',
    );
    await waitFor(
      async () =>
        (await bundle('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/kube-offload'))[0] ===
        b64(ca),
      'validating caBundle',
    );
    expect(
      await bundle('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/someone-else'),
    ).to.deep.equal([undefined]);

    await waitFor(async () => (await send(first.webhook.url, { path: '/readyz', ca })).status === 200, '/readyz 200');
    const health = await send(first.webhook.url, { path: '/healthz', ca });
    expect(health.status).to.equal(200);
    expect(health.json.checks).to.have.keys('certificate', 'watches', 'ca');
  });

  it('mutates pods through the API server using the namespace policy from the informer', async function () {
    // demo says placement=Remote: the pod must tolerate the virtual-node taint.
    const pod = await api('POST', '/api/v1/namespaces/demo/pods', {
      metadata: { generateName: 'web-' },
      spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    });
    expect(pod.spec.tolerations ?? []).to.deep.include({
      key: 'virtual-node.liqo.io/not-allowed',
      operator: 'Equal',
      value: 'true',
      effect: 'NoExecute',
    });

    // The namespace changes to Local: once the informer has it, new pods stay home.
    await api(
      'PATCH',
      '/api/v1/namespaces/demo',
      { metadata: { annotations: { 'kube-offload.io/placement': 'Local' } } },
      'application/merge-patch+json',
    );
    await waitFor(async () => {
      const next = await api('POST', '/api/v1/namespaces/demo/pods', {
        metadata: { generateName: 'web-' },
        spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
      });
      return !(next.spec.tolerations ?? []).some(
        (toleration: any) => toleration.key === 'virtual-node.liqo.io/not-allowed',
      );
    }, 'a pod admitted with placement=Local');
  });

  it("a second replica reuses the Secret's CA and rewrites nothing that is already right", async function () {
    const [first] = replicas;
    const path = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kube-offload';
    const before = (await api('GET', path)).metadata.resourceVersion;
    const secretBefore = (await api('GET', `/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`)).metadata
      .resourceVersion;

    const second = await startReplica(await freePort());
    expect(await second.ca()).to.equal(await first!.ca());
    await waitFor(() => second.logs.find('caBundle up to date').length > 0, "the second replica's caBundle check");
    expect(second.logs.find('caBundle updated')).to.deep.equal([]);
    expect((await api('GET', path)).metadata.resourceVersion).to.equal(before);
    expect((await api('GET', `/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`)).metadata.resourceVersion).to.equal(
      secretBefore,
    );
    await stopReplica(second);
  });

  it('replicas racing to create the Secret end up with one CA', async function () {
    for (const replica of [...replicas]) await stopReplica(replica);
    await api('DELETE', `/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`);
    const [a, b, c] = await Promise.all([
      startReplica(await freePort()),
      startReplica(await freePort()),
      startReplica(await freePort()),
    ]);
    const cas = await Promise.all([a!.ca(), b!.ca(), c!.ca()]);
    expect(new Set(cas).size).to.equal(1);
    const secret = await api('GET', `/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`);
    expect(Buffer.from(secret.data['ca.crt'], 'base64').toString()).to.equal(cas[0]);
  });

  it('a replica whose CA is no longer the shared one stops patching caBundle and fails liveness', async function () {
    for (const replica of [...replicas]) await stopReplica(replica);
    const replica = await startReplica(port, ['--ca-sync-interval', '200ms']);
    const ca = await replica.ca();
    await waitFor(
      async () => (await send(replica.webhook.url, { path: '/healthz', ca })).status === 200,
      'a healthy replica',
    );

    // Someone rotates the CA in the Secret and points caBundle at it.
    const rotated = await generateCa('rotated');
    const secretPath = `/api/v1/namespaces/${NAMESPACE}/secrets/${SECRET}`;
    await api(
      'PATCH',
      secretPath,
      { data: { 'ca.crt': b64(rotated.cert), 'ca.key': b64(rotated.key) } },
      'application/merge-patch+json',
    );
    const configPath = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/kube-offload';
    await api(
      'PATCH',
      configPath,
      [{ op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: b64(rotated.cert) }],
      'application/json-patch+json',
    );

    const health = await waitFor(async () => {
      const reply = await send(replica.webhook.url, { path: '/healthz', ca });
      return reply.status === 503 ? reply : undefined;
    }, 'liveness to fail');
    expect(health.json.failing).to.deep.equal(['ca']);
    expect(health.json.checks.ca.reason).to.include('now holds another CA');
    // Several more rounds pass without the replica putting its old CA back.
    const refusals = replica.logs.find('not patching caBundle: the shared CA changed').length;
    await waitFor(
      () => replica.logs.find('not patching caBundle: the shared CA changed').length >= refusals + 3,
      'more sync rounds',
    );
    const config = await api('GET', configPath);
    expect(config.webhooks[0].clientConfig.caBundle).to.equal(b64(rotated.cert));
  });

  it("with --manage-ca-bundle=false it never writes caBundle (cert-manager's cainjector owns it)", async function () {
    for (const replica of [...replicas]) await stopReplica(replica);
    const mutatingPath = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/kube-offload';
    const validatingPath = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/kube-offload';
    const versions = async () => [
      (await api('GET', mutatingPath)).metadata.resourceVersion,
      (await api('GET', validatingPath)).metadata.resourceVersion,
    ];
    // A control configuration that only a managing replica selects: its sync rounds time the check.
    const control = webhookConfig('Validating', 'ca-bundle-control', { 'example.com/control': 'true' }, [
      { name: 'control.example.com', path: '/validate', resources: ['configmaps'] },
    ]);
    control.webhooks[0]!.namespaceSelector = { matchLabels: { 'example.com/never': 'true' } };
    await api('POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', control);
    const before = await versions();

    const unmanaged = await startReplica(port, ['--manage-ca-bundle=false', '--ca-sync-interval', '200ms']);
    const ca = await unmanaged.ca();
    await waitFor(
      async () => (await send(unmanaged.webhook.url, { path: '/readyz', ca })).status === 200,
      'the unmanaged replica ready',
    );
    const managing = await startReplica(await freePort(), [
      '--webhook-selector',
      'example.com/control=true',
      '--ca-sync-interval',
      '200ms',
    ]);
    const rounds = () =>
      managing.logs.find('caBundle up to date').length + managing.logs.find('caBundle updated').length;
    await waitFor(() => rounds() >= 4, 'four caBundle rounds of the managing replica');

    expect(await versions(), 'our configurations were written').to.deep.equal(before);
    expect(unmanaged.logs.find('caBundle updated')).to.deep.equal([]);
    const health = await send(unmanaged.webhook.url, { path: '/healthz', ca });
    expect(health.status).to.equal(200);
    expect(Object.keys(health.json.checks ?? {})).to.not.include('ca');
    await api('DELETE', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/ca-bundle-control');
  });

  it('runs in cluster mode without loading @kubernetes/client-node for a plain kubeconfig', async function () {
    for (const replica of [...replicas]) await stopReplica(replica);
    const dir = await tempDir();
    // Reports every module specifier that resolves into client-node.
    const hook = join(dir, 'report-client-node.mjs');
    await writeFile(
      hook,
      `import { registerHooks } from 'node:module';
registerHooks({ resolve(specifier, context, next) {
  if (specifier.includes('@kubernetes/client-node')) process.stderr.write('LOADED ' + specifier + '\\n');
  return next(specifier, context);
} });
`,
    );
    const cli = join(import.meta.dirname, '../../src/cli.ts');
    const child = spawn(
      process.execPath,
      [
        '--import',
        hook,
        cli,
        'webhook',
        '--cert-dir',
        dir,
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--kubeconfig',
        cluster!.kubeconfigPath,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const url = await waitFor(
        () => /"event":"listening".*?"url":"([^"]+)"/.exec(stdout)?.[1],
        `the listening line (stderr: ${stderr})`,
        30_000,
      );
      const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
      await waitFor(
        async () => (await send(url, { path: '/readyz', ca })).status === 200,
        '/readyz 200 (caches synced, Secret and caBundle done)',
        30_000,
      );
      expect(stderr).to.not.include('LOADED');
    } finally {
      child.kill('SIGTERM');
      await exited;
      await removeDir(dir);
    }
  });
});
