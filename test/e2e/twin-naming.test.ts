// e2e: kube-offload.io/twin-name on two real control planes (KWOK workers), driven with kubectl
// and `kube-offload status` as a user would, with the webhook, the syncer and the provider running
// under the RBAC of manifests/. What it shows: the webhook's verdicts on the key (the matchCondition
// included), a SameName namespace's twin, copies and offloaded pod under the namespace's own name,
// and a remote namespace of that name that kube-offload does not own: reported (Event, status,
// the pod's reason), never written into, and taken over only once it is gone. DNS across the
// clusters needs real nodes: test/e2e/realnode-twin-naming.ts. No fixed sleeps.
import { expect } from 'chai';
import { stringify } from 'yaml';
import { kubeOffloadComponents } from '../../src/dev/components.ts';
import { SANDBOX_CLUSTER_NAME } from '../../src/dev/peers.ts';
import { SANDBOX_VIRTUAL_NODE } from '../../src/dev/virtual-node.ts';
import {
  ENABLED_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  ORIGIN_ANNOTATION,
  PLACEMENT_ANNOTATION,
  TWIN_NAME_ANNOTATION,
} from '../../webhooks/keys.ts';
import { kubeOffload } from './helpers/cli.ts';
import { applyYaml, getItems, getObject, kubectlOk, useSandbox, waitFor } from './helpers/index.ts';

interface Obj {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { nodeName?: string };
  status?: { phase?: string; reason?: string; message?: string };
}
interface EventObj {
  reason: string;
  type: string;
  message: string;
  involvedObject: { kind: string; name: string };
}

function namespaceYaml(name: string, naming: string | undefined): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: { [ENABLED_LABEL]: 'true' },
      ...(naming ? { annotations: { [TWIN_NAME_ANNOTATION]: naming } } : {}),
    },
  });
}

/** A ConfigMap and a one-pod Deployment placed Remote, which mounts it. */
function appYaml(namespace: string): string {
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'settings', namespace },
    data: { a: '1' },
  };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'app', namespace, annotations: { [PLACEMENT_ANNOTATION]: 'Remote' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'app' } },
      template: {
        metadata: { labels: { app: 'app' } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'app',
              image: 'registry.k8s.io/pause:3.10',
              envFrom: [{ configMapRef: { name: 'settings' } }],
              resources: { requests: { cpu: '10m', memory: '16Mi' } },
            },
          ],
        },
      },
    },
  };
  return `${stringify(configMap)}---\n${stringify(deployment)}`;
}

