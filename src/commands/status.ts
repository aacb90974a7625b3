// `kube-offload status`: replication status per opted-in namespace × remote, recomputed by
// reading both clusters with the syncer's own comparison (src/syncer/status.ts). The last error
// comes from the syncer's ReplicationFailed / ReplicationConflict Events in the local namespace.
import { parseCommandFlags } from '../shared/flags.ts';
import { KubeClient, loadKubeConfig, resourcePath } from '../kube/client.ts';
import { twinNamespaceName } from '../shared/twin.ts';
import {
  ENABLED_LABEL,
  REMOTE_CLUSTER_LABEL,
  VIRTUAL_NODE_LABEL,
  VIRTUAL_NODE_LABEL_VALUE,
} from '../../webhooks/keys.ts';
import type { KubeObject } from '../../webhooks/types.ts';
import { KIND_INFO, KINDS } from '../syncer/copy.ts';
import type { Kind } from '../syncer/copy.ts';
import { STATUS_USAGE, parseStatusArgs } from '../syncer/config.ts';
import type { RemoteFlag, StatusConfig } from '../syncer/config.ts';
import { remotesForNamespace } from '../syncer/plan.ts';
import { compileClusterSelector, excludedFromReplication } from '../syncer/rules.ts';
import { compareNamespace, formatTable } from '../syncer/status.ts';
import type { StatusRow } from '../syncer/status.ts';

function path(kind: Kind | 'Namespace', namespace?: string): string {
  const i = KIND_INFO[kind];
  return resourcePath({
    group: i.group,
    version: i.version,
    resource: i.resource,
    ...(namespace ? { namespace } : {}),
  });
}

async function listKinds(client: KubeClient, namespace: string): Promise<Record<Kind, KubeObject[]>> {
  const out = {} as Record<Kind, KubeObject[]>;
  await Promise.all(
    KINDS.map(async (kind) => (out[kind] = (await client.listAll<KubeObject>(path(kind, namespace))).items)),
  );
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
      events.push(
        ...(
          await client.listAll<EventLike>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
            fieldSelector: `reason=${reason}`,
          })
        ).items,
      );
      // Events about the Namespace itself live in "default" (cluster-scoped involved object).
      events.push(
        ...(
          await client.listAll<EventLike>('/api/v1/namespaces/default/events', {
            fieldSelector: `reason=${reason},involvedObject.kind=Namespace,involvedObject.name=${namespace}`,
          })
        ).items,
      );
    } catch {
      // events unreadable: no last error column
    }
  }
  const time = (e: EventLike): string => e.lastTimestamp ?? e.eventTime ?? String(e.metadata?.creationTimestamp ?? '');
  return events.sort((a, b) => time(b).localeCompare(time(a)));
}

interface RemoteClient extends RemoteFlag {
  client: KubeClient;
}

/** What one namespace looks like from the local side, shared by every remote's row. */
interface LocalView {
  name: string;
  selection: { remotes: string[]; error?: string };
  objects: Record<Kind, KubeObject[]>;
  errors: EventLike[];
}

interface Report {
  rows: StatusRow[];
  details: unknown[];
}

/** Virtual nodes (their labels are their remotes' labels); none when they cannot be read. */
async function listVirtualNodes(local: KubeClient): Promise<KubeObject[]> {
  try {
    const selector = `${VIRTUAL_NODE_LABEL}=${VIRTUAL_NODE_LABEL_VALUE}`;
    return (await local.listAll<KubeObject>('/api/v1/nodes', { labelSelector: selector })).items;
  } catch {
    return []; // nodes unreadable: remotes keep only their flag labels
  }
}

