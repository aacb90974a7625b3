// e2e: the sandbox as `sandbox up` starts it: the local cluster and two remotes, "remote" (region
// eu-west) and "remote-us" (region us-east), each connected with `kube-offload peer`'s own code; the
// syncer and the virtual node provider run without --remote and find both through the peer
// Secrets. Deployments pick remotes with kube-offload.io/clusters; unpeering one remote while
// pods run there moves them per their placement and leaves the other remote alone.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { kubeOffloadComponents } from '../../src/dev/components.ts';
import { SANDBOX_CLUSTER_NAME } from '../../src/dev/peers.ts';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.ts';
import { SECOND_REMOTE } from '../../src/sandbox/sandbox.ts';
import { peerSecretName } from '../../src/common/peer-secret.ts';
import { twinNamespaceName } from '../../src/common/twin.ts';
import {
  CLUSTERS_ANNOTATION,
  ENABLED_LABEL,
  MANAGED_BY_LABEL,
  ORIGIN_CLUSTER_LABEL,
  PLACEMENT_ANNOTATION,
} from '../../webhooks/keys.ts';
import { useSandbox, waitFor } from './helpers/index.ts';

type Obj = { metadata: { name: string; [k: string]: any }; spec?: any; status?: any; [k: string]: any };

const ROOT = path.resolve(import.meta.dirname, '../..');
const NAMESPACE = 'orders';
const TWIN = twinNamespaceName(NAMESPACE, SANDBOX_CLUSTER_NAME);
const EU = 'remote';
const US = SECOND_REMOTE;
const EU_NODE = `virtual-${EU}`;
const US_NODE = `virtual-${US}`;
const REGION = 'topology.kubernetes.io/region';

/** Runs the CLI as a user would (exit 0 expected). */
const cli = (...args: string[]) =>
  promisify(execFile)(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', path.join(ROOT, 'src/cli.ts'), ...args],
    {
      timeout: 180_000,
    },
  );

/** A Deployment of `replicas` pause pods with the given kube-offload annotations. */
function deployment(name: string, replicas: number, annotations: Record<string, string>): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE, annotations },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
      },
    },
  };
}

