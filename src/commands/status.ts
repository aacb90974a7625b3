// `kube-offload status`: replication status per opted-in namespace × remote, recomputed by
// reading both clusters with the syncer's own comparison (src/syncer/status.ts). The last error
// comes from the syncer's ReplicationFailed / ReplicationConflict Events in the local namespace.
import { parseCommandFlags } from '../shared/flags.ts';
import { KubeClient, loadKubeConfig, resourcePath } from '../kube/client.ts';
import { twinNamespaceName } from '../shared/twin.ts';
import { ENABLED_LABEL, REMOTE_CLUSTER_LABEL, VIRTUAL_NODE_LABEL, VIRTUAL_NODE_LABEL_VALUE } from '../../webhooks/keys.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { KIND_INFO, KINDS } from '../syncer/copy.ts';
import type { Kind } from '../syncer/copy.ts';
import { STATUS_USAGE, parseStatusArgs } from '../syncer/config.ts';
import { remotesForNamespace } from '../syncer/plan.ts';
import { compileClusterSelector, excludedFromReplication } from '../syncer/rules.ts';
import { compareNamespace, formatTable } from '../syncer/status.ts';
import type { StatusRow } from '../syncer/status.ts';

function path(kind: Kind | 'Namespace', namespace?: string): string {
  const i = KIND_INFO[kind];
  return resourcePath({ group: i.group, version: i.version, resource: i.resource, ...(namespace ? { namespace } : {}) });
}

async function listKinds(client: KubeClient, namespace: string): Promise<Record<Kind, KubeObject[]>> {
  const out = {} as Record<Kind, KubeObject[]>;
  await Promise.all(KINDS.map(async (kind) => (out[kind] = (await client.listAll<KubeObject>(path(kind, namespace))).items)));
  return out;
}

const EMPTY: Record<Kind, KubeObject[]> = { Service: [], Secret: [], ConfigMap: [], EndpointSlice: [] };

interface EventLike {
  apiVersion?: string;
  kind?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  metadata?: { name?: string; [field: string]: unknown };
}

async function lastErrors(client: KubeClient, namespace: string): Promise<EventLike[]> {
  const events: EventLike[] = [];
  for (const reason of ['ReplicationFailed', 'ReplicationConflict']) {
    try {
      events.push(...(await client.listAll<EventLike>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, { fieldSelector: `reason=${reason}` })).items);
      // Events about the Namespace itself live in "default" (cluster-scoped involved object).
      events.push(...(await client.listAll<EventLike>('/api/v1/namespaces/default/events', { fieldSelector: `reason=${reason},involvedObject.kind=Namespace,involvedObject.name=${namespace}` })).items);
    } catch {
      // events unreadable: no last error column
    }
  }
  const time = (e: EventLike): string => e.lastTimestamp ?? e.eventTime ?? String(e.metadata?.creationTimestamp ?? '');
  return events.sort((a, b) => time(b).localeCompare(time(a)));
}

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('status', argv, parseStatusArgs, STATUS_USAGE);
  if (typeof config === 'number') return config;
  try {
    const local = new KubeClient(loadKubeConfig(config.kubeconfig), { userAgent: 'kube-offload-status' });
    const remotes = config.remotes.map((r) => ({ ...r, client: new KubeClient(loadKubeConfig(r.kubeconfig), { userAgent: 'kube-offload-status' }) }));
    let virtualNodes: KubeObject[] = [];
    try {
      virtualNodes = (await local.listAll<KubeObject>('/api/v1/nodes', { labelSelector: `${VIRTUAL_NODE_LABEL}=${VIRTUAL_NODE_LABEL_VALUE}` })).items;
    } catch {
      // nodes unreadable: remotes keep only their flag labels
    }
    const virtualNames = new Set(virtualNodes.map((n) => n.metadata?.name ?? ''));
    const remoteInfo = remotes.map((r) => {
      const node = virtualNodes.find((n) => n.metadata?.labels?.[REMOTE_CLUSTER_LABEL] === r.name);
      return { name: r.name, labels: { ...(node?.metadata?.labels ?? {}), ...r.labels, [REMOTE_CLUSTER_LABEL]: r.name } };
    });
    const namespaces = (await local.listAll<KubeObject>(path('Namespace'), { labelSelector: `${ENABLED_LABEL}=true` })).items;
    const rows: StatusRow[] = [];
    const details: unknown[] = [];
    for (const ns of namespaces.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))) {
      const name = ns.metadata?.name ?? '';
      const selection = remotesForNamespace(ns, remoteInfo, compileClusterSelector);
      const localObjects = await listKinds(local, name);
      const errors = await lastErrors(local, name);
      for (const r of remotes) {
        const twin = twinNamespaceName(name, config.clusterName);
        const lastError = errors.find((e) => (e.message ?? '').includes(`remote ${r.name}`));
        const errText = lastError ? `${lastError.reason}: ${lastError.message ?? ''}`.replace(/\s+/g, ' ').slice(0, 120) : selection.error ?? '';
        if (!selection.error && !selection.remotes.includes(r.name)) {
          rows.push({ namespace: name, remote: r.name, twin, twinState: 'not selected', inSync: 0, pending: 0, conflict: 0, lastError: errText });
          continue;
        }
        let twinObject: KubeObject | undefined;
        let remoteObjects = EMPTY;
        try {
          twinObject = await r.client.getOrUndefined<KubeObject>(`${path('Namespace')}/${encodeURIComponent(twin)}`);
          if (twinObject) remoteObjects = await listKinds(r.client, twin);
        } catch (err) {
          rows.push({ namespace: name, remote: r.name, twin, twinState: 'unreachable', inSync: 0, pending: 0, conflict: 0, lastError: (err as Error).message.slice(0, 120) });
          continue;
        }
        const cmp = compareNamespace({
          localCluster: config.clusterName,
          twin,
          twinObject,
          local: localObjects,
          remote: remoteObjects,
          excluded: excludedFromReplication,
          isVirtualNode: (n) => virtualNames.has(n),
        });
        rows.push({ namespace: name, remote: r.name, twin, twinState: cmp.twinState, inSync: cmp.inSync, pending: cmp.pending, conflict: cmp.conflict, lastError: errText });
        details.push({ namespace: name, remote: r.name, twin, twinState: cmp.twinState, items: cmp.items.filter((i) => i.state !== 'in-sync') });
      }
    }
    if (config.output === 'json') process.stdout.write(`${JSON.stringify({ rows, details }, null, 2)}\n`);
    else process.stdout.write(rows.length ? formatTable(rows) : 'no opted-in namespaces\n');
    local.close();
    for (const r of remotes) r.client.close();
    return 0;
  } catch (error) {
    process.stderr.write(`kube-offload status: ${(error as Error).message}\n`);
    return 1;
  }
}
