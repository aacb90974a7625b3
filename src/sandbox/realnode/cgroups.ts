// Each real node's pods live under a cgroup of its own (the kubelet's cgroupRoot), created in
// every hierarchy of this host (cgroup v1 controllers plus the cgroup2 mount), so two kubelets
// never see each other's pods, and `sandbox down` finds every container process by membership.
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from '../../common/async.ts';

const CGROUP_FS = '/sys/fs/cgroup';

/** Every mounted hierarchy (v1 controllers, named hierarchies, the unified one). */
function hierarchies(): string[] {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = mounts
    .map((line) => line.split(' '))
    .filter((fields) => {
      const fsType = fields[fields.indexOf('-') + 1];
      return fsType === 'cgroup' || fsType === 'cgroup2';
    })
    .map((fields) => fields[4]!)
    .filter((point) => point.startsWith(`${CGROUP_FS}/`) || point === CGROUP_FS);
  return [...new Set(points)];
}

export function cgroupDirs(cgroupRoot: string): string[] {
  return hierarchies().map((hierarchy) => path.join(hierarchy, cgroupRoot));
}

/** A new cpuset cgroup has no CPUs and no memory nodes: its children inherit what we copy in. */
function copyCpuset(hierarchy: string, dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const source = path.join(hierarchy, file);
    if (fs.existsSync(source)) fs.writeFileSync(path.join(dir, file), fs.readFileSync(source, 'utf8'));
  }
}

export function createCgroups(cgroupRoot: string): void {
  for (const hierarchy of hierarchies()) {
    const dir = path.join(hierarchy, cgroupRoot);
    fs.mkdirSync(dir, { recursive: true });
    if (fs.existsSync(path.join(hierarchy, 'cpuset.cpus'))) copyCpuset(hierarchy, dir);
  }
}

function subtree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const children = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => subtree(path.join(dir, entry.name)));
  return [...children, dir];
}

/** Pids of every process in the cgroup tree (container processes, shims' children). */
export function cgroupPids(cgroupRoot: string): number[] {
  const pids = new Set<number>();
  for (const dir of cgroupDirs(cgroupRoot).flatMap(subtree)) {
    try {
      const procs = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      for (const pid of procs) pids.add(Number(pid));
    } catch {
      // removed meanwhile
    }
  }
  return [...pids];
}

function removeTree(dir: string): boolean {
  for (const sub of subtree(dir)) {
    try {
      fs.rmdirSync(sub);
    } catch {
      // busy (a process still in it) or gone
    }
  }
  return !fs.existsSync(dir);
}

/** Removes the cgroup trees (children first); retries while exiting processes leave them. */
export async function removeCgroups(cgroupRoot: string): Promise<string[]> {
  let left: string[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    left = cgroupDirs(cgroupRoot).filter((dir) => !removeTree(dir));
    if (left.length === 0) return [];
    await sleep(250);
  }
  return left;
}
