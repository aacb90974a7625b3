// e2e: `kube-offload peer`, `unpeer` and `status` run as a user runs them (the CLI, admin
// kubeconfigs) on the sandbox's clusters: the local one and its two remotes (remote in eu-west,
// remote-us in us-east), which this test peers itself (the sandbox starts no component here). The syncer and the virtual node provider are started
// WITHOUT --remote, under exactly the RBAC of manifests/, and find the remotes through the peer
// Secrets. Every assertion reads the clusters.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { KubeClient, loadKubeConfig } from '../../src/kube/client.ts';
import { liteFromText } from '../../src/kube/kubeconfig.ts';
import { serviceAccountKubeconfig } from '../../src/sandbox/identity.ts';
import { freePort } from '../../src/sandbox/util.ts';
import { PEER_ANNOTATIONS, peerSecretName, readPeerSecret } from '../../src/common/peer-secret.ts';
import type { PeerComponent } from '../../src/common/peer-secret.ts';
import { twinNamespaceName } from '../../src/common/twin.ts';
import {
  CLUSTERS_ANNOTATION,
  ENABLED_LABEL,
  MANAGED_BY_LABEL,
  ORIGIN_CLUSTER_LABEL,
  REPLICATE_KEY,
} from '../../webhooks/keys.ts';
import { ComponentProcess, useSandbox, waitFor } from './helpers/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SYSTEM = 'kube-offload-system';
const CLUSTER = 'local';
const REMOTE = 'remote';

type Obj = { metadata: { name: string; uid?: string; resourceVersion?: string; [k: string]: any }; [k: string]: any };

const run = promisify(execFile);

/** Runs the CLI as a user would; resolves with its exit code and output. */
async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', path.join(ROOT, 'src/cli.ts'), ...args],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        timeout: 120_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : 1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? '',
    };
  }
}

