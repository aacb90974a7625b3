// Keeps caBundle of OUR webhook configurations (selected by label) equal to the CA that signs
// our serving certs, so the API server trusts us. Runs at start and periodically, because
// `kubectl apply` of manifests with an empty caBundle would otherwise break admission until the
// next restart. Writes only what differs: with the bundle already in place it is read-only.
import type { KubeClient } from '../../kube/client.ts';
import { objectPath } from '../../kube/client.ts';
import type { JsonPatchOperation } from '../../../webhooks/types.ts';

export type WebhookConfigKind = 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration';
export const WEBHOOK_CONFIG_KINDS: WebhookConfigKind[] = [
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
];

export interface WebhookConfigSummary {
  name: string;
  webhooks: Array<{ name: string; caBundle?: string }>;
}

/** The two calls we need, so the "write only when different" logic is testable. */
export interface WebhookConfigStore {
  list(kind: WebhookConfigKind, labelSelector: string): Promise<WebhookConfigSummary[]>;
  patch(kind: WebhookConfigKind, name: string, operations: JsonPatchOperation[]): Promise<void>;
}

/** JSON patch for one configuration, or [] when every webhook already carries the bundle. */
export function caBundlePatch(config: WebhookConfigSummary, caBundle: string): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = [];
  config.webhooks.forEach((webhook, index) => {
    if (webhook.caBundle === caBundle) return;
    // The test pins the index to the webhook we looked at, in case the list changed meanwhile.
    operations.push(
      { op: 'test', path: `/webhooks/${index}/name`, value: webhook.name },
      { op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundle },
    );
  });
  return operations;
}

/** Returns the configurations it patched ("Kind/name"). */
export async function syncCaBundle(store: WebhookConfigStore, labelSelector: string, caPem: string): Promise<string[]> {
  const caBundle = Buffer.from(caPem, 'utf8').toString('base64');
  const patched: string[] = [];
  for (const kind of WEBHOOK_CONFIG_KINDS) {
    for (const config of await store.list(kind, labelSelector)) {
      const operations = caBundlePatch(config, caBundle);
      if (operations.length === 0) continue;
      await store.patch(kind, config.name, operations);
      patched.push(`${kind}/${config.name}`);
    }
  }
  return patched;
}

/** The part of a Mutating/ValidatingWebhookConfiguration we read. */
interface WebhookConfigObject {
  metadata?: { name?: string };
  webhooks?: Array<{ name: string; clientConfig?: { caBundle?: string } }>;
}

const COLLECTIONS: Record<WebhookConfigKind, string> = {
  MutatingWebhookConfiguration: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
  ValidatingWebhookConfiguration: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
};

export function kubeWebhookConfigStore(client: KubeClient): WebhookConfigStore {
  return {
    async list(kind, labelSelector) {
      const { items } = await client.listAll<WebhookConfigObject>(COLLECTIONS[kind], { labelSelector });
      return items.map((item) => ({
        name: item.metadata?.name ?? '',
        webhooks: (item.webhooks ?? []).map((webhook) => {
          const summary: { name: string; caBundle?: string } = { name: webhook.name };
          if (webhook.clientConfig?.caBundle !== undefined) summary.caBundle = webhook.clientConfig.caBundle;
          return summary;
        }),
      }));
    },
    async patch(kind, name, operations) {
      await client.patch(objectPath(COLLECTIONS[kind], name), operations, 'json');
    },
  };
}
