// The install bundles against real apiservers (the sandbox, with kube-offload running):
// - `kubectl apply --dry-run=server` of the base, the default install, each component, the
//   example overlay, deploy/install.yaml and the Helm chart's output in the local cluster, and
//   of manifests/remote and deploy/remote.yaml in the remote. The sandbox has neither
//   cert-manager nor the Prometheus Operator: stand-in CRDs (test/fixtures/crds) are installed
//   first, so the apiserver validates everything else. No Pod Security warnings are allowed;
// - every metric the PrometheusRule and the dashboard use is in a running component's /metrics;
// - scripts/remote-kubeconfig.sh makes working kubeconfigs for the remote identities.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { kubeOffloadComponents } from '../../src/dev/components.ts';
import { startCluster, type Cluster } from '../../src/sandbox/cluster.ts';
import { COMPONENTS, ROOT, parseObjects, withVariantDir } from '../../scripts/render-install.ts';
import { exportedName, metricsUsed } from '../../scripts/metrics-used.ts';
import { kubectlOk, useSandbox, waitFor } from './helpers/index.ts';
import { stringify } from 'yaml';

const env = useSandbox({ components: kubeOffloadComponents });
const local = (): Cluster => env.sandbox.local;
const remote = (): Cluster => env.sandbox.remote;
const note = (msg: string): void => void process.stdout.write(`      · ${msg}\n`);

/** `kubectl apply --dry-run=server`: ok, every object accepted, no warnings about Pod Security. */
async function dryRun(cluster: Cluster, args: string[], input?: string): Promise<string> {
  const res = await cluster.kubectl(['apply', '--dry-run=server', ...args], input === undefined ? {} : { input });
  if (res.code !== 0)
    throw new Error(`kubectl apply --dry-run=server ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
  expect(res.stderr, 'Pod Security warnings').to.not.match(/PodSecurity/);
  for (const warning of res.stderr.split('\n').filter((l) => l.startsWith('Warning:'))) note(warning);
  const lines = res.stdout.trim().split('\n');
  for (const line of lines) expect(line).to.match(/\(server dry run\)$/);
  note(`${args.join(' ').replace(ROOT + '/', '')}: ${lines.length} objects accepted (server dry run)`);
  return res.stdout;
}

function helmTemplate(...sets: string[]): string {
  const tool = spawnSync('bash', [path.join(ROOT, 'controlplane/build.sh'), '--tool', 'helm'], { encoding: 'utf8' });
  if (tool.status !== 0) throw new Error(`controlplane/build.sh --tool helm failed: ${tool.stderr}`);
  const helm = tool.stdout.trim().split('\n').pop() as string;
  const out = spawnSync(
    helm,
    ['template', 'kube-offload', path.join(ROOT, 'charts/kube-offload'), ...sets.flatMap((s) => ['--set', s])],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (out.status !== 0) throw new Error(`helm template failed: ${out.stderr}`);
  return out.stdout;
}

function get(url: string, caFile?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`)),
      );
    };
    const req = url.startsWith('https:')
      ? https.get(url, { ca: caFile ? fs.readFileSync(caFile) : undefined }, done)
      : http.get(url, done);
    req.on('error', reject);
  });
}

