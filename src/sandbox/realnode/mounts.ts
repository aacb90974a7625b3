// Mounts the real nodes leave in the host's mount namespace: the kubelet's volumes (tmpfs for
// Secrets and tokens, bind mounts), containerd's container root filesystems (overlay), sandbox
// /dev/shm and pod network namespace files, and the kubelet's bind mount of its own root dir.
import fs from 'node:fs';
import { runCommand } from './system.ts';

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => !!point)
    .map(unescapeMountPoint)
    .filter((point) => point === dir || point.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPoint(point: string): string {
  return point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Unmounts everything at or below `dir` (a lazy unmount when a plain one fails); returns what is left. */
export async function unmountUnder(dir: string): Promise<string[]> {
  for (let pass = 0; pass < 5; pass++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return [];
    for (const point of points) {
      const plain = await runCommand(['umount', point], { allowFailure: true, timeoutMs: 30_000 });
      if (plain.code !== 0) await runCommand(['umount', '-l', point], { allowFailure: true, timeoutMs: 30_000 });
    }
  }
  return mountsUnder(dir);
}
