// `kube-offload unpeer`: disconnects a remote cluster (src/peering/unpeer.ts does the work).
// Exit 2 on bad flags, 1 when it cannot start or something could not be removed in time.
import { KubeClient } from '../kube/client.ts';
import { liteFromText } from '../kube/kubeconfig.ts';
import { errorMessage } from '../common/errors.ts';
import { EXIT, formatDocument, parseCommandFlags } from '../common/flags.ts';
import type { PeerComponent } from '../common/peer-secret.ts';
import { collectionOf } from '../peering/api.ts';
import { clientFor, loadCluster } from '../peering/clusters.ts';
import { UNPEER_USAGE, parseUnpeerArgs } from '../peering/config.ts';
import type { UnpeerConfig } from '../peering/config.ts';
import { listPeerSecrets, peeredRemotes, resolveLocalCluster } from '../peering/local.ts';
import type { PeerSecret } from '../peering/local.ts';
import { formatSteps } from '../peering/report.ts';
import { unpeer } from '../peering/unpeer.ts';
import type { UnpeerReport } from '../peering/unpeer.ts';

const USER_AGENT = 'kube-offload-unpeer';

/** A client with the credentials of one component's peer Secret. */
function storedClient(secrets: PeerSecret[], component: PeerComponent): KubeClient | undefined {
  const found = secrets.find(({ entry }) => 'component' in entry && entry.component === component)?.entry;
  const kubeConfig = found && 'kubeconfig' in found ? liteFromText(found.kubeconfig) : undefined;
  return kubeConfig ? new KubeClient(kubeConfig, { userAgent: USER_AGENT }) : undefined;
}

interface RemoteClients {
  objects: KubeClient;
  pods: KubeClient;
  close(): void;
}

/** The remote clients: the admin given with --remote-*, else the stored credentials. */
function remoteClients(config: UnpeerConfig, secrets: PeerSecret[]): RemoteClients {
  if (config.remoteKubeconfig || config.remoteContext) {
    const admin = clientFor(
      loadCluster({
        ...(config.remoteKubeconfig ? { kubeconfig: config.remoteKubeconfig } : {}),
        ...(config.remoteContext ? { context: config.remoteContext } : {}),
        flags: { kubeconfig: 'remote-kubeconfig', context: 'remote-context' },
      }),
      USER_AGENT,
    );
    return { objects: admin, pods: admin, close: () => admin.close() };
  }
  const objects = storedClient(secrets, 'syncer');
  if (!objects) {
    throw new Error(
      `no usable syncer credentials for remote ${config.name}: give --remote-kubeconfig or --remote-context`,
    );
  }
  const pods = storedClient(secrets, 'virtual-node') ?? objects;
  return { objects, pods, close: () => [objects, pods].forEach((client) => client.close()) };
}

/** Fails before anything is deleted when the remote cannot be read with these credentials. */
async function checkReachable(config: UnpeerConfig, remote: RemoteClients): Promise<void> {
  try {
    await remote.objects.list(collectionOf('Namespace'), { limit: 1 });
  } catch (err) {
    const how = config.remoteKubeconfig || config.remoteContext ? 'the given credentials' : 'the stored credentials';
    const hint = 'give --remote-kubeconfig/--remote-context (admin) or fix the connection';
    throw new Error(`remote ${config.name} cannot be read with ${how}: ${errorMessage(err)}; ${hint}`);
  }
}

function printReport(report: UnpeerReport, output: UnpeerConfig['output']): void {
  const document = formatDocument(output, report);
  if (document !== undefined) {
    process.stdout.write(document);
    return;
  }
  const head = `unpeer ${report.remote} (this cluster "${report.localCluster}")`;
  const verdict = report.left.length
    ? `not finished: ${report.left.join('; ')} (run unpeer again)`
    : `unpeered: nothing of kube-offload is left in remote ${report.remote} for this cluster (its identities stay: \
other clusters may share them)`;
  process.stdout.write(`${head}\n${formatSteps(report.steps)}${verdict}\n`);
}

async function unpeerWith(config: UnpeerConfig): Promise<UnpeerReport> {
  const local = clientFor(
    loadCluster({ ...config, flags: { kubeconfig: 'kubeconfig', context: 'context' } }),
    USER_AGENT,
  );
  try {
    const secrets = await listPeerSecrets(local, config.name, config.namespace);
    if (secrets.length === 0 && !config.remoteKubeconfig && !config.remoteContext) {
      const peered = peeredRemotes(await listPeerSecrets(local, undefined, config.namespace)).join(', ') || 'none';
      throw new Error(
        `--name: no peer Secrets for remote "${config.name}" in namespace ${config.namespace} (peered: ${peered})`,
      );
    }
    const localCluster = await resolveLocalCluster(local, config.clusterName, secrets, config.namespace);
    const remote = remoteClients(config, secrets);
    try {
      await checkReachable(config, remote);
      return await unpeer({ ...config, localCluster, local, remote, secrets });
    } finally {
      remote.close();
    }
  } finally {
    local.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('unpeer', argv, parseUnpeerArgs, UNPEER_USAGE);
  if (typeof config === 'number') return config;
  try {
    const report = await unpeerWith(config);
    printReport(report, config.output);
    return report.left.length ? EXIT.failure : EXIT.ok;
  } catch (error) {
    process.stderr.write(`kube-offload unpeer: ${errorMessage(error)}\n`);
    return EXIT.failure;
  }
}
