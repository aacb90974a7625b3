// `kube-offload sandbox`'s flags: a bad --remotes is refused before anything starts (exit 2,
// naming the flag, the value and what is allowed), and `status` of a directory with no sandbox
// says so. Nothing here starts a cluster.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';

const cli = new URL('../../../bin/kube-offload.js', import.meta.url).pathname;

async function sandbox(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, 'sandbox', ...args]);
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

describe('kube-offload sandbox flags', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-sandbox-flags-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses --remotes other than 1 or 2 before starting anything', async () => {
    for (const value of ['0', '3', 'two']) {
      const result = await sandbox('up', '--dir', path.join(dir, 'sb'), '--remotes', value);
      expect(result.code, value).to.equal(2);
      expect(result.stderr, value).to.include(`--remotes: "${value}" is not one of 1, 2`);
      expect(fs.existsSync(path.join(dir, 'sb')), 'no sandbox directory').to.equal(false);
    }
  });

  it('documents --remotes in its usage', async () => {
    const result = await sandbox('--help');
    expect(result.code).to.equal(0);
    expect(result.stdout).to.match(/--remotes 1\|2\s+up: remote clusters \(default 2\)/);
  });

  it('status of a directory without a sandbox says so (exit 1)', async () => {
    const result = await sandbox('status', '--dir', dir);
    expect(result.code).to.equal(1);
    expect(result.stdout).to.equal(`no sandbox in ${dir}\n`);
  });
});
