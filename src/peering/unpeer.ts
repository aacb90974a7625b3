// `kube-offload unpeer`: disconnects a remote cluster and removes what kube-offload put there,
// and nothing else. In this order, each step making the next one safe:
//
// 1. the syncer's peer Secret is deleted: the syncer stops replicating to the remote within
//    seconds (else it would recreate the twins as fast as they are deleted); its token stays
//    valid, since unpeer uses it;
// 2. the remote's virtual node is cordoned and drained: its pods are deleted (gracefully, so the
//    provider deletes their remote pods first), and their controllers recreate them elsewhere;
//    pods still there after the drain timeout are deleted at once;
// 3. in the remote, the twin namespaces we own (ownership labels for this local cluster, deleted
//    with a uid precondition; their copies and pods go with them), and any copy or pod we own
//    outside them; a twin that comes back (a reconcile that was under way) is deleted again;
// 4. the provider's peer Secret (the provider stops), then the virtual node (deleted again if the
//    provider re-registered it before it stopped);
// 5. the tokens are revoked: their token Secrets in the remote are deleted, the syncer's last
//    (it is the credential that deletes them).
import { isConflict, isNotFound } from '../kube/client.ts';
import { isOwnedByUs, ownedSelector } from '../common/ownership.ts';
import { PEER_ANNOTATIONS, PEER_NAMESPACE } from '../common/peer-secret.ts';
import type { PeerComponent } from '../common/peer-secret.ts';
import { REMOTE_CLUSTER_LABEL, VIRTUAL_NODE_LABEL, VIRTUAL_NODE_LABEL_VALUE } from '../../webhooks/keys.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { FIELD_MANAGER, collectionOf, describeObject, pathOf } from './api.ts';
import type { PeeringClient } from './api.ts';
import { TOKEN_FOR_LABEL, TOKEN_LOCAL_CLUSTER_LABEL, revokeToken, tokenSecretFromAnnotations } from './credentials.ts';
import type { TokenSecretRef } from './credentials.ts';
import type { PeerSecret } from './local.ts';
import type { Step } from './peer.ts';

export interface UnpeerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface UnpeerOptions {
  name: string;
  localCluster: string;
  local: PeeringClient;
  /** In the remote: `objects` deletes twins and copies (the syncer's identity, or admin), `pods` pods. */
  remote: { objects: PeeringClient; pods: PeeringClient };
  /** The peer Secrets of this remote. */
  secrets: PeerSecret[];
  drainTimeoutMs: number;
  timeoutMs: number;
  clock?: UnpeerClock;
  /** How often removals are checked on; default 1 s. */
  pollMs?: number;
}

export interface UnpeerReport {
  remote: string;
  localCluster: string;
  steps: Step[];
  /** What could not be removed in time. */
  left: string[];
}

const realClock: UnpeerClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The copies the syncer makes, and the pods the provider makes. */
const COPY_KINDS = ['Service', 'Secret', 'ConfigMap', 'EndpointSlice'] as const;

/** How long a deleted virtual node is watched for a provider that re-registers it while stopping. */
const NODE_WATCH_MS = 15_000;

class Run {
  readonly steps: Step[] = [];
  readonly left: string[] = [];
  readonly options: UnpeerOptions;
  readonly clock: UnpeerClock;

  constructor(options: UnpeerOptions) {
    this.options = options;
    this.clock = options.clock ?? realClock;
  }

  step(cluster: Step['cluster'], object: string, action: string, detail?: string): void {
    this.steps.push({ cluster, object, action, ...(detail ? { detail } : {}) });
  }

  /** Polls `done` until it is true or `ms` passed; false on timeout. */
  async until(ms: number, done: () => Promise<boolean>): Promise<boolean> {
    const deadline = this.clock.now() + ms;
    for (;;) {
      if (await done()) return true;
      if (this.clock.now() >= deadline) return false;
      await this.clock.sleep(this.options.pollMs ?? 1000);
    }
  }
}

export async function unpeer(options: UnpeerOptions): Promise<UnpeerReport> {
  const run = new Run(options);
  await deletePeerSecret(run, 'syncer', `the syncer stops replicating to ${options.name}`);
  const nodes = await virtualNodes(run);
  for (const node of nodes) await drain(run, node);
  await removeRemoteObjects(run);
  await deletePeerSecret(run, 'virtual-node', 'the provider stops serving its node');
  for (const node of nodes) await removeNode(run, node);
  await revokeTokens(run);
  return { remote: options.name, localCluster: options.localCluster, steps: run.steps, left: run.left };
}

