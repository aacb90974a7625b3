// Mocha glue for e2e tests on real nodes: a sandbox with real nodes (and kube-offload) per
// describe block, the host snapshotted before it starts, and the demo shop applied to an
// opted-in namespace. Real nodes need root: without it the block is skipped.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubeOffloadComponents } from '../../../src/dev/components.ts';
import { SANDBOX_CLUSTER_NAME } from '../../../src/dev/virtual-node.ts';
import { ensureBinaries } from '../../../src/sandbox/binaries.ts';
import { ensureRealNodeBinaries } from '../../../src/sandbox/realnode/binaries.ts';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../../src/sandbox/sandbox.ts';
import { twinNamespaceName } from '../../../src/common/twin.ts';
import { ENABLED_LABEL } from '../../../webhooks/keys.ts';
import { getItems, kubectlOk, type KubectlTarget } from './kubectl.ts';
import { snapshotHost, type HostSnapshot } from './realnode-host.ts';
import { waitFor } from './wait.ts';

export const SHOP_MANIFEST = path.resolve(import.meta.dirname, '../../../demo/shop/shop.yaml');

export interface RealNodeSandboxHandle {
  readonly sandbox: Sandbox;
  /** The host before the sandbox started. */
  readonly hostBefore: HostSnapshot;
  /** Stops the sandbox (real nodes included) and snapshots the host. */
  stopAndSnapshot(): Promise<HostSnapshot>;
}

export interface ShopPod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string; uid?: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

/** One hop of the shop's trace (demo/shop/server). */
export interface Hop {
  service: string;
  pod: string;
  namespace: string;
  node: string;
  cluster: string;
  podIP: string;
  config?: string;
  secret?: string;
  calls?: { addr: string; via: string; ms: number; error?: string; response?: Hop }[];
}

export const isReady = (pod: ShopPod): boolean =>
  !!pod.status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True');

export interface RealNodeSandboxOptions {
  /** kube-offload's components on the host (default true); false: the clusters and real nodes only. */
  components?: boolean;
  /** Overrides for the local cluster (e.g. apiserver flags). */
  local?: SandboxOptions['local'];
}

/**
 * Registers hooks that snapshot the host, start a sandbox with real nodes and kube-offload in a
 * temporary directory, and stop it afterwards (stopAndSnapshot() may have done so already).
 */
export function useRealNodeSandbox(opts: RealNodeSandboxOptions = {}): RealNodeSandboxHandle {
  let sandbox: Sandbox | undefined;
  let dir: string | undefined;
  let hostBefore: HostSnapshot | undefined;
  before(async function () {
    if (process.getuid?.() !== 0) {
      throw new Error(
        'the real-node e2e tests need root (network namespaces, containerd, kubelets): run them as root, as .ci/run does',
      );
    }
    this.timeout(60 * 60_000); // a cold build of the binaries takes long; cached, they are instant
    const binDir = await ensureBinaries();
    await ensureRealNodeBinaries(binDir);
    this.timeout(300_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-e2e-rn-'));
    hostBefore = snapshotHost(dir);
    sandbox = await startSandbox({
      dir,
      binDir,
      realNodes: true,
      ...(opts.components === false ? {} : { components: kubeOffloadComponents }),
      ...(opts.local ? { local: opts.local } : {}),
    });
  });
  after(async function () {
    this.timeout(120_000);
    try {
      await sandbox?.stop();
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });
  return {
    get sandbox(): Sandbox {
      if (!sandbox) throw new Error('sandbox not started');
      return sandbox;
    },
    get hostBefore(): HostSnapshot {
      if (!hostBefore) throw new Error('sandbox not started');
      return hostBefore;
    },
    async stopAndSnapshot() {
      await sandbox?.stop();
      return snapshotHost(dir!);
    },
  };
}

/** The shop's twin namespace in the remote cluster. */
export function twinOf(namespace: string): string {
  return twinNamespaceName(namespace, SANDBOX_CLUSTER_NAME);
}

/** Pods of the namespace, live ones only (not being deleted, not failed). */
export async function livePods(target: KubectlTarget, namespace: string, selector?: string): Promise<ShopPod[]> {
  const pods = await getItems<ShopPod>(target, 'pods', { namespace, ...(selector ? { selector } : {}) });
  return pods.filter((pod) => !pod.metadata.deletionTimestamp && pod.status.phase !== 'Failed');
}

/** Creates the opted-in namespace, applies the shop and waits until every pod is Ready (one per app). */
export async function applyShop(sandbox: Sandbox, namespace: string): Promise<void> {
  const { local } = sandbox;
  await kubectlOk(local, ['create', 'namespace', namespace]);
  await kubectlOk(local, ['label', 'namespace', namespace, `${ENABLED_LABEL}=true`]);
  await kubectlOk(local, ['apply', '-n', namespace, '-f', SHOP_MANIFEST]);
  const apps = (await kubectlOk(local, ['get', 'deployments', '-n', namespace, '-o', 'name'])).trim().split('\n');
  await waitFor(
    async () => {
      const pods = await livePods(local, namespace);
      return pods.length === apps.length && pods.every(isReady);
    },
    { timeoutMs: 180_000, intervalMs: 500, description: `every shop pod Ready in ${namespace}` },
  );
}

/** The one live pod of an app. */
export async function podOf(target: KubectlTarget, namespace: string, app: string): Promise<ShopPod> {
  const pods = await livePods(target, namespace, `app=${app}`);
  if (pods.length !== 1) throw new Error(`${app} in ${namespace} (${target.name}): ${pods.length} live pods`);
  return pods[0]!;
}

/** `kubectl exec` in a pod, through `sh -c`; returns stdout. */
export function execIn(target: KubectlTarget, namespace: string, pod: string, script: string): Promise<string> {
  return kubectlOk(target, ['exec', '-n', namespace, pod, '--', 'sh', '-c', script], { timeoutMs: 30_000 });
}

/** A JSON document a pod fetches with busybox wget (from inside the pod, by any name it resolves). */
export async function fetchInPod<T = Hop>(
  target: KubectlTarget,
  namespace: string,
  pod: string,
  url: string,
): Promise<T> {
  return JSON.parse(await execIn(target, namespace, pod, `wget -q -O - "${url}"`)) as T;
}

/** GET from this process (the host routes to the real nodes' pod ranges); status and JSON body. */
export async function fetchFromHost(url: string, timeoutMs = 6000): Promise<{ status: number; body: Hop }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: (await res.json()) as Hop };
}

/** Every hop of a trace, depth first. */
export function hopsOf(hop: Hop): Hop[] {
  return [hop, ...(hop.calls ?? []).flatMap((call) => (call.response ? hopsOf(call.response) : []))];
}
