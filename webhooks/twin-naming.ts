// kube-offload.io/twin-name on a Namespace: how its twins in the remotes are named. The value's
// meaning is decided here once: the validating webhook checks it, and src/common/twin.ts (the
// syncer's and the provider's twin name) reads it through twinNamingOf.
import { DEFAULT_TWIN_NAMING, ENABLED_LABEL, TWIN_NAMINGS, TWIN_NAME_ANNOTATION } from './keys.ts';
import type { TwinNaming } from './keys.ts';
import { getPath, stringAt } from './k8s.ts';
import { quote } from './text.ts';

/**
 * The naming an annotation value stands for. A value the webhook would reject (set while it was
 * down) counts as the default: the components must agree on one name, and the default is the
 * choice that never collides with a namespace of the remote's own.
 */
export function twinNamingOf(value: unknown): TwinNaming {
  return typeof value === 'string' && (TWIN_NAMINGS as readonly string[]).includes(value)
    ? (value as TwinNaming)
    : DEFAULT_TWIN_NAMING;
}

const optedIn = (namespace: unknown): boolean =>
  stringAt(getPath(namespace, ['metadata', 'labels']), ENABLED_LABEL) === 'true';
const namingOf = (namespace: unknown): TwinNaming =>
  twinNamingOf(stringAt(getPath(namespace, ['metadata', 'annotations']), TWIN_NAME_ANNOTATION));

/**
 * Why an UPDATE of a Namespace may not change its twin naming, or undefined. The naming may not
 * change while the namespace stays opted in (as Liqo's NamespaceMappingStrategy is immutable once
 * offloaded): its twins, the copies in them and the offloaded pods all live under the current
 * name, and moving them is a deletion and recreation of everything. Opting out in the same
 * update, or changing the naming while opted out, is allowed; the syncer removes twins under the
 * old name either way.
 */
export function twinNamingChangeProblem(object: unknown, oldObject: unknown): string | undefined {
  if (!optedIn(object) || !optedIn(oldObject)) return undefined;
  const before = namingOf(oldObject);
  const after = namingOf(object);
  if (before === after) return undefined;
  return (
    `${TWIN_NAME_ANNOTATION}: may not change from ${quote(before)} to ${quote(after)} while the namespace is ` +
    `opted in (${ENABLED_LABEL}: "true"): its twins, their copies and its offloaded pods live under the current ` +
    `name; set ${ENABLED_LABEL}: "false" first (that removes its twins and their pods), then change it`
  );
}
