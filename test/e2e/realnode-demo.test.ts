// e2e: `kube-offload demo` (npm run demo) from nothing, on real nodes: it starts the sandbox with
// real nodes and kube-offload, runs the shop, shows a request whose trace has hops served in both
// clusters, replaces the remote payment pod and shows the request served by the replacement.
// Then `sandbox down` leaves the host as it was. Needs root (skipped without).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopSandboxDir } from '../../src/sandbox/sandbox.ts';
import { ensureBinaries } from '../../src/sandbox/binaries.ts';
import { ensureRealNodeBinaries } from '../../src/sandbox/realnode/binaries.ts';
import { hostDifferences, snapshotHost, type HostSnapshot } from './helpers/realnode-host.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

function runDemo(dir: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const startedAt = Date.now();
  const cli = path.join(ROOT, 'src/cli.ts');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', cli, 'demo', '--dir', dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr, ms: Date.now() - startedAt }));
  });
}

describe('demo on real nodes: npm run demo from nothing (e2e, root)', function () {
  this.timeout(300_000);
  let dir = '';
  let hostBefore: HostSnapshot;
  let output = '';

  before(async function () {
    if (process.getuid?.() !== 0) {
      throw new Error(
        'the real-node e2e tests need root (network namespaces, containerd, kubelets): run them as root, as .ci/run does',
      );
    }
    this.timeout(60 * 60_000);
    await ensureRealNodeBinaries(await ensureBinaries());
    this.timeout(300_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-e2e-demo-'));
    hostBefore = snapshotHost(dir);
    const result = await runDemo(dir);
    output = result.stdout;
    if (result.code !== 0) throw new Error(`demo exited ${result.code}\n${result.stderr}\n${result.stdout}`);
    process.stderr.write(`      demo command: ${(result.ms / 1000).toFixed(1)} s, sandbox start included\n`);
  });

  after(async function () {
    this.timeout(120_000);
    if (dir) await stopSandboxDir(dir).catch(() => {});
    if (dir) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('runs the shop on the real nodes, offloaded pods on the remote one', () => {
    expect(output).to.include('kubectl -n shop apply -f demo/shop/shop.yaml');
    expect(output).to.match(/frontend-\S+\s+1\/1\s+Running.*real-node-local/);
    expect(output).to.match(/cartservice-\S+\s+1\/1\s+Running.*virtual-remote/);
    expect(output).to.match(/cartservice-\S+\s+1\/1\s+Running.*real-node-remote/);
  });

  it('shows a request whose trace has hops served in both clusters, before and after the payment pod is replaced', () => {
    const answers = [...output.matchAll(/# HTTP (\d+): (\d+) hops, (\d+) served in local, (\d+) in remote/g)];
    expect(answers).to.have.length(2);
    for (const [, status, , local, remote] of answers) {
      expect(status).to.equal('200');
      expect(Number(local)).to.be.greaterThan(0);
      expect(Number(remote)).to.be.greaterThan(0);
    }
    expect(output).to.match(/# paymentservice answered from paymentservice-\S+, the replacement/);
    expect(output).to.match(/└─ redis-cart\s+local\s+real-node-local/);
  });

  it('sandbox down leaves the host as it was', async function () {
    this.timeout(120_000);
    await stopSandboxDir(dir);
    expect(hostDifferences(hostBefore, snapshotHost(dir))).to.deep.equal([]);
  });
});
