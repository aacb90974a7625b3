// Undoing the real nodes, from what host-state.ts recorded, whichever process does it: `sandbox
// down`, a test's stop(), or the next start finding the leftovers of a run that died. Only what
// is provably ours is touched: recorded processes (checked by pid, argv and start time), the
// processes in our cgroups and containerd shims serving our sockets, mounts under our
// directory, our network namespaces, cgroups, CNI cache entries and log links.
import fs from 'node:fs';
import path from 'node:path';
import { isOurs, readCmdline, terminateRecord, type ProcessRecord } from '../procs.ts';
import { cgroupPids, removeCgroups } from './cgroups.ts';
import { cniNetworkName, containerdSocket, deleteTasks } from './containerd.ts';
import {
  isMountPoint,
  KUBELET_SYSCTLS,
  readHostPathsBefore,
  readOwner,
  readSavedSysctls,
  recordedRealNodeProcesses,
  releaseClaim,
  writeSysctl,
} from './host-state.ts';
import { unmountUnder } from './mounts.ts';
import { tearDownNetwork } from './network.ts';
import { realNodePlans, realNodesDir, type RealNodePlan } from './plan.ts';
import { runCommand } from './system.ts';

const CNI_RESULTS_DIR = '/var/lib/cni/results';
const CONTAINER_LOG_LINKS = '/var/log/containers';

/** What is left behind after a teardown (empty when the host is as it was). */
export interface TeardownReport {
  processes: string[];
  mounts: string[];
  cgroups: string[];
  /** Steps that failed ("<step>: <error>"); the steps after them ran all the same. */
  errors: string[];
}

function byComponent(records: ProcessRecord[], component: string): ProcessRecord[] {
  return records.filter((record) => record.name.endsWith(`/${component}`));
}

async function terminateAll(records: ProcessRecord[], graceMs: number): Promise<void> {
  await Promise.all(records.map((record) => terminateRecord(record, graceMs)));
}

function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** containerd-shim-runc-v2 processes serving one of our containerd sockets (started by our containerd). */
function shimPids(plans: RealNodePlan[]): number[] {
  const sockets = new Set(plans.map(containerdSocket));
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const argv = readCmdline(pid) ?? [];
      const address = argv.indexOf('-address');
      return address >= 0 && sockets.has(argv[address + 1] ?? '');
    });
}

async function waitGone(pids: () => number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = pids();
  while (left.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = pids();
  }
  return left;
}

/** Kubelets first (so nothing restarts containers), then the pods, containerd and its shims, the relays. */
async function stopProcesses(plans: RealNodePlan[], records: ProcessRecord[]): Promise<void> {
  await terminateAll(byComponent(records, 'kubelet'), 10_000);
  await terminateAll([...byComponent(records, 'kube-proxy'), ...byComponent(records, 'coredns')], 3000);
  const podPids = () => plans.flatMap((plan) => cgroupPids(plan.cgroupRoot));
  killPids(podPids());
  await waitGone(podPids, 5000);
  for (const plan of plans)
    if (records.some((r) => r.name === `${plan.cluster}/containerd` && isOurs(r))) await deleteTasks(plan);
  await terminateAll(byComponent(records, 'containerd'), 10_000);
  killPids(shimPids(plans));
  await waitGone(() => shimPids(plans), 5000);
  await terminateAll(byComponent(records, 'apiserver-relay'), 3000);
}

function removeCniCache(plans: RealNodePlan[]): void {
  if (!fs.existsSync(CNI_RESULTS_DIR)) return;
  for (const file of fs.readdirSync(CNI_RESULTS_DIR)) {
    const plan = plans.find((candidate) => file.startsWith(`${cniNetworkName(candidate)}-`));
    if (!plan) continue;
    // <network>-<sandbox id>-eth0, and the loopback network's cni-loopback-<sandbox id>-lo.
    const sandboxId = file.slice(cniNetworkName(plan).length + 1).replace(/-eth0$/, '');
    fs.rmSync(path.join(CNI_RESULTS_DIR, file), { force: true });
    fs.rmSync(path.join(CNI_RESULTS_DIR, `cni-loopback-${sandboxId}-lo`), { force: true });
  }
}

