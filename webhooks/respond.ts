// Building AdmissionResponses: patches are computed by diffing the untouched request object
// against a mutated copy, so handlers only ever describe the desired object.
//
// The copy is scoped (cloneForWrites): only the fields a handler writes are copied, everything
// else is shared with the request object. fast-json-patch's compare skips a subtree as soon as
// both sides are the same object, so the diff costs what the handler changed, not the size of
// the object (a pod with many containers, a Secret with large data), and it is exactly the diff
// a deep clone would give.

import jsonpatch from 'fast-json-patch';
import type { AdmissionResponse, JsonPatchOperation } from './types.ts';

export function allow(uid: string, warnings: readonly string[] = []): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (warnings.length > 0) response.warnings = [...new Set(warnings)];
  return response;
}

/** Allowed, with the RFC 6902 diff original -> mutated when there is one (no patch field otherwise). */
export function allowWithDiff(uid: string, original: object, mutated: object, warnings: readonly string[] = []): AdmissionResponse {
  const response = allow(uid, warnings);
  const patch = jsonpatch.compare(original, mutated) as JsonPatchOperation[];
  if (patch.length > 0) response.patch = patch;
  return response;
}

export function deny(uid: string, code: number, reason: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code, reason, message } };
}

/** A path of object keys from the root of an object, e.g. ['spec', 'affinity']. */
export type FieldPath = readonly string[];

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
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

function shallowCopy(value: Container): Container {
  return Array.isArray(value) ? value.slice() : { ...value };
}

/** Prefixes every path with `prefix`, e.g. to write below a pod template. */
export function under(prefix: FieldPath, paths: readonly FieldPath[]): FieldPath[] {
  return paths.map((path) => [...prefix, ...path]);
}
