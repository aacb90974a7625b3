// kube-offload's webhook as the admission rows run it, in production form: compiled dist/ with the
// Deployment's NODE_OPTIONS (see deployment.ts), and either
//   cluster:    a second webhook in the bench sandbox, as its ServiceAccount with the manifests'
//               RBAC: the shared CA Secret, caBundle upkeep and both informers running; ready
//               (its /readyz) only once the informers have synced. Not registered with the
//               apiserver, so only the bench sends it reviews.
//   standalone: `webhook --standalone` (no cluster access), for the idle-memory comparison.
import path from 'node:path';
import type { Sandbox } from '../../src/sandbox/sandbox.ts';
import { webhookComponent } from '../../src/dev/webhook.ts';
import { productionEnv } from './deployment.ts';
import type { ServerProcess } from './process.ts';
import { cpuSeconds, processPeakRssMiB, processRssMiB, startServer } from './process.ts';

export interface ProductionWebhook {
  server: ServerProcess;
  /** Its certificate directory: ca.crt, tls.crt, tls.key (the floors serve the same pair). */
  certDir: string;
  /** How it runs, for row notes. */
  describe: string;
}

let generation = 0;

/** A cluster-mode webhook in the sandbox, compiled, with the Deployment's NODE_OPTIONS. */
export async function startClusterWebhook(sandbox: Sandbox, repoRoot: string): Promise<ProductionWebhook> {
  const production = productionEnv(repoRoot, 'webhook');
  const name = `bench-webhook-${++generation}`;
  const spec = await webhookComponent(sandbox.context, { name, register: false });
  spec.env = production.env;
  spec.readyTimeoutMs = 120_000;
  const component = await sandbox.startComponent(spec);
  const pid = component.record.pid;
  const server: ServerProcess = {
    name,
    pid,
    port: spec.port,
    logFile: component.logFile,
    rssMiB: () => processRssMiB(pid),
    peakRssMiB: () => processPeakRssMiB(pid),
    cpuSeconds: () => cpuSeconds(pid),
    stop: () => component.stop(),
  };
  return {
    server,
    certDir: spec.certDir,
    describe: `cluster mode (informers synced, CA Secret, caBundle upkeep), ${production.describe}`,
  };
}

/** `kube-offload webhook --standalone`, compiled, with the Deployment's NODE_OPTIONS. */
export async function startStandaloneWebhook(
  repoRoot: string,
  certDir: string,
  logDir: string,
): Promise<ProductionWebhook> {
  const production = productionEnv(repoRoot, 'webhook');
  const argv = [process.execPath, path.join(repoRoot, 'bin', 'kube-offload.js'), 'webhook', '--standalone'];
  argv.push('--port', '0', '--host', '127.0.0.1', '--cert-dir', certDir);
  const server = await startServer(
    'kube-offload webhook --standalone',
    argv,
    path.join(logDir, 'webhook-standalone.log'),
    {
      cwd: repoRoot,
      env: production.env,
    },
  );
  return { server, certDir, describe: `standalone, ${production.describe}` };
}
