// `kube-offload status`: each remote (peered, or given with --remote) with its reachability,
// virtual node, twin namespaces, offloaded pods and last error (src/peering/remote-status.ts),
// then the replication status per opted-in namespace × remote, recomputed by reading both
// clusters with the syncer's own comparison (src/syncer/status.ts). The last replication error
// comes from the syncer's ReplicationFailed / ReplicationConflict Events in the local namespace.
import { EXIT, formatDocument, parseCommandFlags } from '../common/flags.ts';
import { KubeClient, resourcePath } from '../kube/client.ts';
import { liteFromText, loadKubeClientConfig } from '../kube/kubeconfig.ts';
import { errorMessage } from '../common/errors.ts';
import { PEER_ANNOTATIONS } from '../common/peer-secret.ts';
import type { PeerEntry } from '../common/peer-secret.ts';
import { twinNamespaceOf } from '../common/twin.ts';
import type { PeeringClient } from '../peering/api.ts';
import { clientFor, loadCluster } from '../peering/clusters.ts';
import { listPeerSecrets, resolveLocalCluster } from '../peering/local.ts';
import type { PeerSecret } from '../peering/local.ts';
import { formatRemotes, remoteStatus } from '../peering/remote-status.ts';
import type { RemoteStatus } from '../peering/remote-status.ts';
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
import type { StatusConfig } from '../syncer/config.ts';
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

/** A remote to report on: how it was found, and a client for it (none when that failed). */
interface RemoteClient {
  name: string;
  source: RemoteStatus['source'];
  labels: Record<string, string>;
  server: string;
  tokenExpires?: string;
  client?: KubeClient;
  /** Why there is no client. */
  error?: string;
}

/** What one namespace looks like from the local side, shared by every remote's row. */
interface LocalView {
  name: string;
  /** The Namespace itself: its kube-offload.io/twin-name annotation names the twin. */
  object: KubeObject;
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

/** The local cluster's name, and the virtual nodes' names. */
interface LocalContext {
  clusterName: string;
  virtualNames: Set<string>;
}

/** One namespace × remote: the row of the table, and the items out of sync for -o json. */
async function compareRemote(view: LocalView, remote: RemoteClient, ctx: LocalContext, report: Report): Promise<void> {
  const { name, selection } = view;
  const twin = twinNamespaceOf(name, view.object, ctx.clusterName);
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
    if (!remote.client) throw new Error(remote.error ?? 'no credentials');
    twinObject = await remote.client.getOrUndefined<KubeObject>(`${path('Namespace')}/${encodeURIComponent(twin)}`);
    if (twinObject) remoteObjects = await listKinds(remote.client, twin);
  } catch (err) {
    report.rows.push(row('unreachable', undefined, errorMessage(err).slice(0, 120)));
    return;
  }
  const comparison = compareNamespace({
    localCluster: ctx.clusterName,
    namespace: name,
    twin,
    twinObject,
    local: view.objects,
    remote: remoteObjects,
    excluded: excludedFromReplication,
    isVirtualNode: (node) => ctx.virtualNames.has(node),
  });
  const { twinState, inSync, pending, conflict } = comparison;
  report.rows.push(row(twinState, { inSync, pending, conflict }));
  const outOfSync = comparison.items.filter((item) => item.state !== 'in-sync');
  report.details.push({ namespace: name, remote: remote.name, twin, twinState, items: outOfSync });
}

async function statusReport(clusterName: string, local: KubeClient, remotes: RemoteClient[]): Promise<Report> {
  const virtualNodes = await listVirtualNodes(local);
  const ctx = { clusterName, virtualNames: new Set(virtualNodes.map((node) => node.metadata?.name ?? '')) };
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
      object: namespace,
      selection: remotesForNamespace(namespace, remoteInfo, compileClusterSelector),
      objects: await listKinds(local, name),
      errors: await lastErrors(local, name),
    };
    for (const remote of remotes) await compareRemote(view, remote, ctx, report);
  }
  return report;
}

const USER_AGENT = 'kube-offload-status';

/** The remotes of --remote, with their kubeconfig files. */
function flagRemotes(config: StatusConfig): RemoteClient[] {
  return config.remotes.map((remote) => {
    const client = new KubeClient(loadKubeClientConfig(remote.kubeconfig), { userAgent: USER_AGENT });
    return { name: remote.name, source: 'flag', labels: remote.labels, server: client.server, client };
  });
}

