// e2e: the virtual node provider on two real clusters (sandbox), running as a separate process
// under exactly the RBAC of manifests/virtual-node/ (local) and
// manifests/virtual-node/remote-rbac.yaml (remote), with ServiceAccount tokens.
//
// The webhook and the syncer are NOT running here: pods are placed on the virtual node the way
// the webhook would (toleration + node selector), and the copies the syncer would make in the
// twin namespace are created by the test, so every assertion is about the provider alone.
// No fixed sleeps: everything polls with a deadline.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.ts';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import { remoteServiceAccountKubeconfig, serviceAccountKubeconfig } from '../../src/sandbox/identity.ts';
import { freePort } from '../../src/sandbox/util.ts';
import { twinNamespaceName } from '../../src/common/twin.ts';
import {
  LIQO_CONVENTION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_ANNOTATION,
  ORIGIN_CLUSTER_LABEL,
  ORIGIN_UID_ANNOTATION,
  REMOTE_CLUSTER_LABEL,
} from '../../webhooks/keys.ts';
import { ComponentProcess, useSandbox, waitFor } from './helpers/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLUSTER = 'local';
const REMOTE = 'remote';
const NODE = `virtual-${REMOTE}`;
const SYSTEM_NS = 'kube-offload-system';
const NS = 'shop';
const TWIN = twinNamespaceName(NS, CLUSTER);

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  spec?: any;
  status?: any;
};

