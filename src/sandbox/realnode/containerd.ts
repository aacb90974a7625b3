// containerd for one real node, in the node's network namespace, with its root, state, socket,
// runc root and CNI configuration in the node's directory. What differs from containerd 1.6's
// defaults, and why:
//   - restrict_oom_score_adj: this host's bounding set lacks CAP_SYS_RESOURCE, so runc cannot
//     lower a container's oom_score_adj below containerd's own (without it every container fails
//     with "can't get final child's PID from pipe: EOF");
//   - netns_mounts_under_state_dir: pod network namespaces go under the state dir, not /run/netns;
//   - the streaming server (exec, attach, port-forward) listens on the namespace's loopback, where
//     the kubelet, which shares the namespace, proxies to it;
//   - runc with cgroupfs (the kubelet's cgroupDriver); the sandbox image is built locally.
import fs from 'node:fs';
import path from 'node:path';
import { CNI_BIN_DIR } from './packages.ts';
import { PAUSE_IMAGE } from './images.ts';
import type { RealNodePlan } from './plan.ts';
import { waitFor, type RealNodeProcesses } from './processes.ts';
import { executable, runCommand } from './system.ts';

const START_TIMEOUT_MS = 30_000;

export function containerdSocket(plan: RealNodePlan): string {
  return path.join(plan.dir, 'containerd.sock');
}

/** The CNI network name: containerd's result cache files (/var/lib/cni/results) start with it. */
export function cniNetworkName(plan: RealNodePlan): string {
  return `kube-offload-${plan.cluster}`;
}

function containerdConfig(plan: RealNodePlan): string {
  const dir = (name: string) => JSON.stringify(path.join(plan.dir, name));
  return `version = 2
root = ${dir('containerd/root')}
state = ${dir('containerd/state')}

[grpc]
  address = ${JSON.stringify(containerdSocket(plan))}

[plugins."io.containerd.internal.v1.opt"]
  path = ${dir('containerd/opt')}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${JSON.stringify(PAUSE_IMAGE)}
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${JSON.stringify(CNI_BIN_DIR)}
    conf_dir = ${dir('cni/net.d')}

  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = ${dir('runc')}
        SystemdCgroup = false
`;
}

/** The pod network: a bridge with the node as gateway, addresses from the node's range, no masquerade. */
function cniConfig(plan: RealNodePlan): string {
  const ipam = {
    type: 'host-local',
    dataDir: path.join(plan.dir, 'cni/ipam'),
    ranges: [[{ subnet: plan.podCIDR, gateway: plan.podGateway }]],
    routes: [{ dst: '0.0.0.0/0' }],
  };
  const bridge = { type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true, ipam };
  return JSON.stringify({ cniVersion: '0.4.0', name: cniNetworkName(plan), plugins: [bridge] }, null, 2);
}

function writeConfigs(plan: RealNodePlan): string {
  for (const sub of ['containerd', 'cni/net.d', 'cni/ipam', 'runc', 'logs']) {
    fs.mkdirSync(path.join(plan.dir, sub), { recursive: true });
  }
  fs.writeFileSync(path.join(plan.dir, 'cni/net.d/10-kube-offload.conflist'), cniConfig(plan));
  const configFile = path.join(plan.dir, 'containerd.toml');
  fs.writeFileSync(configFile, containerdConfig(plan));
  return configFile;
}

function ctr(plan: RealNodePlan, ...args: string[]): string[] {
  return [executable('ctr'), '--address', containerdSocket(plan), '--namespace', 'k8s.io', ...args];
}

async function answers(plan: RealNodePlan): Promise<boolean> {
  return (await runCommand(ctr(plan, 'version'), { allowFailure: true, timeoutMs: 5000 })).code === 0;
}

/** Starts containerd and imports the images (the kubelet's CRI namespace is k8s.io). */
export async function startContainerd(plan: RealNodePlan, processes: RealNodeProcesses, images: string): Promise<void> {
  const socket = containerdSocket(plan);
  if (socket.length > 100) throw new Error(`containerd socket path too long for a unix socket: ${socket}`);
  const configFile = writeConfigs(plan);
  const managed = await processes.launch({
    name: `${plan.cluster}/containerd`,
    argv: [executable('containerd'), '--config', configFile],
    netns: plan.netns,
    logDir: path.join(plan.dir, 'logs'),
  });
  await waitFor(managed, () => answers(plan), 'answering on its socket', START_TIMEOUT_MS);
  await importImages(plan, images);
}

/** Imports the images of an archive (OCI or docker) into the node's containerd, where its kubelet finds them. */
export async function importImages(plan: RealNodePlan, archive: string): Promise<void> {
  await runCommand(ctr(plan, 'images', 'import', '--all-platforms', archive), { timeoutMs: 120_000 });
}

/** The names of the images in the node's containerd (the kubelet's k8s.io namespace). */
export async function imageNames(plan: RealNodePlan): Promise<string[]> {
  const { stdout } = await runCommand(ctr(plan, 'images', 'list', '--quiet'), { timeoutMs: 10_000 });
  return stdout.split('\n').filter(Boolean);
}

/** Deletes every task (the container processes are gone already; this releases what containerd holds). */
export async function deleteTasks(plan: RealNodePlan): Promise<void> {
  const list = await runCommand(ctr(plan, 'tasks', 'list', '--quiet'), { allowFailure: true, timeoutMs: 10_000 });
  if (list.code !== 0) return;
  for (const id of list.stdout.split('\n').filter(Boolean)) {
    await runCommand(ctr(plan, 'tasks', 'delete', '--force', id), { allowFailure: true, timeoutMs: 10_000 });
  }
}