describe('two remotes, peered by the sandbox (e2e: eu-west and us-east)', function () {
  this.timeout(240_000);
  const env = useSandbox({ remotes: 2, components: kubeOffloadComponents });
  let local: KubeClient;
  let eu: KubeClient;
  let us: KubeClient;

  /** The app's pods in the local cluster. */
  const podsOf = async (app: string): Promise<Obj[]> =>
    (await local.list<Obj>(`/api/v1/namespaces/${NAMESPACE}/pods`, { labelSelector: `app=${app}` })).items.filter(
      (pod) => !pod.metadata.deletionTimestamp,
    );
  /** The app's pods, once `replicas` of them run: the node each runs on. */
  const runningOn = (app: string, replicas: number) =>
    waitFor(
      async () => {
        const pods = await podsOf(app);
        const running = pods.filter((pod) => pod.status?.phase === 'Running');
        return running.length === replicas && pods.length === replicas
          ? running.map((pod) => String(pod.spec.nodeName))
          : undefined;
      },
      { description: `${replicas} pods of ${app} Running`, timeoutMs: 90_000 },
    );
  const remotePodNames = async (client: KubeClient, app: string): Promise<string[]> =>
    (await client.list<Obj>(`/api/v1/namespaces/${TWIN}/pods`, { labelSelector: `app=${app}` })).items
      .map((pod) => pod.metadata.name)
      .sort();

  before(async () => {
    const sb = env.sandbox;
    expect(sb.remotes.map((cluster) => cluster.name)).to.deep.equal([EU, US]);
    local = new KubeClient(loadKubeConfig(sb.local.kubeconfigPath));
    eu = new KubeClient(loadKubeConfig(sb.remotes[0]!.kubeconfigPath));
    us = new KubeClient(loadKubeConfig(sb.remotes[1]!.kubeconfigPath));
    await local.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE, labels: { [ENABLED_LABEL]: 'true' } },
    });
    await local.create(`/api/v1/namespaces/${NAMESPACE}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings' },
      data: { currency: 'EUR' },
    });
    await local.create(`/api/v1/namespaces/${NAMESPACE}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'api' },
      spec: { selector: { app: 'anywhere' }, ports: [{ port: 80 }] },
    });
  });

  after(() => {
    local?.close();
    eu?.close();
    us?.close();
  });

  it('the sandbox peered both remotes: peer Secrets, and a Ready virtual node per region', async () => {
    for (const remote of [EU, US]) {
      for (const component of ['syncer', 'virtual-node'] as const) {
        const name = peerSecretName(remote, component);
        expect(await local.getOrUndefined(`/api/v1/namespaces/kube-offload-system/secrets/${name}`), name).to.not.equal(
          undefined,
        );
      }
    }
    const regions = await Promise.all(
      [EU_NODE, US_NODE].map(async (node) => (await local.get<Obj>(`/api/v1/nodes/${node}`)).metadata.labels[REGION]),
    );
    expect(regions).to.deep.equal(['eu-west', 'us-east']);
    // Neither component was given a remote on its command line.
    for (const component of env.sandbox.components.filter((c) => c.name !== 'webhook')) {
      expect(component.record.argv, component.name).to.not.include('--remote');
    }
    // `kube-offload peer` run again by hand finds nothing to do: the sandbox ran exactly it.
    const again = await cli(
      'peer',
      '--kubeconfig',
      env.sandbox.local.kubeconfigPath,
      '--remote-kubeconfig',
      env.sandbox.remotes[1]!.kubeconfigPath,
      '--name',
      US,
    );
    expect(again.stdout).to.include(`nothing changed: remote ${US} is peered`);
  });

  it('region=us-east lands only on the us-east virtual node, region=eu-west only on the eu-west one', async () => {
    await local.create(
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
      deployment('east', 2, { [PLACEMENT_ANNOTATION]: 'Remote', [CLUSTERS_ANNOTATION]: `${REGION}=us-east` }),
    );
    await local.create(
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
      deployment('west', 2, { [PLACEMENT_ANNOTATION]: 'Remote', [CLUSTERS_ANNOTATION]: `${REGION}=eu-west` }),
    );
    expect(await runningOn('east', 2)).to.deep.equal([US_NODE, US_NODE]);
    expect(await runningOn('west', 2)).to.deep.equal([EU_NODE, EU_NODE]);
    // Each runs in its region's cluster, and only there.
    const names = async (app: string) => (await podsOf(app)).map((pod) => pod.metadata.name).sort();
    expect(await remotePodNames(us, 'east')).to.deep.equal(await names('east'));
    expect(await remotePodNames(eu, 'east')).to.deep.equal([]);
    expect(await remotePodNames(eu, 'west')).to.deep.equal(await names('west'));
    expect(await remotePodNames(us, 'west')).to.deep.equal([]);
  });

  it('placement Remote with no selector runs on virtual nodes only (either one)', async () => {
    await local.create(
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
      deployment('anywhere', 4, { [PLACEMENT_ANNOTATION]: 'Remote' }),
    );
    const nodes = await runningOn('anywhere', 4);
    for (const node of nodes) expect([EU_NODE, US_NODE], `pod on ${node}`).to.include(node);
    const inRemotes = [...(await remotePodNames(eu, 'anywhere')), ...(await remotePodNames(us, 'anywhere'))];
    expect(inRemotes.sort()).to.deep.equal((await podsOf('anywhere')).map((pod) => pod.metadata.name).sort());
  });

  it('the twin namespace and the copies exist in both remotes', async () => {
    for (const [client, remote] of [
      [eu, EU],
      [us, US],
    ] as const) {
      const copy = await waitFor(() => client.getOrUndefined<Obj>(`/api/v1/namespaces/${TWIN}/configmaps/settings`), {
        description: `the ConfigMap copied into ${remote}`,
        timeoutMs: 30_000,
      });
      expect(copy.data, remote).to.deep.equal({ currency: 'EUR' });
      expect(copy.metadata.labels, remote).to.include({
        [MANAGED_BY_LABEL]: 'kube-offload',
        [ORIGIN_CLUSTER_LABEL]: SANDBOX_CLUSTER_NAME,
      });
      const service = await waitFor(() => client.getOrUndefined<Obj>(`/api/v1/namespaces/${TWIN}/services/api`), {
        description: `the Service copied into ${remote}`,
        timeoutMs: 30_000,
      });
      expect(service.spec.ports[0].port, remote).to.equal(80);
    }
  });

  it('unpeer us-east while pods run there: they move per their placement, eu-west is untouched', async () => {
    const westBefore = await remotePodNames(eu, 'west');
    await us.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    await us.create('/api/v1/namespaces/team/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'theirs' },
      data: { keep: 'me' },
    });
    const { stdout } = await cli('unpeer', '--kubeconfig', env.sandbox.local.kubeconfigPath, '--name', US);
    expect(stdout).to.include(`unpeered: nothing of kube-offload is left in remote ${US}`);
    // Remote with no selector: recreated on the remaining virtual node.
    expect(await runningOn('anywhere', 4)).to.deep.equal([EU_NODE, EU_NODE, EU_NODE, EU_NODE]);
    // us-east only: recreated, and Pending (no virtual node matches any more).
    const east = await waitFor(
      async () => {
        const pods = await podsOf('east');
        return pods.length === 2 && pods.every((pod) => !pod.spec.nodeName) ? pods : undefined;
      },
      { description: 'the east pods recreated and unscheduled', timeoutMs: 60_000 },
    );
    expect(east.map((pod) => pod.status?.phase)).to.deep.equal(['Pending', 'Pending']);
    // The remote's twin and copies are gone; what we do not own stays.
    await waitFor(async () => (await us.getOrUndefined(`/api/v1/namespaces/${TWIN}`)) === undefined, {
      description: `the twin namespace gone from ${US}`,
      timeoutMs: 60_000,
    });
    expect((await us.get<Obj>('/api/v1/namespaces/team/configmaps/theirs')).data).to.deep.equal({ keep: 'me' });
    expect(await local.getOrUndefined(`/api/v1/nodes/${US_NODE}`), US_NODE).to.equal(undefined);
    // The other remote is untouched: the same west pods, its copies, its node.
    expect(await remotePodNames(eu, 'west')).to.deep.equal(westBefore);
    expect((await eu.get<Obj>(`/api/v1/namespaces/${TWIN}/configmaps/settings`)).data).to.deep.equal({
      currency: 'EUR',
    });
    expect(await local.getOrUndefined(`/api/v1/nodes/${EU_NODE}`), EU_NODE).to.not.equal(undefined);
  });
});
