// The host-wide side of the real nodes. Their network namespaces, host routes, cgroups and the
// sysctls a kubelet writes are machine-wide, so one sandbox at a time may run real nodes: it
// claims them in HOST_STATE_DIR (on /run, so a reboot, which resets all of that, forgets it too)
// and records there what `sandbox down` must undo, even if the sandbox's own directory is gone:
//
//   owner.json      the sandbox directory and the Node process that claimed the real nodes
//   sysctls.json    the host's values before any kubelet ran (a kubelet overwrites them)
//   host-paths.json which of the paths kubelets and containerd hardcode existed before
//   processes.json  every process of the real nodes (pid, argv, start time)
import fs from 'node:fs';
import path from 'node:path';
import { isOurs, readStat, type ProcessRecord } from '../procs.ts';

export const HOST_STATE_DIR = '/run/kube-offload-real-nodes';

/** Host-global sysctls a kubelet sets when protectKernelDefaults is off (it is: see kubelet.ts). */
export const KUBELET_SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops'] as const;

/**
 * Paths outside the sandbox that kubelets, containerd 1.6 and the CNI plugins use whatever their
 * configuration says (device-plugin socket, container log links, shim sockets, libmount's utab,
 * CNI result cache, `ip netns`' directory). Those that did not exist before are removed again.
 */
export const HARDCODED_HOST_PATHS = [
  '/var/lib/kubelet',
  '/var/log/containers',
  '/var/log/pods',
  '/run/containerd',
  '/run/mount',
  '/var/lib/cni',
  '/run/netns',
  '/etc/cni',
  '/opt/cni',
  '/usr/libexec/kubernetes',
] as const;

export interface Owner {
  sandboxDir: string;
  pid: number;
  startTicks: number;
  /** The real nodes outlive the claiming process (`sandbox up`); else they die with it (tests). */
  persistent: boolean;
  claimedAt: string;
}

export interface HostPathsBefore {
  /** Paths of HARDCODED_HOST_PATHS that did not exist when the real nodes were claimed. */
  absent: string[];
  /** Whether /run/netns was a mount point (`ip netns add` makes it one). */
  netnsMounted: boolean;
}

function stateFile(name: string): string {
  return path.join(HOST_STATE_DIR, name);
}

function readJson<T>(name: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(name), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function writeJson(name: string, data: unknown): void {
  const tmp = `${stateFile(name)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2));
  fs.renameSync(tmp, stateFile(name));
}

export function readOwner(): Owner | undefined {
  return readJson<Owner>('owner.json');
}

export function recordedRealNodeProcesses(): ProcessRecord[] {
  return readJson<{ processes: ProcessRecord[] }>('processes.json')?.processes ?? [];
}

export function recordRealNodeProcesses(records: ProcessRecord[]): void {
  writeJson('processes.json', { processes: records });
}

export function readSavedSysctls(): Record<string, string> | undefined {
  return readJson<Record<string, string>>('sysctls.json');
}

export function readHostPathsBefore(): HostPathsBefore | undefined {
  return readJson<HostPathsBefore>('host-paths.json');
}

export function readSysctl(key: string): string {
  return fs.readFileSync(`/proc/sys/${key}`, 'utf8').trim();
}

export function writeSysctl(key: string, value: string): void {
  fs.writeFileSync(`/proc/sys/${key}`, `${value}\n`);
}

export function isMountPoint(dir: string): boolean {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  return mounts.some((line) => line.split(' ')[4] === dir);
}

/**
 * The claiming process is still running, or (when the real nodes were to outlive it) any recorded
 * process of them is. Real nodes of a process that died without tearing them down are stale.
 */
export function ownerAlive(owner: Owner): boolean {
  const stat = readStat(owner.pid);
  if (stat && stat.state !== 'Z' && stat.startTicks === owner.startTicks) return true;
  return owner.persistent && recordedRealNodeProcesses().some(isOurs);
}

function snapshotHost(): void {
  const sysctls = Object.fromEntries(KUBELET_SYSCTLS.map((key) => [key, readSysctl(key)]));
  writeJson('sysctls.json', sysctls);
  const absent = HARDCODED_HOST_PATHS.filter((hostPath) => !fs.existsSync(hostPath));
  writeJson('host-paths.json', { absent, netnsMounted: isMountPoint('/run/netns') } satisfies HostPathsBefore);
}

/**
 * Claims the real nodes for `sandboxDir` and snapshots what they will change on the host. False
 * when HOST_STATE_DIR already exists (an owner, live or stale: the caller decides).
 */
export function tryClaim(sandboxDir: string, persistent: boolean): boolean {
  try {
    fs.mkdirSync(HOST_STATE_DIR, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  const self = readStat(process.pid);
  const owner: Owner = {
    sandboxDir,
    pid: process.pid,
    startTicks: self?.startTicks ?? 0,
    persistent,
    claimedAt: new Date().toISOString(),
  };
  snapshotHost();
  writeJson('owner.json', owner);
  return true;
}

/** Forgets the claim (after everything it recorded was undone). */
export function releaseClaim(): void {
  fs.rmSync(HOST_STATE_DIR, { recursive: true, force: true });
}
