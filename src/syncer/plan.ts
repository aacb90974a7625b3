// Pure decisions of the syncer: which remotes a namespace goes to, whether an object is
// replicated, and what write (if any) turns the remote state into the desired one.
import type { KubeObject } from '../../webhooks/types.ts';
import { CLUSTERS_ANNOTATION, ENABLED_LABEL, ORIGIN_ANNOTATION, REPLICATE_KEY } from '../../webhooks/keys.ts';
import { isTwinOf } from '../common/ownership.ts';
import { needsRecreate, needsUpdate, twinNeedsUpdate, twinUpdateBody, updateBody } from './compare.ts';
import { isCopy, isOwnedByUs } from './copy.ts';

/** A remote cluster as the syncer knows it: a name and labels the `clusters` selector matches. */
export interface RemoteInfo {
  name: string;
  labels: Record<string, string>;
}

/** Compiles a label selector string into a matcher; throws on a syntax error. */
export type SelectorCompiler = (selector: string) => (labels: Record<string, string>) => boolean;

/** True when the namespace is opted in and not being deleted. */
export function namespaceOptedIn(ns: KubeObject | undefined): boolean {
  if (!ns) return false;
  if (ns.metadata?.deletionTimestamp) return false;
  return ns.metadata?.labels?.[ENABLED_LABEL] === 'true';
}

/**
 * The remotes that get a twin of this namespace: all of them without a `clusters` annotation;
 * with one, those whose labels match it. An unparseable selector selects none (we would rather
 * not spread data where the user did not want it) and is reported in `error`.
 */
export function remotesForNamespace(
  ns: KubeObject | undefined,
  remotes: readonly RemoteInfo[],
  compile: SelectorCompiler,
): { remotes: string[]; error?: string } {
  if (!namespaceOptedIn(ns)) return { remotes: [] };
  const selector = ns?.metadata?.annotations?.[CLUSTERS_ANNOTATION];
  if (selector === undefined || selector.trim() === '') return { remotes: remotes.map((r) => r.name) };
  let match: (labels: Record<string, string>) => boolean;
  try {
    match = compile(selector);
  } catch (err) {
    return { remotes: [], error: `${CLUSTERS_ANNOTATION}: ${(err as Error).message}` };
  }
  return { remotes: remotes.filter((r) => match(r.labels)).map((r) => r.name) };
}

/** Objects never replicated even when stamped (the webhook's exclusions). */
export type ExclusionCheck = (object: KubeObject) => boolean;

/**
 * True when a local object should have copies: stamped (label `true`), not opted out by the
 * annotation, not excluded, not itself a copy, not being deleted.
 */
export function isReplicable(object: KubeObject | undefined, excluded: ExclusionCheck): boolean {
  if (!object) return false;
  const meta = object.metadata ?? {};
  if (meta.deletionTimestamp) return false;
  if (meta.labels?.[REPLICATE_KEY] !== 'true') return false;
  if (meta.annotations?.[REPLICATE_KEY] === 'false') return false;
  if (isCopy(object)) return false;
  return !excluded(object);
}

export type ObjectAction =
  | { type: 'none' }
  | { type: 'create'; object: KubeObject }
  | { type: 'update'; object: KubeObject }
  | { type: 'recreate'; uid: string; object: KubeObject }
  | { type: 'delete'; uid: string }
  | { type: 'conflict'; reason: string };

/**
 * What to do for one copy. `actual` is what the remote has under that name (from our cache of
 * owned objects, or a foreign object we learned about); `desired` undefined means "no copy".
 */
export function planObject(
  desired: KubeObject | undefined,
  actual: KubeObject | undefined,
  localCluster: string,
): ObjectAction {
  if (actual && !isOwnedByUs(actual, localCluster)) {
    if (!desired) return { type: 'none' };
    return { type: 'conflict', reason: conflictReason(actual) };
  }
  const uid = actual?.metadata?.uid ?? '';
  if (!desired) return actual ? { type: 'delete', uid } : { type: 'none' };
  if (!actual) return { type: 'create', object: desired };
  if (actual.metadata?.deletionTimestamp) return { type: 'none' }; // being deleted; recreate once gone
  if (needsRecreate(desired, actual)) return { type: 'recreate', uid, object: desired };
  if (needsUpdate(desired, actual)) return { type: 'update', object: updateBody(desired, actual) };
  return { type: 'none' };
}

function conflictReason(actual: KubeObject): string {
  const meta = actual.metadata ?? {};
  const where = `${meta.namespace ? `${meta.namespace}/` : ''}${meta.name ?? ''}`;
  const what = `${actual.kind ?? 'object'} ${where}`;
  return `${what} already exists in the remote cluster and is not managed by kube-offload; left untouched`;
}

export type NamespaceAction =
  | { type: 'none' }
  | { type: 'wait'; reason: string }
  | { type: 'create'; object: KubeObject }
  | { type: 'update'; object: KubeObject }
  | { type: 'delete'; uid: string }
  | { type: 'conflict'; reason: string };

/** What to do for the twin of local namespace `namespace` (`actual`: what the remote has under its name). */
export function planNamespace(
  desired: KubeObject | undefined,
  actual: KubeObject | undefined,
  localCluster: string,
  namespace: string,
): NamespaceAction {
  if (actual && !isTwinOf(actual, localCluster, namespace)) {
    if (!desired) return { type: 'none' };
    return { type: 'conflict', reason: twinConflictReason(actual, localCluster) };
  }
  if (!desired) {
    if (!actual || actual.metadata?.deletionTimestamp) return { type: 'none' };
    return { type: 'delete', uid: actual.metadata?.uid ?? '' };
  }
  if (!actual) return { type: 'create', object: desired };
  if (actual.metadata?.deletionTimestamp) return { type: 'wait', reason: 'twin namespace is terminating' };
  if (twinNeedsUpdate(desired, actual)) return { type: 'update', object: twinUpdateBody(desired, actual) };
  return { type: 'none' };
}

/** Why a remote namespace with the twin's name is not the twin: foreign, or another namespace's twin. */
export function twinConflictReason(actual: KubeObject, localCluster: string): string {
  const what = `namespace ${actual.metadata?.name ?? ''}`;
  if (isOwnedByUs(actual, localCluster)) {
    const origin = actual.metadata?.annotations?.[ORIGIN_ANNOTATION] ?? '';
    return `${what} already exists in the remote cluster as the twin of ${origin}; not adopted`;
  }
  return `${what} already exists in the remote cluster and is not managed by kube-offload; not adopted`;
}

/** Whether the twin of local namespace `namespace` allows writing copies into it. */
export type TwinState = 'ready' | 'missing' | 'terminating' | 'foreign';
export function twinState(actual: KubeObject | undefined, localCluster: string, namespace: string): TwinState {
  if (!actual) return 'missing';
  if (!isTwinOf(actual, localCluster, namespace)) return 'foreign';
  if (actual.metadata?.deletionTimestamp) return 'terminating';
  return 'ready';
}
