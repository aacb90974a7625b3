// Effective placement / clusters / prefer of a pod: each key is resolved on its own, from the
// most specific layer that sets it to a valid value: Pod (its template copy) > workload metadata
// > Namespace > the service's default. (At Pod admission there is no workload layer: the
// workload webhook has already copied workload metadata into the template.)

import { CLUSTERS_ANNOTATION, PLACEMENTS, PLACEMENT_ANNOTATION, PREFERENCES, PREFER_ANNOTATION } from './keys.ts';
import type { Placement, Preference } from './keys.ts';
import type { NodeSelectorRequirement } from './k8s.ts';
import { stringAt } from './k8s.ts';
import { SelectorLimitError, parseClusterSelector } from './selector.ts';
import type { ClusterSelectorResult } from './selector.ts';
import { quote, warning } from './text.ts';
import type { AdmissionContext, NamespacePolicy } from './types.ts';

export type PolicySource = 'pod' | 'workload' | 'namespace' | 'default';

/** One layer's raw values; anything that is not a string counts as unset. */
export interface PolicyLayer {
  source: PolicySource;
  policy: NamespacePolicy | undefined;
}

export interface ResolvedPolicy {
  placement: Placement;
  placementSource: PolicySource;
  /** The selector text in force, or undefined when no layer sets one. */
  clusters: string | undefined;
  clustersSource: PolicySource | undefined;
  /** Parsed `clusters` (frozen, shared between admissions); empty means "any virtual node". */
  clusterRequirements: readonly NodeSelectorRequirement[];
  prefer: Preference | undefined;
  preferSource: PolicySource | undefined;
  /** Invalid values that were skipped (the validating webhook rejects them on our objects). */
  warnings: string[];
}

export function isPlacement(value: unknown): value is Placement {
  return typeof value === 'string' && (PLACEMENTS as readonly string[]).includes(value);
}

export function isPreference(value: unknown): value is Preference {
  return typeof value === 'string' && (PREFERENCES as readonly string[]).includes(value);
}

/** The three policy annotations of a metadata.annotations map (non-strings ignored). */
export function policyFromAnnotations(annotations: unknown): NamespacePolicy {
  const policy: NamespacePolicy = {};
  const placement = stringAt(annotations, PLACEMENT_ANNOTATION);
  const clusters = stringAt(annotations, CLUSTERS_ANNOTATION);
  const prefer = stringAt(annotations, PREFER_ANNOTATION);
  if (placement !== undefined) policy.placement = placement;
  if (clusters !== undefined) policy.clusters = clusters;
  if (prefer !== undefined) policy.prefer = prefer;
  return policy;
}

/**
 * Parsed `clusters` selectors by text. The pods of a workload all carry the same selector, and
 * parsing it (lexing, validating every key and value) was a quarter of a pod's admission. The
 * cache is bounded, in entries and in selector length.
 *
 * The requirements are shared by every pod admitted with them, and end up in their patches:
 * handlers only ever put them into new lists, never write into them (the lists are typed
 * readonly, and test/unit/webhooks/pods.property.test.ts checks the cache after admissions).
 * They are not frozen: JSON.stringify takes a slow path for frozen objects, and serializing a
 * typical pod's patch took twice as long (3.1 against 1.6 us).
 */
const parsedClusters = new Map<string, ClusterSelectorResult>();
const CLUSTERS_CACHE_ENTRIES = 256;
const CLUSTERS_CACHE_MAX_LENGTH = 1024;

function parseClusters(selector: string): ClusterSelectorResult {
  const cached = parsedClusters.get(selector);
  if (cached) return cached;
  const parsed = parseClusterSelector(selector);
  if (selector.length <= CLUSTERS_CACHE_MAX_LENGTH) {
    if (parsedClusters.size >= CLUSTERS_CACHE_ENTRIES) parsedClusters.clear();
    parsedClusters.set(selector, parsed);
  }
  return parsed;
}

const WHERE: Record<PolicySource, string> = {
  pod: 'the pod',
  workload: 'the workload',
  namespace: 'the namespace',
  default: 'the default',
};

/**
 * Resolves each key independently. An invalid value in a layer is skipped (with a warning) so a
 * stale, pre-webhook namespace annotation degrades to the next layer instead of breaking pods.
 */
export function resolvePolicy(
  layers: readonly PolicyLayer[],
  defaults: Pick<AdmissionContext, 'defaultPlacement' | 'defaultPrefer'>,
): ResolvedPolicy {
  const warnings: string[] = [];
  const skip = (key: string, value: string, source: PolicySource): void => {
    warnings.push(warning(`ignoring invalid ${key} ${quote(value, 40)} on ${WHERE[source]}`));
  };

  let placement: Placement = defaults.defaultPlacement;
  let placementSource: PolicySource = 'default';
  let clusters: string | undefined;
  let clustersSource: PolicySource | undefined;
  let clusterRequirements: readonly NodeSelectorRequirement[] = [];
  let prefer: Preference | undefined = defaults.defaultPrefer;
  let preferSource: PolicySource | undefined = prefer ? 'default' : undefined;
  let placementFound = false;
  let clustersFound = false;
  let preferFound = false;

  for (const { source, policy } of layers) {
    if (!policy) continue;
    const p = typeof policy.placement === 'string' ? policy.placement : undefined;
    if (!placementFound && p !== undefined) {
      if (isPlacement(p)) {
        [placement, placementSource, placementFound] = [p, source, true];
      } else skip(PLACEMENT_ANNOTATION, p, source);
    }
    const c = typeof policy.clusters === 'string' ? policy.clusters : undefined;
    if (!clustersFound && c !== undefined) {
      const parsed = parseClusters(c);
      if (parsed.ok) {
        [clusters, clustersSource, clusterRequirements, clustersFound] = [c, source, parsed.requirements, true];
      } else if (parsed.error instanceof SelectorLimitError) {
        // The validating webhook rejects it too; imposing it would multiply every term by it.
        warnings.push(warning(`ignoring ${CLUSTERS_ANNOTATION} on ${WHERE[source]}: ${parsed.error.message}`));
      } else skip(CLUSTERS_ANNOTATION, c, source);
    }
    const f = typeof policy.prefer === 'string' ? policy.prefer : undefined;
    if (!preferFound && f !== undefined) {
      if (isPreference(f)) {
        [prefer, preferSource, preferFound] = [f, source, true];
      } else skip(PREFER_ANNOTATION, f, source);
    }
  }
  return { placement, placementSource, clusters, clustersSource, clusterRequirements, prefer, preferSource, warnings };
}
