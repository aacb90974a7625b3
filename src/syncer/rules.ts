// The syncer applies the webhooks' own rules (webhooks/ is pure), so stamping, backfill and the
// clusters selector mean the same everywhere.
import { REPLICATE_KEY } from '../../webhooks/keys.ts';
import { replicationDecision } from '../../webhooks/replicated.ts';
import { matchesSelector, parseClusterSelector } from '../../webhooks/selector.ts';
import type { KubeObject } from '../../webhooks/types.ts';

/** Stamped but excluded or opted out (kube-root-ca.crt, SA tokens, Helm releases, "false"). */
export function excludedFromReplication(object: KubeObject): boolean {
  return !replicationDecision(object).stamp;
}

/**
 * The merge patch that backfills the stamp on an object that has no replicate label (it existed
 * before the namespace opted in, or was written while the webhook was down), or undefined when
 * it must stay as it is (excluded, invalid value). An opt-out annotation is mirrored into the
 * label as the webhook would. The resourceVersion makes the patch fail (409) if the object
 * changed since we read it, so we never overwrite a concurrent opt-out.
 */
export function backfillStamp(object: KubeObject, kind: string): Record<string, unknown> | undefined {
  if (object.metadata?.labels?.[REPLICATE_KEY] !== undefined) return undefined;
  const decision = replicationDecision(object, { kind });
  if (decision.reason !== 'replicated' && decision.reason !== 'opted out') return undefined;
  const value = decision.stamp ? 'true' : 'false';
  return {
    metadata: {
      resourceVersion: object.metadata?.resourceVersion,
      labels: { [REPLICATE_KEY]: value },
      annotations: { [REPLICATE_KEY]: value },
    },
  };
}

/**
 * Compiles a `kube-offload.io/clusters` selector with the same parser and limits as the webhooks,
 * so the syncer and pod placement agree on every value; throws the parser's error when invalid
 * or over the limits.
 */
export function compileClusterSelector(selector: string): (labels: Record<string, string>) => boolean {
  const parsed = parseClusterSelector(selector);
  if (!parsed.ok) throw parsed.error;
  const requirements = parsed.requirements;
  return (labels) => matchesSelector(labels, requirements);
}
