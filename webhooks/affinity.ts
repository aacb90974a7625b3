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
//
// Cost: linear in the user's terms plus the merged terms. Requirements are compared by a string
// key (Sets, not pairwise), terms deduplicated by a canonical string (termKey), and the imposed
// terms' contradiction facts are worked out once, so checking a product costs the user term's
// size, not the selector's.

import type { NodeSelectorRequirement, NodeSelectorTerm } from './k8s.ts';
import { canonicalJson, jsonEqual } from './json.ts';

/** Appends `${length}:${text}` to `key`: texts written this way one after another read back one way only. */
function withText(key: string, text: string): string {
  return `${key}${text.length}:${text}`;
}

/**
 * Identifies a requirement by key, operator and values (in order); other fields do not count.
 * Strings (what the API server sends) are joined with their lengths, which costs a fraction of
 * JSON.stringify; anything else is keyed by its JSON.
 */
export function requirementKey(r: NodeSelectorRequirement): string {
  const values: unknown = r.values ?? [];
  if (typeof r.key !== 'string' || typeof r.operator !== 'string' || !Array.isArray(values))
    return `j${JSON.stringify([r.key, r.operator, values])}`;
  let key = withText(withText('s', r.key), r.operator);
  for (const value of values) {
    if (typeof value !== 'string') return `j${JSON.stringify([r.key, r.operator, values])}`;
    key = withText(key, value);
  }
  return key;
}

/** What the requirements on one label key say together. */
interface KeyConstraint {
  /** DoesNotExist: the label must be absent. */
  absent: boolean;
  /** In, Exists, Gt or Lt: the label must be present. */
  present: boolean;
  /** The intersection of the In lists, minus `excluded`; undefined while there is no In. */
  allowed: Set<string> | undefined;
  /** Every NotIn value. */
  excluded: Set<string>;
}

type Constraints = Map<string, KeyConstraint>;

function intersect(allowed: Set<string>, values: readonly string[]): Set<string> {
  const out = new Set<string>();
  if (values.length < allowed.size) {
    for (const v of values) if (allowed.has(v)) out.add(v);
  } else {
    const listed = new Set(values);
    for (const v of allowed) if (listed.has(v)) out.add(v);
  }
  return out;
}

function constrain(c: KeyConstraint, r: NodeSelectorRequirement): void {
  const values = r.values ?? [];
  if (r.operator === 'DoesNotExist') c.absent = true;
  if (r.operator === 'In' || r.operator === 'Exists' || r.operator === 'Gt' || r.operator === 'Lt') c.present = true;
  if (r.operator === 'NotIn') {
    for (const v of values) c.excluded.add(v);
    if (c.allowed) for (const v of values) c.allowed.delete(v);
  }
  if (r.operator === 'In') {
    c.allowed = c.allowed ? intersect(c.allowed, values) : new Set(values.filter((v) => !c.excluded.has(v)));
  }
}

/** Groups requirements by key, each group folded into one constraint (one pass, no copies). */
function constraintsOf(requirements: Iterable<NodeSelectorRequirement>): Constraints {
  const byKey: Constraints = new Map();
  for (const r of requirements) {
    let c = byKey.get(r.key);
    if (!c) byKey.set(r.key, (c = { absent: false, present: false, allowed: undefined, excluded: new Set() }));
    constrain(c, r);
  }
  return byKey;
}

function unsatisfiable(c: KeyConstraint): boolean {
  return (c.absent && c.present) || c.allowed?.size === 0;
}

/** True when every value of `values` is in `excluded`; costs at most the smaller size. */
function allExcluded(values: Set<string>, excluded: Set<string>): boolean {
  if (values.size > excluded.size) return false;
  for (const v of values) if (!excluded.has(v)) return false;
  return true;
}

/** unsatisfiable() of both constraints' requirements together, without merging their sets. */
function unsatisfiableTogether(a: KeyConstraint, b: KeyConstraint): boolean {
  if ((a.absent || b.absent) && (a.present || b.present)) return true;
  if (a.allowed && b.allowed) {
    const [small, large] = a.allowed.size <= b.allowed.size ? [a.allowed, b.allowed] : [b.allowed, a.allowed];
    for (const v of small) if (large.has(v)) return false;
    return true;
  }
  if (a.allowed) return allExcluded(a.allowed, b.excluded);
  if (b.allowed) return allExcluded(b.allowed, a.excluded);
  return false;
}

/**
 * True only when no label set can satisfy all the requirements (sound, not complete): on one key,
 * DoesNotExist together with In/Exists/Gt/Lt, or In sets whose intersection minus every NotIn
 * value is empty.
 */
export function isContradictory(requirements: readonly NodeSelectorRequirement[]): boolean {
  for (const c of constraintsOf(requirements).values()) if (unsatisfiable(c)) return true;
  return false;
}

