import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parse } from 'yaml';

const run = promisify(execFile);
const cli = new URL('../../../bin/kube-offload.js', import.meta.url).pathname;
const packageVersion = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

async function kubeOffload(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args]);
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

describe('kube-offload version', () => {
  it('--version and version print the package version', async () => {
    for (const args of [['--version'], ['version']]) {
      const result = await kubeOffload(...args);
      expect(result.code).to.equal(0);
      expect(result.stdout).to.equal(
        `kube-offload ${packageVersion} (node ${process.version}, ${process.platform}/${process.arch})\n`,
      );
    }
  });

  it('-o json and -o yaml carry the same fields', async () => {
    const json = JSON.parse((await kubeOffload('version', '-o', 'json')).stdout) as Record<string, string>;
    const yaml = parse((await kubeOffload('version', '-o', 'yaml')).stdout) as Record<string, string>;
    expect(json).to.deep.equal({
      version: packageVersion,
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
    });
    expect(yaml).to.deep.equal(json);
  });

  it('an unknown format is refused with exit code 2, naming the value and the allowed ones', async () => {
    const result = await kubeOffload('version', '-o', 'xml');
    expect(result.code).to.equal(2);
    expect(result.stderr).to.contain('"xml"').and.to.contain('--output').and.to.contain('table, json, yaml');
  });
});