function peerSecretOf(run: Run, component: PeerComponent): KubeObject | undefined {
  return run.options.secrets.find(({ entry }) => 'component' in entry && entry.component === component)?.object;
}

async function deleteIfThere(client: PeeringClient, path: string, uid: string | undefined): Promise<boolean> {
  try {
    await client.delete(path, uid ? { preconditions: { uid } } : {});
    return true;
  } catch (err) {
    if (isNotFound(err) || isConflict(err)) return false; // gone, or replaced by something we did not see
    throw err;
  }
}

async function deletePeerSecret(run: Run, component: PeerComponent, why: string): Promise<void> {
  const secret = peerSecretOf(run, component);
  const name = secret?.metadata?.name;
  if (!name) return;
  // Where listPeerSecrets found it (-n of unpeer).
  const namespace = secret.metadata?.namespace ?? PEER_NAMESPACE;
  const deleted = await deleteIfThere(run.options.local, pathOf('Secret', name, namespace), secret.metadata?.uid);
  run.step('local', `secret/${namespace}/${name}`, deleted ? 'deleted' : 'gone', deleted ? why : undefined);
}

/** Our virtual nodes for this remote. */
async function virtualNodes(run: Run): Promise<KubeObject[]> {
  const labelSelector = `${VIRTUAL_NODE_LABEL}=${VIRTUAL_NODE_LABEL_VALUE},${REMOTE_CLUSTER_LABEL}=${run.options.name}`;
  return (await run.options.local.listAll(collectionOf('Node'), { labelSelector })).items;
}

const podsOn = async (run: Run, node: string): Promise<KubeObject[]> =>
  (await run.options.local.listAll(collectionOf('Pod'), { fieldSelector: `spec.nodeName=${node}` })).items;

async function drain(run: Run, node: KubeObject): Promise<void> {
  const name = String(node.metadata?.name);
  const { local, drainTimeoutMs } = run.options;
  if (!(node.spec as { unschedulable?: boolean } | undefined)?.unschedulable) {
    await local.patch(pathOf('Node', name), { spec: { unschedulable: true } }, 'merge', {
      fieldManager: FIELD_MANAGER,
    });
    run.step('local', `node/${name}`, 'cordoned');
  }
  for (const pod of await podsOn(run, name)) {
    if (pod.metadata?.deletionTimestamp) continue;
    const path = pathOf('Pod', String(pod.metadata?.name), pod.metadata?.namespace);
    if (await deleteIfThere(local, path, pod.metadata?.uid)) {
      run.step('local', describeObject({ ...pod, kind: 'Pod' }), 'deleted', 'its controller recreates it elsewhere');
    }
  }
  if (await run.until(drainTimeoutMs, async () => (await podsOn(run, name)).length === 0)) return;
  for (const pod of await podsOn(run, name)) {
    const path = pathOf('Pod', String(pod.metadata?.name), pod.metadata?.namespace);
    await local
      .delete(path, { gracePeriodSeconds: 0, preconditions: { uid: String(pod.metadata?.uid) } })
      .catch(() => undefined);
    run.step('local', describeObject({ ...pod, kind: 'Pod' }), 'deleted at once', 'still there after --drain-timeout');
  }
}

async function ownedTwins(run: Run): Promise<KubeObject[]> {
  const { objects } = run.options.remote;
  const { items } = await objects.listAll(collectionOf('Namespace'), {
    labelSelector: ownedSelector(run.options.localCluster),
  });
  return items.filter((namespace) => isOwnedByUs(namespace, run.options.localCluster));
}

async function ownedOf(run: Run, client: PeeringClient, kind: string): Promise<KubeObject[]> {
  const { items } = await client.listAll(collectionOf(kind), {
    labelSelector: ownedSelector(run.options.localCluster),
  });
  return items.filter((object) => isOwnedByUs(object, run.options.localCluster)).map((object) => ({ ...object, kind }));
}

/** "3 ConfigMaps, 1 Pod" for what a twin namespace holds. */
function contentsOf(objects: KubeObject[], namespace: string): string {
  const counts = new Map<string, number>();
  for (const object of objects) {
    if (object.metadata?.namespace === namespace)
      counts.set(object.kind ?? '', (counts.get(object.kind ?? '') ?? 0) + 1);
  }
  const parts = [...counts].map(([kind, count]) => `${count} ${kind}${count === 1 ? '' : 's'}`);
  return parts.length ? `with ${parts.join(', ')}` : 'empty';
}

