// Node-affinity algebra for merging imposed placement with the user's own required affinity.
//
// Required nodeSelectorTerms are ORed, the requirements inside a term ANDed. "User AND imposed"
// is therefore the cross product: for every user term U and imposed term I, one term holding
// U's requirements plus I's. Idempotence (admitting the result again changes nothing) rests on
// three rules:
//   1. I's requirements are appended only when U does not already hold an identical one, so a
//      merged term ANDed again with its own I is unchanged;
//   2. products that are certainly unsatisfiable are dropped: when the imposed terms are
//      mutually contradictory (LocalAndRemote: "NotIn virtual" vs "In virtual"), a merged term
//      ANDed with the *other* imposed term is contradictory and disappears;
//   3. identical terms are deduplicated, keeping the first.
// Dropping only *certainly* unsatisfiable terms keeps the meaning exact: an OR branch that can
// match no node changes nothing.

import type { NodeSelectorRequirement, NodeSelectorTerm } from './k8s.ts';
import { jsonEqual } from './json.ts';

export function sameRequirement(a: NodeSelectorRequirement, b: NodeSelectorRequirement): boolean {
  const av = a.values ?? [];
  const bv = b.values ?? [];
  return a.key === b.key && a.operator === b.operator && av.length === bv.length && av.every((v, i) => v === bv[i]);
}

/**
 * True only when no label set can satisfy all the requirements (sound, not complete): on one key,
 * DoesNotExist together with In/Exists/Gt/Lt, or In sets whose intersection minus every NotIn
 * value is empty.
 */
export function isContradictory(requirements: readonly NodeSelectorRequirement[]): boolean {
  const byKey = new Map<string, NodeSelectorRequirement[]>();
  for (const r of requirements) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  for (const group of byKey.values()) {
    const absent = group.some((r) => r.operator === 'DoesNotExist');
    const present = group.some((r) => r.operator === 'In' || r.operator === 'Exists' || r.operator === 'Gt' || r.operator === 'Lt');
    if (absent && present) return true;
    const ins = group.filter((r) => r.operator === 'In');
    if (ins.length === 0) continue;
    const excluded = new Set(group.filter((r) => r.operator === 'NotIn').flatMap((r) => r.values ?? []));
    let allowed = (ins[0]?.values ?? []).filter((v) => !excluded.has(v));
    for (const r of ins.slice(1)) allowed = allowed.filter((v) => (r.values ?? []).includes(v));
    if (allowed.length === 0) return true;
  }
  return false;
}

/** U AND I: U unchanged (other fields such as matchFields kept), I's new requirements appended. */
export function andTerm(user: NodeSelectorTerm, imposed: readonly NodeSelectorRequirement[]): NodeSelectorTerm {
  const expressions = [...(user.matchExpressions ?? [])];
  for (const r of imposed) {
    if (!expressions.some((e) => sameRequirement(e, r))) expressions.push(r);
  }
  return { ...user, matchExpressions: expressions };
}

/** Kubernetes: a term with no expressions and no fields matches no node. */
export function isEmptyTerm(term: NodeSelectorTerm): boolean {
  return (term.matchExpressions ?? []).length === 0 && (term.matchFields ?? []).length === 0;
}

/**
 * none: every user term survives in at least one product;
 * partial: some user OR-branches can never hold under the placement and were dropped;
 * total: the user's affinity and the placement exclude each other (see mergeRequiredTerms);
 * unmatchable: the user's terms were all empty (match no node) and are left as they are.
 */
export type MergeConflict = 'none' | 'partial' | 'total' | 'unmatchable';

export interface MergeResult {
  terms: NodeSelectorTerm[];
  conflict: MergeConflict;
}

function dedupeTerms(terms: NodeSelectorTerm[]): NodeSelectorTerm[] {
  const out: NodeSelectorTerm[] = [];
  for (const t of terms) if (!out.some((o) => jsonEqual(o, t))) out.push(t);
  return out;
}

/**
 * ANDs the user's required terms (undefined: no required affinity, i.e. "any node") with the
 * imposed terms (OR of AND-lists, at least one). `nodeSelector` is ANDed by Kubernetes with any
 * affinity, so it takes part in contradiction checks but is never copied into terms.
 *
 * When every product is unsatisfiable, the result may not be an empty list (the API server
 * rejects `nodeSelectorTerms: []`), and dropping the placement would let the pod escape it
 * (e.g. a Local namespace kept for data residency). So each user term is ANDed with the *last*
 * imposed term: the pod keeps the user's constraints and the placement's, and stays Pending
 * (the caller warns). Using the same imposed term each time keeps this idempotent, because a
 * term already containing it is unchanged by it and stays contradictory.
 */
export function mergeRequiredTerms(
  userTerms: readonly NodeSelectorTerm[] | undefined,
  imposed: readonly (readonly NodeSelectorRequirement[])[],
  nodeSelector?: Record<string, string>,
): MergeResult {
  const pinned: NodeSelectorRequirement[] = Object.entries(nodeSelector ?? {}).map(([key, value]) => ({ key, operator: 'In', values: [value] }));
  const unsatisfiable = (term: NodeSelectorTerm): boolean => isContradictory([...(term.matchExpressions ?? []), ...pinned]);

  // No required affinity means "any node": the identity for AND, unlike an empty term.
  const users = userTerms === undefined ? [{}] : userTerms.filter((t) => !isEmptyTerm(t));
  if (users.length === 0) return { terms: [...(userTerms ?? [])], conflict: 'unmatchable' };

  const kept: NodeSelectorTerm[] = [];
  let lostBranch = false;
  for (const user of users) {
    const products = imposed.map((i) => andTerm(user, i)).filter((t) => !unsatisfiable(t));
    if (products.length === 0) lostBranch = true;
    kept.push(...products);
  }
  if (kept.length > 0) return { terms: dedupeTerms(kept), conflict: lostBranch ? 'partial' : 'none' };

  const last = imposed[imposed.length - 1] ?? [];
  return { terms: dedupeTerms(users.map((u) => andTerm(u, last))), conflict: 'total' };
}
