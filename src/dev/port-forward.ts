// `kubectl port-forward` as the demos run it, so they can print what a user would type.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface PortForwardTarget {
  binDir: string;
  kubeconfig: string;
  namespace: string;
}

/** Starts `kubectl port-forward TARGET PORTS`; `listening` resolves with the local port kubectl bound. */
export function startKubectlPortForward(
  where: PortForwardTarget,
  target: string,
  ports: string,
): { child: ChildProcess; listening: Promise<number> } {
  const argv = [`--kubeconfig=${where.kubeconfig}`, '-n', where.namespace, 'port-forward', target, ports];
  const child = spawn(path.join(where.binDir, 'kubectl'), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listening = new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const port = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      if (port) resolve(Number(port));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', () => reject(new Error(`kubectl port-forward ${target} ${ports}: ${output.trim()}`)));
  });
  return { child, listening };
}
