// The real nodes' network (see plan.ts): the wan namespace and its bridge, the host's leg into it
// with routes to the real nodes' pod ranges, and each node's namespace with its leg, IP forwarding
// (a namespace's own sysctl) and routes to the other clusters' pod networks. Nothing gets a default
// route: a packet for an address the sandbox does not own has nowhere to go.
import fs from 'node:fs';
import { WAN, type RealNodePlan } from './plan.ts';
import { netnsPath, runCommand, runInNetns } from './system.ts';

const ip = (...args: string[]) => runCommand(['ip', ...args]);

function netnsExists(netns: string): boolean {
  return fs.existsSync(netnsPath(netns));
}

async function linkExists(name: string, netns?: string): Promise<boolean> {
  const args = [...(netns ? ['-n', netns] : []), 'link', 'show', 'dev', name];
  return (await runCommand(['ip', ...args], { allowFailure: true })).code === 0;
}

async function createNetns(netns: string): Promise<void> {
  await ip('netns', 'add', netns);
  await ip('-n', netns, 'link', 'set', 'dev', 'lo', 'up');
}

/** A veth pair: `inner` in `netns`, `port` in the wan, attached to its bridge. */
async function plugIntoWan(inner: string, netns: string | undefined, port: string): Promise<void> {
  const where = netns ? ['netns', netns] : [];
  await ip('link', 'add', 'name', port, 'netns', WAN.netns, 'type', 'veth', 'peer', 'name', inner, ...where);
  await ip('-n', WAN.netns, 'link', 'set', 'dev', port, 'master', WAN.bridge, 'up');
}

async function setUpWan(): Promise<void> {
  await createNetns(WAN.netns);
  await ip('-n', WAN.netns, 'link', 'add', 'name', WAN.bridge, 'type', 'bridge');
  await ip('-n', WAN.netns, 'link', 'set', 'dev', WAN.bridge, 'up');
  await plugIntoWan(WAN.hostVeth, undefined, WAN.hostPort);
  await ip('addr', 'add', `${WAN.hostIP}/${WAN.prefixLength}`, 'dev', WAN.hostVeth);
  await ip('link', 'set', 'dev', WAN.hostVeth, 'up');
}

async function setUpNode(plan: RealNodePlan): Promise<void> {
  await createNetns(plan.netns);
  await plugIntoWan('eth0', plan.netns, plan.wanPort);
  await ip('-n', plan.netns, 'addr', 'add', `${plan.nodeIP}/${WAN.prefixLength}`, 'dev', 'eth0');
  await ip('-n', plan.netns, 'link', 'set', 'dev', 'eth0', 'up');
  // Per namespace: the node routes its pods' packets to the other clusters.
  await runInNetns(plan.netns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
}

/** Each node routes every other cluster's pod network to that cluster's node; the host, the real pods. */
async function addRoutes(plans: RealNodePlan[]): Promise<void> {
  for (const plan of plans) {
    await ip('route', 'replace', plan.podCIDR, 'via', plan.nodeIP, 'dev', WAN.hostVeth);
    for (const other of plans.filter((candidate) => candidate !== plan)) {
      await ip('-n', plan.netns, 'route', 'replace', other.clusterPodCIDR, 'via', other.nodeIP, 'dev', 'eth0');
    }
  }
}

export async function setUpNetwork(plans: RealNodePlan[]): Promise<void> {
  await setUpWan();
  for (const plan of plans) await setUpNode(plan);
  await addRoutes(plans);
}

/** Deletes the namespaces (their links, bridges, routes and iptables rules go with them) and the host leg. */
export async function tearDownNetwork(plans: RealNodePlan[]): Promise<void> {
  for (const netns of [...plans.map((plan) => plan.netns), WAN.netns]) {
    if (netnsExists(netns)) await ip('netns', 'delete', netns);
  }
  // Deleting the wan took the host leg's peer, hence the leg and its routes; make sure. The kernel
  // dismantles a deleted namespace in the background, so the leg may vanish between the check and
  // the delete: only a leg still there after a failed delete is an error.
  if (!(await linkExists(WAN.hostVeth))) return;
  const res = await runCommand(['ip', 'link', 'delete', 'dev', WAN.hostVeth], { allowFailure: true });
  if (res.code !== 0 && (await linkExists(WAN.hostVeth))) {
    throw new Error(`ip link delete dev ${WAN.hostVeth} failed (exit ${res.code}): ${res.stderr.trim()}`);
  }
}

/** Whether any piece of the real nodes' network is there (a leftover to clean). */
export async function networkPresent(plans: RealNodePlan[]): Promise<boolean> {
  if ([WAN.netns, ...plans.map((plan) => plan.netns)].some(netnsExists)) return true;
  return linkExists(WAN.hostVeth);
}
