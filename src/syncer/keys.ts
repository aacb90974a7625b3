// Work queue keys: `remote/kind/namespace/name`, with the LOCAL namespace (the twin is derived).
// Namespace keys are `remote/Namespace//name`; backfill keys (local work) are `/Backfill/namespace/`.
// Remote names are validated to contain no '/', and Kubernetes names never do.
import type { Kind } from './copy.ts';

export type QueueKind = Kind | 'Namespace' | 'Backfill';

export interface QueueKey {
  remote: string;
  kind: QueueKind;
  namespace: string;
  name: string;
}

const QUEUE_KINDS = new Set<string>(['Service', 'Secret', 'ConfigMap', 'EndpointSlice', 'Namespace', 'Backfill']);

export function formatKey(k: QueueKey): string {
  return `${k.remote}/${k.kind}/${k.namespace}/${k.name}`;
}

export function parseKey(key: string): QueueKey | undefined {
  const parts = key.split('/');
  if (parts.length !== 4) return undefined;
  const [remote, kind, namespace, name] = parts as [string, string, string, string];
  if (!QUEUE_KINDS.has(kind)) return undefined;
  return { remote, kind: kind as QueueKind, namespace, name };
}

export const objectKey = (remote: string, kind: Kind, namespace: string, name: string): string =>
  formatKey({ remote, kind, namespace, name });
export const namespaceKey = (remote: string, namespace: string): string =>
  formatKey({ remote, kind: 'Namespace', namespace: '', name: namespace });
export const backfillKey = (namespace: string): string =>
  formatKey({ remote: '', kind: 'Backfill', namespace, name: '' });

/** A valid remote name: a DNS-1123 label (used in keys, metric labels and the CLI). */
export function validRemoteName(name: string): boolean {
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) && name.length <= 63;
}
