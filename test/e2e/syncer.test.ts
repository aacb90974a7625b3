// e2e: the syncer on two real clusters (sandbox), running as a separate process under exactly
// the RBAC in manifests/syncer/ (local) and manifests/syncer/remote-rbac.yaml (remote), with
// ServiceAccount tokens from the TokenRequest API. Every test asserts the end state on both sides.
// No fixed sleeps: everything polls with a deadline (the only timed wait is the length of the
// remote outage, which is the scenario itself).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.ts';
import { remoteServiceAccountKubeconfig, serviceAccountKubeconfig } from '../../src/sandbox/identity.ts';
import { freePort } from '../../src/sandbox/util.ts';
import type { Cluster } from '../../src/sandbox/cluster.ts';
import { twinNamespaceName } from '../../src/common/twin.ts';
import {
  CLUSTERS_ANNOTATION,
  ENABLED_LABEL,
  MANAGED_BY_LABEL,
  ORIGIN_ANNOTATION,
  ORIGIN_CLUSTER_LABEL,
  ORIGIN_UID_ANNOTATION,
  REPLICATE_KEY,
} from '../../webhooks/keys.ts';
import { ComponentProcess, kubectlOk, useSandbox, waitFor } from './helpers/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLUSTER = 'local';
const REMOTE = 'remote';
const SYSTEM_NS = 'kube-offload-system';

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: any;
};

const STAMP = { labels: { [REPLICATE_KEY]: 'true' }, annotations: { [REPLICATE_KEY]: 'true' } };
const twin = (ns: string): string => twinNamespaceName(ns, CLUSTER);