describe('twin naming: kube-offload.io/twin-name (e2e, two clusters, KWOK workers)', function () {
  this.timeout(240_000);
  const env = useSandbox({ components: kubeOffloadComponents });
  const local = () => env.sandbox.local;
  const remote = () => env.sandbox.remote;

  /** The local pod of the app in `namespace` (there is one). */
  const localPod = async (namespace: string): Promise<Obj | undefined> =>
    (await getItems<Obj>(local(), 'pods', { namespace, selector: 'app=app' }))[0];

  /** Warning Events about the Namespace itself (cluster-scoped: recorded in `default`). */
  const namespaceEvents = async (namespace: string, reason: string): Promise<EventObj[]> =>
    (await getItems<EventObj>(local(), 'events', { namespace: 'default' })).filter(
      (e) => e.involvedObject.kind === 'Namespace' && e.involvedObject.name === namespace && e.reason === reason,
    );

  /** `kube-offload status -o json`'s row of one namespace. */
  const statusRow = async (namespace: string): Promise<Record<string, unknown> | undefined> => {
    const out = await kubeOffload(['status', '--kubeconfig', local().kubeconfigPath, '-o', 'json']);
    if (out.code !== 0) throw new Error(`kube-offload status exited ${out.code}: ${out.stderr}`);
    const rows = (JSON.parse(out.stdout) as { rows: Array<Record<string, unknown>> }).rows;
    return rows.find((row) => row.namespace === namespace);
  };

  describe('the validating webhook', () => {
    it('rejects a value other than ClusterSuffix or SameName, naming key, value and the allowed values', async () => {
      const result = await local().kubectl(['apply', '-f', '-'], { input: namespaceYaml('naming-typo', 'Samename') });
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.include('kube-offload.io/twin-name: "Samename" is not one of ClusterSuffix, SameName');
      expect(await getObject(local(), 'namespace', 'naming-typo')).to.equal(undefined);
    });

    it('refuses to change the naming of an opted-in namespace (removing the key too), allows it once opted out', async () => {
      await applyYaml(local(), namespaceYaml('naming-change', 'SameName'));
      const change = await local().kubectl([
        'annotate',
        '--overwrite',
        'namespace',
        'naming-change',
        `${TWIN_NAME_ANNOTATION}=ClusterSuffix`,
      ]);
      expect(change.code).to.not.equal(0);
      expect(change.stderr).to.include(
        'kube-offload.io/twin-name: may not change from "SameName" to "ClusterSuffix" while the namespace is opted in',
      );
      // The new object has no key of ours left: only the matchCondition on oldObject sends it.
      const removal = await local().kubectl(['annotate', 'namespace', 'naming-change', `${TWIN_NAME_ANNOTATION}-`]);
      expect(removal.code).to.not.equal(0);
      expect(removal.stderr).to.include('may not change from "SameName" to "ClusterSuffix"');
      await kubectlOk(local(), ['label', '--overwrite', 'namespace', 'naming-change', `${ENABLED_LABEL}=false`]);
      await kubectlOk(local(), ['annotate', 'namespace', 'naming-change', `${TWIN_NAME_ANNOTATION}-`]);
      const after = await getObject<Obj>(local(), 'namespace', 'naming-change');
      expect(after?.metadata.annotations?.[TWIN_NAME_ANNOTATION]).to.equal(undefined);
    });
  });

  it('runs a SameName namespace under its own name in the remote: twin, copies, the offloaded pod, status', async () => {
    const ns = 'store';
    await applyYaml(local(), namespaceYaml(ns, 'SameName'));
    await applyYaml(local(), appYaml(ns));
    const twin = await waitFor(() => getObject<Obj>(remote(), 'namespace', ns), {
      description: `remote namespace ${ns}`,
    });
    expect(twin.metadata.labels?.[MANAGED_BY_LABEL]).to.equal(MANAGED_BY_VALUE);
    expect(twin.metadata.annotations?.[ORIGIN_ANNOTATION]).to.equal(`${SANDBOX_CLUSTER_NAME}/${ns}`);
    expect(await getObject(remote(), 'namespace', `${ns}-${SANDBOX_CLUSTER_NAME}`)).to.equal(undefined);
    await waitFor(() => getObject(remote(), 'configmap', 'settings', { namespace: ns }), {
      description: `the ConfigMap copied into remote namespace ${ns}`,
    });
    const pod = await waitFor(
      async () => {
        const found = await localPod(ns);
        return found?.status?.phase === 'Running' ? found : undefined;
      },
      { description: `the offloaded pod of ${ns} Running`, timeoutMs: 90_000 },
    );
    expect(pod.spec?.nodeName).to.equal(SANDBOX_VIRTUAL_NODE);
    const remotePod = await getObject<Obj>(remote(), 'pod', pod.metadata.name, { namespace: ns });
    expect(remotePod?.status?.phase).to.equal('Running');
    const row = await waitFor(
      async () => {
        const found = await statusRow(ns);
        return found?.twinState === 'ready' && found.pending === 0 ? found : undefined;
      },
      { description: `kube-offload status to show ${ns} in sync` },
    );
    expect(row).to.include({ twin: ns, twinState: 'ready', conflict: 0 });
  });

  it('reports a remote namespace of that name it does not own, writes nothing into it, and takes the name once it is free', async () => {
    const ns = 'billing';
    await kubectlOk(remote(), ['create', 'namespace', ns]);
    await kubectlOk(remote(), ['create', 'configmap', 'theirs', '-n', ns, '--from-literal=owner=them']);
    await applyYaml(local(), namespaceYaml(ns, 'SameName'));
    await applyYaml(local(), appYaml(ns));

    const [conflict] = await waitFor(() => namespaceEvents(ns, 'ReplicationConflict'), {
      description: `a ReplicationConflict Event on namespace ${ns}`,
    });
    expect(conflict?.type).to.equal('Warning');
    expect(conflict?.message).to.include(
      `twin namespace ${ns} in remote remote: namespace ${ns} already exists in the remote cluster and is not managed by kube-offload; not adopted`,
    );
    const pending = await waitFor(
      async () => {
        const found = await localPod(ns);
        return found?.status?.reason === 'TwinNamespaceConflict' ? found : undefined;
      },
      { description: `the pod of ${ns} held back with reason TwinNamespaceConflict` },
    );
    expect(pending.status?.phase).to.equal('Pending');
    expect(pending.status?.message).to.include(`namespace ${ns} already exists in remote cluster remote`);
    const podEvents = (await getItems<EventObj>(local(), 'events', { namespace: ns })).filter(
      (e) => e.involvedObject.name === pending.metadata.name && e.reason === 'OffloadFailed',
    );
    expect(podEvents.map((e) => e.type)).to.deep.equal(['Warning']);
    const row = await statusRow(ns);
    expect(row).to.include({ twin: ns, twinState: 'foreign' });

    // Nothing was written into the foreign namespace: no pod, no copy, its own labels.
    expect(await getItems(remote(), 'pods', { namespace: ns })).to.deep.equal([]);
    const configMaps = (await getItems<Obj>(remote(), 'configmaps', { namespace: ns })).map((c) => c.metadata.name);
    expect(configMaps.sort()).to.deep.equal(['kube-root-ca.crt', 'theirs']);
    const foreign = await getObject<Obj>(remote(), 'namespace', ns);
    expect(foreign?.metadata.labels?.[MANAGED_BY_LABEL]).to.equal(undefined);
    expect(foreign?.metadata.annotations?.[ORIGIN_ANNOTATION]).to.equal(undefined);

    // Its owner frees the name: the twin is made there, the pod runs and its reason goes.
    await kubectlOk(remote(), ['delete', 'namespace', ns, '--wait=true', '--timeout=60s']);
    const running = await waitFor(
      async () => {
        const found = await localPod(ns);
        return found?.status?.phase === 'Running' ? found : undefined;
      },
      { description: `the pod of ${ns} Running once the name is free`, timeoutMs: 90_000 },
    );
    expect(running.status?.reason).to.equal(undefined);
    const twin = await getObject<Obj>(remote(), 'namespace', ns);
    expect(twin?.metadata.labels?.[MANAGED_BY_LABEL]).to.equal(MANAGED_BY_VALUE);
    expect(await getObject(remote(), 'configmap', 'settings', { namespace: ns })).to.not.equal(undefined);
  });
});
