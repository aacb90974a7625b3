// Builds the Go peer (test/peers/spdyclient: client-go's own SPDY exec and port-forward
// clients) into a cache outside the repository, keyed by a hash of its sources, and runs it.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const PEER_DIR = path.resolve(import.meta.dirname, '../../peers/spdyclient');
const CACHE_DIR = path.join(
  process.env.KUBE_OFFLOAD_CACHE ?? path.join(os.homedir(), '.cache', 'kube-offload'),
  'peers',
);

function sourceHash(): string {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'main.go'])
    hash.update(file).update(fs.readFileSync(path.join(PEER_DIR, file)));
  return hash.digest('hex').slice(0, 12);
}

/** Go is part of the test environment (.ci/run builds the control plane with it): without it, fail. */
const NO_GO =
  'the Go peer tests need a Go toolchain, and `go` is not on PATH: install Go (the version in ' +
  'test/peers/spdyclient/go.mod or newer) and put it on PATH; these tests fail rather than skip without it';

/** The peer binary, built on first use; throws, with what to do, when there is no Go toolchain. */
export async function spdyClientBinary(): Promise<string> {
  const binary = path.join(CACHE_DIR, `spdyclient-${sourceHash()}`);
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  try {
    await promisify(execFile)('go', ['build', '-o', partial, '.'], { cwd: PEER_DIR, timeout: 300_000 });
  } catch (err) {
    fs.rmSync(partial, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(NO_GO, { cause: err });
    throw err;
  }
  fs.renameSync(partial, binary);
  return binary;
}

export interface PeerResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the peer with `args`, feeding `stdin` when given. */
export function runPeer(binary: string, args: string[], stdin?: Buffer, timeoutMs = 60_000): Promise<PeerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}
