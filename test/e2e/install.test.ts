// e2e: the install the README promises, done for real. The image is built from the Dockerfile
// with no Docker daemon (src/sandbox/image-build.ts: buildah) and imported into the local
// cluster's real node; `kubectl apply -k` of an overlay over manifests/ (only the image and a
// node pin) runs the webhook, the syncer and the virtual node provider as pods under the
// manifests' ServiceAccounts and RBAC; `kube-offload peer` connects the remote, whose apiserver
// the pods reach through its relay on the host. The sandbox runs none of our components on the
// host, so every mutation, copy and virtual node below comes from those pods: the apiserver
// calls the webhook through its Service (--enable-aggregator-routing: the host has no kube-proxy,
// so the apiserver dials the Service's endpoints, pod IPs the host routes to the real node).
// Needs root (real nodes, buildah): fails without, saying so.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import { twinNamespaceName } from '../../src/common/twin.ts';
import { ensureBinaries, repoRoot } from '../../src/sandbox/binaries.ts';
import { BUILDAH_HOST_PATHS, ensureKubeOffloadImage, type BuiltImage } from '../../src/sandbox/image-build.ts';
import { imageNames, importImages, PAUSE_IMAGE, realNodePlan, WAN } from '../../src/sandbox/realnode/index.ts';
import type { Sandbox } from '../../src/sandbox/sandbox.ts';
import {
  ENABLED_LABEL,
  PLACEMENT_ANNOTATION,
  REPLICATE_KEY,
  VIRTUAL_NODE_LABEL,
  VIRTUAL_NODE_TAINT_KEY,
} from '../../webhooks/keys.ts';
import { getItems, getObject, kubectlOk, waitFor } from './helpers/index.ts';
import { hostDifferences } from './helpers/realnode-host.ts';
import { useRealNodeSandbox } from './helpers/realnode.ts';

const run = promisify(execFile);
const ROOT = repoRoot();
const SYSTEM = 'kube-offload-system';
const CLUSTER = 'local'; // cluster-name in manifests/base/config.yaml
const REMOTE = 'remote';
const NODE = 'real-node-local';
const NS = 'install-e2e';
const TWIN = twinNamespaceName(NS, CLUSTER);
const DEPLOYMENTS = ['kube-offload-webhook', 'kube-offload-syncer', 'kube-offload-virtual-node'];

interface Workload {
  kind: string;
  spec: { template: { spec: { containers: { image: string }[] } } };
}
interface Pod {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    nodeName?: string;
    serviceAccountName?: string;
    containers: { image: string }[];
    tolerations?: { key?: string; effect?: string }[];
    affinity?: { nodeAffinity?: unknown };
  };
  status: { phase?: string; conditions?: { type: string; status: string }[] };
}

const ready = (pod: Pod) => !!pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** The overlay a user would write over manifests/: this image, and every Deployment on the real node. */
async function writeOverlay(sandbox: Sandbox, dir: string, image: BuiltImage): Promise<void> {
  const rendered = await kubectlOk(sandbox.local, ['kustomize', path.join(ROOT, 'manifests')]);
  const workload = parseAllDocuments(rendered)
    .map((doc) => doc.toJS() as Workload)
    .find((doc) => doc?.kind === 'Deployment')!;
  const shipped = workload.spec.template.spec.containers[0]!.image;
  const pin = { spec: { template: { spec: { nodeSelector: { 'kubernetes.io/hostname': NODE } } } } };
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [path.relative(dir, path.join(ROOT, 'manifests'))],
    images: [
      {
        name: shipped.slice(0, shipped.lastIndexOf(':')),
        newName: image.name.slice(0, image.name.lastIndexOf(':')),
        newTag: image.name.slice(image.name.lastIndexOf(':') + 1),
      },
    ],
    patches: [
      {
        target: { kind: 'Deployment' },
        patch: stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'any' }, ...pin }),
      },
    ],
  };
  fs.writeFileSync(path.join(dir, 'kustomization.yaml'), stringify(kustomization));
}

