// `kube-offload status`, the pure part: given what both clusters hold for one namespace and one
// remote, count the objects in sync, pending and in conflict, with exactly the comparison the
// syncer uses (so "in sync" here means "the syncer would write nothing").
import type { KubeObject } from '../../webhooks/types.ts';
import { KINDS, SERVICE_NAME_LABEL, desiredCopy, desiredEndpointSlice, isOwnedByUs, needsRecreate, needsUpdate } from './copy.ts';
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
  twin: string;
  twinObject: KubeObject | undefined;
  /** Local objects of the namespace, by kind (unfiltered; stamping is checked here). */
  local: Record<Kind, KubeObject[]>;
  /** Every remote object in the twin namespace, by kind (not only ours: conflicts show up). */
  remote: Record<Kind, KubeObject[]>;
  excluded: ExclusionCheck;
  isVirtualNode?: (nodeName: string) => boolean;
}

export function compareNamespace(input: CompareInput): NamespaceComparison {
  const state = twinState(input.twinObject, input.localCluster);
  const ctx = { localCluster: input.localCluster, twinNamespace: input.twin };
  const items: ItemReport[] = [];
  const services = new Map<string, KubeObject>();
  for (const s of input.local.Service) if (s.metadata?.name) services.set(s.metadata.name, { kind: 'Service', ...s });
  for (const kind of KINDS) {
    const desired = new Map<string, KubeObject>();
    for (const raw of input.local[kind]) {
      const o: KubeObject = { kind, ...raw };
      const name = o.metadata?.name;
      if (!name) continue;
      if (kind === 'EndpointSlice') {
        const svc = services.get(o.metadata?.labels?.[SERVICE_NAME_LABEL] ?? '');
        if (svc && isReplicable(svc, input.excluded)) desired.set(name, desiredEndpointSlice(o, svc, { ...ctx, ...(input.isVirtualNode ? { isVirtualNode: input.isVirtualNode } : {}) }));
      } else if (isReplicable(o, input.excluded)) {
        desired.set(name, desiredCopy(o, ctx));
      }
    }
    const remote = new Map<string, KubeObject>();
    for (const r of input.remote[kind]) if (r.metadata?.name) remote.set(r.metadata.name, { kind, ...r });
    for (const [name, d] of desired) {
      const actual = remote.get(name);
      if (state === 'foreign') items.push({ kind, name, state: 'conflict', why: 'twin namespace not ours' });
      else if (!actual) items.push({ kind, name, state: 'pending', why: 'missing' });
      else if (!isOwnedByUs(actual, input.localCluster)) items.push({ kind, name, state: 'conflict', why: 'foreign object with this name' });
      else if (needsRecreate(d, actual) || needsUpdate(d, actual)) items.push({ kind, name, state: 'pending', why: 'differs' });
      else items.push({ kind, name, state: 'in-sync' });
    }
    if (state !== 'foreign') {
      for (const [name, actual] of remote) {
        if (!desired.has(name) && isOwnedByUs(actual, input.localCluster)) items.push({ kind, name, state: 'pending', why: 'orphan copy' });
      }
    }
  }
  return {
    twinState: state,
    inSync: items.filter((i) => i.state === 'in-sync').length,
    pending: items.filter((i) => i.state === 'pending').length,
    conflict: items.filter((i) => i.state === 'conflict').length,
    items,
  };
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
  const body = rows.map((r) => [r.namespace, r.remote, r.twin, r.twinState, String(r.inSync), String(r.pending), String(r.conflict), r.lastError || '-']);
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}
