// `kube-offload status`, the pure part: given what both clusters hold for one namespace and one
// remote, count the objects in sync, pending and in conflict, with exactly the comparison the
// syncer uses (so "in sync" here means "the syncer would write nothing").
import type { KubeObject } from '../../webhooks/types.ts';
import { needsRecreate, needsUpdate } from './compare.ts';
import { KINDS, SERVICE_NAME_LABEL, desiredCopy, desiredEndpointSlice, isOwnedByUs } from './copy.ts';
import type { Kind } from './copy.ts';
import { isReplicable, twinState } from './plan.ts';
import type { ExclusionCheck, TwinState } from './plan.ts';

export type ItemState = 'in-sync' | 'pending' | 'conflict';

export interface ItemReport {
  kind: Kind;
  name: string;
  state: ItemState;
  /** Why pending/conflict: missing, differs, orphan, foreign. */
  why?: string;
}

export interface NamespaceComparison {
  twinState: TwinState;
  inSync: number;
  pending: number;
  conflict: number;
  items: ItemReport[];
}

export interface CompareInput {
  localCluster: string;
  /** The local namespace (its twin must say it comes from this one). */
  namespace: string;
  twin: string;
  twinObject: KubeObject | undefined;
  /** Local objects of the namespace, by kind (unfiltered; stamping is checked here). */
  local: Record<Kind, KubeObject[]>;
  /** Every remote object in the twin namespace, by kind (not only ours: conflicts show up). */
  remote: Record<Kind, KubeObject[]>;
  excluded: ExclusionCheck;
  isVirtualNode?: (nodeName: string) => boolean;
}

/** The copies there should be of one kind, by name. */
function desiredOfKind(input: CompareInput, kind: Kind, services: Map<string, KubeObject>): Map<string, KubeObject> {
  const ctx = { localCluster: input.localCluster, twinNamespace: input.twin };
  const sliceCtx = { ...ctx, ...(input.isVirtualNode ? { isVirtualNode: input.isVirtualNode } : {}) };
  const desired = new Map<string, KubeObject>();
  for (const raw of input.local[kind]) {
    const object: KubeObject = { kind, ...raw };
    const name = object.metadata?.name;
    if (!name) continue;
    if (kind === 'EndpointSlice') {
      const service = services.get(object.metadata?.labels?.[SERVICE_NAME_LABEL] ?? '');
      if (service && isReplicable(service, input.excluded))
        desired.set(name, desiredEndpointSlice(object, service, sliceCtx));
    } else if (isReplicable(object, input.excluded)) {
      desired.set(name, desiredCopy(object, ctx));
    }
  }
  return desired;
}

/** Where one desired copy stands. */
function copyState(
  desired: KubeObject,
  actual: KubeObject | undefined,
  input: CompareInput,
  twin: TwinState,
): Omit<ItemReport, 'kind' | 'name'> {
  if (twin === 'foreign') return { state: 'conflict', why: 'twin namespace not ours' };
  if (!actual) return { state: 'pending', why: 'missing' };
  if (!isOwnedByUs(actual, input.localCluster)) return { state: 'conflict', why: 'foreign object with this name' };
  if (needsRecreate(desired, actual) || needsUpdate(desired, actual)) return { state: 'pending', why: 'differs' };
  return { state: 'in-sync' };
}

function compareKind(
  input: CompareInput,
  kind: Kind,
  services: Map<string, KubeObject>,
  twin: TwinState,
): ItemReport[] {
  const desired = desiredOfKind(input, kind, services);
  const remote = new Map<string, KubeObject>();
  for (const object of input.remote[kind])
    if (object.metadata?.name) remote.set(object.metadata.name, { kind, ...object });
  const items: ItemReport[] = [];
  for (const [name, copy] of desired) items.push({ kind, name, ...copyState(copy, remote.get(name), input, twin) });
  if (twin === 'foreign') return items;
  for (const [name, actual] of remote) {
    const orphan = !desired.has(name) && isOwnedByUs(actual, input.localCluster);
    if (orphan) items.push({ kind, name, state: 'pending', why: 'orphan copy' });
  }
  return items;
}

export function compareNamespace(input: CompareInput): NamespaceComparison {
  const twin = twinState(input.twinObject, input.localCluster, input.namespace);
  const services = new Map<string, KubeObject>();
  for (const service of input.local.Service) {
    if (service.metadata?.name) services.set(service.metadata.name, { kind: 'Service', ...service });
  }
  const items = KINDS.flatMap((kind) => compareKind(input, kind, services, twin));
  const count = (state: ItemState): number => items.filter((item) => item.state === state).length;
  return { twinState: twin, inSync: count('in-sync'), pending: count('pending'), conflict: count('conflict'), items };
}

export interface StatusRow {
  namespace: string;
  remote: string;
  twin: string;
  /** ready / missing / terminating / foreign, or "not selected" (by the clusters selector). */
  twinState: string;
  inSync: number;
  pending: number;
  conflict: number;
  lastError: string;
}

/** A fixed-width text table. */
export function formatTable(rows: StatusRow[]): string {
  const header = ['NAMESPACE', 'REMOTE', 'TWIN', 'TWIN STATE', 'IN SYNC', 'PENDING', 'CONFLICT', 'LAST ERROR'];
  const body = rows.map((row) => [
    row.namespace,
    row.remote,
    row.twin,
    row.twinState,
    String(row.inSync),
    String(row.pending),
    String(row.conflict),
    row.lastError || '-',
  ]);
  const all = [header, ...body];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  const pad = (row: string[]): string =>
    row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ');
  return all.map(pad).join('\n') + '\n';
}