async function removeRemoteObjects(run: Run): Promise<void> {
  const { objects, pods } = run.options.remote;
  const owned = [
    ...(await Promise.all(COPY_KINDS.map((kind) => ownedOf(run, objects, kind)))).flat(),
    ...(await ownedOf(run, pods, 'Pod')),
  ];
  const twins = await ownedTwins(run);
  const twinNames = new Set(twins.map((twin) => String(twin.metadata?.name)));
  for (const twin of twins) {
    const name = String(twin.metadata?.name);
    if (await deleteIfThere(objects, pathOf('Namespace', name), twin.metadata?.uid)) {
      run.step('remote', `namespace/${name}`, 'deleted', contentsOf(owned, name));
    }
  }
  for (const object of owned.filter((o) => !twinNames.has(String(o.metadata?.namespace)))) {
    const client = object.kind === 'Pod' ? pods : objects;
    const path = pathOf(String(object.kind), String(object.metadata?.name), object.metadata?.namespace);
    if (await deleteIfThere(client, path, object.metadata?.uid)) run.step('remote', describeObject(object), 'deleted');
  }
  await awaitTwinsGone(run);
}

/** Waits for the twins to be gone, deleting again any that a reconcile under way recreated. */
async function awaitTwinsGone(run: Run): Promise<void> {
  let quiet = 0;
  const gone = await run.until(run.options.timeoutMs, async () => {
    const twins = await ownedTwins(run);
    for (const twin of twins.filter((t) => !t.metadata?.deletionTimestamp)) {
      const name = String(twin.metadata?.name);
      if (await deleteIfThere(run.options.remote.objects, pathOf('Namespace', name), twin.metadata?.uid)) {
        run.step('remote', `namespace/${name}`, 'deleted', 'recreated by a reconcile that was under way');
      }
    }
    quiet = twins.length === 0 ? quiet + 1 : 0;
    return quiet >= 2;
  });
  if (gone) return;
  for (const twin of await ownedTwins(run))
    run.left.push(`remote namespace/${twin.metadata?.name} (still terminating)`);
}

async function removeNode(run: Run, node: KubeObject): Promise<void> {
  const name = String(node.metadata?.name);
  const path = pathOf('Node', name);
  let deleted = false;
  let absent = 0;
  const gone = await run.until(NODE_WATCH_MS, async () => {
    const live = await run.options.local.getOrUndefined(path);
    if (live && (await deleteIfThere(run.options.local, path, live.metadata?.uid))) deleted = true;
    absent = live ? 0 : absent + 1;
    return absent >= 2;
  });
  run.step('local', `node/${name}`, deleted ? 'deleted' : 'gone');
  if (!gone) run.left.push(`local node/${name} (re-registered: is a provider still serving it?)`);
}

/** The token Secrets of this remote's peer Secrets, the provider's first, plus leftovers of ours. */
async function tokenSecrets(run: Run): Promise<TokenSecretRef[]> {
  const refs: TokenSecretRef[] = [];
  for (const component of ['virtual-node', 'syncer'] as const) {
    const ref = tokenSecretFromAnnotations(peerSecretOf(run, component)?.metadata?.annotations ?? {});
    if (ref) refs.push(ref);
  }
  const accounts = run.options.secrets.flatMap(({ entry }) =>
    'annotations' in entry ? [entry.annotations[PEER_ANNOTATIONS.serviceAccount] ?? ''] : [],
  );
  for (const account of accounts) {
    const [namespace, name] = account.split('/');
    if (!namespace || !name) continue;
    const labelSelector = `${TOKEN_FOR_LABEL}=${name},${TOKEN_LOCAL_CLUSTER_LABEL}=${run.options.localCluster}`;
    const { items } = await run.options.remote.objects.listAll(collectionOf('Secret', namespace), { labelSelector });
    for (const item of items) {
      const ref = { namespace, name: String(item.metadata?.name), uid: String(item.metadata?.uid) };
      if (!refs.some((known) => known.uid === ref.uid)) refs.unshift(ref);
    }
  }
  return refs;
}

async function revokeTokens(run: Run): Promise<void> {
  for (const ref of await tokenSecrets(run)) {
    const revoked = await revokeToken(run.options.remote.objects, ref);
    run.step('remote', `secret/${ref.namespace}/${ref.name}`, revoked ? 'deleted' : 'gone', 'its token is revoked');
  }
}
