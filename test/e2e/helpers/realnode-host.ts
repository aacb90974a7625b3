// What real nodes may change on the host, captured before the sandbox starts and compared after
// it stopped: processes of the real-node kind, network namespaces, links, routes, mounts,
// iptables rules, sysctls, cgroups and the paths kubelets and containerd hardcode.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HARDCODED_HOST_PATHS, HOST_STATE_DIR } from '../../../src/sandbox/realnode/index.ts';

export interface HostSnapshot {
  processes: string[];
  netns: string[];
  links: string[];
  routes: string[];
  mounts: string[];
  iptables: string[];
  sysctls: string[];
  cgroups: string[];
  hostPaths: string[];
}

/** sysctls that change on their own (counters, random values). */
const VOLATILE_SYSCTLS =
  /^(fs\.(dentry-state|file-nr|inode-nr|inode-state|aio-nr|quota\.)|kernel\.(ns_last_pid|random\.)|kernel\.pty\.nr|net\.netfilter\.nf_conntrack_count)/;

/** The programs real nodes run: none may be left, whoever started it. */
const REAL_NODE_PROGRAMS = new Set([
  'containerd',
  'containerd-shim-runc-v2',
  'kubelet',
  'kube-proxy',
  'coredns',
  'runc',
]);

function lines(command: string, args: string[]): string[] {
  return execFileSync(command, args, { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trimEnd())
    .filter(Boolean);
}

function realNodeProcesses(sandboxDir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (argv.length === 0) continue;
    const program = path.basename(argv[0]!);
    if (REAL_NODE_PROGRAMS.has(program) || argv.some((arg) => arg.includes(sandboxDir))) {
      found.push(`${program} (${argv.slice(1).join(' ').slice(0, 80)})`);
    }
  }
  return found.sort();
}

/** iptables-save without its comments and counters. */
function iptablesRules(): string[] {
  return lines('iptables-save', [])
    .filter((line) => !line.startsWith('#'))
    .map((line) => line.replace(/\[\d+:\d+\]/g, ''));
}

function sysctls(): string[] {
  return lines('sysctl', ['-a']).filter((line) => !VOLATILE_SYSCTLS.test(line));
}

/** Top-level cgroups of every hierarchy. */
function cgroups(): string[] {
  const root = '/sys/fs/cgroup';
  return fs.readdirSync(root).flatMap((hierarchy) => {
    const dir = path.join(root, hierarchy);
    if (!fs.statSync(dir).isDirectory()) return [];
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `${hierarchy}/${entry.name}`);
  });
}

function mounts(): string[] {
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => !!point);
  return [...new Set(points)].sort();
}

export function snapshotHost(sandboxDir: string): HostSnapshot {
  return {
    processes: realNodeProcesses(sandboxDir),
    netns: fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns').sort() : [],
    links: lines('ip', ['-o', 'link', 'show']).map((line) => line.split(':')[1]!.trim()),
    routes: lines('ip', ['route', 'show', 'table', 'all']),
    mounts: mounts(),
    iptables: iptablesRules(),
    sysctls: sysctls(),
    cgroups: cgroups(),
    hostPaths: [...HARDCODED_HOST_PATHS, HOST_STATE_DIR].filter((hostPath) => fs.existsSync(hostPath)),
  };
}

/** Each difference between two snapshots, as "<what>: +added / -removed" lines. */
export function hostDifferences(before: HostSnapshot, after: HostSnapshot): string[] {
  const differences: string[] = [];
  for (const key of Object.keys(before) as (keyof HostSnapshot)[]) {
    const was = new Set(before[key]);
    const is = new Set(after[key]);
    const added = after[key].filter((item) => !was.has(item));
    const removed = before[key].filter((item) => !is.has(item));
    if (added.length || removed.length) {
      differences.push(
        `${key}: ${[...added.map((item) => `+${item}`), ...removed.map((item) => `-${item}`)].join(', ')}`,
      );
    }
  }
  return differences;
}