/** An imposed term with its contradiction facts worked out once, for every user term. */
interface PreparedTerm extends KeyedRequirements {
  /** The term's requirements and the pinned nodeSelector labels, by key. */
  constraints: Constraints;
  /** The term contradicts itself or the nodeSelector: every product is unsatisfiable. */
  contradictory: boolean;
}

function prepare(
  requirements: readonly NodeSelectorRequirement[],
  pinned: readonly NodeSelectorRequirement[],
): PreparedTerm {
  const constraints = constraintsOf([...requirements, ...pinned]);
  const contradictory = [...constraints.values()].some(unsatisfiable);
  return { ...keyed(requirements), constraints, contradictory };
}

/**
 * Imposed terms prepared without pinned labels, by the term's list. Placement plans are shared
 * (webhooks/placement.ts), so most pods impose lists already seen; only read, never written.
 */
const preparedAlone = new WeakMap<readonly NodeSelectorRequirement[], PreparedTerm>();

function prepareImposed(
  requirements: readonly NodeSelectorRequirement[],
  pinned: readonly NodeSelectorRequirement[],
): PreparedTerm {
  if (pinned.length > 0) return prepare(requirements, pinned);
  let prepared = preparedAlone.get(requirements);
  if (!prepared) preparedAlone.set(requirements, (prepared = prepare(requirements, pinned)));
  return prepared;
}

/** isContradictory(user's requirements + the prepared term's + pinned), in the user term's size. */
function productUnsatisfiable(user: Constraints, imposed: PreparedTerm): boolean {
  if (imposed.contradictory) return true;
  for (const [key, c] of user) {
    const fixed = imposed.constraints.get(key);
    if (fixed ? unsatisfiableTogether(c, fixed) : unsatisfiable(c)) return true;
  }
  return false;
}

/** Requirements without repeats, each with its requirementKey(). */
interface KeyedRequirements {
  requirements: NodeSelectorRequirement[];
  keys: string[];
}

function keyed(requirements: readonly NodeSelectorRequirement[]): KeyedRequirements {
  const out: KeyedRequirements = { requirements: [], keys: [] };
  const seen = new Set<string>();
  for (const r of requirements) {
    const key = requirementKey(r);
    if (seen.has(key)) continue;
    seen.add(key);
    out.requirements.push(r);
    out.keys.push(key);
  }
  return out;
}

const heldKeys = (term: NodeSelectorTerm): Set<string> => new Set((term.matchExpressions ?? []).map(requirementKey));

/**
 * U AND I, given the keys of U's requirements. U itself when it already holds all of I, so that
 * an unchanged term stays the same object and comparing the merged terms with the user's costs
 * nothing for it.
 */
function appendMissing(
  user: NodeSelectorTerm,
  held: ReadonlySet<string>,
  imposed: KeyedRequirements,
): NodeSelectorTerm {
  const missing = imposed.requirements.filter((_, i) => !held.has(imposed.keys[i] as string));
  if (user.matchExpressions && missing.length === 0) return user;
  return { ...user, matchExpressions: [...(user.matchExpressions ?? []), ...missing] };
}