describe('syncer (e2e, two real clusters)', function () {
  this.timeout(180_000);
  const env = useSandbox({});
  let local: KubeClient; // admin clients, for setting up and asserting
  let remote: KubeClient;
  let localCluster: Cluster;
  let remoteCluster: Cluster;
  let syncerArgs: string[];
  let workDir: string | undefined;
  const procs: ComponentProcess[] = [];
  let syncer: ComponentProcess;

  async function newSyncer(extra: string[] = []): Promise<ComponentProcess> {
    const p = new ComponentProcess({
      command: 'syncer',
      port: await freePort(),
      logFile: path.join(workDir as string, `syncer-${procs.length}.log`),
    });
    procs.push(p);
    p.start([...syncerArgs, ...extra]);
    return p;
  }

  async function waitLeading(p: ComponentProcess, timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => p.running() && (await p.metric('kube_offload_syncer_leader')) === 1, {
      timeoutMs,
      description: 'the syncer to lead with synced caches',
    });
  }

  /** Waits until the syncer has processed everything queued (reconcile count stable, queue empty). */
  // Generous: on a loaded 2-core machine a full resync of every key can take tens of seconds.
  async function waitQuiet(p: ComponentProcess, timeoutMs = 180_000): Promise<void> {
    let last = -1;
    await waitFor(
      async () => {
        // Backfill keys come back every --backfill-period, and a terminating twin is re-checked
        // every 5 s; neither counts as activity.
        const metric = 'kube_offload_syncer_reconcile_duration_seconds_count';
        const count =
          (await p.metric(metric)) -
          (await p.metric(metric, { kind: 'Backfill' })) -
          (await p.metric(metric, { kind: 'Namespace', result: 'wait' }));
        const depth = await p.metric('workqueue_depth');
        const stable = count === last && depth === 0 && count > 0;
        last = count;
        return stable;
      },
      { timeoutMs, intervalMs: 1000, description: 'the syncer to be idle' },
    );
  }

  const nsPath = (ns: string, resource: string, name?: string): string =>
    `${resource === 'endpointslices' ? '/apis/discovery.k8s.io/v1' : '/api/v1'}/namespaces/${ns}/${resource}${name ? `/${name}` : ''}`;

  async function getRemote(resource: string, ns: string, name: string): Promise<Obj | undefined> {
    return remote.getOrUndefined<Obj>(nsPath(twin(ns), resource, name));
  }

  async function createNamespace(name: string, opted = true, annotations: Record<string, string> = {}): Promise<void> {
    await local.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: opted ? { [ENABLED_LABEL]: 'true' } : {}, annotations },
    });
  }

  /** Events about an object; about a Namespace (ns === name) they live in "default". */
  async function events(ns: string, name: string, reason: string): Promise<Obj[]> {
    const where = ns === name ? 'default' : ns;
    const list = await local.list<Obj>(`/api/v1/namespaces/${where}/events`, {
      fieldSelector: `involvedObject.name=${name},reason=${reason}`,
    });
    return list.items;
  }

  const cm = (
    ns: string,
    name: string,
    data: Record<string, string>,
    meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = STAMP,
  ): Obj => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, labels: { ...(meta.labels ?? {}) }, annotations: { ...(meta.annotations ?? {}) } },
    data,
  });

  before(async function () {
    this.timeout(300_000);
    const sb = env.sandbox;
    localCluster = sb.local;
    remoteCluster = sb.remote;
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-syncer-e2e-'));
    local = new KubeClient(loadKubeConfig(sb.local.kubeconfigPath));
    remote = new KubeClient(loadKubeConfig(sb.remote.kubeconfigPath));

    // Exactly the RBAC of manifests/ on both sides, with TokenRequest tokens.
    const localKc = (
      await serviceAccountKubeconfig(sb.local, {
        namespace: SYSTEM_NS,
        name: 'kube-offload-syncer',
        file: path.join(workDir as string, 'local-syncer.kubeconfig'),
      })
    ).kubeconfigPath;
    const remoteKc = (
      await remoteServiceAccountKubeconfig(sb.remote, {
        rbacFile: path.join(ROOT, 'manifests/syncer/remote-rbac.yaml'),
        namespace: SYSTEM_NS,
        name: 'kube-offload-syncer-remote',
        file: path.join(workDir as string, 'remote-syncer.kubeconfig'),
      })
    ).kubeconfigPath;
    syncerArgs = [
      '--cluster-name',
      CLUSTER,
      '--kubeconfig',
      localKc,
      '--remote',
      `${REMOTE}=${remoteKc}`,
      '--remote-labels',
      `${REMOTE}=region=eu`,
      '--leader-elect',
      '--lease-namespace',
      SYSTEM_NS,
      '--lease-duration',
      '9s',
      '--resync-period',
      '20s',
      '--backfill-period',
      '3s',
      '--log-level',
      'debug',
    ];
    await createNamespace('shop');
    syncer = await newSyncer();
    await waitLeading(syncer);
  });

  after(async function () {
    this.timeout(60_000);
    for (const p of procs) await p.stop('SIGKILL');
    local?.close();
    remote?.close();
    if (workDir && !process.env.KEEP_SYNCER_LOGS) fs.rmSync(workDir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const p of procs) {
        if (!fs.existsSync(p.logFile)) continue;
        const all = fs.readFileSync(p.logFile, 'utf8').split('\n');
        const lines = all.filter((l) => !l.includes('"level":"debug"'));
        process.stderr.write(`--- ${p.logFile} (last non-debug lines)\n${lines.slice(-30).join('\n')}\n`);
        // What the syncer was busy with, debug included (a write loop shows up here at once).
        const counts = new Map<string, number>();
        for (const l of all) {
          const m = /"msg":"([^"]*)"/.exec(l);
          if (m) counts.set(m[1] as string, (counts.get(m[1] as string) ?? 0) + 1);
        }
        process.stderr.write(
          `--- messages by count: ${JSON.stringify(Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).slice(0, 15)))}\n`,
        );
      }
    }
  });

  it('creates the twin namespace with ownership marks', async () => {
    const ns = await waitFor(() => remote.getOrUndefined<Obj>(`/api/v1/namespaces/${twin('shop')}`), {
      description: 'twin namespace',
    });
    const localNs = await local.get<Obj>('/api/v1/namespaces/shop');
    expect(ns.metadata.labels).to.include({ [MANAGED_BY_LABEL]: 'kube-offload', [ORIGIN_CLUSTER_LABEL]: CLUSTER });
    expect(ns.metadata.annotations).to.include({
      [ORIGIN_ANNOTATION]: `${CLUSTER}/shop`,
      [ORIGIN_UID_ANNOTATION]: localNs.metadata.uid,
    });
  });

  it('propagates create, update and delete of ConfigMaps, Secrets and Services', async () => {
    await local.create(nsPath('shop', 'configmaps'), cm('shop', 'settings', { color: 'blue' }));
    await local.create(nsPath('shop', 'secrets'), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db', namespace: 'shop', ...STAMP },
      type: 'Opaque',
      data: { password: Buffer.from('s3cret').toString('base64') },
    });
    await local.create(nsPath('shop', 'services'), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'api', namespace: 'shop', ...STAMP },
      spec: { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });

    const rcm = await waitFor(() => getRemote('configmaps', 'shop', 'settings'), { description: 'ConfigMap copy' });
    expect(rcm.data).to.deep.equal({ color: 'blue' });
    const rsec = await waitFor(() => getRemote('secrets', 'shop', 'db'), { description: 'Secret copy' });
    expect(Buffer.from(rsec.data.password, 'base64').toString()).to.equal('s3cret');
    const rsvc = await waitFor(() => getRemote('services', 'shop', 'api'), { description: 'Service copy' });
    expect(rsvc.spec.ports).to.deep.equal([{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }]);

    await local.patch(nsPath('shop', 'configmaps', 'settings'), { data: { color: 'green', size: 'L' } });
    await local.patch(nsPath('shop', 'secrets', 'db'), { data: { password: Buffer.from('n3w').toString('base64') } });
    await local.patch(nsPath('shop', 'services', 'api'), {
      spec: { ports: [{ name: 'http', port: 80, targetPort: 9090 }] },
    });
    await waitFor(async () => (await getRemote('configmaps', 'shop', 'settings'))?.data?.size === 'L', {
      description: 'ConfigMap update',
    });
    await waitFor(
      async () => (await getRemote('secrets', 'shop', 'db'))?.data?.password === Buffer.from('n3w').toString('base64'),
      { description: 'Secret update' },
    );
    await waitFor(async () => (await getRemote('services', 'shop', 'api'))?.spec?.ports?.[0]?.targetPort === 9090, {
      description: 'Service update',
    });
    expect((await getRemote('configmaps', 'shop', 'settings'))?.data).to.deep.equal({ color: 'green', size: 'L' });

    await local.delete(nsPath('shop', 'configmaps', 'settings'));
    await local.delete(nsPath('shop', 'secrets', 'db'));
    await local.delete(nsPath('shop', 'services', 'api'));
    await waitFor(
      async () =>
        !(await getRemote('configmaps', 'shop', 'settings')) &&
        !(await getRemote('secrets', 'shop', 'db')) &&
        !(await getRemote('services', 'shop', 'api')),
      { description: 'copies deleted' },
    );
  });

  it('strips runtime and tracking metadata and transforms Services', async () => {
    const meta = {
      labels: {
        ...STAMP.labels,
        app: 'web',
        [MANAGED_BY_LABEL]: 'Helm',
        'helm.sh/chart': 'web-1.0.0',
        'argocd.argoproj.io/instance': 'web',
      },
      annotations: {
        ...STAMP.annotations,
        note: 'kept',
        'meta.helm.sh/release-name': 'web',
        'argocd.argoproj.io/tracking-id': 'x',
      },
    };
    // kubectl apply adds last-applied-configuration.
    await kubectlOk(localCluster, ['apply', '-n', 'shop', '-f', '-'], {
      input: JSON.stringify({
        ...cm('shop', 'tracked', { k: 'v' }, meta),
        metadata: { ...cm('shop', 'tracked', {}, meta).metadata, finalizers: ['example.com/hold'] },
      }),
    });
    await local.create(nsPath('shop', 'services'), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop', ...meta },
      spec: {
        type: 'NodePort',
        selector: { app: 'web' },
        ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
        externalTrafficPolicy: 'Local',
      },
    });
    await local.create(nsPath('shop', 'services'), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'headless', namespace: 'shop', ...STAMP },
      spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] },
    });

    const copy = await waitFor(() => getRemote('configmaps', 'shop', 'tracked'), { description: 'tracked copy' });
    const localCm = await local.get<Obj>(nsPath('shop', 'configmaps', 'tracked'));
    expect(localCm.metadata.annotations).to.have.property('kubectl.kubernetes.io/last-applied-configuration');
    expect(copy.metadata.labels).to.deep.equal({
      app: 'web',
      [MANAGED_BY_LABEL]: 'kube-offload',
      [ORIGIN_CLUSTER_LABEL]: CLUSTER,
    });
    expect(copy.metadata.annotations).to.deep.equal({
      note: 'kept',
      [ORIGIN_ANNOTATION]: `${CLUSTER}/shop/tracked`,
      [ORIGIN_UID_ANNOTATION]: localCm.metadata.uid,
    });
    expect(copy.metadata).to.not.have.property('ownerReferences');
    expect(copy.metadata).to.not.have.property('finalizers');
    expect(copy.metadata.uid).to.not.equal(localCm.metadata.uid);

    const svc = await waitFor(() => getRemote('services', 'shop', 'web'), { description: 'NodePort Service copy' });
    const localSvc = await local.get<Obj>(nsPath('shop', 'services', 'web'));
    expect(svc.spec.clusterIP).to.match(/^10\.97\./); // allocated by the remote, not copied
    expect(localSvc.spec.clusterIP).to.match(/^10\.96\./);
    expect(svc.spec.type).to.equal('NodePort');
    expect(svc.spec.externalTrafficPolicy).to.equal('Local');
    expect(svc.metadata.labels).to.not.have.property('helm.sh/chart');
    const headless = await waitFor(() => getRemote('services', 'shop', 'headless'), { description: 'headless copy' });
    expect(headless.spec.clusterIP).to.equal('None');
    await local.delete(nsPath('shop', 'configmaps', 'tracked'));
    await local
      .patch(nsPath('shop', 'configmaps', 'tracked'), { metadata: { finalizers: null } })
      .catch(() => undefined);
  });

  it('copies the EndpointSlices of replicated Services with our managed-by, and the remote controller leaves them alone', async () => {
    await local.create(nsPath('shop', 'services'), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend', namespace: 'shop', ...STAMP },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    await local.create(nsPath('shop', 'endpointslices'), {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'backend-x1',
        namespace: 'shop',
        labels: {
          'kubernetes.io/service-name': 'backend',
          'endpointslice.kubernetes.io/managed-by': 'e2e.example.com',
        },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.244.1.7'], conditions: { ready: true }, nodeName: 'worker-node-1' }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    const slice = await waitFor(() => getRemote('endpointslices', 'shop', 'backend-x1'), {
      description: 'EndpointSlice copy',
    });
    expect(slice.metadata.labels).to.include({
      'kubernetes.io/service-name': 'backend',
      'endpointslice.kubernetes.io/managed-by': 'kube-offload.io',
      [MANAGED_BY_LABEL]: 'kube-offload',
    });
    expect(slice.endpoints).to.deep.equal([{ addresses: ['10.244.1.7'], conditions: { ready: true } }]);
    await local.patch(nsPath('shop', 'endpointslices', 'backend-x1'), {
      endpoints: [{ addresses: ['10.244.2.9'], conditions: { ready: true } }],
    });
    await waitFor(
      async () =>
        (await getRemote('endpointslices', 'shop', 'backend-x1'))?.endpoints?.[0]?.addresses?.[0] === '10.244.2.9',
      { description: 'EndpointSlice update' },
    );
    // Un-stamping the Service removes its slices too.
    await local.patch(nsPath('shop', 'services', 'backend'), {
      metadata: { labels: { [REPLICATE_KEY]: 'false' }, annotations: { [REPLICATE_KEY]: 'false' } },
    });
    await waitFor(
      async () =>
        !(await getRemote('endpointslices', 'shop', 'backend-x1')) && !(await getRemote('services', 'shop', 'backend')),
      { description: 'slice and Service copies removed' },
    );
  });

  it('removes the copy when an object opts out', async () => {
    await local.create(nsPath('shop', 'configmaps'), cm('shop', 'optout', { a: '1' }));
    await waitFor(() => getRemote('configmaps', 'shop', 'optout'), { description: 'copy' });
    await local.patch(nsPath('shop', 'configmaps', 'optout'), {
      metadata: { labels: { [REPLICATE_KEY]: 'false' }, annotations: { [REPLICATE_KEY]: 'false' } },
    });
    await waitFor(async () => !(await getRemote('configmaps', 'shop', 'optout')), {
      description: 'copy removed after opt-out',
    });
    expect(await local.getOrUndefined(nsPath('shop', 'configmaps', 'optout'))).to.not.equal(undefined);
  });

  it('leaves a foreign same-named remote object untouched and says why in an Event', async () => {
    const foreign = await remote.create<Obj>(
      nsPath(twin('shop'), 'configmaps'),
      cm(twin('shop'), 'taken', { owner: 'someone else' }, {}),
    );
    const conflictsBefore = await syncer.metric('kube_offload_syncer_conflicts_total');
    await local.create(nsPath('shop', 'configmaps'), cm('shop', 'taken', { owner: 'us' }));
    const ev = await waitFor(async () => (await events('shop', 'taken', 'ReplicationConflict'))[0], {
      description: 'ReplicationConflict event',
    });
    expect(ev.message).to.contain('not managed by kube-offload');
    expect(ev.type).to.equal('Warning');
    expect(await syncer.metric('kube_offload_syncer_conflicts_total')).to.be.greaterThan(conflictsBefore);
    const after = await getRemote('configmaps', 'shop', 'taken');
    expect(after?.metadata.resourceVersion).to.equal(foreign.metadata.resourceVersion);
    expect(after?.data).to.deep.equal({ owner: 'someone else' });
    expect(after?.metadata.labels ?? {}).to.not.have.property(MANAGED_BY_LABEL);
  });

  it('repairs drift: a copy edited or deleted remotely is restored', async () => {
    await local.create(nsPath('shop', 'configmaps'), cm('shop', 'drift', { v: 'orig' }));
    const copy = await waitFor(() => getRemote('configmaps', 'shop', 'drift'), { description: 'copy' });
    await remote.patch(nsPath(twin('shop'), 'configmaps', 'drift'), {
      data: { v: 'tampered', extra: 'x' },
      metadata: { labels: { sneaky: 'yes' } },
    });
    await waitFor(
      async () => {
        const c = await getRemote('configmaps', 'shop', 'drift');
        return c?.data?.v === 'orig' && !c.data.extra && !c.metadata.labels?.sneaky;
      },
      { description: 'edited copy restored' },
    );
    await remote.delete(nsPath(twin('shop'), 'configmaps', 'drift'));
    const back = await waitFor(
      async () => {
        const c = await getRemote('configmaps', 'shop', 'drift');
        return c && c.metadata.uid !== copy.metadata.uid ? c : undefined;
      },
      { description: 'deleted copy recreated' },
    );
    expect(back.data).to.deep.equal({ v: 'orig' });
  });

  it('backfills stamps on unstamped objects, respecting opt-out and exclusions', async () => {
    await local.create(nsPath('shop', 'configmaps'), cm('shop', 'legacy', { old: 'yes' }, {}));
    await local.create(
      nsPath('shop', 'configmaps'),
      cm('shop', 'legacy-out', { old: 'no' }, { annotations: { [REPLICATE_KEY]: 'false' } }),
    );
    await local.create(nsPath('shop', 'serviceaccounts'), {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'bot', namespace: 'shop' },
    });
    await local.create(nsPath('shop', 'secrets'), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'bot-token', namespace: 'shop', annotations: { 'kubernetes.io/service-account.name': 'bot' } },
      type: 'kubernetes.io/service-account-token',
    });
    const stamped = await waitFor(
      async () => {
        const o = await local.get<Obj>(nsPath('shop', 'configmaps', 'legacy'));
        return o.metadata.labels?.[REPLICATE_KEY] === 'true' ? o : undefined;
      },
      { description: 'legacy ConfigMap stamped' },
    );
    expect(stamped.metadata.annotations?.[REPLICATE_KEY]).to.equal('true');
    await waitFor(() => getRemote('configmaps', 'shop', 'legacy'), { description: 'legacy copy' });
    await waitFor(
      async () =>
        (await local.get<Obj>(nsPath('shop', 'configmaps', 'legacy-out'))).metadata.labels?.[REPLICATE_KEY] === 'false',
      { description: 'opt-out mirrored into the label' },
    );
    expect(await getRemote('configmaps', 'shop', 'legacy-out')).to.equal(undefined);
    const root = await local.get<Obj>(nsPath('shop', 'configmaps', 'kube-root-ca.crt'));
    expect(root.metadata.labels ?? {}).to.not.have.property(REPLICATE_KEY);
    const token = await local.get<Obj>(nsPath('shop', 'secrets', 'bot-token'));
    expect(token.metadata.labels ?? {}).to.not.have.property(REPLICATE_KEY);
    expect(await getRemote('secrets', 'shop', 'bot-token')).to.equal(undefined);
    // The remote's own kube-root-ca.crt in the twin is not ours and stays the remote's.
    const rroot = await getRemote('configmaps', 'shop', 'kube-root-ca.crt');
    expect(rroot?.metadata.labels ?? {}).to.not.have.property(MANAGED_BY_LABEL);
  });

  it('never adopts a foreign namespace with the twin name, reports it, and carries on with the others', async () => {
    await remote.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: twin('blocked'), labels: { team: 'them' } },
    });
    await createNamespace('blocked');
    await local.create(nsPath('blocked', 'configmaps'), cm('blocked', 'x', { a: '1' }));
    await local.create(nsPath('shop', 'configmaps'), cm('shop', 'still-works', { a: '1' }));
    const ev = await waitFor(async () => (await events('blocked', 'blocked', 'ReplicationConflict'))[0], {
      description: 'namespace conflict event',
    });
    expect(ev.involvedObject.kind).to.equal('Namespace');
    await waitFor(() => getRemote('configmaps', 'shop', 'still-works'), {
      description: 'other namespaces keep syncing',
    });
    const foreignNs = await remote.get<Obj>(`/api/v1/namespaces/${twin('blocked')}`);
    expect(foreignNs.metadata.labels).to.not.have.property(MANAGED_BY_LABEL);
    expect(await getRemote('configmaps', 'blocked', 'x')).to.equal(undefined);
    // Opting out does not delete a namespace we do not own.
    await local.patch('/api/v1/namespaces/blocked', { metadata: { labels: { [ENABLED_LABEL]: null } } });
    await local.create(nsPath('shop', 'configmaps'), cm('shop', 'marker-1', { a: '1' }));
    await waitFor(() => getRemote('configmaps', 'shop', 'marker-1'), {
      description: 'marker copied (syncer processed the opt-out)',
    });
    expect(await remote.getOrUndefined(`/api/v1/namespaces/${twin('blocked')}`)).to.not.equal(undefined);
  });

  it('follows the namespace clusters selector, and removes the twin when the namespace opts out or is deleted', async () => {
    await createNamespace('picky', true, { [CLUSTERS_ANNOTATION]: 'region=us' });
    await local.create(nsPath('picky', 'configmaps'), cm('picky', 'c', { a: '1' }));
    await createNamespace('leaving');
    await local.create(nsPath('leaving', 'configmaps'), cm('leaving', 'c', { a: '1' }));
    await createNamespace('deleted');
    await local.create(nsPath('deleted', 'configmaps'), cm('deleted', 'c', { a: '1' }));
    await waitFor(
      async () => (await getRemote('configmaps', 'leaving', 'c')) && (await getRemote('configmaps', 'deleted', 'c')),
      { description: 'copies in the twins' },
    );
    expect(await remote.getOrUndefined(`/api/v1/namespaces/${twin('picky')}`)).to.equal(undefined);

    await local.patch('/api/v1/namespaces/picky', {
      metadata: { annotations: { [CLUSTERS_ANNOTATION]: 'region in (eu, us)' } },
    });
    await waitFor(() => getRemote('configmaps', 'picky', 'c'), {
      description: 'twin created once the selector matches',
    });

    await local.patch('/api/v1/namespaces/leaving', { metadata: { labels: { [ENABLED_LABEL]: 'false' } } });
    await local.delete('/api/v1/namespaces/deleted');
    await waitFor(
      async () => {
        const a = await remote.getOrUndefined(`/api/v1/namespaces/${twin('leaving')}`);
        const b = await remote.getOrUndefined(`/api/v1/namespaces/${twin('deleted')}`);
        return !a && !b;
      },
      { timeoutMs: 120_000, description: 'twins of the opted-out and the deleted namespace gone' },
    );
    expect(await local.getOrUndefined(nsPath('leaving', 'configmaps', 'c'))).to.not.equal(undefined);
  });

  it('status prints in sync, pending and conflict counts per namespace and remote', async () => {
    await waitQuiet(syncer);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          '--disable-warning=ExperimentalWarning',
          path.join(ROOT, 'src/cli.ts'),
          'status',
          '--cluster-name',
          CLUSTER,
          '--kubeconfig',
          localCluster.kubeconfigPath,
          '--remote',
          `${REMOTE}=${remoteCluster.kubeconfigPath}`,
          '-o',
          'json',
        ],
        { cwd: ROOT },
      );
      let text = '';
      child.stdout.on('data', (c) => (text += String(c)));
      child.stderr.on('data', (c) => process.stderr.write(String(c)));
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`status exited ${code}`))));
    });
    const { rows } = JSON.parse(out) as {
      rows: Array<{
        namespace: string;
        twinState: string;
        inSync: number;
        pending: number;
        conflict: number;
        lastError: string;
      }>;
    };
    const shop = rows.find((r) => r.namespace === 'shop');
    expect(shop).to.include({ twinState: 'ready', pending: 0, conflict: 1 });
    expect(shop?.inSync).to.be.greaterThan(3);
    expect(shop?.lastError).to.contain('ReplicationConflict');
    expect(rows.find((r) => r.namespace === 'blocked')).to.equal(undefined); // opted out above
  });

  it('watches outlive client timeouts: no watch errors or stalls after minutes of running', async function () {
    this.timeout(180_000);
    // client-node 2.0.0 aborted every watch after 30 s (its issue #3020): be up well past that.
    await waitFor(async () => Date.now() / 1000 - (await syncer.metric('process_start_time_seconds')) > 70, {
      timeoutMs: 120_000,
      intervalMs: 1000,
      description: 'the syncer to have run for 70 s',
    });
    const errors = await syncer.metric('kube_offload_syncer_watch_restarts_total', { reason: 'error' });
    const stalled = await syncer.metric('kube_offload_syncer_watch_restarts_total', { reason: 'stalled' });
    expect({ errors, stalled }).to.deep.equal({ errors: 0, stalled: 0 });
    const t0 = Date.now();
    await local.create(nsPath('shop', 'configmaps'), cm('shop', 'late', { a: '1' }));
    await waitFor(() => getRemote('configmaps', 'shop', 'late'), {
      timeoutMs: 5000,
      intervalMs: 50,
      description: 'prompt propagation over long-lived watches',
    });
    expect(Date.now() - t0).to.be.lessThan(5000);
  });

  it('makes zero writes when resyncing (and restarting over) an in-sync state', async function () {
    this.timeout(600_000);
    await waitQuiet(syncer);
    const before = await syncer.metric('kube_offload_syncer_writes_total');
    const reconcilesBefore = await syncer.metric('kube_offload_syncer_reconcile_duration_seconds_count');
    // The remote endpointslice controller publishes slices for our Service copies that have a
    // selector; they inherit the copies' labels (ours too) and must be left alone.
    const controllerSlices = async (): Promise<string[]> =>
      (
        await remote.list<Obj>(nsPath(twin('shop'), 'endpointslices'), {
          labelSelector: 'endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io',
        })
      ).items
        .map((o) => o.metadata.uid as string)
        .sort();
    const slicesBefore = await controllerSlices();
    expect(slicesBefore).to.not.deep.equal([]);
    // A periodic resync (every 20 s here) reconciles every key again.
    await waitFor(
      async () => (await syncer.metric('kube_offload_syncer_reconcile_duration_seconds_count')) > reconcilesBefore + 20,
      { timeoutMs: 60_000, description: 'a periodic resync' },
    );
    await waitQuiet(syncer);
    expect(await syncer.metric('kube_offload_syncer_writes_total')).to.equal(before);
    expect(await controllerSlices()).to.deep.equal(slicesBefore);
    // Restart: the new process compares everything from scratch and writes nothing.
    await syncer.stop('SIGTERM');
    syncer = await newSyncer();
    await waitLeading(syncer);
    await waitQuiet(syncer);
    expect(await syncer.metric('kube_offload_syncer_reconcile_duration_seconds_count')).to.be.greaterThan(20);
    expect(await syncer.metric('kube_offload_syncer_writes_total')).to.equal(0);
  });

  describe('faults', function () {
    this.timeout(600_000);
    const N = 500;
    const pad = (i: number): string => String(i).padStart(4, '0');

    async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
      let next = 0;
      await Promise.all(
        Array.from({ length: limit }, async () => {
          while (next < items.length) {
            const item = items[next++] as T;
            for (let attempt = 0; ; attempt++) {
              try {
                await fn(item);
                break;
              } catch (err) {
                if (attempt >= 5) throw err;
                await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
              }
            }
          }
        }),
      );
    }

    /** Local stamped ConfigMaps of ns vs our copies in its twin: equal names and data. */
    async function converged(ns: string): Promise<boolean> {
      const l = (await local.listAll<Obj>(nsPath(ns, 'configmaps'), { labelSelector: `${REPLICATE_KEY}=true` })).items;
      const r = (
        await remote.listAll<Obj>(nsPath(twin(ns), 'configmaps'), { labelSelector: `${MANAGED_BY_LABEL}=kube-offload` })
      ).items;
      if (l.length !== r.length) return false;
      const rm = new Map(r.map((o) => [o.metadata.name, o]));
      return l.every(
        (o) =>
          JSON.stringify(rm.get(o.metadata.name)?.data ?? null) === JSON.stringify(o.data ?? {}) &&
          rm.get(o.metadata.name)?.metadata.annotations?.[ORIGIN_UID_ANNOTATION] === o.metadata.uid,
      );
    }

    it(`converges after the remote apiserver is down ~30 s during a burst of ${N} writes`, async () => {
      await createNamespace('burst');
      const names = Array.from({ length: N }, (_, i) => `cm-${pad(i)}`);
      let outage: Promise<void> | undefined;
      let done = 0;
      await inParallel(names, 16, async (name) => {
        await local.create(nsPath('burst', 'configmaps'), cm('burst', name, { v: '1', blob: 'x'.repeat(1024) }));
        if (++done === 100) outage = remoteCluster.stopApiserver();
      });
      await outage;
      const downAt = Date.now();
      // While the remote is down: updates and deletes too.
      await inParallel(names.slice(0, 100), 16, (name) =>
        local.patch(nsPath('burst', 'configmaps', name), { data: { v: '2' } }),
      );
      await inParallel(names.slice(400), 16, (name) => local.delete(nsPath('burst', 'configmaps', name)));
      const rest = 30_000 - (Date.now() - downAt);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest)); // the outage itself
      await remoteCluster.startApiserver();
      await waitFor(() => converged('burst'), {
        timeoutMs: 180_000,
        intervalMs: 2000,
        description: 'burst namespace converged after the outage',
      });
      const copies = (
        await remote.listAll<Obj>(nsPath(twin('burst'), 'configmaps'), {
          labelSelector: `${MANAGED_BY_LABEL}=kube-offload`,
        })
      ).items;
      expect(copies).to.have.length(400);
      expect(copies.filter((c) => c.data?.v === '2')).to.have.length(100);
    });

    it('converges after the syncer is SIGKILLed mid-burst and restarted', async () => {
      await createNamespace('killed');
      const names = Array.from({ length: 300 }, (_, i) => `cm-${pad(i)}`);
      let done = 0;
      let killed: Promise<void> | undefined;
      await inParallel(names, 16, async (name) => {
        await local.create(nsPath('killed', 'configmaps'), cm('killed', name, { v: '1' }));
        if (++done === 100) killed = syncer.stop('SIGKILL');
      });
      await killed;
      await inParallel(names.slice(0, 50), 16, (name) => local.delete(nsPath('killed', 'configmaps', name)));
      syncer = await newSyncer();
      await waitLeading(syncer, 60_000);
      await waitFor(() => converged('killed'), {
        timeoutMs: 120_000,
        intervalMs: 2000,
        description: 'converged after SIGKILL',
      });
    });

    it('removes the copies of objects deleted while the syncer was down, leaving no orphans', async () => {
      await createNamespace('offline');
      await inParallel(
        Array.from({ length: 60 }, (_, i) => `cm-${pad(i)}`),
        16,
        (name) => local.create(nsPath('offline', 'configmaps'), cm('offline', name, { v: '1' })),
      );
      await waitFor(() => converged('offline'), { timeoutMs: 60_000, description: 'initial copies' });
      await createNamespace('offline-ns');
      await local.create(nsPath('offline-ns', 'configmaps'), cm('offline-ns', 'c', { v: '1' }));
      await waitFor(() => getRemote('configmaps', 'offline-ns', 'c'), { description: 'twin of offline-ns' });
      await waitQuiet(syncer);
      await syncer.stop('SIGTERM');
      await inParallel(
        Array.from({ length: 40 }, (_, i) => `cm-${pad(i)}`),
        16,
        (name) => local.delete(nsPath('offline', 'configmaps', name)),
      );
      await local.patch(nsPath('offline', 'configmaps', 'cm-0050'), {
        metadata: { labels: { [REPLICATE_KEY]: 'false' }, annotations: { [REPLICATE_KEY]: 'false' } },
      });
      await local.delete('/api/v1/namespaces/offline-ns');
      syncer = await newSyncer();
      await waitLeading(syncer);
      await waitFor(() => converged('offline'), {
        timeoutMs: 60_000,
        description: 'copies of deleted objects removed',
      });
      const left = (
        await remote.listAll<Obj>(nsPath(twin('offline'), 'configmaps'), {
          labelSelector: `${MANAGED_BY_LABEL}=kube-offload`,
        })
      ).items;
      expect(left).to.have.length(19);
      await waitFor(async () => !(await remote.getOrUndefined(`/api/v1/namespaces/${twin('offline-ns')}`)), {
        timeoutMs: 120_000,
        description: 'twin of the deleted namespace gone',
      });
    });

    it('a standby takes over when the leader is killed, and converges', async () => {
      const standby = await newSyncer();
      await waitFor(() => standby.ready(), { timeoutMs: 60_000, description: 'standby caches synced' });
      expect(await standby.metric('kube_offload_syncer_leader')).to.equal(0);
      await createNamespace('failover');
      await syncer.stop('SIGKILL');
      const killedAt = Date.now();
      await inParallel(
        Array.from({ length: 50 }, (_, i) => `cm-${pad(i)}`),
        16,
        (name) => local.create(nsPath('failover', 'configmaps'), cm('failover', name, { v: '1' })),
      );
      await waitLeading(standby, 30_000);
      const tookOverMs = Date.now() - killedAt;
      expect(tookOverMs).to.be.lessThan(9_000 + 5_000); // lease duration (9 s here) + polling slack
      await waitFor(() => converged('failover'), { timeoutMs: 60_000, description: 'converged after failover' });
      syncer = standby;
    });
  });
});
