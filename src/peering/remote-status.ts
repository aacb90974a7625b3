// `kube-offload status`, per remote: does it answer, its virtual node (readiness, capacity), the
// twin namespaces we own there, the pods offloaded to it, and the last error; `formatRemotes`
// prints them. The objects in sync / pending / in conflict are counted per namespace elsewhere
// (the syncer's own comparison) and summed in here.
import { errorMessage } from '../common/errors.ts';
import { isOwnedByUs, ownedSelector } from '../common/ownership.ts';
import { REMOTE_CLUSTER_LABEL, VIRTUAL_NODE_LABEL, VIRTUAL_NODE_LABEL_VALUE } from '../../webhooks/keys.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { collectionOf } from './api.ts';
import type { PeeringClient } from './api.ts';

export interface VirtualNodeStatus {
  name: string;
  /** The Ready condition: True, False or Unknown. */
  ready: string;
  schedulable: boolean;
  capacity: { cpu: string; memory: string; pods: string };
  /** Why not Ready, from the condition. */
  message?: string;
}

export interface ObjectCounts {
  inSync: number;
  pending: number;
  conflict: number;
}

export interface RemoteStatus {
  name: string;
  /** Where the remote was found: a peer Secret or a --remote flag. */
  source: 'peer' | 'flag';
  server: string;
  reachable: boolean;
  /** When the syncer's token expires (peered remotes). */
  tokenExpires?: string;
  virtualNode?: VirtualNodeStatus;
  twinNamespaces: string[];
  objects: ObjectCounts;
  offloadedPods: { total: number; running: number };
  lastError: string;
}

export interface RemoteStatusInput {
  name: string;
  source: RemoteStatus['source'];
  server: string;
  tokenExpires?: string;
  localCluster: string;
  local: PeeringClient;
  /** Reads the remote (the syncer's credentials, or those of --remote). */
  remote: PeeringClient;
  /** From the per-namespace comparison: counts and the newest error for this remote. */
  objects: ObjectCounts;
  namespaceError?: string;
}

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').slice(0, 160);

function nodeStatus(node: KubeObject): VirtualNodeStatus {
  const status = (node.status ?? {}) as {
    conditions?: Array<{ type: string; status: string; message?: string }>;
    capacity?: Record<string, string>;
  };
  const ready = status.conditions?.find((condition) => condition.type === 'Ready');
  const capacity = status.capacity ?? {};
  return {
    name: String(node.metadata?.name),
    ready: ready?.status ?? 'Unknown',
    schedulable: !(node.spec as { unschedulable?: boolean } | undefined)?.unschedulable,
    capacity: { cpu: capacity.cpu ?? '-', memory: capacity.memory ?? '-', pods: capacity.pods ?? '-' },
    ...(ready && ready.status !== 'True' && ready.message ? { message: oneLine(ready.message) } : {}),
  };
}

async function virtualNodeOf(input: RemoteStatusInput): Promise<KubeObject | undefined> {
  const labelSelector = `${VIRTUAL_NODE_LABEL}=${VIRTUAL_NODE_LABEL_VALUE},${REMOTE_CLUSTER_LABEL}=${input.name}`;
  return (await input.local.listAll(collectionOf('Node'), { labelSelector })).items[0];
}

async function offloadedPods(input: RemoteStatusInput, node: string): Promise<RemoteStatus['offloadedPods']> {
  const { items } = await input.local.listAll(collectionOf('Pod'), { fieldSelector: `spec.nodeName=${node}` });
  const running = items.filter((pod) => (pod.status as { phase?: string } | undefined)?.phase === 'Running');
  return { total: items.length, running: running.length };
}

/** The twin namespaces we own in the remote; throws when the remote cannot be read. */
async function twinsOf(input: RemoteStatusInput): Promise<string[]> {
  const labelSelector = ownedSelector(input.localCluster);
  const { items } = await input.remote.listAll(collectionOf('Namespace'), { labelSelector });
  const owned = items.filter((namespace) => isOwnedByUs(namespace, input.localCluster));
  return owned.map((namespace) => String(namespace.metadata?.name)).sort();
}

/** The status of one remote; never throws for the remote's sake (an outage is a status). */
export async function remoteStatus(input: RemoteStatusInput): Promise<RemoteStatus> {
  let twinNamespaces: string[] = [];
  let unreachable: string | undefined;
  try {
    twinNamespaces = await twinsOf(input);
  } catch (err) {
    unreachable = oneLine(errorMessage(err));
  }
  const node = await virtualNodeOf(input);
  const virtualNode = node && nodeStatus(node);
  const pods = node ? await offloadedPods(input, virtualNode?.name ?? '') : { total: 0, running: 0 };
  const nodeError = virtualNode?.message
    ? `node ${virtualNode.name} ${virtualNode.ready}: ${virtualNode.message}`
    : undefined;
  return {
    name: input.name,
    source: input.source,
    server: input.server,
    reachable: unreachable === undefined,
    ...(input.tokenExpires ? { tokenExpires: input.tokenExpires } : {}),
    ...(virtualNode ? { virtualNode } : {}),
    twinNamespaces,
    objects: input.objects,
    offloadedPods: pods,
    lastError: unreachable ?? input.namespaceError ?? nodeError ?? '',
  };
}

const HEADER = ['REMOTE', 'REACHABLE', 'NODE', 'READY', 'CPU', 'MEMORY', 'PODS', 'TWINS', 'IN SYNC', 'PENDING'];
const HEADER_END = ['CONFLICT', 'OFFLOADED', 'LAST ERROR'];

function remoteRow(status: RemoteStatus): string[] {
  const node = status.virtualNode;
  const ready = node ? `${node.ready}${node.schedulable ? '' : ',cordoned'}` : '-';
  return [
    status.name,
    status.reachable ? 'yes' : 'no',
    node?.name ?? '-',
    ready,
    node?.capacity.cpu ?? '-',
    node?.capacity.memory ?? '-',
    node?.capacity.pods ?? '-',
    status.twinNamespaces.length ? status.twinNamespaces.join(',') : '-',
    String(status.objects.inSync),
    String(status.objects.pending),
    String(status.objects.conflict),
    `${status.offloadedPods.running}/${status.offloadedPods.total} running`,
    status.lastError || '-',
  ];
}

/** A fixed-width table, one line per remote. */
export function formatRemotes(statuses: RemoteStatus[]): string {
  const rows = [[...HEADER, ...HEADER_END], ...statuses.map(remoteRow)];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const pad = (row: string[]): string =>
    row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ');
  return rows.map(pad).join('\n') + '\n';
}