describe('peer (e2e, the sandbox clusters: local, remote in eu-west, remote-us in us-east)', function () {
  this.timeout(240_000);
  const env = useSandbox({ remotes: 2 });
  let local: KubeClient;
  let remote: KubeClient;
  let workDir: string;
  let peerArgs: string[];
  const procs: ComponentProcess[] = [];
  let syncer: ComponentProcess;
  let provider: ComponentProcess;
  /** The sandbox's second remote cluster (KWOK nodes in region us-east), peered here as "us". */
  let us: KubeClient;
  const US = 'us';
  const NODE = `virtual-${REMOTE}`;
  const twin = twinNamespaceName('shop', CLUSTER);
  const STAMP = { labels: { [REPLICATE_KEY]: 'true' }, annotations: { [REPLICATE_KEY]: 'true' } };
  const configMap = (name: string, data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'shop', ...STAMP },
    data,
  });
  const remoteCopy = (name: string): Promise<Obj | undefined> =>
    remote.getOrUndefined<Obj>(`/api/v1/namespaces/${twin}/configmaps/${name}`);

  const secretPath = (component: PeerComponent): string =>
    `/api/v1/namespaces/${SYSTEM}/secrets/${peerSecretName(REMOTE, component)}`;

  /** A client with the credentials a peer Secret holds. */
  async function peerClient(component: PeerComponent): Promise<KubeClient> {
    const entry = readPeerSecret(await local.get<Obj>(secretPath(component)));
    if ('error' in entry) throw new Error(entry.error);
    return new KubeClient(liteFromText(entry.kubeconfig)!);
  }

  before(async function () {
    this.timeout(300_000);
    const sb = env.sandbox;
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-peer-e2e-'));
    local = new KubeClient(loadKubeConfig(sb.local.kubeconfigPath));
    remote = new KubeClient(loadKubeConfig(sb.remote.kubeconfigPath));
    peerArgs = [
      'peer',
      '--kubeconfig',
      sb.local.kubeconfigPath,
      '--remote-kubeconfig',
      sb.remote.kubeconfigPath,
      '--name',
      REMOTE,
      '--cluster-name',
      CLUSTER,
    ];
    // The syncer as in the Deployment, minus --remote: its ServiceAccount with exactly the RBAC of
    // manifests/, no remote at all until a peer Secret appears.
    const kubeconfig = path.join(workDir, 'local-syncer.kubeconfig');
    await serviceAccountKubeconfig(sb.local, { namespace: SYSTEM, name: 'kube-offload-syncer', file: kubeconfig });
    syncer = new ComponentProcess({
      command: 'syncer',
      port: await freePort(),
      logFile: path.join(workDir, 'syncer.log'),
    });
    procs.push(syncer);
    syncer.start([
      '--cluster-name',
      CLUSTER,
      '--kubeconfig',
      kubeconfig,
      '--peer-namespace',
      SYSTEM,
      '--resync-period',
      '20s',
      '--log-level',
      'debug',
    ]);
    await waitFor(() => syncer.ready(), { description: 'the syncer to be ready with no remote', timeoutMs: 60_000 });
    // The virtual node provider likewise: no --remote, its own ServiceAccount and RBAC.
    const providerKubeconfig = path.join(workDir, 'local-virtual-node.kubeconfig');
    await serviceAccountKubeconfig(sb.local, {
      namespace: SYSTEM,
      name: 'kube-offload-virtual-node',
      file: providerKubeconfig,
    });
    const logFile = path.join(workDir, 'virtual-node.log');
    provider = new ComponentProcess({
      command: 'virtual-node',
      port: await freePort(),
      logFile,
      metricsHost: '127.0.0.1',
    });
    procs.push(provider);
    provider.start([
      '--cluster-name',
      CLUSTER,
      '--kubeconfig',
      providerKubeconfig,
      '--peer-namespace',
      SYSTEM,
      '--node-ip',
      '127.0.0.1',
      '--kubelet-port',
      '0',
      '--kubelet-address',
      '127.0.0.1',
      '--client-ca-file',
      sb.local.caCertPath,
      '--probe-interval',
      '2s',
      '--log-level',
      'debug',
    ]);
    await waitFor(() => provider.ready(), {
      description: 'the provider to be ready with no remote',
      timeoutMs: 60_000,
    });
    await local.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', labels: { [ENABLED_LABEL]: 'true' } },
    });
    await local.create('/api/v1/namespaces/shop/configmaps', configMap('settings', { color: 'blue' }));
  });

  after(async function () {
    this.timeout(60_000);
    for (const p of procs) await p.stop('SIGKILL');
    local?.close();
    remote?.close();
    us?.close();
    if (workDir && !process.env.KEEP_PEER_LOGS) fs.rmSync(workDir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const p of procs) {
      if (!fs.existsSync(p.logFile)) continue;
      const lines = fs
        .readFileSync(p.logFile, 'utf8')
        .split('\n')
        .filter((l) => !l.includes('"level":"debug"'));
      process.stderr.write(`--- ${p.logFile} (last lines)\n${lines.slice(-30).join('\n')}\n`);
    }
  });

  it('peer applies the remote identities and stores a working, least-privilege kubeconfig per component', async () => {
    const first = await cli(peerArgs);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.match(/serviceaccount\/kube-offload-system\/kube-offload-syncer-remote\s+created/);
    expect(first.stdout).to.match(/secret\/kube-offload-system\/kube-offload-peer-remote-syncer\s+created/);
    expect(first.stdout).to.include(
      'peered: the syncer and the virtual node provider pick up remote remote within seconds',
    );
    for (const component of ['syncer', 'virtual-node'] as const) {
      const secret = await local.get<Obj>(secretPath(component));
      expect(secret.metadata.labels).to.include({
        'kube-offload.io/remote-cluster': REMOTE,
        'kube-offload.io/component': component,
      });
      expect(secret.metadata.annotations[PEER_ANNOTATIONS.localCluster]).to.equal(CLUSTER);
      const client = await peerClient(component);
      try {
        // It authenticates (as its ServiceAccount) and is authorized for what the component does...
        const probe = component === 'syncer' ? '/api/v1/namespaces' : '/api/v1/nodes';
        expect((await client.list(probe)).items).to.be.an('array');
        // ...and for nothing more (neither writes Deployments).
        const refused = await client.list('/apis/apps/v1/deployments').then(
          () => 0,
          (err: { statusCode: number }) => err.statusCode,
        );
        expect(refused).to.equal(403);
      } finally {
        client.close();
      }
    }
  });

  it('the syncer started without --remote replicates into the new peer within seconds', async () => {
    const copy = await waitFor(() => remoteCopy('settings'), {
      description: 'the ConfigMap copied',
      timeoutMs: 20_000,
    });
    expect(copy.data).to.deep.equal({ color: 'blue' });
    expect(copy.metadata.labels).to.include({ [MANAGED_BY_LABEL]: 'kube-offload', [ORIGIN_CLUSTER_LABEL]: CLUSTER });
    // The log is written asynchronously: the line may trail the copy by a moment.
    await waitFor(() => fs.readFileSync(syncer.logFile, 'utf8').includes('remote added from its peer Secret'), {
      description: "the syncer's log line about the new peer",
      timeoutMs: 5_000,
    });
  });

  it("the provider started without --remote registers the new peer's virtual node, Ready, within seconds", async () => {
    const ready = async (): Promise<boolean> => {
      const node = await local.getOrUndefined<Obj>(`/api/v1/nodes/${NODE}`);
      return (
        node?.status?.conditions?.some(
          (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
        ) ?? false
      );
    };
    await waitFor(ready, { description: `node ${NODE} Ready`, timeoutMs: 30_000 });
    const node = await local.get<Obj>(`/api/v1/nodes/${NODE}`);
    expect(node.metadata.labels).to.include({
      'kube-offload.io/remote-cluster': REMOTE,
      'liqo.io/type': 'virtual-node',
    });
  });

  it('peer twice changes nothing: no object in either cluster is written', async () => {
    const versions = async (): Promise<string[]> => [
      ...(await Promise.all(
        (['syncer', 'virtual-node'] as const).map(
          async (c) => (await local.get<Obj>(secretPath(c))).metadata.resourceVersion ?? '',
        ),
      )),
      ...(await remote.list<Obj>(`/api/v1/namespaces/${SYSTEM}/serviceaccounts`)).items.map(
        (o) => `${o.metadata.name}@${o.metadata.resourceVersion}`,
      ),
      ...(
        await remote.list<Obj>('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
          labelSelector: 'app.kubernetes.io/part-of=kube-offload',
        })
      ).items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`),
      ...(await remote.list<Obj>(`/api/v1/namespaces/${SYSTEM}/secrets`)).items.map(
        (o) => `${o.metadata.name}@${o.metadata.resourceVersion}`,
      ),
    ];
    const before = await versions();
    // KUBECONFIG is honoured: both admin kubeconfigs merged, the clusters picked by context.
    const second = await cli(['peer', '--context', 'local', '--remote-context', 'remote', '--name', REMOTE], {
      KUBECONFIG: [env.sandbox.local.kubeconfigPath, env.sandbox.remote.kubeconfigPath].join(path.delimiter),
    });
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.include('nothing changed: remote remote is peered');
    expect(second.stdout).to.not.match(/\s(created|configured|minted|updated|deleted)\b/);
    expect(await versions()).to.deep.equal(before);
  });

  it('peer refuses a cluster as its own remote, and an unknown context, naming the flag', async () => {
    const self = await cli([
      'peer',
      '--kubeconfig',
      env.sandbox.local.kubeconfigPath,
      '--remote-kubeconfig',
      env.sandbox.local.kubeconfigPath,
      '--name',
      'self',
    ]);
    expect(self.code).to.equal(1);
    expect(self.stderr).to.include('a cluster is not its own remote');
    const unknown = await cli([
      'peer',
      '--kubeconfig',
      env.sandbox.local.kubeconfigPath,
      '--remote-kubeconfig',
      env.sandbox.remote.kubeconfigPath,
      '--remote-context',
      'eu',
      '--name',
      'eu',
    ]);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.match(
      /--remote-context: "eu" is not a context of .*remote.kubeconfig \(contexts: remote\)/,
    );
  });

  it('rotating mid-run loses no update: the syncer swaps the new token in, without a restart', async () => {
    await local.create('/api/v1/namespaces/shop/configmaps', configMap('counter', { n: '0' }));
    await waitFor(() => remoteCopy('counter'), { description: 'the counter copied' });
    const pid = syncer.child?.pid;
    let n = 0;
    let writing = true;
    const writer = (async () => {
      while (writing || n < 30) {
        n++;
        await local.patch('/api/v1/namespaces/shop/configmaps/counter', { data: { n: String(n) } });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const rotated = await cli([...peerArgs, '--rotate']);
    writing = false;
    await writer;
    expect(rotated.code, rotated.stderr).to.equal(0);
    const last = String(n);
    await waitFor(async () => (await remoteCopy('counter'))?.data?.n === last, {
      description: `the copy to reach n=${last}`,
      timeoutMs: 60_000,
    });
    // A new ConfigMap after the old token is revoked is copied too: the syncer writes with the new one.
    await local.create('/api/v1/namespaces/shop/configmaps', configMap('after-rotation', { ok: 'yes' }));
    await waitFor(() => remoteCopy('after-rotation'), {
      description: 'a copy made with the new token',
      timeoutMs: 30_000,
    });
    expect(syncer.running() && syncer.child?.pid === pid, 'the same syncer process').to.equal(true);
    expect(fs.readFileSync(syncer.logFile, 'utf8')).to.include('remote credentials rotated');
  });

  it('peer --rotate revokes the old tokens at once', async () => {
    const old = await peerClient('syncer');
    try {
      const rotated = await cli([...peerArgs, '--rotate']);
      expect(rotated.code, rotated.stderr).to.equal(0);
      expect(rotated.stdout).to.match(
        /token of serviceaccount\/kube-offload-system\/kube-offload-syncer-remote\s+minted/,
      );
      expect(rotated.stdout).to.match(
        /secret\/kube-offload-system\/kube-offload-syncer-remote-local-\S+\s+deleted \(the old token is revoked\)/,
      );
      const status = await waitFor(
        () =>
          old.list('/api/v1/namespaces').then(
            () => 0,
            (err: { statusCode: number }) => err.statusCode,
          ),
        { description: 'the old token to be refused', timeoutMs: 10_000 },
      );
      expect(status).to.equal(401);
    } finally {
      old.close();
    }
    const fresh = await peerClient('syncer');
    try {
      expect((await fresh.list('/api/v1/namespaces')).items).to.be.an('array');
    } finally {
      fresh.close();
    }
  });

  it('status with no flags prints every remote and namespace; -o json and -o yaml parse', async () => {
    const kubeconfig = env.sandbox.local.kubeconfigPath;
    const table = await cli(['status', '--kubeconfig', kubeconfig]);
    expect(table.code, table.stderr).to.equal(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).to.match(/^REMOTE\s+REACHABLE\s+NODE\s+READY\s+CPU\s+MEMORY\s+PODS\s+TWINS\s+IN SYNC\s+PENDING/);
    expect(lines[1]).to.match(
      new RegExp(`^${REMOTE}\\s+yes\\s+${NODE}\\s+True\\s+\\S+\\s+\\S+\\s+\\S+\\s+${twin}\\s+\\d+\\s+0\\s+0`),
    );
    expect(table.stdout).to.match(new RegExp(`\\nshop\\s+${REMOTE}\\s+${twin}\\s+ready`));
    const json = await cli(['status', '--kubeconfig', kubeconfig, '-o', 'json']);
    expect(json.code, json.stderr).to.equal(0);
    const document = JSON.parse(json.stdout) as { remotes: any[]; rows: any[] };
    expect(document.remotes).to.have.length(1);
    const [status] = document.remotes;
    expect(status).to.include({ name: REMOTE, source: 'peer', reachable: true, lastError: '' });
    expect(status.virtualNode).to.include({ name: NODE, ready: 'True', schedulable: true });
    expect(status.twinNamespaces).to.deep.equal([twin]);
    expect(status.objects.inSync).to.be.greaterThan(2);
    expect(status.tokenExpires).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(document.rows.find((row) => row.namespace === 'shop')).to.include({ remote: REMOTE, twinState: 'ready' });
    const yaml = await cli(['status', '--kubeconfig', kubeconfig, '-o', 'yaml']);
    expect(yaml.code, yaml.stderr).to.equal(0);
    const fromYaml = parseYaml(yaml.stdout) as typeof document;
    expect(fromYaml.remotes.map((r) => r.name)).to.deep.equal([REMOTE]);
    expect(fromYaml.remotes[0].virtualNode.ready).to.equal('True');
  });

  it('a revoked credential shows up in status, nothing crashes, and peer repairs it', async () => {
    const annotations = (await local.get<Obj>(secretPath('syncer'))).metadata.annotations as Record<string, string>;
    const [namespace, name] = annotations[PEER_ANNOTATIONS.tokenSecret]!.split('/');
    await remote.delete(`/api/v1/namespaces/${namespace}/secrets/${name}`);
    const revoked = await waitFor(
      async () => {
        const out = await cli(['status', '--kubeconfig', env.sandbox.local.kubeconfigPath, '-o', 'json']);
        const [status] = (JSON.parse(out.stdout) as { remotes: any[] }).remotes;
        return status.reachable === false ? status : undefined;
      },
      { description: 'status to show the remote unreachable', timeoutMs: 20_000 },
    );
    expect(revoked.lastError).to.include('401');
    const repaired = await cli(peerArgs);
    expect(repaired.code, repaired.stderr).to.equal(0);
    expect(repaired.stdout).to.match(
      /token of serviceaccount\/kube-offload-system\/kube-offload-syncer-remote\s+minted/,
    );
    await local.create('/api/v1/namespaces/shop/configmaps', configMap('after-repair', { ok: 'yes' }));
    await waitFor(() => remoteCopy('after-repair'), {
      description: 'a copy made with the repaired token',
      timeoutMs: 60_000,
    });
    expect(syncer.running() && provider.running(), 'the components kept running').to.equal(true);
  });

  it("a revoked provider credential shows in the virtual node's Ready condition, and peer restores it", async () => {
    const annotations = (await local.get<Obj>(secretPath('virtual-node'))).metadata.annotations as Record<
      string,
      string
    >;
    const [namespace, name] = annotations[PEER_ANNOTATIONS.tokenSecret]!.split('/');
    await remote.delete(`/api/v1/namespaces/${namespace}/secrets/${name}`);
    const readyCondition = async () =>
      ((await local.get<Obj>(`/api/v1/nodes/${NODE}`)).status?.conditions ?? []).find(
        (c: { type: string }) => c.type === 'Ready',
      ) as { status: string; reason: string; message: string } | undefined;
    const notReady = await waitFor(
      async () => ((await readyCondition())?.status === 'False' ? readyCondition() : undefined),
      {
        description: `${NODE} NotReady after its token was revoked`,
        timeoutMs: 30_000,
      },
    );
    expect(notReady).to.include({ reason: 'RemoteClusterUnreachable' });
    expect(notReady?.message).to.include('401');
    const repaired = await cli(peerArgs);
    expect(repaired.code, repaired.stderr).to.equal(0);
    expect(repaired.stdout).to.match(
      /token of serviceaccount\/kube-offload-system\/kube-offload-virtual-node-remote\s+minted/,
    );
    await waitFor(async () => (await readyCondition())?.status === 'True', {
      description: `${NODE} Ready again with the new token`,
      timeoutMs: 30_000,
    });
    expect(provider.running(), 'the same provider process').to.equal(true);
  });

  it("a second remote: both peered, namespaces pick remotes by their virtual nodes' region", async function () {
    this.timeout(300_000);
    const usCluster = env.sandbox.remotes[1]!;
    us = new KubeClient(loadKubeConfig(usCluster.kubeconfigPath));
    const peered = await cli([
      'peer',
      '--kubeconfig',
      env.sandbox.local.kubeconfigPath,
      '--remote-kubeconfig',
      usCluster.kubeconfigPath,
      '--name',
      US,
    ]);
    expect(peered.code, peered.stderr).to.equal(0);
    const regionOf = async (node: string): Promise<string | undefined> =>
      (await local.getOrUndefined<Obj>(`/api/v1/nodes/${node}`))?.metadata.labels?.['topology.kubernetes.io/region'];
    await waitFor(async () => (await regionOf(`virtual-${US}`)) === 'us-east', {
      description: 'virtual-us in us-east',
      timeoutMs: 30_000,
    });
    expect(await regionOf(NODE)).to.equal('eu-west');
    for (const [namespace, region] of [
      ['east', 'us-east'],
      ['west', 'eu-west'],
    ] as const) {
      await local.create('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: namespace,
          labels: { [ENABLED_LABEL]: 'true' },
          annotations: { [CLUSTERS_ANNOTATION]: `topology.kubernetes.io/region=${region}` },
        },
      });
      await local.create(`/api/v1/namespaces/${namespace}/configmaps`, {
        ...configMap('settings', { region }),
        metadata: { name: 'settings', namespace, ...STAMP },
      });
    }
    const copyIn = (client: KubeClient, namespace: string) =>
      client.getOrUndefined<Obj>(`/api/v1/namespaces/${twinNamespaceName(namespace, CLUSTER)}/configmaps/settings`);
    await waitFor(() => copyIn(us, 'east'), { description: 'east copied to us-east', timeoutMs: 30_000 });
    await waitFor(() => copyIn(remote, 'west'), { description: 'west copied to eu-west', timeoutMs: 30_000 });
    await waitFor(() => copyIn(us, 'shop'), {
      description: 'shop (no selector) copied to us-east too',
      timeoutMs: 30_000,
    });
    const json = await cli(['status', '--kubeconfig', env.sandbox.local.kubeconfigPath, '-o', 'json']);
    const document = JSON.parse(json.stdout) as { remotes: any[]; rows: any[] };
    expect(document.remotes.map((r) => `${r.name}:${r.reachable}:${r.virtualNode?.ready}`)).to.deep.equal([
      `${REMOTE}:true:True`,
      `${US}:true:True`,
    ]);
    const state = (namespace: string, remoteName: string) =>
      document.rows.find((r) => r.namespace === namespace && r.remote === remoteName)?.twinState;
    expect([state('east', US), state('east', REMOTE), state('west', REMOTE), state('west', US)]).to.deep.equal([
      'ready',
      'not selected',
      'ready',
      'not selected',
    ]);
    expect(await copyIn(remote, 'east'), 'east is not in eu-west').to.equal(undefined);
    expect(await copyIn(us, 'west'), 'west is not in us-east').to.equal(undefined);
  });

  it('unpeer drains the node, removes the twin namespace and our copies, leaves what we do not own', async () => {
    // A pod running on the virtual node, i.e. in the remote's twin namespace.
    await local.create('/api/v1/namespaces/shop/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
      spec: {
        nodeName: NODE,
        tolerations: [{ key: 'virtual-node.liqo.io/not-allowed', operator: 'Exists', effect: 'NoExecute' }],
        containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }],
      },
    });
    await waitFor(() => remote.getOrUndefined(`/api/v1/namespaces/${twin}/pods/web`), {
      description: 'the offloaded pod in the remote',
      timeoutMs: 60_000,
    });
    await remote.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    await remote.create('/api/v1/namespaces/team/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'theirs' },
      data: { keep: 'me' },
    });
    const result = await cli(['unpeer', '--kubeconfig', env.sandbox.local.kubeconfigPath, '--name', REMOTE]);
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0);
    expect(result.stdout).to.match(/local\s+secret\/kube-offload-system\/kube-offload-peer-remote-syncer\s+deleted/);
    expect(result.stdout).to.match(new RegExp(`remote\\s+namespace/${twin}\\s+deleted \\(with \\d+ ConfigMaps?`));
    expect(result.stdout).to.include('unpeered: nothing of kube-offload is left in remote remote');
    expect(result.stdout).to.match(new RegExp(`local\\s+node/${NODE}\\s+cordoned`));
    expect(result.stdout).to.match(/local\s+pod\/shop\/web\s+deleted \(its controller recreates it elsewhere\)/);
    expect(result.stdout).to.match(new RegExp(`local\\s+node/${NODE}\\s+deleted`));
    expect(await local.getOrUndefined('/api/v1/namespaces/shop/pods/web'), 'the local pod').to.equal(undefined);
    expect(await local.getOrUndefined(`/api/v1/nodes/${NODE}`), 'the virtual node').to.equal(undefined);
    expect(fs.readFileSync(provider.logFile, 'utf8')).to.include('virtual node provider stopped');
    // The other remote is untouched: its twins, copies, node and credentials stay.
    expect(
      (await us.get<Obj>(`/api/v1/namespaces/${twinNamespaceName('east', CLUSTER)}/configmaps/settings`)).data,
    ).to.deep.equal({ region: 'us-east' });
    expect(await local.getOrUndefined(`/api/v1/nodes/virtual-${US}`), 'virtual-us').to.not.equal(undefined);
    expect(
      await local.getOrUndefined(`/api/v1/namespaces/${SYSTEM}/secrets/${peerSecretName(US, 'syncer')}`),
    ).to.not.equal(undefined);
    expect(await remote.getOrUndefined(`/api/v1/namespaces/${twin}`), 'the twin namespace').to.equal(undefined);
    const ours = `${MANAGED_BY_LABEL}=kube-offload,${ORIGIN_CLUSTER_LABEL}=${CLUSTER}`;
    for (const resource of ['configmaps', 'secrets', 'services']) {
      expect(
        (await remote.list(`/api/v1/${resource}`, { labelSelector: ours })).items,
        `our ${resource}`,
      ).to.deep.equal([]);
    }
    expect((await remote.get<Obj>('/api/v1/namespaces/team/configmaps/theirs')).data).to.deep.equal({ keep: 'me' });
    for (const component of ['syncer', 'virtual-node'] as const) {
      expect(await local.getOrUndefined(secretPath(component)), `${component} peer Secret`).to.equal(undefined);
    }
    expect(
      (await remote.list(`/api/v1/namespaces/${SYSTEM}/secrets`, { labelSelector: 'kube-offload.io/token-for' })).items,
      'token Secrets',
    ).to.deep.equal([]);
    // The syncer dropped the remote: its caches are gone, and it stays up and ready.
    await waitFor(async () => !(await syncer.metrics()).includes(`informer="${REMOTE}/`), {
      description: "the remote's caches to stop",
      timeoutMs: 20_000,
    });
    expect(fs.readFileSync(syncer.logFile, 'utf8')).to.include('remote removed');
    expect(syncer.running()).to.equal(true);
    expect(await syncer.ready(), 'ready with no remote again').to.equal(true);
  });
});