/** One namespace × remote: the row of the table, and the items out of sync for -o json. */
async function compareRemote(
  view: LocalView,
  remote: RemoteClient,
  config: StatusConfig,
  virtualNames: Set<string>,
  report: Report,
): Promise<void> {
  const { name, selection } = view;
  const twin = twinNamespaceName(name, config.clusterName);
  const lastError = view.errors.find((event) => (event.message ?? '').includes(`remote ${remote.name}`));
  const errorText = lastError
    ? `${lastError.reason}: ${lastError.message ?? ''}`.replace(/\s+/g, ' ').slice(0, 120)
    : (selection.error ?? '');
  const row = (
    twinState: string,
    counts = { inSync: 0, pending: 0, conflict: 0 },
    lastError = errorText,
  ): StatusRow => ({
    namespace: name,
    remote: remote.name,
    twin,
    twinState,
    ...counts,
    lastError,
  });
  if (!selection.error && !selection.remotes.includes(remote.name)) {
    report.rows.push(row('not selected'));
    return;
  }
  let twinObject: KubeObject | undefined;
  let remoteObjects = EMPTY;
  try {
    twinObject = await remote.client.getOrUndefined<KubeObject>(`${path('Namespace')}/${encodeURIComponent(twin)}`);
    if (twinObject) remoteObjects = await listKinds(remote.client, twin);
  } catch (err) {
    report.rows.push(row('unreachable', undefined, (err as Error).message.slice(0, 120)));
    return;
  }
  const comparison = compareNamespace({
    localCluster: config.clusterName,
    twin,
    twinObject,
    local: view.objects,
    remote: remoteObjects,
    excluded: excludedFromReplication,
    isVirtualNode: (node) => virtualNames.has(node),
  });
  const { twinState, inSync, pending, conflict } = comparison;
  report.rows.push(row(twinState, { inSync, pending, conflict }));
  const outOfSync = comparison.items.filter((item) => item.state !== 'in-sync');
  report.details.push({ namespace: name, remote: remote.name, twin, twinState, items: outOfSync });
}

async function statusReport(config: StatusConfig, local: KubeClient, remotes: RemoteClient[]): Promise<Report> {
  const virtualNodes = await listVirtualNodes(local);
  const virtualNames = new Set(virtualNodes.map((node) => node.metadata?.name ?? ''));
  const remoteInfo = remotes.map((remote) => {
    const node = virtualNodes.find((n) => n.metadata?.labels?.[REMOTE_CLUSTER_LABEL] === remote.name);
    return {
      name: remote.name,
      labels: { ...(node?.metadata?.labels ?? {}), ...remote.labels, [REMOTE_CLUSTER_LABEL]: remote.name },
    };
  });
  const opted = `${ENABLED_LABEL}=true`;
  const namespaces = (await local.listAll<KubeObject>(path('Namespace'), { labelSelector: opted })).items;
  namespaces.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const report: Report = { rows: [], details: [] };
  for (const namespace of namespaces) {
    const name = namespace.metadata?.name ?? '';
    const view: LocalView = {
      name,
      selection: remotesForNamespace(namespace, remoteInfo, compileClusterSelector),
      objects: await listKinds(local, name),
      errors: await lastErrors(local, name),
    };
    for (const remote of remotes) await compareRemote(view, remote, config, virtualNames, report);
  }
  return report;
}

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('status', argv, parseStatusArgs, STATUS_USAGE);
  if (typeof config === 'number') return config;
  try {
    const client = (kubeconfig?: string): KubeClient =>
      new KubeClient(loadKubeConfig(kubeconfig), { userAgent: 'kube-offload-status' });
    const local = client(config.kubeconfig);
    const remotes = config.remotes.map((remote) => ({ ...remote, client: client(remote.kubeconfig) }));
    const { rows, details } = await statusReport(config, local, remotes);
    if (config.output === 'json') process.stdout.write(`${JSON.stringify({ rows, details }, null, 2)}\n`);
    else process.stdout.write(rows.length ? formatTable(rows) : 'no opted-in namespaces\n');
    local.close();
    for (const remote of remotes) remote.client.close();
    return 0;
  } catch (error) {
    process.stderr.write(`kube-offload status: ${(error as Error).message}\n`);
    return 1;
  }
}
