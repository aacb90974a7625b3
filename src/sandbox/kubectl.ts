// kubectl against a sandbox cluster, for Cluster.kubectl and the CLI commands that shell out to it.
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface KubectlOptions {
  input?: string;
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The process environment minus KUBECONFIG: the --kubeconfig flag must be the only source. */
function kubectlEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.KUBECONFIG;
  return env;
}

/** Runs kubectl against a kubeconfig (shared by Cluster.kubectl and the CLI). */
export function runKubectl(
  binDir: string,
  kubeconfigPath: string,
  cacheDir: string,
  args: string[],
  opts: KubectlOptions = {},
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const argv = [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${cacheDir}`, ...args];
    const child = spawn(path.join(binDir, 'kubectl'), argv, { stdio: ['pipe', 'pipe', 'pipe'], env: kubectlEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // A SIGKILL is (almost surely) our timer; a killed kubectl prints nothing, so say it here.
      const timedOut = signal === 'SIGKILL';
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: timedOut ? `${stderr}\nkubectl timed out` : stderr });
    });
    child.stdin.on('error', () => {}); // kubectl may exit before reading stdin
    child.stdin.end(opts.input ?? '');
  });
}
