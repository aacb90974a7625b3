// The admission webhook as a sandbox component: it runs as its ServiceAccount with the RBAC from
// manifests/, and once it answers, the webhook configurations from manifests/ are registered
// with clientConfig.url pointing at it on 127.0.0.1 (there is no Service routing in the sandbox).
import fs from 'node:fs';
import path from 'node:path';
import type { Cluster } from '../sandbox/cluster.ts';
import { cliArgv, type ComponentSpec, type SandboxContext } from '../sandbox/components.ts';
import { applyObjects, buildManifests, type Manifest } from '../sandbox/manifests.ts';
import { serviceAccountKubeconfig } from '../sandbox/identity.ts';

export const WEBHOOK_NAMESPACE = 'kube-offload-system';
export const WEBHOOK_SERVICE_ACCOUNT = 'kube-offload-webhook';
const CONFIG_KINDS = new Set(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);

interface WebhookEntry {
  clientConfig: { service?: { path?: string }; url?: string; caBundle?: string };
}

/** The manifests' webhook configurations, pointed at https://127.0.0.1:port. */
export function localWebhookConfigurations(manifests: Manifest[], port: number, caPem: string): Manifest[] {
  const caBundle = Buffer.from(caPem, 'utf8').toString('base64');
  return manifests
    .filter((object) => CONFIG_KINDS.has(object.kind))
    .map((object) => {
      const copy = structuredClone(object);
      for (const webhook of (copy.webhooks as WebhookEntry[] | undefined) ?? []) {
        const route = webhook.clientConfig.service?.path ?? '/';
        webhook.clientConfig = { url: `https://127.0.0.1:${port}${route}`, caBundle };
      }
      return copy;
    });
}

export async function registerWebhookConfigurations(cluster: Cluster, port: number, caFile: string): Promise<void> {
  const configs = localWebhookConfigurations(await buildManifests(cluster), port, fs.readFileSync(caFile, 'utf8'));
  await applyObjects(cluster, configs);
}

export interface WebhookComponentOptions {
  /** Extra flags for `kube-offload webhook`. */
  args?: string[];
  name?: string;
  /** Register the webhook configurations once ready (default true). */
  register?: boolean;
}

export async function webhookComponent(
  ctx: SandboxContext,
  opts: WebhookComponentOptions = {},
): Promise<ComponentSpec & { port: number; metricsPort: number; certDir: string }> {
  const name = opts.name ?? 'webhook';
  const port = await ctx.freePort();
  // The plain-HTTP /metrics, /healthz, /readyz, as the Deployment serves them on 8080.
  const metricsPort = await ctx.freePort();
  const workDir = path.join(ctx.componentsDir, name);
  const certDir = path.join(workDir, 'certs');
  const kubeconfig = path.join(workDir, 'serviceaccount.kubeconfig');
  return {
    name,
    port,
    metricsPort,
    certDir,
    argv: cliArgv(
      ctx,
      'webhook',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--cert-dir',
      certDir,
      '--kubeconfig',
      kubeconfig,
      '--metrics-port',
      String(metricsPort),
      ...(opts.args ?? []),
    ),
    ready: { url: `https://127.0.0.1:${port}/readyz`, caFile: path.join(certDir, 'ca.crt') },
    before: async () => {
      fs.mkdirSync(certDir, { recursive: true });
      await serviceAccountKubeconfig(ctx.local, {
        namespace: WEBHOOK_NAMESPACE,
        name: WEBHOOK_SERVICE_ACCOUNT,
        file: kubeconfig,
      });
    },
    after: async () => {
      if (opts.register ?? true) await registerWebhookConfigurations(ctx.local, port, path.join(certDir, 'ca.crt'));
    },
  };
}
