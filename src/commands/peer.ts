// `kube-offload peer`: connects a remote cluster to this one (src/peering/peer.ts does the work).
// Exit 2 on bad flags, 1 when a cluster cannot be read or written.
import { EXIT, formatDocument, parseCommandFlags } from '../common/flags.ts';
import { errorMessage } from '../common/errors.ts';
import { PEER_USAGE, parsePeerArgs } from '../peering/config.ts';
import type { PeerConfig } from '../peering/config.ts';
import { clientFor, endpointOf, loadCluster } from '../peering/clusters.ts';
import { listPeerSecrets, resolveLocalCluster } from '../peering/local.ts';
import { defaultManifestsRoot, readRemoteManifests } from '../peering/manifests.ts';
import { peer } from '../peering/peer.ts';
import type { PeerReport } from '../peering/peer.ts';
import { formatSteps } from '../peering/report.ts';

const USER_AGENT = 'kube-offload-peer';

function manifestsOf(config: PeerConfig): ReturnType<typeof readRemoteManifests> {
  const root = config.manifests ?? defaultManifestsRoot();
  if (!root) throw new Error('--manifests DIR is required: no manifests/ directory next to this installation');
  return readRemoteManifests(root);
}

function printReport(report: PeerReport, output: PeerConfig['output']): void {
  const document = formatDocument(output, report);
  if (document !== undefined) {
    process.stdout.write(document);
    return;
  }
  const where = `this cluster "${report.localCluster}", identities from ${report.manifests}`;
  const head = `peer ${report.remote}: ${report.server}, ${where}`;
  const verdict = report.changed
    ? `peered: the syncer and the virtual node provider pick up remote ${report.remote} within seconds`
    : `nothing changed: remote ${report.remote} is peered`;
  process.stdout.write(`${head}\n${formatSteps(report.steps)}${verdict}\n`);
}

/** What `kube-offload peer` does once its flags are parsed (the sandbox peers its remotes through it too). */
export async function peerWith(config: PeerConfig): Promise<PeerReport> {
  const manifests = manifestsOf(config);
  const localConfig = loadCluster({ ...config, flags: { kubeconfig: 'kubeconfig', context: 'context' } });
  const remoteConfig = loadCluster({
    ...(config.remoteKubeconfig ? { kubeconfig: config.remoteKubeconfig } : {}),
    ...(config.remoteContext ? { context: config.remoteContext } : {}),
    flags: { kubeconfig: 'remote-kubeconfig', context: 'remote-context' },
  });
  const localServer = localConfig.getCurrentCluster()?.server;
  if (localServer === remoteConfig.getCurrentCluster()?.server) {
    throw new Error(
      `--remote-context/--remote-kubeconfig name this cluster (${localServer}); a cluster is not its own remote`,
    );
  }
  const local = clientFor(localConfig, USER_AGENT);
  const remote = clientFor(remoteConfig, USER_AGENT);
  try {
    const secrets = await listPeerSecrets(local, undefined, config.namespace);
    const localCluster = await resolveLocalCluster(local, config.clusterName, secrets, config.namespace);
    const endpoint = endpointOf(remoteConfig, config.remoteServer);
    return await peer({
      name: config.name,
      localCluster,
      local,
      remote,
      endpoint,
      manifests,
      rotate: config.rotate,
      tokenSeconds: config.tokenSeconds,
      namespace: config.namespace,
    });
  } finally {
    local.close();
    remote.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('peer', argv, parsePeerArgs, PEER_USAGE);
  if (typeof config === 'number') return config;
  try {
    printReport(await peerWith(config), config.output);
    return EXIT.ok;
  } catch (error) {
    process.stderr.write(`kube-offload peer: ${errorMessage(error)}\n`);
    return EXIT.failure;
  }
}
