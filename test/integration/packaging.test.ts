// The install bundles, without a cluster (the e2e test applies them to a real apiserver):
// - the rendered files (deploy/, manifests/remote copies, the Helm chart) are up to date;
// - the Helm chart renders the same objects as kustomize for the same settings: defaults,
//   each component, all of them, and non-default values land where they should;
// - every flag the manifests pass to a component is one it knows (its --help);
// - the PrometheusRule passes `promtool check rules`, and every metric the rules and the
//   dashboard use is registered by a component's metrics code;
// - the Dockerfile and .dockerignore keep keys and tools out of the image.
// helm and promtool come from controlplane/build.sh --tool (built from Go modules on first use).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import {
  COMPONENTS,
  ROOT,
  kubectlPath,
  kustomize,
  kustomizeVariant,
  objectKey,
  outOfDate,
  parseObjects,
  renderAll,
  type KubeObject,
} from '../../scripts/render-install.ts';
import { exportedName, metricsUsed, ruleExpressions } from '../../scripts/metrics-used.ts';
import { createWebhookMetrics } from '../../src/webhook/metrics.ts';
import { createMetrics as createSyncerMetrics } from '../../src/syncer/metrics.ts';
import { createProviderMetrics } from '../../src/virtualnode/metrics.ts';

const CHART = path.join(ROOT, 'charts/kube-offload');
const NODE = process.execPath;

function tool(name: 'helm' | 'promtool'): string {
  const out = spawnSync('bash', [path.join(ROOT, 'controlplane/build.sh'), '--tool', name], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`controlplane/build.sh --tool ${name} failed:\n${out.stderr}`);
  return out.stdout.trim().split('\n').pop() as string;
}