describe('virtual node provider (e2e, two real clusters)', function () {
  this.timeout(240_000);
  const env = useSandbox({});
  let local: KubeClient;
  let remote: KubeClient;
  let localCluster: Cluster;
  let remoteCluster: Cluster;
  let workDir: string;
  let args: string[];
  const procs: ComponentProcess[] = [];
  let provider: ComponentProcess;

  async function newProvider(): Promise<ComponentProcess> {
    const p = new ComponentProcess({
      command: 'virtual-node',
      port: await freePort(),
      logFile: path.join(workDir, `provider-${procs.length}.log`),
      metricsHost: '127.0.0.1',
      // Without POD_IP the provider's --node-ip default is 127.0.0.1, wherever the test runs.
      env: { POD_IP: '' },
    });
    procs.push(p);
    p.start(args);
    await waitFor(() => p.ready(), { timeoutMs: 60_000, description: 'the provider to register its node (readyz)' });
    return p;
  }

  const podsPath = (ns: string, name?: string): string => `/api/v1/namespaces/${ns}/pods${name ? `/${name}` : ''}`;
  const listLocal = async (selector: string): Promise<Obj[]> =>
    (await local.list<Obj>(podsPath(NS), { labelSelector: selector })).items;
  const listRemote = async (selector: string): Promise<Obj[]> =>
    (await remote.list<Obj>(podsPath(TWIN), { labelSelector: selector })).items;
  const getNode = async (): Promise<Obj | undefined> => local.getOrUndefined<Obj>(`/api/v1/nodes/${NODE}`);
  const nodeReady = (node: Obj | undefined): string | undefined =>
    (node?.status?.conditions as Array<{ type: string; status: string }> | undefined)?.find((c) => c.type === 'Ready')
      ?.status;

  /** A Deployment placed on the virtual node the way the webhook places placement Remote. */
  function deployment(name: string, replicas: number, extra: Record<string, unknown> = {}): Obj {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: NS },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            terminationGracePeriodSeconds: 5,
            tolerations: [
              {
                key: LIQO_CONVENTION.taintKey,
                operator: 'Equal',
                value: LIQO_CONVENTION.taintValue,
                effect: LIQO_CONVENTION.taintEffect,
              },
            ],
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    {
                      matchExpressions: [
                        { key: LIQO_CONVENTION.labelKey, operator: 'In', values: [LIQO_CONVENTION.labelValue] },
                      ],
                    },
                  ],
                },
              },
            },
            containers: [{ name: 'app', image: 'nginx:1.27', resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
            ...extra,
          },
        },
      },
    };
  }

  /** A copy as the syncer makes it: in the twin namespace, with our ownership marks. */
  function copy(kind: 'ConfigMap' | 'Secret', name: string, data: Record<string, string>): Obj {
    return {
      apiVersion: 'v1',
      kind,
      metadata: {
        name,
        namespace: TWIN,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [ORIGIN_CLUSTER_LABEL]: CLUSTER },
        annotations: { [ORIGIN_ANNOTATION]: `${CLUSTER}/${NS}/${name}` },
      },
      ...(kind === 'Secret' ? { stringData: data } : { data }),
    };
  }

  /** Every local pod of `app` Running on the virtual node, each mirroring its remote pod. */
  async function allMirrored(app: string, replicas: number): Promise<{ local: Obj[]; remote: Obj[] } | undefined> {
    const [lp, rp] = await Promise.all([listLocal(`app=${app}`), listRemote(`app=${app}`)]);
    const live = lp.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Failed');
    if (live.length !== replicas || rp.length !== replicas) return undefined;
    const byName = new Map(rp.map((p) => [p.metadata.name, p]));
    for (const p of live) {
      const r = byName.get(p.metadata.name);
      if (!r || p.spec?.nodeName !== NODE || p.status?.phase !== 'Running' || r.status?.phase !== 'Running')
        return undefined;
      if (!p.status?.podIP || p.status.podIP !== r.status?.podIP || !p.status.podIP.startsWith('172.16.'))
        return undefined;
      if (p.status?.hostIP !== '127.0.0.1' || r.metadata.annotations?.[ORIGIN_UID_ANNOTATION] !== p.metadata.uid)
        return undefined;
      const ready = (p.status?.conditions as Array<{ type: string; status: string }>).find((c) => c.type === 'Ready');
      if (ready?.status !== 'True' || p.status?.containerStatuses?.[0]?.ready !== true) return undefined;
    }
    return { local: live, remote: rp };
  }

  before(async function () {
    this.timeout(300_000);
    const sb = env.sandbox;
    localCluster = sb.local;
    remoteCluster = sb.remote;
    workDir = fs.mkdtempSync(path.join(sb.dir, 'virtualnode-e2e-'));
    local = new KubeClient(loadKubeConfig(sb.local.kubeconfigPath));
    remote = new KubeClient(loadKubeConfig(sb.remote.kubeconfigPath));

    // Exactly the RBAC of manifests/ on both sides, with TokenRequest tokens.
    const localKc = (
      await serviceAccountKubeconfig(sb.local, {
        namespace: SYSTEM_NS,
        name: 'kube-offload-virtual-node',
        file: path.join(workDir, 'local-vn.kubeconfig'),
      })
    ).kubeconfigPath;
    const remoteKc = (
      await remoteServiceAccountKubeconfig(sb.remote, {
        rbacFile: path.join(ROOT, 'manifests/virtual-node/remote-rbac.yaml'),
        namespace: SYSTEM_NS,
        name: 'kube-offload-virtual-node-remote',
        file: path.join(workDir, 'remote-vn.kubeconfig'),
      })
    ).kubeconfigPath;
    args = [
      '--cluster-name',
      CLUSTER,
      '--kubeconfig',
      localKc,
      '--remote',
      `${REMOTE}=${remoteKc}`,
      '--probe-interval',
      '1s',
      '--unreachable-after',
      '2',
      '--lease-interval',
      '3s',
      '--references-warn-after',
      '2s',
      '--leader-elect',
      '--leader-elect-namespace',
      SYSTEM_NS,
      '--log-level',
      'debug',
    ];
    await local.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    provider = await newProvider();
  });

  after(async function () {
    this.timeout(60_000);
    for (const p of procs) await p.stop('SIGKILL');
    local?.close();
    remote?.close();
    if (this.currentTest?.state === 'failed' || process.env.KEEP_PROVIDER_LOGS) {
      for (const p of procs)
        process.stderr.write(
          `--- ${p.logFile}\n${fs.readFileSync(p.logFile, 'utf8').split('\n').slice(-60).join('\n')}\n`,
        );
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const p of procs)
        process.stderr.write(
          `--- ${p.logFile}\n${fs.readFileSync(p.logFile, 'utf8').split('\n').slice(-60).join('\n')}\n`,
        );
    }
  });

  it('registers a Ready virtual node with the remote capacity, topology labels, taint and a Lease', async () => {
    const node = await waitFor(
      async () => {
        const n = await getNode();
        return nodeReady(n) === 'True' ? n : undefined;
      },
      { description: 'the virtual node to be Ready' },
    );
    expect(node.metadata.labels).to.include({
      [LIQO_CONVENTION.labelKey]: LIQO_CONVENTION.labelValue,
      [REMOTE_CLUSTER_LABEL]: REMOTE,
      'kubernetes.io/hostname': NODE,
      'topology.kubernetes.io/region': 'eu-west',
    });
    expect(node.metadata.labels).to.not.have.property('topology.kubernetes.io/zone'); // three zones remotely
    expect(node.metadata.labels?.type).to.not.equal('kwok');
    expect(node.spec?.taints).to.deep.include({
      key: LIQO_CONVENTION.taintKey,
      value: LIQO_CONVENTION.taintValue,
      effect: LIQO_CONVENTION.taintEffect,
    });
    // The sum of the three remote nodes (8 cpu, 32Gi, 110 pods each).
    expect(node.status?.capacity).to.include({ cpu: '24', memory: '96Gi', pods: '330' });
    expect(node.status?.allocatable).to.include({ cpu: '24', memory: '96Gi', pods: '330' });
    expect(node.status?.addresses).to.deep.include({ type: 'InternalIP', address: '127.0.0.1' });
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`;
    const first = await local.get<Obj>(leasePath);
    expect(first.spec?.holderIdentity).to.equal(NODE);
    await waitFor(async () => (await local.get<Obj>(leasePath)).spec?.renewTime !== first.spec?.renewTime, {
      timeoutMs: 20_000,
      description: 'the node Lease to be renewed',
    });
  });

  it('runs a pod in the twin namespace once its ConfigMap and Secret are there, and mirrors its status', async () => {
    const dep = deployment('web', 1, {});
    const container = dep.spec.template.spec.containers[0];
    container.envFrom = [{ configMapRef: { name: 'web-config' } }];
    container.env = [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'web-secret', key: 'token' } } }];
    dep.spec.template.spec.tolerations.push({ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' });
    await local.create(`/apis/apps/v1/namespaces/${NS}/deployments`, dep);

    // Bound to the virtual node, but held back: the references are not in the twin namespace.
    const [pod] = await waitFor(
      async () => {
        const pods = await listLocal('app=web');
        return pods.length === 1 && pods[0]?.spec?.nodeName === NODE ? pods : undefined;
      },
      { description: 'the pod to be bound to the virtual node' },
    );
    await waitFor(
      async () => {
        const evs = (
          await local.list<Obj & { reason?: string; message?: string }>(`/api/v1/namespaces/${NS}/events`, {
            fieldSelector: `involvedObject.name=${pod!.metadata.name},reason=MissingReferences`,
          })
        ).items;
        return (
          evs.length > 0 &&
          evs[0]?.message?.includes('configmap/web-config') &&
          evs[0]?.message?.includes('secret/web-secret')
        );
      },
      { timeoutMs: 30_000, description: 'a MissingReferences event' },
    );
    expect(await listRemote('app=web')).to.have.length(0);

    // The syncer's part: twin namespace and copies.
    await remote.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: TWIN, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [ORIGIN_CLUSTER_LABEL]: CLUSTER } },
    });
    await remote.create(
      `/api/v1/namespaces/${TWIN}/configmaps`,
      copy('ConfigMap', 'web-config', { GREETING: 'hello' }),
    );
    await remote.create(`/api/v1/namespaces/${TWIN}/secrets`, copy('Secret', 'web-secret', { token: 's3cret' }));

    const {
      local: [lp],
      remote: [rp],
    } = await waitFor(() => allMirrored('web', 1), {
      timeoutMs: 60_000,
      description: 'the pod to run remotely and show Running locally',
    });
    expect(rp!.metadata.name).to.equal(lp!.metadata.name);
    expect(rp!.metadata.labels).to.include({
      app: 'web',
      [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
      [ORIGIN_CLUSTER_LABEL]: CLUSTER,
    });
    expect(rp!.metadata.annotations).to.include({
      [ORIGIN_ANNOTATION]: `${CLUSTER}/${NS}/${lp!.metadata.name}`,
      [ORIGIN_UID_ANNOTATION]: lp!.metadata.uid,
    });
    expect(rp!.spec.tolerations.map((t: { key?: string }) => t.key))
      .to.include('dedicated')
      .and.not.include(LIQO_CONVENTION.taintKey);
    expect(rp!.spec.affinity).to.equal(undefined);
    expect(rp!.spec.automountServiceAccountToken).to.equal(false);
    expect(rp!.spec.serviceAccountName).to.equal('default');
    expect(rp!.spec.volumes ?? []).to.deep.equal([]);
    expect(rp!.spec.nodeName).to.match(/^remote-node-/);
    expect(lp!.status.startTime).to.equal(rp!.status.startTime);
    expect(lp!.status.containerStatuses).to.deep.equal(rp!.status.containerStatuses);
  });

  it('creates the twin namespace itself when a pod comes first', async () => {
    const ns = 'lonely';
    const twin = twinNamespaceName(ns, CLUSTER);
    await local.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const dep = deployment('solo', 1);
    dep.metadata.namespace = ns;
    await local.create(`/apis/apps/v1/namespaces/${ns}/deployments`, dep);
    await waitFor(
      async () => {
        const pods = (await local.list<Obj>(podsPath(ns), { labelSelector: 'app=solo' })).items;
        return pods.length === 1 && pods[0]?.status?.phase === 'Running' && pods[0].status.podIP?.startsWith('172.16.');
      },
      { description: 'the pod to run in a twin namespace the provider created' },
    );
    const twinNs = await remote.get<Obj>(`/api/v1/namespaces/${twin}`);
    expect(twinNs.metadata.labels).to.include({
      [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
      [ORIGIN_CLUSTER_LABEL]: CLUSTER,
    });
  });

  it('scales to 50 replicas on the virtual node, all Running with their status mirrored', async function () {
    this.timeout(180_000);
    await local.create(`/apis/apps/v1/namespaces/${NS}/deployments`, deployment('scale', 50));
    const t0 = Date.now();
    const { local: lp } = await waitFor(() => allMirrored('scale', 50), {
      timeoutMs: 150_000,
      intervalMs: 1000,
      description: '50 pods Running with mirrored status',
    });
    process.stderr.write(`      50 replicas Running (mirrored) after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    expect(new Set(lp.map((p) => p.status.podIP)).size).to.equal(50);
  });

  it('a graceful local delete deletes the remote pod, finalizes the local one, and the replacement runs', async () => {
    const before = (await allMirrored('web', 1))!;
    const victim = before.local[0]!;
    await local.delete(podsPath(NS, victim.metadata.name));
    await waitFor(async () => (await remote.getOrUndefined(podsPath(TWIN, victim.metadata.name))) === undefined, {
      description: 'the remote pod to be deleted',
    });
    await waitFor(async () => (await local.getOrUndefined(podsPath(NS, victim.metadata.name))) === undefined, {
      description: 'the local pod to be finalized',
    });
    const after = await waitFor(() => allMirrored('web', 1), {
      timeoutMs: 60_000,
      description: 'the replacement to run',
    });
    expect(after.local[0]!.metadata.name).to.not.equal(victim.metadata.name);
  });

  it('a remote pod that vanishes fails the local pod (RemotePodLost) and the Deployment replaces it', async () => {
    const before = (await allMirrored('web', 1))!;
    const victim = before.remote[0]!;
    await remote.delete(podsPath(TWIN, victim.metadata.name), { gracePeriodSeconds: 0 });
    const failed = await waitFor(
      async () => {
        const p = await local.getOrUndefined<Obj>(podsPath(NS, victim.metadata.name));
        return p?.status?.phase === 'Failed' ? p : undefined;
      },
      { description: 'the local pod to fail' },
    );
    expect(failed.status.reason).to.equal('RemotePodLost');
    const after = await waitFor(() => allMirrored('web', 1), {
      timeoutMs: 60_000,
      description: 'the replacement to run',
    });
    expect(after.local[0]!.metadata.name).to.not.equal(victim.metadata.name);
    // The failed pod is not brought back to life: no remote pod for it.
    expect(await remote.getOrUndefined(podsPath(TWIN, victim.metadata.name))).to.equal(undefined);
    await local.delete(podsPath(NS, victim.metadata.name));
  });

  it('reflects a remote container restart', async () => {
    const {
      remote: [rp],
    } = (await allMirrored('web', 1))!;
    const statuses = rp!.status.containerStatuses.map((s: { restartCount: number }) => ({
      ...s,
      restartCount: s.restartCount + 1,
      lastState: {
        terminated: { exitCode: 1, reason: 'Error', startedAt: rp!.status.startTime, finishedAt: rp!.status.startTime },
      },
    }));
    await remote.patch(
      `${podsPath(TWIN, rp!.metadata.name)}/status`,
      { status: { containerStatuses: statuses } },
      'strategic',
    );
    await waitFor(
      async () => {
        const lp = await local.get<Obj>(podsPath(NS, rp!.metadata.name));
        return (
          lp.status?.containerStatuses?.[0]?.restartCount === statuses[0].restartCount &&
          lp.status.containerStatuses[0].lastState?.terminated?.reason === 'Error'
        );
      },
      { description: 'the restart count to be mirrored' },
    );
  });

  it('a provider restart neither deletes nor duplicates remote pods', async () => {
    const before = (await allMirrored('scale', 50))!;
    const uids = new Set(before.remote.map((p) => p.metadata.uid));
    await provider.stop('SIGKILL');
    provider = await newProvider(); // waits for the Lease of the killed one to expire
    await waitFor(
      async () => (await provider.metric('kube_offload_virtual_node_reconcile_duration_seconds_count')) >= 50,
      { description: 'the new provider to reconcile every pod' },
    );
    const after = await waitFor(() => allMirrored('scale', 50), { description: 'all 50 still mirrored' });
    expect(new Set(after.remote.map((p) => p.metadata.uid))).to.deep.equal(uids);
    expect(
      await provider.metric('kube_offload_virtual_node_writes_total', { side: 'remote', verb: 'create-pod' }),
    ).to.equal(0);
    expect(
      await provider.metric('kube_offload_virtual_node_writes_total', { side: 'remote', verb: 'delete-pod' }),
    ).to.equal(0);
  });

  it('the node turns NotReady while the remote apiserver is down and Ready when it is back, with no pods duplicated', async function () {
    this.timeout(180_000);
    const before = (await allMirrored('scale', 50))!;
    const uids = new Set(before.remote.map((p) => p.metadata.uid));
    await remoteCluster.stopApiserver();
    try {
      await waitFor(async () => nodeReady(await getNode()) === 'False', {
        timeoutMs: 30_000,
        description: 'the virtual node to turn NotReady',
      });
      const node = (await getNode())!;
      const ready = (node.status.conditions as Array<{ type: string; reason?: string }>).find(
        (c) => c.type === 'Ready',
      );
      expect(ready?.reason).to.equal('RemoteClusterUnreachable');
    } finally {
      await remoteCluster.startApiserver();
    }
    await waitFor(async () => nodeReady(await getNode()) === 'True', {
      timeoutMs: 60_000,
      description: 'the virtual node to be Ready again',
    });
    const after = await waitFor(() => allMirrored('scale', 50), {
      timeoutMs: 90_000,
      intervalMs: 1000,
      description: 'all 50 pods Running and mirrored again',
    });
    expect(new Set(after.remote.map((p) => p.metadata.uid))).to.deep.equal(uids);
    expect(await localCluster.kubectl(['get', 'pods', '-n', NS])).to.have.property('code', 0);
  });
});
