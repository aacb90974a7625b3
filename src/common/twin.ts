// The twin namespace: the namespace in a remote cluster that mirrors a local opted-in one.
// Named `<namespace>-<local cluster name>`, a DNS-1123 label of at most 63 characters; a longer
// name is cut and gets a short hash of the full name, so distinct long names stay distinct.
import { createHash } from 'node:crypto';

const MAX_LABEL = 63;
const HASH_LENGTH = 8;

export function twinNamespaceName(namespace: string, localCluster: string): string {
  const full = `${namespace}-${localCluster}`;
  if (full.length <= MAX_LABEL) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, HASH_LENGTH);
  // Cut so that "<prefix>-<hash>" fits, and never leave a trailing '-' before the separator.
  const prefix = full.slice(0, MAX_LABEL - HASH_LENGTH - 1).replace(/-+$/, '');
  return `${prefix}-${hash}`;
}