/** A peered remote, read with the syncer's credentials (the provider's when there are none). */
function peerRemote(name: string, entries: PeerEntry[]): RemoteClient {
  const entry = entries.find((e) => e.component === 'syncer') ?? entries[0];
  const base = { name, source: 'peer' as const, labels: {}, server: '' };
  const kubeConfig = entry ? liteFromText(entry.kubeconfig) : undefined;
  if (!entry || !kubeConfig) return { ...base, error: `the peer Secret of remote ${name} holds no usable kubeconfig` };
  const client = new KubeClient(kubeConfig, { userAgent: USER_AGENT });
  const tokenExpires = entry.annotations[PEER_ANNOTATIONS.tokenExpires];
  return { ...base, server: client.server, client, ...(tokenExpires ? { tokenExpires } : {}) };
}

/** The remotes the peer Secrets name, by name. */
function peerRemotes(secrets: PeerSecret[]): RemoteClient[] {
  const byRemote = new Map<string, PeerEntry[]>();
  for (const { entry } of secrets) {
    if ('error' in entry) continue;
    byRemote.set(entry.remote, [...(byRemote.get(entry.remote) ?? []), entry]);
  }
  return [...byRemote].sort(([a], [b]) => a.localeCompare(b)).map(([name, entries]) => peerRemote(name, entries));
}

/** Sums the namespace rows of each remote into its status. */
async function remoteStatuses(
  clusterName: string,
  local: KubeClient,
  remotes: RemoteClient[],
  rows: StatusRow[],
): Promise<RemoteStatus[]> {
  return Promise.all(
    remotes.map((remote) => {
      const mine = rows.filter((row) => row.remote === remote.name);
      const sum = (field: 'inSync' | 'pending' | 'conflict'): number => mine.reduce((n, row) => n + row[field], 0);
      const namespaceError = mine.find((row) => row.lastError)?.lastError;
      return remoteStatus({
        name: remote.name,
        source: remote.source,
        server: remote.server,
        ...(remote.tokenExpires ? { tokenExpires: remote.tokenExpires } : {}),
        localCluster: clusterName,
        local,
        remote: remote.client ?? unreachable(remote.error ?? 'no credentials'),
        objects: { inSync: sum('inSync'), pending: sum('pending'), conflict: sum('conflict') },
        ...(namespaceError ? { namespaceError } : {}),
      });
    }),
  );
}

/** A client for a remote we have no credentials for: every call fails with `why`. */
function unreachable(why: string): PeeringClient {
  const fail = async (): Promise<never> => {
    throw new Error(why);
  };
  return { listAll: fail, getOrUndefined: fail, create: fail, replace: fail, patch: fail, delete: fail };
}

function print(config: StatusConfig, remotes: RemoteStatus[], report: Report): void {
  const document = formatDocument(config.output, { remotes, rows: report.rows, details: report.details });
  if (document !== undefined) process.stdout.write(document);
  else {
    const remoteTable = remotes.length ? formatRemotes(remotes) : 'no remotes: connect one with kube-offload peer\n';
    const namespaces = report.rows.length ? formatTable(report.rows) : 'no opted-in namespaces\n';
    process.stdout.write(`${remoteTable}\n${namespaces}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('status', argv, parseStatusArgs, STATUS_USAGE);
  if (typeof config === 'number') return config;
  let local: KubeClient | undefined;
  let remotes: RemoteClient[] = [];
  try {
    const localConfig = loadCluster({ ...config, flags: { kubeconfig: 'kubeconfig', context: 'context' } });
    local = clientFor(localConfig, USER_AGENT);
    const secrets = config.remotes.length ? [] : await listPeerSecrets(local, undefined, config.namespace);
    const clusterName = await resolveLocalCluster(local, config.clusterName, secrets, config.namespace);
    remotes = config.remotes.length ? flagRemotes(config) : peerRemotes(secrets);
    const report = await statusReport(clusterName, local, remotes);
    print(config, await remoteStatuses(clusterName, local, remotes, report.rows), report);
    return EXIT.ok;
  } catch (error) {
    process.stderr.write(`kube-offload status: ${errorMessage(error)}\n`);
    return EXIT.failure;
  } finally {
    local?.close();
    for (const remote of remotes) remote.client?.close();
  }
}