function removeLogLinks(dir: string): void {
  if (!fs.existsSync(CONTAINER_LOG_LINKS)) return;
  for (const entry of fs.readdirSync(CONTAINER_LOG_LINKS)) {
    const link = path.join(CONTAINER_LOG_LINKS, entry);
    try {
      if (fs.readlinkSync(link).startsWith(`${dir}/`)) fs.rmSync(link, { force: true });
    } catch {
      // not a link
    }
  }
}

function restoreSysctls(): void {
  const saved = readSavedSysctls();
  if (!saved) return;
  for (const key of KUBELET_SYSCTLS) if (saved[key] !== undefined) writeSysctl(key, saved[key]);
}

/** Paths the kubelets and containerd created outside the sandbox (they did not exist before). */
async function removeCreatedHostPaths(): Promise<void> {
  const before = readHostPathsBefore();
  if (!before) return;
  if (before.absent.includes('/run/netns')) await removeNetnsDir(before.netnsMounted);
  // Last: every umount(8) above may have created /run/mount (libmount's lock and utab).
  const rest = before.absent.filter((hostPath) => hostPath !== '/run/netns' && hostPath !== '/run/mount');
  for (const hostPath of [...rest, ...before.absent.filter((hostPath) => hostPath === '/run/mount')]) {
    fs.rmSync(hostPath, { recursive: true, force: true });
  }
}

/** `ip netns add` made /run/netns (and a mount of it); undo both once no namespace is left in it. */
async function removeNetnsDir(wasMounted: boolean): Promise<void> {
  if (!fs.existsSync('/run/netns') || fs.readdirSync('/run/netns').length > 0) return;
  if (!wasMounted && isMountPoint('/run/netns')) await runCommand(['umount', '/run/netns'], { allowFailure: true });
  if (!isMountPoint('/run/netns')) fs.rmdirSync('/run/netns');
}

function stillRunning(records: ProcessRecord[], plans: RealNodePlan[]): string[] {
  const recorded = records.filter(isOurs).map((record) => `${record.name}(${record.pid})`);
  const pods = plans.flatMap((plan) => cgroupPids(plan.cgroupRoot)).map((pid) => `pod process ${pid}`);
  const shims = shimPids(plans).map((pid) => `containerd shim ${pid}`);
  return [...recorded, ...pods, ...shims];
}

/** Tears down the real nodes of the sandbox in `sandboxDir` and gives the host back its state. */
export async function tearDownRealNodes(sandboxDir: string): Promise<TeardownReport> {
  const plans = realNodePlans(sandboxDir);
  const records = recordedRealNodeProcesses();
  const errors: string[] = [];
  // Every step runs even when one before it failed: each undoes something of its own.
  const step = async <T>(name: string, fn: () => T | Promise<T>, fallback: T): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      errors.push(`${name}: ${(err as Error).message}`);
      return fallback;
    }
  };
  await step('stopping processes', () => stopProcesses(plans, records), undefined);
  const processes = stillRunning(records, plans);
  const mounts = await step('unmounting', () => unmountUnder(realNodesDir(sandboxDir)), [] as string[]);
  await step('deleting network namespaces', () => tearDownNetwork(plans), undefined);
  const removeAll = () => Promise.all(plans.map((plan) => removeCgroups(plan.cgroupRoot)));
  const cgroups = (await step('removing cgroups', removeAll, [] as string[][])).flat();
  await step('removing CNI cache entries', () => removeCniCache(plans), undefined);
  await step('removing container log links', () => removeLogLinks(realNodesDir(sandboxDir)), undefined);
  await step('restoring sysctls', restoreSysctls, undefined);
  await step('removing host paths', removeCreatedHostPaths, undefined);
  const clean = processes.length === 0 && mounts.length === 0 && cgroups.length === 0 && errors.length === 0;
  if (clean) releaseClaim();
  return { processes, mounts, cgroups, errors };
}

/** The sandbox directory whose real nodes hold the host, if any. */
export function realNodesOwnerDir(): string | undefined {
  return readOwner()?.sandboxDir;
}
