// e2e: the admission webhooks on a real control plane, driven the way users drive them, with
// kubectl. The webhook runs as its ServiceAccount (token from the TokenRequest API) under exactly
// the RBAC in manifests/, and the webhook configurations are the ones in manifests/, pointed at
// 127.0.0.1. A Node that looks like a virtual node (Liqo's label and taint, kept Ready by a Lease
// heartbeat from the test) lets us assert where the scheduler really puts each pod.
import { expect } from 'chai';
import crypto from 'node:crypto';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { stringify } from 'yaml';
import { repoRoot } from '../../src/sandbox/binaries.ts';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import type { RunningComponent } from '../../src/sandbox/sandbox.ts';
import { webhookComponent } from '../../src/dev/webhook.ts';
import {
  CLUSTERS_ANNOTATION,
  ENABLED_LABEL,
  PLACEMENT_ANNOTATION,
  PREFER_ANNOTATION,
  REPLICATE_KEY,
  VIRTUAL_NODE_LABEL,
  VIRTUAL_NODE_LABEL_VALUE,
  VIRTUAL_NODE_TAINT_EFFECT,
  VIRTUAL_NODE_TAINT_KEY,
  VIRTUAL_NODE_TAINT_VALUE,
} from '../../webhooks/keys.ts';
import { applyYaml, getItems, getObject, kubectlOk, useSandbox, waitFor } from './helpers/index.ts';

const VIRTUAL_NODE = 'virtual-e2e';
const WORKERS = ['worker-node-1', 'worker-node-2'];
const SA_USER = 'system:serviceaccount:kube-offload-system:kube-offload-webhook';
// Short-lived serving certs: the suite itself spans at least one renewal.
const CERT_VALIDITY_SECONDS = 90;

interface Pod {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { nodeName?: string; tolerations?: Array<{ key?: string }>; affinity?: unknown };
  status?: { phase?: string; podIP?: string };
}

let webhookPort = 0;

const env = useSandbox({
  components: async (ctx) => {
    const spec = await webhookComponent(ctx, { args: ['--cert-validity', `${CERT_VALIDITY_SECONDS}s`] });
    webhookPort = spec.port;
    return [spec];
  },
});

function local(): Cluster {
  return env.sandbox.local;
}

function webhook(): RunningComponent {
  const component = env.sandbox.components.find((c) => c.name === 'webhook');
  if (!component) throw new Error('webhook component is not running');
  return component;
}

// --- the fake virtual node -------------------------------------------------------------------

async function api(method: string, path: string, body?: unknown, contentType?: string): Promise<any> {
  const result = await local().api(method, path, body, contentType);
  if (result.status >= 300) throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

async function registerVirtualNode(): Promise<void> {
  await api('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: VIRTUAL_NODE,
      labels: {
        [VIRTUAL_NODE_LABEL]: VIRTUAL_NODE_LABEL_VALUE,
        'kubernetes.io/hostname': VIRTUAL_NODE,
        'topology.kubernetes.io/region': 'eu-west',
      },
    },
    spec: {
      taints: [{ key: VIRTUAL_NODE_TAINT_KEY, value: VIRTUAL_NODE_TAINT_VALUE, effect: VIRTUAL_NODE_TAINT_EFFECT }],
    },
  });
  await api('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
    metadata: { name: VIRTUAL_NODE },
    spec: {
      holderIdentity: VIRTUAL_NODE,
      leaseDurationSeconds: 40,
      renewTime: new Date().toISOString().replace('Z', '000Z'),
    },
  });
  await heartbeat();
}

/** What a kubelet does: Ready condition with capacity, and a renewed Lease. */
async function heartbeat(): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const capacity = { cpu: '64', memory: '256Gi', pods: '500' };
  await api(
    'PATCH',
    `/api/v1/nodes/${VIRTUAL_NODE}/status`,
    {
      status: {
        capacity,
        allocatable: capacity,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'E2EHeartbeat',
            message: 'kept Ready by the e2e test',
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
      },
    },
    'application/strategic-merge-patch+json',
  );
  await api(
    'PATCH',
    `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${VIRTUAL_NODE}`,
    {
      spec: { renewTime: new Date().toISOString().replace('Z', '000Z') },
    },
    'application/merge-patch+json',
  );
}

// --- manifests --------------------------------------------------------------------------------