function run(cmd: string, args: string[], input?: string): string {
  const out = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  if (out.status !== 0)
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${out.status}:\n${out.stderr}${out.stdout}`);
  return out.stdout;
}

/** Objects by kind/namespace/name, for set comparison with readable failures. */
function byKey(objects: KubeObject[]): Record<string, KubeObject> {
  const map: Record<string, KubeObject> = {};
  for (const object of objects) {
    const key = objectKey(object);
    if (map[key]) throw new Error(`${key} appears twice`);
    map[key] = object;
  }
  return map;
}

function expectSameObjects(actual: KubeObject[], expected: KubeObject[]): void {
  const a = byKey(actual);
  const e = byKey(expected);
  expect(Object.keys(a).sort()).to.deep.equal(Object.keys(e).sort());
  for (const key of Object.keys(e)) expect(a[key], key).to.deep.equal(e[key]);
}

/**
 * The metric families of the three components' registries, as their metrics code builds them
 * (prom-client's default metrics unprefixed in all three, the work-queue families in the
 * syncer's and the provider's).
 */
function exportedMetricNames(): Set<string> {
  const registries = [
    createWebhookMetrics().registry,
    createSyncerMetrics().registry,
    createProviderMetrics().registry,
  ];
  const names = new Set(registries.flatMap((r) => r.getMetricsAsArray().map((m) => m.name)));
  for (const registry of registries) registry.clear();
  return names;
}

describe('packaging', function () {
  let kubectl: string;
  let helm: string;
  let promtool: string;

  before(function () {
    // A cold build of helm and promtool from their Go modules takes minutes; a cached one is instant.
    this.timeout(30 * 60_000);
    kubectl = kubectlPath();
    helm = tool('helm');
    promtool = tool('promtool');
  });

  describe('rendered files', () => {
    it('deploy/, manifests/remote and charts/kube-offload are up to date with manifests/ (npm run render)', function () {
      this.timeout(60_000);
      expect(outOfDate(renderAll(kubectl)), 'run `npm run render`').to.deep.equal([]);
    });

    it('manifests/examples/production builds: every component, a cluster name and the Lease it implies', function () {
      this.timeout(60_000);
      const objects = byKey(parseObjects(kustomize(path.join(ROOT, 'manifests/examples/production'), kubectl)));
      const config = objects['ConfigMap/kube-offload-system/kube-offload-config'] as {
        data: Record<string, string>;
      } & KubeObject;
      expect(config.data['cluster-name']).to.equal('eu-west-1');
      const role = objects['Role/kube-offload-system/kube-offload-virtual-node'] as {
        rules: Array<{ resourceNames?: string[] }>;
      } & KubeObject;
      expect(role.rules.flatMap((r) => r.resourceNames ?? [])).to.include('kube-offload-virtual-node-eu-west-1');
      for (const kind of ['Certificate', 'PrometheusRule', 'NetworkPolicy', 'ResourceQuota']) {
        expect(
          Object.keys(objects).some((k) => k.startsWith(`${kind}/`)),
          kind,
        ).to.equal(true);
      }
    });

    it('manifests/examples/remote-files builds: the file-based alternative to peer Secrets', function () {
      this.timeout(60_000);
      const objects = byKey(parseObjects(kustomize(path.join(ROOT, 'manifests/examples/remote-files'), kubectl)));
      for (const name of ['kube-offload-syncer', 'kube-offload-virtual-node']) {
        const pod = (objects[`Deployment/kube-offload-system/${name}`]?.spec as any).template.spec;
        expect(pod.containers[0].args, name).to.include('--remote=eu=/etc/kube-offload/remotes/eu.kubeconfig');
        expect(pod.containers[0].volumeMounts, name).to.deep.equal([
          { name: 'remotes', mountPath: '/etc/kube-offload/remotes', readOnly: true },
        ]);
        expect(pod.volumes[0].secret.secretName, name).to.equal(`${name}-remotes`);
      }
    });

    it('components/no-priority-class drops priorityClassName from every Deployment', function () {
      this.timeout(30_000);
      const objects = parseObjects(
        kustomizeVariant(
          { resources: ['manifests/base'], components: ['manifests/components/no-priority-class'] },
          kubectl,
        ),
      );
      const deployments = objects.filter((o) => o.kind === 'Deployment');
      expect(deployments).to.have.length(3);
      for (const d of deployments)
        expect((d.spec as any).template.spec.priorityClassName, d.metadata.name).to.equal(undefined);
    });
  });

  describe('Helm chart', () => {
    const template = (...sets: string[]): KubeObject[] =>
      parseObjects(
        run(helm, [
          'template',
          'kube-offload',
          CHART,
          '--namespace',
          'kube-offload-system',
          ...sets.flatMap((s) => ['--set', s]),
        ]),
      );
    const kustomized = (...components: string[]): KubeObject[] =>
      parseObjects(
        kustomizeVariant(
          { resources: ['manifests/base'], components: components.map((c) => `manifests/components/${c}`) },
          kubectl,
        ),
      );
    const withoutNamespace = (objects: KubeObject[]): KubeObject[] => objects.filter((o) => o.kind !== 'Namespace');

    it('helm lint passes', function () {
      this.timeout(30_000);
      run(helm, ['lint', '--strict', CHART]);
    });

    it('defaults render the default install (deploy/install.yaml) without its Namespace', function () {
      this.timeout(30_000);
      const install = parseObjects(fs.readFileSync(path.join(ROOT, 'deploy/install.yaml'), 'utf8'));
      expectSameObjects(template(), withoutNamespace(install));
      expectSameObjects(template('namespace.create=true'), install);
    });

    for (const component of COMPONENTS) {
      it(`${component.value}.enabled=${!component.inDefault} renders what kustomize renders ${component.inDefault ? 'without' : 'with'} components/${component.name}`, function () {
        this.timeout(30_000);
        const defaults = COMPONENTS.filter((c) => c.inDefault).map((c) => c.name);
        const components = component.inDefault
          ? defaults.filter((c) => c !== component.name)
          : [...defaults, component.name];
        expectSameObjects(
          template('namespace.create=true', `${component.value}.enabled=${!component.inDefault}`),
          kustomized(...components),
        );
      });
    }

    it('every component at once renders what kustomize renders with all of them', function () {
      this.timeout(30_000);
      const sets = COMPONENTS.map((c) => `${c.value}.enabled=true`);
      expectSameObjects(template('namespace.create=true', ...sets), kustomized(...COMPONENTS.map((c) => c.name)));
    });

    it('values reach the objects: image, cluster name, replicas, resources, extra args, priority class, CIDRs, labels', function () {
      this.timeout(30_000);
      const objects = byKey(
        template(
          'image.repository=registry.example.com/ko',
          'image.tag=9.9.9',
          'clusterName=eu-west-1',
          'webhook.replicas=3',
          'syncer.resources.limits.memory=1Gi',
          'virtualNode.extraArgs={--log-level=debug}',
          'priorityClassName=',
          'networkPolicy.enabled=true',
          'networkPolicy.apiserverCIDRs={10.0.0.0/28,10.0.0.16/28}',
          'networkPolicy.monitoringNamespace=observability',
          'monitoring.enabled=true',
          'monitoring.labels.release=kube-prometheus-stack',
        ),
      );
      const pod = (name: string): any => (objects[`Deployment/kube-offload-system/${name}`]?.spec as any).template.spec;
      expect(pod('kube-offload-webhook').containers[0].image).to.equal('registry.example.com/ko:9.9.9');
      expect((objects['Deployment/kube-offload-system/kube-offload-webhook']?.spec as any).replicas).to.equal(3);
      expect(pod('kube-offload-webhook').priorityClassName).to.equal(undefined);
      expect(pod('kube-offload-syncer').containers[0].resources.limits.memory).to.equal('1Gi');
      expect(pod('kube-offload-virtual-node').containers[0].args).to.include('--log-level=debug');
      expect((objects['ConfigMap/kube-offload-system/kube-offload-config'] as any).data).to.deep.equal({
        'cluster-name': 'eu-west-1',
      });
      // The remotes come from the peer Secrets `kube-offload peer` writes: no --remote, no volume.
      for (const name of ['kube-offload-syncer', 'kube-offload-virtual-node']) {
        const container = pod(name).containers[0];
        expect(container.args, name).to.include('--cluster-name=$(CLUSTER_NAME)');
        expect(
          container.args.filter((arg: string) => arg.startsWith('--remote')),
          name,
        ).to.deep.equal([]);
        expect(container.env.find((e: any) => e.name === 'CLUSTER_NAME').valueFrom.configMapKeyRef, name).to.deep.equal(
          { name: 'kube-offload-config', key: 'cluster-name' },
        );
        expect(pod(name).volumes, name).to.equal(undefined);
      }
      const role = objects['Role/kube-offload-system/kube-offload-virtual-node'] as any;
      expect(role.rules.flatMap((r: any) => r.resourceNames ?? [])).to.include('kube-offload-virtual-node-eu-west-1');
      const webhookPolicy = objects['NetworkPolicy/kube-offload-system/kube-offload-webhook'] as any;
      expect(webhookPolicy.spec.ingress[0].from).to.deep.equal([
        { ipBlock: { cidr: '10.0.0.0/28' } },
        { ipBlock: { cidr: '10.0.0.16/28' } },
      ]);
      expect(webhookPolicy.spec.ingress[1].from[0].namespaceSelector.matchLabels).to.deep.equal({
        'kubernetes.io/metadata.name': 'observability',
      });
      const syncerPolicy = objects['NetworkPolicy/kube-offload-system/kube-offload-syncer'] as any;
      expect(syncerPolicy.spec.egress[1].to).to.deep.equal([{ ipBlock: { cidr: '0.0.0.0/0' } }]);
      expect(objects['PrometheusRule/kube-offload-system/kube-offload']?.metadata.labels).to.include({
        release: 'kube-prometheus-stack',
      });
      expect(objects['PodMonitor/kube-offload-system/kube-offload-webhook']?.metadata.labels).to.include({
        release: 'kube-prometheus-stack',
      });
    });

    it('alert templates ({{ $labels.x }}) survive Helm', function () {
      this.timeout(30_000);
      const rule = byKey(template('monitoring.enabled=true'))['PrometheusRule/kube-offload-system/kube-offload'];
      const source = parseObjects(
        fs.readFileSync(path.join(ROOT, 'manifests/components/monitoring/prometheusrule.yaml'), 'utf8'),
      )[0];
      expect(rule?.spec).to.deep.equal(source?.spec);
    });

    it('refuses an empty CIDR list (it would allow everything)', function () {
      this.timeout(30_000);
      const out = spawnSync(
        helm,
        ['template', CHART, '--set', 'networkPolicy.enabled=true', '--set', 'networkPolicy.apiserverCIDRs=null'],
        { encoding: 'utf8' },
      );
      expect(out.status).to.not.equal(0);
      expect(out.stderr).to.include('networkPolicy.apiserverCIDRs must list at least one CIDR');
    });
  });

  describe('flags in the manifests', () => {
    for (const component of ['webhook', 'syncer', 'virtual-node']) {
      it(`every flag passed to \`kube-offload ${component}\` is in its --help`, function () {
        this.timeout(60_000);
        const help = run(NODE, [path.join(ROOT, 'bin/kube-offload.js'), component, '--help']);
        const objects = parseObjects(
          kustomizeVariant(
            { resources: ['manifests/base'], components: COMPONENTS.map((c) => `manifests/components/${c.name}`) },
            kubectl,
          ),
        );
        const args = objects
          .filter((o) => o.kind === 'Deployment')
          .flatMap((o) => (o.spec as any).template.spec.containers as Array<{ args?: string[] }>)
          .map((c) => c.args ?? [])
          .filter((a) => a[0] === component)
          .flat();
        expect(args, `no Deployment runs ${component}`).to.not.have.length(0);
        const flags = [...new Set(args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0] as string))];
        // Deprecated spellings are listed at the end of --help too.
        const unknown = flags.filter((flag) => !new RegExp(`(^|[\\s(,])${flag}\\b`).test(help));
        expect(unknown, `flags ${component} does not know`).to.deep.equal([]);
      });
    }
  });

  describe('PrometheusRule', () => {
    it('passes promtool check rules', function () {
      this.timeout(30_000);
      const rule = parseObjects(
        fs.readFileSync(path.join(ROOT, 'manifests/components/monitoring/prometheusrule.yaml'), 'utf8'),
      )[0];
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-rules-'));
      try {
        const file = path.join(dir, 'rules.yaml');
        fs.writeFileSync(file, stringify(rule?.spec));
        const out = run(promtool, ['check', 'rules', file]);
        expect(out).to.match(/SUCCESS: \d+ rules found/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('every dashboard query is valid PromQL (promtool check rules, as recording rules)', function () {
      this.timeout(30_000);
      // Grafana's $__rate_interval/$__range and $namespace become ordinary values first.
      const dashboard = JSON.parse(
        fs.readFileSync(path.join(ROOT, 'manifests/components/monitoring/dashboard.json'), 'utf8'),
      );
      const exprs: string[] = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));
      const rules = exprs.map((expr, i) => ({
        record: `dashboard:query_${i}`,
        expr: expr.replace(/\$__rate_interval|\$__range/g, '5m').replace(/\$namespace/g, 'kube-offload-system'),
      }));
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-dashboard-'));
      try {
        const file = path.join(dir, 'rules.yaml');
        fs.writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
        expect(run(promtool, ['check', 'rules', file])).to.include(`SUCCESS: ${rules.length} rules found`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('the dashboard shows admissions by outcome and latency, replication backlog and lag, offloaded pods per remote, memory', () => {
      const dashboard = JSON.parse(
        fs.readFileSync(path.join(ROOT, 'manifests/components/monitoring/dashboard.json'), 'utf8'),
      );
      const panels: Array<{ title: string; exprs: string[] }> = dashboard.panels.map((p: any) => ({
        title: p.title,
        exprs: (p.targets ?? []).map((t: any) => t.expr as string),
      }));
      const shown = (what: RegExp): string[] =>
        panels.filter((p) => p.exprs.some((expr) => what.test(expr))).map((p) => p.title);
      expect(
        shown(/sum by \(outcome\) \(rate\(kube_offload_webhook_admission_requests_total/),
        'by outcome',
      ).to.not.have.length(0);
      expect(
        shown(/histogram_quantile\(0\.99, .*kube_offload_webhook_admission_duration_seconds_bucket/),
        'latency',
      ).to.not.have.length(0);
      expect(shown(/workqueue_depth\{[^}]*name=~"syncer/), 'replication backlog').to.not.have.length(0);
      expect(
        shown(/workqueue_queue_duration_seconds_bucket\{[^}]*name="syncer"/),
        'replication lag',
      ).to.not.have.length(0);
      expect(
        shown(/sum by \(remote\) \(kube_offload_virtual_node_pods\)/),
        'offloaded pods per remote',
      ).to.not.have.length(0);
      expect(shown(/^process_resident_memory_bytes\{/), 'memory').to.not.have.length(0);
    });

    it('every alert has a severity, a summary, a description and a runbook', () => {
      const rule = parseObjects(
        fs.readFileSync(path.join(ROOT, 'manifests/components/monitoring/prometheusrule.yaml'), 'utf8'),
      )[0];
      for (const group of (rule?.spec as any).groups) {
        for (const r of group.rules) {
          expect(r.labels?.severity, r.alert).to.be.oneOf(['warning', 'critical']);
          for (const a of ['summary', 'description', 'runbook'])
            expect(r.annotations?.[a], `${r.alert} ${a}`).to.be.a('string');
        }
      }
      const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
      const alerts = readme.slice(
        readme.indexOf('\n### Alerts\n'),
        readme.indexOf('\n## ', readme.indexOf('\n### Alerts\n')),
      );
      for (const { alert } of ruleExpressions())
        expect(alerts, `the README's Alerts table lacks ${alert}`).to.include(`| \`${alert}\` |`);
    });

    it('every metric the rules and the dashboard use is registered by a component', async () => {
      const names = exportedMetricNames();
      const missing = [...metricsUsed()].filter(([name]) => !names.has(exportedName(name)));
      expect(missing.map(([name, where]) => `${name} (${[...new Set(where)].join(', ')})`)).to.deep.equal([]);
    });
  });

  it("the README's Metrics table names every metric the components export", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Metrics\n');
    const table = readme.slice(start, readme.indexOf('\n### Alerts\n', start));
    const names = exportedMetricNames();
    // A row may list variants in braces: nodejs_eventloop_lag_{min,max}_seconds.
    const documented = (name: string): boolean =>
      table.includes(`\`${name}\``) ||
      [...table.matchAll(/`([a-z_]+)\{([a-z0-9,]+)\}([a-z_]*)`/g)].some(([, head, alts, tail]) =>
        (alts as string).split(',').some((alt) => `${head}${alt}${tail}` === name),
      ) ||
      (name.endsWith('_total') &&
        table.includes(`\`${name.slice(0, -'_total'.length)}\``) &&
        table.includes('`_total`'));
    expect([...names].filter((name) => !documented(name))).to.deep.equal([]);
  });

  describe('image', () => {
    it('.dockerignore keeps keys, credentials and bulk out of the build context', () => {
      const ignored = fs
        .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim());
      for (const entry of [
        '.git',
        'node_modules',
        'certs',
        '.sandbox',
        'demo',
        'docs',
        'charts',
        'test',
        'bench',
        'controlplane',
        '*.log',
      ]) {
        expect(ignored, entry).to.include(entry);
      }
    });

    it('the runtime stage has no npm or shell, runs as 65532, carries OCI labels; both bases pinned by digest', () => {
      const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
      const stages = dockerfile.split(/^FROM /m);
      const runtime = stages[stages.length - 1] as string;
      expect(runtime).to.match(/^\$\{RUNTIME_IMAGE\}/);
      expect(dockerfile).to.match(/ARG RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs24-debian12/);
      expect(runtime).to.not.match(/^RUN /m);
      // Both bases pinned by digest (tag for readers, digest for the build).
      expect(dockerfile).to.match(/^ARG NODE_IMAGE=node:24-bookworm-slim@sha256:[0-9a-f]{64}$/m);
      expect(dockerfile).to.match(
        /^ARG RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs24-debian12:nonroot@sha256:[0-9a-f]{64}$/m,
      );
      expect(runtime).to.match(/^USER 65532:65532$/m);
      for (const label of ['title', 'description', 'licenses', 'version', 'revision', 'created', 'source']) {
        expect(runtime).to.include(`org.opencontainers.image.${label}=`);
      }
    });
  });
});