describe('packaging on real apiservers', function () {
  before(async function () {
    this.timeout(120_000);
    const dir = path.join(ROOT, 'test/fixtures/crds');
    const crds = fs.readdirSync(dir).flatMap((file) => parseObjects(fs.readFileSync(path.join(dir, file), 'utf8')));
    await kubectlOk(local(), ['apply', '-f', dir]);
    await kubectlOk(local(), [
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      ...crds.map((c) => `crd/${c.metadata.name}`),
    ]);
  });

  describe('kubectl apply --dry-run=server', () => {
    it('manifests/base', async function () {
      this.timeout(60_000);
      await dryRun(local(), ['-k', path.join(ROOT, 'manifests/base')]);
    });

    it('manifests/ (the default install) and deploy/install.yaml', async function () {
      this.timeout(60_000);
      await dryRun(local(), ['-k', path.join(ROOT, 'manifests')]);
      const out = await dryRun(local(), ['-f', path.join(ROOT, 'deploy/install.yaml')]);
      const expected = parseObjects(fs.readFileSync(path.join(ROOT, 'deploy/install.yaml'), 'utf8')).length;
      expect(out.trim().split('\n')).to.have.length(expected);
    });

    for (const component of [...COMPONENTS.map((c) => c.name), 'no-priority-class']) {
      it(`manifests/base with components/${component}`, async function () {
        this.timeout(60_000);
        await withVariantDir(
          { resources: ['manifests/base'], components: [`manifests/components/${component}`] },
          (dir) => dryRun(local(), ['-k', dir]),
        );
      });
    }

    it('manifests/examples/production (every component, names, image, narrowed policy)', async function () {
      this.timeout(60_000);
      await dryRun(local(), ['-k', path.join(ROOT, 'manifests/examples/production')]);
    });

    it('manifests/examples/remote-files (remotes from kubeconfig files)', async function () {
      this.timeout(60_000);
      await dryRun(local(), ['-k', path.join(ROOT, 'manifests/examples/remote-files')]);
    });

    it('the Helm chart: defaults, and every component with the Namespace', async function () {
      this.timeout(120_000);
      await dryRun(local(), ['-f', '-'], helmTemplate());
      const all = helmTemplate('namespace.create=true', ...COMPONENTS.map((c) => `${c.value}.enabled=true`));
      const out = await dryRun(local(), ['-f', '-'], all);
      expect(out.trim().split('\n')).to.have.length(parseObjects(all).length);
    });

    it('manifests/remote and deploy/remote.yaml in the remote cluster', async function () {
      this.timeout(60_000);
      await dryRun(remote(), ['-k', path.join(ROOT, 'manifests/remote')]);
      await dryRun(remote(), ['-f', path.join(ROOT, 'deploy/remote.yaml')]);
    });
  });

  it('every metric the alerts and the dashboard use is in a running component /metrics', async function () {
    this.timeout(60_000);
    const exported = new Set<string>();
    for (const component of env.sandbox.components) {
      if (!component.ready) continue;
      const text = await get(component.ready.url.replace(/\/readyz$/, '/metrics'), component.ready.caFile);
      const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
      note(`${component.name}: ${names.length} metrics`);
      for (const name of names) exported.add(name);
    }
    const missing = [...metricsUsed()].filter(([name]) => !exported.has(exportedName(name)));
    expect(missing.map(([name, where]) => `${name} (${[...new Set(where)].join(', ')})`)).to.deep.equal([]);
  });

  it("the webhook's plain-HTTP --metrics-port serves the metrics, /healthz and /readyz of its HTTPS port", async function () {
    this.timeout(60_000);
    const webhook = env.sandbox.components.find((component) => component.name === 'webhook');
    const argv = webhook?.record.argv ?? [];
    const port = argv[argv.indexOf('--metrics-port') + 1];
    expect(port, 'the sandbox webhook runs with --metrics-port').to.match(/^\d+$/);
    const families = (text: string): string[] =>
      [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string).sort();
    const plain = await get(`http://127.0.0.1:${port}/metrics`);
    const tls = await get((webhook?.ready?.url as string).replace(/\/readyz$/, '/metrics'), webhook?.ready?.caFile);
    expect(families(plain)).to.deep.equal(families(tls));
    expect(families(plain)).to.include.members([
      'kube_offload_webhook_admission_requests_total',
      'kube_offload_informer_watch_restarts_total',
      'process_resident_memory_bytes',
    ]);
    expect(JSON.parse(await get(`http://127.0.0.1:${port}/readyz`)).status).to.equal('ok');
    expect(JSON.parse(await get(`http://127.0.0.1:${port}/healthz`)).status).to.equal('ok');
    note(`webhook: ${families(plain).length} metric families on http://127.0.0.1:${port}/metrics, as on HTTPS`);
  });

  it("every work queue of the syncer and the provider is in their /metrics, under controller-runtime's names", async function () {
    this.timeout(120_000);
    const expected: Record<string, string[]> = {
      syncer: ['syncer', 'syncer-backfill'],
      'virtual-node': env.sandbox.remotes.map((remote) => `virtual-node-${remote.name}`),
    };
    for (const [name, queues] of Object.entries(expected)) {
      const component = env.sandbox.components.find((c) => c.name === name);
      const url = (component?.ready?.url as string).replace(/\/readyz$/, '/metrics');
      const missing = async (): Promise<string[]> => {
        const text = await get(url);
        return queues.filter(
          (queue) =>
            !text.includes(`workqueue_depth{name="${queue}",controller="${queue}"}`) ||
            !text.includes(`controller_runtime_max_concurrent_reconciles{controller="${queue}"}`),
        );
      };
      // A provider's queue exists once its peer is found, the syncer's once it leads.
      await waitFor(async () => (await missing()).length === 0, {
        timeoutMs: 60_000,
        description: `${name}'s /metrics to carry the queues ${queues.join(', ')}`,
      });
      note(`${name}: workqueue_* and controller_runtime_* for ${queues.join(', ')}`);
    }
  });

  it('scripts/remote-kubeconfig.sh makes kubeconfigs with exactly the remote identities rights, and stores them', async function () {
    this.timeout(120_000);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-remote-kubeconfig-'));
    try {
      // One kubeconfig with both sandbox clusters' admin contexts, named after the clusters.
      const merged = path.join(out, 'admin.kubeconfig');
      const view = spawnSync(path.join(local().binDir, 'kubectl'), ['config', 'view', '--flatten'], {
        encoding: 'utf8',
        env: { ...process.env, KUBECONFIG: `${local().kubeconfigPath}:${remote().kubeconfigPath}` },
      });
      expect(view.status, view.stderr).to.equal(0);
      fs.writeFileSync(merged, view.stdout);
      const contextOf = (cluster: Cluster): string =>
        spawnSync(
          path.join(cluster.binDir, 'kubectl'),
          ['config', 'current-context', `--kubeconfig=${cluster.kubeconfigPath}`],
          {
            encoding: 'utf8',
          },
        ).stdout.trim();
      const script = spawnSync(
        'bash',
        [
          path.join(ROOT, 'scripts/remote-kubeconfig.sh'),
          '--remote-context',
          contextOf(remote()),
          '--name',
          'eu',
          '--duration',
          '1h',
          '--out',
          path.join(out, 'kubeconfigs'),
          '--apply-context',
          contextOf(local()),
          '--kubectl',
          path.join(local().binDir, 'kubectl'),
        ],
        { encoding: 'utf8', env: { ...process.env, KUBECONFIG: merged } },
      );
      expect(script.status, script.stderr).to.equal(0);
      const can = (component: string, ...args: string[]): string =>
        spawnSync(
          path.join(local().binDir, 'kubectl'),
          ['auth', 'can-i', `--kubeconfig=${path.join(out, 'kubeconfigs', component, 'eu.kubeconfig')}`, ...args],
          { encoding: 'utf8' },
        ).stdout.trim();
      expect(can('syncer', 'create', 'namespaces')).to.equal('yes');
      expect(can('syncer', 'create', 'pods', '-A')).to.equal('no');
      expect(can('virtual-node', 'create', 'pods', '-A')).to.equal('yes');
      expect(can('virtual-node', 'create', 'services', '-A')).to.equal('no');
      for (const secret of ['kube-offload-syncer-remotes', 'kube-offload-virtual-node-remotes']) {
        const keys = Object.keys(
          JSON.parse(await kubectlOk(local(), ['-n', 'kube-offload-system', 'get', 'secret', secret, '-o', 'json']))
            .data,
        );
        expect(keys, secret).to.include('eu.kubeconfig');
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

// GKE and other managed clusters admit system-cluster-critical pods only in namespaces whose
// ResourceQuota matches that priority class (kube-apiserver's ResourceQuota plugin with
// limitedResources). A cluster configured that way shows the refusal, and that
// components/priority-quota (in the default install) lifts it.
describe('priority-quota on an apiserver that limits critical priority classes', function () {
  let cluster: Cluster | undefined;
  let dir: string | undefined;
  const pod = (): string => {
    const install = parseObjects(fs.readFileSync(path.join(ROOT, 'deploy/install.yaml'), 'utf8'));
    const deployment = install.find((o) => o.kind === 'Deployment' && o.metadata.name === 'kube-offload-webhook');
    const template = (deployment?.spec as { template: { metadata: object; spec: object } }).template;
    return stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...template.metadata, name: 'critical', namespace: 'kube-offload-system' },
      spec: template.spec,
    });
  };

  before(async function () {
    this.timeout(300_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-quota-'));
    const config = path.join(dir, 'admission.yaml');
    fs.writeFileSync(
      config,
      stringify({
        apiVersion: 'apiserver.config.k8s.io/v1',
        kind: 'AdmissionConfiguration',
        plugins: [
          {
            name: 'ResourceQuota',
            configuration: {
              apiVersion: 'apiserver.config.k8s.io/v1',
              kind: 'ResourceQuotaConfiguration',
              limitedResources: [
                {
                  resource: 'pods',
                  matchScopes: [
                    {
                      scopeName: 'PriorityClass',
                      operator: 'In',
                      values: ['system-node-critical', 'system-cluster-critical'],
                    },
                  ],
                },
              ],
            },
          },
        ],
      }),
    );
    cluster = await startCluster({
      name: 'local',
      dir: path.join(dir, 'cluster'),
      binDir: env.sandbox.local.binDir,
      apiserverArgs: [`--admission-control-config-file=${config}`],
    });
    await kubectlOk(cluster, ['create', 'namespace', 'kube-offload-system']);
    await kubectlOk(cluster, ['-n', 'kube-offload-system', 'create', 'serviceaccount', 'kube-offload-webhook']);
  });

  after(async function () {
    this.timeout(120_000);
    try {
      await cluster?.stop();
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });

  it('refuses the webhook pod without the quota and admits it with components/priority-quota', async function () {
    this.timeout(60_000);
    const c = cluster as Cluster;
    const refused = await c.kubectl(['create', '--dry-run=server', '-f', '-'], { input: pod() });
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr, refused.stderr).to.include('insufficient quota to match these scopes');
    note(`without the quota: ${refused.stderr.trim()}`);
    await kubectlOk(c, ['apply', '-f', path.join(ROOT, 'manifests/components/priority-quota/resourcequota.yaml')]);
    // The quota controller must have computed the quota's usage before admission counts on it.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await c.kubectl(['create', '--dry-run=server', '-f', '-'], { input: pod() });
      if (res.code === 0) break;
      if (Date.now() > deadline) throw new Error(`still refused with the quota: ${res.stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
});
