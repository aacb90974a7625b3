// The Debian packages the real nodes run on: containerd and runc, the CNI plugins, busybox-static
// (the images' userland), iptables and conntrack (kube-proxy), socat (the apiserver relay),
// iproute2 and util-linux (namespaces, mounts). Installed with apt-get when we are root and they
// are missing; otherwise the error names them.
import { findExecutable, isRoot, runCommand } from './system.ts';

/** A file that proves a package is installed, and the package that provides it. */
interface Requirement {
  file: string;
  pkg: string;
}

export const CNI_BIN_DIR = '/usr/lib/cni';
export const BUSYBOX = '/bin/busybox';

const REQUIREMENTS: Requirement[] = [
  { file: 'containerd', pkg: 'containerd' },
  { file: 'containerd-shim-runc-v2', pkg: 'containerd' },
  { file: 'ctr', pkg: 'containerd' },
  { file: 'runc', pkg: 'runc' },
  { file: `${CNI_BIN_DIR}/bridge`, pkg: 'containernetworking-plugins' },
  { file: `${CNI_BIN_DIR}/host-local`, pkg: 'containernetworking-plugins' },
  { file: `${CNI_BIN_DIR}/loopback`, pkg: 'containernetworking-plugins' },
  { file: BUSYBOX, pkg: 'busybox-static' },
  { file: 'iptables', pkg: 'iptables' },
  { file: 'iptables-restore', pkg: 'iptables' },
  { file: 'conntrack', pkg: 'conntrack' },
  { file: 'socat', pkg: 'socat' },
  { file: 'ip', pkg: 'iproute2' },
  { file: 'nsenter', pkg: 'util-linux' },
  { file: 'umount', pkg: 'mount' },
  { file: 'tar', pkg: 'tar' },
];

/** Every package the real nodes need (for .ci/run and error messages). */
export const REAL_NODE_PACKAGES = [...new Set(REQUIREMENTS.map((requirement) => requirement.pkg))];

export function missingPackages(): string[] {
  const missing = REQUIREMENTS.filter((requirement) => !findExecutable(requirement.file));
  return [...new Set(missing.map((requirement) => requirement.pkg))];
}

async function aptInstall(packages: string[], log: (line: string) => void): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...packages];
  log(`installing Debian packages: ${packages.join(' ')}`);
  const first = await runCommand(install, { env, timeoutMs: 900_000, allowFailure: true });
  if (first.code === 0) return;
  log('apt-get install failed; running apt-get update and trying again');
  await runCommand(['apt-get', 'update', '-q'], { env, timeoutMs: 600_000 });
  await runCommand(install, { env, timeoutMs: 900_000 });
}

/** Makes sure every package is installed: installs the missing ones as root, else says which. */
export async function ensurePackages(log: (line: string) => void): Promise<void> {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (!isRoot() || !findExecutable('apt-get')) {
    throw new Error(
      `real nodes need these Debian packages: ${missing.join(' ')}; install them as root ` +
        `(apt-get install ${missing.join(' ')}) or start the sandbox without real nodes (--no-real-nodes)`,
    );
  }
  await aptInstall(missing, log);
  const still = missingPackages();
  if (still.length) throw new Error(`apt-get installed, but still missing: ${still.join(' ')}`);
}
