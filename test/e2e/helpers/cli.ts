// `kube-offload <args>` as a user runs it (node src/cli.ts), with its exit code and output.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);

/** `env` is added to this process's environment (e.g. KUBECONFIG). */
export async function kubeOffload(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const cli = path.join(ROOT, 'src/cli.ts');
    const options = { cwd: ROOT, timeout: 120_000, env: { ...process.env, ...env } };
    const { stdout, stderr } = await run(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', cli, ...args],
      options,
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : 1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? '',
    };
  }
}