function namespace(name: string, opts: { optedIn: boolean; annotations?: Record<string, string> }): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: opts.optedIn ? { [ENABLED_LABEL]: 'true' } : {}, annotations: opts.annotations ?? {} },
  });
}

function deployment(
  name: string,
  ns: string,
  opts: { replicas?: number; annotations?: Record<string, string> } = {},
): string {
  return stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, annotations: opts.annotations ?? {} },
    spec: {
      replicas: opts.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'registry.k8s.io/pause:3.10',
              resources: { requests: { cpu: '10m', memory: '16Mi' } },
            },
          ],
        },
      },
    },
  });
}

async function createNamespace(
  name: string,
  opts: { optedIn: boolean; annotations?: Record<string, string> },
): Promise<void> {
  await applyYaml(local(), namespace(name, opts));
  // Pods need the namespace's default ServiceAccount.
  await waitFor(() => getObject(local(), 'serviceaccount', 'default', { namespace: name }), {
    description: `default ServiceAccount in ${name}`,
  });
}

/** Waits until `count` pods with label app=<app> are bound to a node, and returns them. */
async function scheduledPods(ns: string, app: string, count: number): Promise<Pod[]> {
  return waitFor(
    async () => {
      const pods = await getItems<Pod>(local(), 'pods', { namespace: ns, selector: `app=${app}` });
      const bound = pods.filter((pod) => pod.spec.nodeName);
      return bound.length === count ? bound : undefined;
    },
    { description: `${count} pods of ${ns}/${app} scheduled`, timeoutMs: 90_000 },
  );
}

const nodesOf = (pods: Pod[]): string[] => [...new Set(pods.map((pod) => pod.spec.nodeName ?? ''))].sort();
const tolerates = (pod: Pod): boolean => (pod.spec.tolerations ?? []).some((t) => t.key === VIRTUAL_NODE_TAINT_KEY);

// --- tests ------------------------------------------------------------------------------------

