// What the webhook knows about the cluster, served from informer caches so that admission never
// waits on the API server: the policy annotations of opted-in namespaces, and the virtual nodes.
import type { Registry } from 'prom-client';
import type { KubeClient } from '../../kube/client.ts';
import type { Logger } from '../../common/log.ts';
import type { VirtualNodeConvention } from '../../../webhooks/keys.ts';
import { CLUSTERS_ANNOTATION, ENABLED_LABEL, PLACEMENT_ANNOTATION, PREFER_ANNOTATION } from '../../../webhooks/keys.ts';
import type { NamespacePolicy, VirtualNodeInfo } from '../../../webhooks/types.ts';
import type { Informer, InformerOptions } from '../../kube/informer.ts';

/** The part of an Informer this module uses (so tests can supply a small fake). */
export type WatchCache<T> = Pick<Informer<T>, 'start' | 'stop' | 'list' | 'hasSynced' | 'health' | 'on'>;
export type InformerFactory = <T>(options: InformerOptions<T>) => WatchCache<T>;

export interface ClusterState {
  namespacePolicy(namespace: string): NamespacePolicy | undefined;
  virtualNodes(): VirtualNodeInfo[];
  /** Starts both informers; resolves when both have listed once. */
  start(): Promise<void>;
  stop(): void;
  hasSynced(): boolean;
  health(): { ok: boolean; reason?: string };
}

/** The metadata the informers key and compare objects by, plus what the webhook reads. */
interface CachedMetadata {
  name?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
/** The fields of a Namespace and a Node that the webhook reads. */
export interface NamespaceObject {
  metadata?: CachedMetadata;
}
export interface NodeObject {
  metadata?: CachedMetadata;
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/**
 * Informer transforms: the caches keep only what is read above. A Node carries images, addresses
 * and managedFields worth tens of KiB; a Namespace, managedFields and every annotation.
 */
function slimMetadata(metadata: CachedMetadata | undefined): CachedMetadata {
  const { name, uid, resourceVersion, labels, annotations } = metadata ?? {};
  return { name, uid, resourceVersion, labels, annotations };
}
export function slimNamespace(namespace: NamespaceObject): NamespaceObject {
  return { metadata: slimMetadata(namespace.metadata) };
}
export function slimNode(node: NodeObject): NodeObject {
  const conditions = node.status?.conditions?.map(({ type, status }) => ({ type, status }));
  return { metadata: slimMetadata(node.metadata), status: { conditions } };
}

function policyOf(namespace: NamespaceObject): NamespacePolicy {
  const annotations = namespace.metadata?.annotations ?? {};
  const policy: NamespacePolicy = {};
  const placement = annotations[PLACEMENT_ANNOTATION];
  const clusters = annotations[CLUSTERS_ANNOTATION];
  const prefer = annotations[PREFER_ANNOTATION];
  if (placement !== undefined) policy.placement = placement;
  if (clusters !== undefined) policy.clusters = clusters;
  if (prefer !== undefined) policy.prefer = prefer;
  return policy;
}

function virtualNodeOf(node: NodeObject): VirtualNodeInfo {
  const ready = (node.status?.conditions ?? []).some(
    (condition) => condition.type === 'Ready' && condition.status === 'True',
  );
  return { name: node.metadata?.name ?? '', labels: { ...(node.metadata?.labels ?? {}) }, ready };
}

export function createClusterState(options: {
  /** Shared by both informers (one connection pool); closed by the caller. */
  client: KubeClient;
  convention: VirtualNodeConvention;
  createInformer: InformerFactory;
  logger?: Logger;
  /** Where the informers register their watch-restart counter. */
  registry?: Registry;
}): ClusterState {
  const common = {
    client: options.client,
    kubeConfig: options.client.kubeConfig,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
  };
  const namespaces = options.createInformer<NamespaceObject>({
    ...common,
    path: '/api/v1/namespaces',
    labelSelector: `${ENABLED_LABEL}=true`,
    name: 'webhook-namespaces',
    transform: slimNamespace,
  });
  const nodes = options.createInformer<NodeObject>({
    ...common,
    path: '/api/v1/nodes',
    labelSelector: `${options.convention.labelKey}=${options.convention.labelValue}`,
    name: 'webhook-virtual-nodes',
    transform: slimNode,
  });

  // Derived views are rebuilt only when an informer reports a change, not per admission.
  let policies: Map<string, NamespacePolicy> | undefined;
  let virtual: VirtualNodeInfo[] | undefined;
  for (const event of ['add', 'update', 'delete'] as const) {
    namespaces.on(event, () => (policies = undefined));
    nodes.on(event, () => (virtual = undefined));
  }

  return {
    namespacePolicy(namespace) {
      policies ??= new Map(namespaces.list().map((item) => [item.metadata?.name ?? '', policyOf(item)]));
      return policies.get(namespace);
    },
    virtualNodes() {
      virtual ??= nodes.list().map(virtualNodeOf);
      return virtual;
    },
    async start() {
      await Promise.all([namespaces.start(), nodes.start()]);
      policies = undefined;
      virtual = undefined;
    },
    stop() {
      namespaces.stop();
      nodes.stop();
    },
    hasSynced: () => namespaces.hasSynced() && nodes.hasSynced(),
    health() {
      const failing = [
        ['namespaces', namespaces.health()],
        ['virtual nodes', nodes.health()],
      ] as const;
      const reasons = failing
        .filter(([, health]) => !health.ok)
        .map(([what, health]) => `${what} watch: ${health.reason ?? 'unhealthy'}`);
      return reasons.length === 0 ? { ok: true } : { ok: false, reason: reasons.join('; ') };
    },
  };
}
