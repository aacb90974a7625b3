// Patches by diffing: a handler mutates a copy of the request object, and the patch is the RFC
// 6902 diff from the original to the copy, so handlers only ever describe the desired object.
//
// Both halves cost what the handler changes, not the size of the object (a pod with many
// containers, a Secret with large data): cloneForWrites copies only the fields a handler
// writes and shares everything else with the original, and diff() skips a subtree as soon as
// both sides are the same object.

import { escapePathComponent } from 'fast-json-patch';
import type { JsonPatchOperation } from './types.ts';

/** A path of object keys (array indexes as strings) from the root, e.g. ['spec', 'affinity']. */
export type FieldPath = readonly string[];

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

function shallowCopy(value: Container): Container {
  return Array.isArray(value) ? value.slice() : { ...value };
}

/** A deep copy of a JSON value (own enumerable keys, in order; undefined values kept). */
export function deepCopy<T>(value: T): T {
  if (!isContainer(value)) return value;
  if (Array.isArray(value)) return value.map(deepCopy) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = deepCopy(value[key]);
  return out as T;
}

/**
 * A copy of `object` for a handler that writes only at or below `writes`: the value at the end
 * of each path is deep-copied, the objects on the way to it are copied shallowly (so setting a
 * missing field on them is safe), and every other field is shared with `object`. A path stops
 * where the object has nothing (or a scalar) at a step: whatever the handler creates there is
 * new anyway. Writing anywhere else would write into the request object: callers list what
 * they write (see PLAN_WRITES in placement.ts), and the tests run every handler on frozen input.
 */
export function cloneForWrites<T extends object>(object: T, writes: readonly FieldPath[]): T {
  if (writes.some((path) => path.length === 0)) return deepCopy(object);
  const root = shallowCopy(object as Container);
  // What this copy owns, so paths with a common prefix reuse it: shallow copies on the way, and
  // deep copies at the ends (nothing below those is shared).
  const shallow = new Set<Container>([root]);
  const deep = new Set<Container>();
  for (const path of writes) {
    let node = root as Record<string, unknown>;
    for (let i = 0; i < path.length; i++) {
      const key = path[i] as string;
      const value = node[key];
      if (!isContainer(value) || deep.has(value)) break;
      if (i === path.length - 1) {
        const copy = deepCopy(value);
        node[key] = copy;
        deep.add(copy);
        break;
      }
      let copy = value;
      if (!shallow.has(value)) {
        copy = shallowCopy(value);
        node[key] = copy;
        shallow.add(copy);
      }
      node = copy as Record<string, unknown>;
    }
  }
  return root as T;
}

/** Prefixes every path with `prefix`, e.g. to write below a pod template. */
export function under(prefix: FieldPath, paths: readonly FieldPath[]): FieldPath[] {
  return paths.map((path) => [...prefix, ...path]);
}

/**
 * The operations turning `original` into `mutated`, for JSON values: fast-json-patch's
 * compare() (the same operations in the same order, which the tests check), except that
 * values are not deep-copied into the operations. They come from the handler's copy and are
 * serialized right away; copying them measured as a third of a pod's admission.
 */
export function diff(original: object, mutated: object): JsonPatchOperation[] {
  const patch: JsonPatchOperation[] = [];
  generate(original as Container, mutated as Container, '', patch);
  return patch;
}

const keysOf = (value: Container): string[] => (Array.isArray(value) ? Array.from(value, (_, i) => String(i)) : Object.keys(value));

/** fast-json-patch's _generate (duplex.ts), step for step. */
function generate(mirror: Container, obj: Container, path: string, patch: JsonPatchOperation[]): void {
  if (mirror === obj) return;
  const oldRecord = mirror as Record<string, unknown>;
  const newRecord = obj as Record<string, unknown>;
  const newKeys = keysOf(obj);
  const oldKeys = keysOf(mirror);
  let deleted = false;
  for (let t = oldKeys.length - 1; t >= 0; t--) {
    const key = oldKeys[t] as string;
    const oldVal = oldRecord[key];
    if (Object.hasOwn(obj, key) && !(newRecord[key] === undefined && oldVal !== undefined && !Array.isArray(obj))) {
      const newVal = newRecord[key];
      if (isContainer(oldVal) && isContainer(newVal) && Array.isArray(oldVal) === Array.isArray(newVal)) {
        generate(oldVal, newVal, `${path}/${escapePathComponent(key)}`, patch);
      } else if (oldVal !== newVal) {
        // compare() writes an undefined array item as null, as JSON does.
        patch.push({ op: 'replace', path: `${path}/${escapePathComponent(key)}`, value: newVal === undefined ? null : newVal });
      }
    } else if (Array.isArray(mirror) === Array.isArray(obj)) {
      patch.push({ op: 'remove', path: `${path}/${escapePathComponent(key)}` });
      deleted = true;
    } else {
      patch.push({ op: 'replace', path, value: obj });
    }
  }
  if (!deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    if (!Object.hasOwn(mirror, key) && newRecord[key] !== undefined) {
      patch.push({ op: 'add', path: `${path}/${escapePathComponent(key)}`, value: newRecord[key] });
    }
  }
}