describe('e2e: admission webhooks on a real control plane', function () {
  let heartbeatTimer: NodeJS.Timeout | undefined;

  before(async function () {
    this.timeout(120_000);
    await registerVirtualNode();
    heartbeatTimer = setInterval(() => heartbeat().catch(() => undefined), 5_000);
    await waitFor(
      async () => {
        const node = await getObject(local(), 'node', VIRTUAL_NODE);
        const taints: Array<{ key: string }> = node?.spec?.taints ?? [];
        // The node lifecycle controller lifts its not-ready taint once the node is Ready.
        return taints.length === 1 && taints[0]?.key === VIRTUAL_NODE_TAINT_KEY;
      },
      { description: 'the fake virtual node to be Ready with only our taint', timeoutMs: 60_000 },
    );
  });

  after(() => clearInterval(heartbeatTimer));

  describe('placement', () => {
    it('places Remote pods on the virtual node', async () => {
      await createNamespace('placement-remote', { optedIn: true });
      await applyYaml(
        local(),
        deployment('web', 'placement-remote', { annotations: { [PLACEMENT_ANNOTATION]: 'Remote' } }),
      );
      const pods = await scheduledPods('placement-remote', 'web', 2);
      expect(nodesOf(pods)).to.deep.equal([VIRTUAL_NODE]);
      expect(pods.every(tolerates)).to.equal(true);
      // The workload webhook copied the policy into the template, so the pod carries it too.
      expect(pods[0]?.metadata.annotations?.[PLACEMENT_ANNOTATION]).to.equal('Remote');
    });

    it('keeps Local pods on the workers, Running with local pod IPs', async () => {
      await createNamespace('placement-local', { optedIn: true });
      // prefer Remote would pull pods to the virtual node if Local did not forbid it.
      await applyYaml(
        local(),
        deployment('api', 'placement-local', {
          replicas: 4,
          annotations: { [PLACEMENT_ANNOTATION]: 'Local', [PREFER_ANNOTATION]: 'Remote' },
        }),
      );
      const pods = await scheduledPods('placement-local', 'api', 4);
      for (const node of nodesOf(pods)) expect(WORKERS).to.include(node);
      const running = await waitFor(
        async () => {
          const all = await getItems<Pod>(local(), 'pods', { namespace: 'placement-local', selector: 'app=api' });
          return all.filter((p) => p.status?.phase === 'Running' && p.status.podIP).length === 4 ? all : undefined;
        },
        { description: 'Local pods Running', timeoutMs: 90_000 },
      );
      for (const pod of running) expect(pod.status?.podIP).to.match(/^10\.244\./);
    });

    it('honours the cluster selector of LocalAndRemote', async () => {
      await createNamespace('placement-mixed', { optedIn: true });
      // prefer Remote pulls towards virtual nodes; only the matching one is allowed.
      await applyYaml(
        local(),
        deployment('match', 'placement-mixed', {
          annotations: {
            [PLACEMENT_ANNOTATION]: 'LocalAndRemote',
            [CLUSTERS_ANNOTATION]: 'topology.kubernetes.io/region=eu-west',
            [PREFER_ANNOTATION]: 'Remote',
          },
        }),
      );
      await applyYaml(
        local(),
        deployment('nomatch', 'placement-mixed', {
          annotations: {
            [PLACEMENT_ANNOTATION]: 'LocalAndRemote',
            [CLUSTERS_ANNOTATION]: 'topology.kubernetes.io/region in (us-east,ap-south)',
            [PREFER_ANNOTATION]: 'Remote',
          },
        }),
      );
      expect(nodesOf(await scheduledPods('placement-mixed', 'match', 2))).to.deep.equal([VIRTUAL_NODE]);
      const excluded = await scheduledPods('placement-mixed', 'nomatch', 2);
      for (const node of nodesOf(excluded)) expect(WORKERS).to.include(node);
      expect(excluded.every(tolerates)).to.equal(true);
    });

    it('applies the namespace default to workloads without annotations', async () => {
      await createNamespace('placement-default', { optedIn: true, annotations: { [PLACEMENT_ANNOTATION]: 'Remote' } });
      await applyYaml(local(), deployment('worker', 'placement-default'));
      expect(nodesOf(await scheduledPods('placement-default', 'worker', 2))).to.deep.equal([VIRTUAL_NODE]);
    });

    it('leaves namespaces that have not opted in untouched', async () => {
      await createNamespace('not-opted-in', { optedIn: false });
      await applyYaml(
        local(),
        deployment('plain', 'not-opted-in', { annotations: { [PLACEMENT_ANNOTATION]: 'Remote' } }),
      );
      const pods = await scheduledPods('not-opted-in', 'plain', 2);
      for (const node of nodesOf(pods)) expect(WORKERS).to.include(node);
      expect(pods.some(tolerates)).to.equal(false);
      expect(pods.every((pod) => pod.spec.affinity === undefined)).to.equal(true);
      const dep = await getObject(local(), 'deployment', 'plain', { namespace: 'not-opted-in' });
      expect(dep.spec.template.metadata.annotations?.[PLACEMENT_ANNOTATION]).to.equal(undefined);
    });

    it('never runs DaemonSet pods on the virtual node, even one that tolerates every taint', async () => {
      await createNamespace('placement-daemonset', {
        optedIn: true,
        annotations: { [PLACEMENT_ANNOTATION]: 'Remote' },
      });
      await applyYaml(
        local(),
        stringify({
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          metadata: { name: 'agent', namespace: 'placement-daemonset' },
          spec: {
            selector: { matchLabels: { app: 'agent' } },
            template: {
              metadata: { labels: { app: 'agent' } },
              spec: {
                tolerations: [{ operator: 'Exists' }],
                containers: [{ name: 'agent', image: 'registry.k8s.io/pause:3.10' }],
              },
            },
          },
        }),
      );
      // The DaemonSet controller creates one pod per eligible node: the two workers only.
      await waitFor(
        async () => {
          const ds = await getObject(local(), 'daemonset', 'agent', { namespace: 'placement-daemonset' });
          return ds?.status?.desiredNumberScheduled === 2 && ds.status.numberReady === 2;
        },
        { description: 'DaemonSet agent ready on both workers', timeoutMs: 90_000 },
      );
      const pods = await scheduledPods('placement-daemonset', 'agent', 2);
      expect(nodesOf(pods)).to.deep.equal(WORKERS);
    });
  });

  describe('bad input, warnings and dry run', () => {
    before(() => createNamespace('admission-input', { optedIn: true }));

    it('rejects an invalid placement with our message on stderr', async () => {
      const result = await local().kubectl(['apply', '-f', '-'], {
        input: deployment('typo', 'admission-input', { annotations: { [PLACEMENT_ANNOTATION]: 'Remot' } }),
      });
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.include(
        'kube-offload.io/placement: "Remot" is not one of Local, Remote, LocalAndRemote',
      );
      expect(await getObject(local(), 'deployment', 'typo', { namespace: 'admission-input' })).to.equal(undefined);
    });

    it('rejects an unparseable cluster selector with the reason', async () => {
      const result = await local().kubectl(['apply', '-f', '-'], {
        input: deployment('badsel', 'admission-input', { annotations: { [CLUSTERS_ANNOTATION]: 'tier in (gold' } }),
      });
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.include('kube-offload.io/clusters: "tier in (gold" is not a valid label selector');
    });

    it('rejects forged ownership keys', async () => {
      const result = await local().kubectl(['apply', '-f', '-'], {
        input: stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name: 'forged',
            namespace: 'admission-input',
            annotations: { 'kube-offload.io/origin': 'other/ns/name' },
          },
        }),
      });
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.include('kube-offload.io/origin');
    });

    it('prints a Warning when Remote matches no virtual node', async () => {
      const pod = stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'lonely',
          namespace: 'admission-input',
          annotations: {
            [PLACEMENT_ANNOTATION]: 'Remote',
            [CLUSTERS_ANNOTATION]: 'topology.kubernetes.io/region=mars',
          },
        },
        spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
      });
      const result = await local().kubectl(['apply', '-f', '-'], { input: pod });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).to.match(/Warning: kube-offload: placement Remote but no virtual node/);
    });

    it('supports kubectl apply --dry-run=server without creating anything', async () => {
      const pod = stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'dry', namespace: 'admission-input', annotations: { [PLACEMENT_ANNOTATION]: 'Remote' } },
        spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
      });
      const out = JSON.parse(
        await kubectlOk(local(), ['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: pod }),
      );
      expect(out.spec.tolerations.map((t: { key?: string }) => t.key)).to.include(VIRTUAL_NODE_TAINT_KEY);
      expect(JSON.stringify(out.spec.affinity)).to.include(VIRTUAL_NODE_LABEL);
      expect(await getObject(local(), 'pod', 'dry', { namespace: 'admission-input' })).to.equal(undefined);
    });
  });

  describe('replication stamps', () => {
    before(() => createNamespace('stamps', { optedIn: true }));

    const stampOf = (object: any) => ({
      annotation: object?.metadata?.annotations?.[REPLICATE_KEY],
      label: object?.metadata?.labels?.[REPLICATE_KEY],
    });

    it('stamps Services, Secrets and ConfigMaps, and respects the opt-out', async () => {
      await applyYaml(
        local(),
        [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'svc', namespace: 'stamps' },
            spec: { selector: { app: 'x' }, ports: [{ port: 80 }] },
          },
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'secret', namespace: 'stamps' },
            stringData: { password: 'not-logged' },
          },
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config', namespace: 'stamps' }, data: { a: '1' } },
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'private', namespace: 'stamps', annotations: { [REPLICATE_KEY]: 'false' } },
            data: { a: '1' },
          },
        ]
          .map((o) => stringify(o))
          .join('---\n'),
      );
      for (const [resource, name] of [
        ['service', 'svc'],
        ['secret', 'secret'],
        ['configmap', 'config'],
      ] as const) {
        expect(
          stampOf(await getObject(local(), resource, name, { namespace: 'stamps' })),
          `${resource}/${name}`,
        ).to.deep.equal({ annotation: 'true', label: 'true' });
      }
      expect(stampOf(await getObject(local(), 'configmap', 'private', { namespace: 'stamps' }))).to.deep.equal({
        annotation: 'false',
        label: 'false',
      });
    });

    /** Reviews the webhook has answered on one route (its metrics' label, e.g. "validate"). */
    const callsTo = async (webhook: string): Promise<number> => {
      const text = (await fetchWebhook('/metrics')).body;
      return [...text.matchAll(/^kube_offload_webhook_admission_requests_total\{([^}]*)\} (\d+)/gm)]
        .filter((m) => (m[1] as string).includes(`webhook="${webhook}"`))
        .reduce((sum, m) => sum + Number(m[2]), 0);
    };

    it('costs no validating call for our own stamp or a plain selector (matchConditions), but one for a selector CEL cannot vouch for', async () => {
      const validations = () => callsTo('validate');
      const before = await validations();
      await kubectlOk(local(), ['create', 'configmap', 'cheap', '-n', 'stamps', '--from-literal=k=v']);
      expect(stampOf(await getObject(local(), 'configmap', 'cheap', { namespace: 'stamps' }))).to.deep.equal({
        annotation: 'true',
        label: 'true',
      });
      expect(await validations()).to.equal(before);
      const pod = (name: string, clusters: string) =>
        stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: 'stamps', annotations: { [CLUSTERS_ANNOTATION]: clusters } },
          spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
        });
      await applyYaml(
        local(),
        pod('selective', 'topology.kubernetes.io/region in (eu-west,eu-central),kube-offload.io/remote-cluster!=lab'),
      );
      expect(await validations()).to.equal(before);
      // Gt is valid but outside the grammar the CEL pattern covers: the webhook checks it.
      await applyYaml(local(), pod('numeric', 'example.com/gpus>1'));
      expect(await validations()).to.equal(before + 1);
    });

    it('costs no stamping call for an object marked alike in both places; flipping one mark is sent and decided', async () => {
      const stampings = () => callsTo('mutate-replicated');
      const before = await stampings();
      const marks = { [REPLICATE_KEY]: 'true' };
      await applyYaml(
        local(),
        stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'marked', namespace: 'stamps', annotations: marks, labels: marks },
          data: { a: '1' },
        }),
      );
      expect(await stampings()).to.equal(before);
      await kubectlOk(local(), ['create', 'configmap', 'unmarked', '-n', 'stamps', '--from-literal=k=v']);
      expect(await stampings()).to.equal(before + 1);
      // Opting out through the annotation alone: the marks differ, so the webhook mirrors it.
      await kubectlOk(local(), [
        'annotate',
        'configmap',
        'marked',
        '-n',
        'stamps',
        `${REPLICATE_KEY}=false`,
        '--overwrite',
      ]);
      expect(await stampings()).to.equal(before + 2);
      expect(stampOf(await getObject(local(), 'configmap', 'marked', { namespace: 'stamps' }))).to.deep.equal({
        annotation: 'false',
        label: 'false',
      });
    });

    it('does not stamp kube-root-ca.crt, service-account tokens or Helm releases', async () => {
      await applyYaml(
        local(),
        [
          {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'kubernetes.io/service-account-token',
            metadata: {
              name: 'token',
              namespace: 'stamps',
              annotations: { 'kubernetes.io/service-account.name': 'default' },
            },
          },
          {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'helm.sh/release.v1',
            metadata: { name: 'sh.helm.release.v1.app.v1', namespace: 'stamps' },
            data: { release: Buffer.from('x').toString('base64') },
          },
        ]
          .map((o) => stringify(o))
          .join('---\n'),
      );
      const rootCa = await waitFor(() => getObject(local(), 'configmap', 'kube-root-ca.crt', { namespace: 'stamps' }), {
        description: 'kube-root-ca.crt',
      });
      expect(stampOf(rootCa)).to.deep.equal({ annotation: undefined, label: undefined });
      expect(stampOf(await getObject(local(), 'secret', 'token', { namespace: 'stamps' }))).to.deep.equal({
        annotation: undefined,
        label: undefined,
      });
      expect(
        stampOf(await getObject(local(), 'secret', 'sh.helm.release.v1.app.v1', { namespace: 'stamps' })),
      ).to.deep.equal({ annotation: undefined, label: undefined });
    });
  });

  describe('manifests and least privilege', () => {
    it('kubectl apply -k manifests/ --dry-run=server succeeds', async () => {
      const out = await kubectlOk(local(), ['apply', '-k', path.join(repoRoot(), 'manifests'), '--dry-run=server']);
      expect(out).to.match(
        /mutatingwebhookconfiguration.admissionregistration.k8s.io\/kube-offload (created|configured|unchanged) \(server dry run\)/,
      );
      expect(out).to.match(/deployment.apps\/kube-offload-webhook (created|configured|unchanged) \(server dry run\)/);
    });

    it('runs the webhook as its ServiceAccount, which cannot read Secrets cluster-wide', async () => {
      const canList = await local().kubectl([
        'auth',
        'can-i',
        'list',
        'secrets',
        '--all-namespaces',
        `--as=${SA_USER}`,
      ]);
      expect(canList.stdout.trim()).to.equal('no');
      const canWatchNamespaces = await local().kubectl(['auth', 'can-i', 'watch', 'namespaces', `--as=${SA_USER}`]);
      expect(canWatchNamespaces.stdout.trim()).to.equal('yes');
      // Its caches are synced under that identity (readyz) — the namespace default test above
      // also depends on them.
      const readyz = await fetchWebhook('/readyz');
      expect(readyz.status).to.equal(200);
    });
  });

  describe('certificate rotation', () => {
    it('keeps admitting across a renewal of a short-lived serving cert', async function () {
      this.timeout(CERT_VALIDITY_SECONDS * 2_000);
      await createNamespace('rotation', { optedIn: true });
      const first = await servedCertificate();
      let written = 0;
      // Keep writing until the served certificate changes; every write must be admitted and stamped.
      await waitFor(
        async () => {
          const name = `cm-${written++}`;
          await kubectlOk(local(), ['create', 'configmap', name, '-n', 'rotation', '--from-literal=k=v']);
          const cm = await getObject(local(), 'configmap', name, { namespace: 'rotation' });
          if (cm?.metadata?.labels?.[REPLICATE_KEY] !== 'true') throw new Error(`${name} was not stamped`);
          return (await servedCertificate()).fingerprint256 !== first.fingerprint256;
        },
        {
          description: 'the serving certificate to be renewed',
          timeoutMs: CERT_VALIDITY_SECONDS * 1_500,
          intervalMs: 1_000,
        },
      );
      // And after the renewal: a pod still gets placed.
      await applyYaml(
        local(),
        deployment('after-rotation', 'rotation', { replicas: 1, annotations: { [PLACEMENT_ANNOTATION]: 'Remote' } }),
      );
      expect(nodesOf(await scheduledPods('rotation', 'after-rotation', 1))).to.deep.equal([VIRTUAL_NODE]);
      expect(written).to.be.greaterThan(1);
    });
  });

  // Last: stops the webhook.
  describe('webhook down (failurePolicy as the README promises)', () => {
    before(async function () {
      this.timeout(60_000);
      await createNamespace('webhook-down', { optedIn: true });
      await createNamespace('webhook-down-plain', { optedIn: false });
      await webhook().stop();
    });

    it('fails closed for pods in opted-in namespaces (pods: Fail)', async () => {
      const result = await local().kubectl([
        'run',
        'blocked',
        '-n',
        'webhook-down',
        '--image=registry.k8s.io/pause:3.10',
      ]);
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.match(/failed calling webhook "pods.kube-offload.io"/);
    });

    it('fails closed for workloads that carry our keys (workloads and validation: Fail)', async () => {
      const result = await local().kubectl(['apply', '-f', '-'], {
        input: deployment('blocked', 'webhook-down', { annotations: { [PLACEMENT_ANNOTATION]: 'Remote' } }),
      });
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.match(/failed calling webhook "(workloads|validate)\.kube-offload\.io"/);
    });

    it('fails open for stamps (replicated: Ignore; the syncer backfills them)', async () => {
      await kubectlOk(local(), ['create', 'configmap', 'unstamped', '-n', 'webhook-down', '--from-literal=k=v']);
      const cm = await getObject(local(), 'configmap', 'unstamped', { namespace: 'webhook-down' });
      expect(cm.metadata.labels?.[REPLICATE_KEY]).to.equal(undefined);
    });

    it('does not affect namespaces that have not opted in', async () => {
      await kubectlOk(local(), ['run', 'free', '-n', 'webhook-down-plain', '--image=registry.k8s.io/pause:3.10']);
      await kubectlOk(local(), ['apply', '-f', '-'], {
        input: deployment('free', 'webhook-down-plain', { replicas: 1 }),
      });
    });
  });

  // --- TLS helpers ------------------------------------------------------------------------------

  async function servedCertificate(): Promise<crypto.X509Certificate> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: webhookPort, rejectUnauthorized: false }, () => {
        const cert = socket.getPeerX509Certificate();
        socket.end();
        if (!cert) reject(new Error('no certificate served'));
        else resolve(cert);
      });
      socket.once('error', reject);
    });
  }

  async function fetchWebhook(route: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: webhookPort, path: route, rejectUnauthorized: false }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.once('end', () => resolve({ status: response.statusCode ?? 0, body }));
        })
        .once('error', reject);
    });
  }
});