/**
 * The remote's admin kubeconfig as pods reach the remote apiserver: through its relay on the host's
 * wan address (src/sandbox/realnode/relay.ts), with the name its serving certificate carries.
 */
function remoteKubeconfigForPods(sandbox: Sandbox, file: string): void {
  const config = parseYaml(fs.readFileSync(sandbox.remote.kubeconfigPath, 'utf8'));
  for (const { cluster } of config.clusters) {
    cluster.server = `https://${WAN.hostIP}:${sandbox.remote.ports.apiserver}`;
    cluster['tls-server-name'] = 'kubernetes';
  }
  fs.writeFileSync(file, stringify(config), { mode: 0o600 });
}

async function cli(args: string[]): Promise<string> {
  const node = path.join(ROOT, 'node_modules/.bin/node');
  const { stdout } = await run(
    node,
    ['--disable-warning=ExperimentalWarning', path.join(ROOT, 'src/cli.ts'), ...args],
    {
      cwd: ROOT,
      timeout: 120_000,
    },
  );
  return stdout;
}

/** Every line of /proc/self/mountinfo that lies under `dir`. */
function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[4]?.startsWith(dir));
}

describe('install in-cluster (e2e, root: the Dockerfile built with buildah, kubectl apply -k manifests/, kube-offload peer)', function () {
  this.timeout(300_000);
  // Not the sandbox's own components: only what the manifests run. The host has no kube-proxy, so
  // the apiserver must dial Services by their endpoints (pod IPs, routed to the real node).
  const env = useRealNodeSandbox({ components: false, local: { apiserverArgs: ['--enable-aggregator-routing=true'] } });
  let image: BuiltImage;
  let imageCache: string;
  let hostPathsBefore: string[];
  const local = () => env.sandbox.local;
  const remote = () => env.sandbox.remote;

  before(async function () {
    this.timeout(900_000);
    const { sandbox } = env;
    imageCache = path.join(path.dirname(await ensureBinaries()), 'image-build');
    const startedAt = Date.now();
    hostPathsBefore = BUILDAH_HOST_PATHS.filter((hostPath) => fs.existsSync(hostPath));
    image = await ensureKubeOffloadImage({ cacheDir: imageCache });
    process.stderr.write(`      image ${image.name} ready: ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
    await importImages(realNodePlan('local', sandbox.dir), image.archive);
    const overlay = path.join(sandbox.dir, 'overlay');
    fs.mkdirSync(overlay);
    await writeOverlay(sandbox, overlay, image);
    await kubectlOk(local(), ['apply', '-k', overlay], { timeoutMs: 60_000 });
    const remoteKubeconfig = path.join(sandbox.dir, 'remote-for-pods.kubeconfig');
    remoteKubeconfigForPods(sandbox, remoteKubeconfig);
    const peer = ['peer', '--kubeconfig', local().kubeconfigPath, '--name', REMOTE];
    await cli([...peer, '--remote-kubeconfig', remoteKubeconfig]);
    for (const name of DEPLOYMENTS) {
      await kubectlOk(local(), ['-n', SYSTEM, 'rollout', 'status', `deploy/${name}`, '--timeout=180s'], {
        timeoutMs: 200_000,
      });
    }
  });

  it('built the image from the Dockerfile into an archive, leaving no buildah mount, and imported it into the real node', async () => {
    expect(fs.statSync(image.archive).size).to.be.greaterThan(10 * 1024 * 1024);
    expect(mountsUnder(imageCache)).to.deep.equal([]);
    expect(BUILDAH_HOST_PATHS.filter((hostPath) => fs.existsSync(hostPath))).to.deep.equal(hostPathsBefore);
    const names = await imageNames(realNodePlan('local', env.sandbox.dir));
    expect(names).to.include(image.name);
  });

  it('runs the webhook, the syncer and the provider as Ready pods of that image on the real node, under their ServiceAccounts', async () => {
    const pods = await getItems<Pod>(local(), 'pods', { namespace: SYSTEM });
    for (const deployment of DEPLOYMENTS) {
      const own = pods.filter((pod) => pod.metadata.labels?.['app.kubernetes.io/name'] === deployment);
      expect(own.length, deployment).to.be.greaterThan(0);
      for (const pod of own) {
        expect(pod.spec.nodeName, pod.metadata.name).to.equal(NODE);
        expect(pod.spec.serviceAccountName, pod.metadata.name).to.equal(deployment);
        expect(pod.spec.containers[0]!.image, pod.metadata.name).to.equal(image.name);
      }
    }
    const webhooks = pods.filter((pod) => pod.metadata.labels?.['app.kubernetes.io/name'] === 'kube-offload-webhook');
    expect(webhooks).to.have.length(2);
    expect(webhooks.every(ready), 'every webhook pod Ready').to.equal(true);
  });

  it('mutates a pod in an opted-in namespace through the webhook Service, and the provider runs it in the remote', async () => {
    await kubectlOk(local(), ['create', 'namespace', NS]);
    await kubectlOk(local(), ['label', 'namespace', NS, `${ENABLED_LABEL}=true`]);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'offloaded', namespace: NS, annotations: { [PLACEMENT_ANNOTATION]: 'Remote' } },
      spec: { containers: [{ name: 'main', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }] },
    };
    await kubectlOk(local(), ['apply', '-f', '-'], { input: JSON.stringify(pod) });
    const created = (await getObject<Pod>(local(), 'pod', 'offloaded', { namespace: NS }))!;
    expect(created.spec.tolerations?.map((t) => t.key)).to.include(VIRTUAL_NODE_TAINT_KEY);
    expect(JSON.stringify(created.spec.affinity?.nodeAffinity)).to.contain(VIRTUAL_NODE_LABEL);
    const running = await waitFor(
      async () => {
        const now = await getObject<Pod>(local(), 'pod', 'offloaded', { namespace: NS });
        return now?.status.phase === 'Running' ? now : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, description: `pod ${NS}/offloaded Running` },
    );
    expect(running.spec.nodeName).to.equal(`virtual-${REMOTE}`);
    const copies = await getItems<Pod>(remote(), 'pods', { namespace: TWIN });
    expect(copies.map((copy) => copy.spec.nodeName)).to.deep.equal(['real-node-remote']);
  });

  it('copies a ConfigMap of the opted-in namespace into the remote twin (the in-cluster syncer)', async () => {
    await kubectlOk(local(), ['create', 'configmap', 'settings', '-n', NS, '--from-literal=color=blue']);
    const stamped = await getObject<{ metadata: { annotations?: Record<string, string> } }>(
      local(),
      'configmap',
      'settings',
      {
        namespace: NS,
      },
    );
    expect(stamped?.metadata.annotations?.[REPLICATE_KEY]).to.equal('true');
    const copy = await waitFor(
      () => getObject<{ data: Record<string, string> }>(remote(), 'configmap', 'settings', { namespace: TWIN }),
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        description: `configmap settings in ${TWIN} (remote)`,
      },
    );
    expect(copy.data).to.deep.equal({ color: 'blue' });
  });

  it('registers the virtual node of the peered remote, Ready (the in-cluster provider)', async () => {
    const node = await waitFor(
      async () => {
        const found = await getObject<{ status: { conditions?: { type: string; status: string }[] } }>(
          local(),
          'node',
          `virtual-${REMOTE}`,
        );
        return found?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? found : undefined;
      },
      { timeoutMs: 30_000, description: `node virtual-${REMOTE} Ready` },
    );
    expect(node).to.not.equal(undefined);
  });

  it('gives the host back as it was (buildah included)', async () => {
    const after = await env.stopAndSnapshot();
    expect(hostDifferences(env.hostBefore, after)).to.deep.equal([]);
  });
});