/** U AND I: U unchanged (other fields such as matchFields kept), I's new requirements appended. */
export function andTerm(user: NodeSelectorTerm, imposed: readonly NodeSelectorRequirement[]): NodeSelectorTerm {
  return appendMissing(user, heldKeys(user), keyed(imposed));
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

/** A plain requirement (key, operator, string values) as a tuple; undefined for anything else. */
function plainRequirement(r: unknown): unknown[] | undefined {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return undefined;
  const { key, operator, values } = r as Record<string, unknown>;
  if (typeof key !== 'string' || typeof operator !== 'string') return undefined;
  for (const field of Object.keys(r)) {
    if (
      field !== 'key' &&
      field !== 'operator' &&
      field !== 'values' &&
      (r as Record<string, unknown>)[field] !== undefined
    )
      return undefined;
  }
  if (values === undefined) return [key, operator];
  const strings = values === null || (Array.isArray(values) && values.every((v) => typeof v === 'string'));
  return strings ? [key, operator, values] : undefined;
}

/** A list of plain requirements as tuples, null when absent; undefined when not plain. */
function plainRequirements(list: unknown): unknown[] | null | undefined {
  if (list === undefined) return null;
  if (!Array.isArray(list)) return undefined;
  const tuples: unknown[] = [];
  for (const r of list) {
    const tuple = plainRequirement(r);
    if (!tuple) return undefined;
    tuples.push(tuple);
  }
  return tuples;
}

/**
 * A string that is the same for JSON-equal terms, and only for them. Terms as the API server
 * sends them (matchExpressions and matchFields of plain requirements) take a short path whose
 * fixed shape makes plain JSON canonical; any other term is keyed by its canonical JSON.
 */
export function termKey(term: NodeSelectorTerm): string {
  const onlyMatches = Object.keys(term).every(
    (field) => field === 'matchExpressions' || field === 'matchFields' || term[field] === undefined,
  );
  const expressions = onlyMatches ? plainRequirements(term.matchExpressions) : undefined;
  const fields = expressions !== undefined ? plainRequirements(term.matchFields) : undefined;
  // The prefixes keep the two kinds of keys apart.
  return fields !== undefined ? `p${JSON.stringify([expressions, fields])}` : `c${canonicalJson(term)}`;
}

/** A plainRequirement() tuple as text, the same exactly for JSON-equal tuples (cheaper than JSON). */
function plainText(tuple: unknown[]): string {
  const [key, operator, values] = tuple as [string, string, string[] | null | undefined];
  const head = withText(withText('', key), operator);
  if (tuple.length === 2) return `${head}u`;
  if (values === null || values === undefined) return `${head}n`;
  let text = `${head}a`;
  for (const value of values) text = withText(text, value);
  return text;
}

/**
 * termKey() for many terms that share requirement objects, as the products of mergeRequiredTerms
 * do (each holds a user term's requirements and an imposed term's): every distinct plain
 * requirement is serialized once and numbered, and a plain term is keyed by its requirements'
 * numbers, instead of serializing every product whole (64 user terms of 16 requirements times
 * two imposed terms of 64: megabytes of keys). Other terms are keyed by termKey().
 */
function termKeyer(): (term: NodeSelectorTerm) => string {
  const numbers = new Map<string, number>();
  const known = new Map<unknown, number | undefined>();
  const numberOf = (r: unknown): number | undefined => {
    if (known.has(r)) return known.get(r);
    const tuple = plainRequirement(r);
    let n: number | undefined;
    if (tuple) {
      const text = plainText(tuple);
      n = numbers.get(text);
      if (n === undefined) numbers.set(text, (n = numbers.size));
    }
    known.set(r, n);
    return n;
  };
  // Like plainRequirements(): 'n' for an absent list, undefined for one that is not plain.
  const listKey = (list: unknown): string | undefined => {
    if (list === undefined) return 'n';
    if (!Array.isArray(list)) return undefined;
    let key = 'a';
    for (const r of list) {
      const n = numberOf(r);
      if (n === undefined) return undefined;
      key += `${n},`;
    }
    return key;
  };
  return (term) => {
    const onlyMatches = Object.keys(term).every(
      (field) => field === 'matchExpressions' || field === 'matchFields' || term[field] === undefined,
    );
    const expressions = onlyMatches ? listKey(term.matchExpressions) : undefined;
    const fields = expressions !== undefined ? listKey(term.matchFields) : undefined;
    // termKey() starts with 'p' or 'c': 'q' keeps these apart.
    return fields !== undefined ? `q${expressions}|${fields}` : termKey(term);
  };
}

/** Up to this many terms are compared pairwise: cheaper than keying them (a pod's placement makes 1 or 2). */
const PAIRWISE_TERMS = 8;

/** Keeps the first of identical terms (JSON-equal: key order does not count). */
export function dedupeTerms(terms: NodeSelectorTerm[]): NodeSelectorTerm[] {
  if (terms.length < 2) return terms;
  if (terms.length <= PAIRWISE_TERMS) return terms.filter((t, i) => !terms.slice(0, i).some((u) => jsonEqual(t, u)));
  const keyOf = termKeyer();
  const seen = new Set<string>();
  return terms.filter((term) => {
    const key = keyOf(term);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
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
 *
 * The imposed lists must not change once passed: what is worked out about them is kept for the
 * next call with the same lists (prepareImposed), as placement plans, which are shared, pass them.
 */
export function mergeRequiredTerms(
  userTerms: readonly NodeSelectorTerm[] | undefined,
  imposed: readonly (readonly NodeSelectorRequirement[])[],
  nodeSelector?: Record<string, string>,
): MergeResult {
  // No required affinity means "any node": the identity for AND, unlike an empty term.
  const users = userTerms === undefined ? [{}] : userTerms.filter((t) => !isEmptyTerm(t));
  if (users.length === 0) return { terms: [...(userTerms ?? [])], conflict: 'unmatchable' };

  const pinned: NodeSelectorRequirement[] = Object.entries(nodeSelector ?? {}).map(([key, value]) => ({
    key,
    operator: 'In',
    values: [value],
  }));
  const prepared = imposed.map((i) => prepareImposed(i, pinned));
  const kept: NodeSelectorTerm[] = [];
  let lostBranch = false;
  for (const user of users) {
    const constraints = constraintsOf(user.matchExpressions ?? []);
    const satisfiable = prepared.filter((i) => !productUnsatisfiable(constraints, i));
    if (satisfiable.length === 0) lostBranch = true;
    else {
      const held = heldKeys(user);
      for (const i of satisfiable) kept.push(appendMissing(user, held, i));
    }
  }
  if (kept.length > 0) return { terms: dedupeTerms(kept), conflict: lostBranch ? 'partial' : 'none' };

  const last = prepared[prepared.length - 1] ?? keyed([]);
  return { terms: dedupeTerms(users.map((u) => appendMissing(u, heldKeys(u), last))), conflict: 'total' };
}
