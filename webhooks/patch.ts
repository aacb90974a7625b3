// Patches by diffing: a handler mutates a copy of the request object, and the patch is the RFC
// 6902 diff from the original to the copy, so handlers only ever describe the desired object.
//
// Both halves cost what the handler changes, not the size of the object (a pod with many
// containers, a Secret with large data): cloneForWrites copies only the fields a handler
// writes and shares everything else with the original, and diff() skips a subtree as soon as
// both sides are the same object.

import { escapePathComponent } from 'fast-json-patch';
import { deepClone, jsonEqual } from './json.ts';
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

/**
 * A copy of `object` for a handler that writes only at or below `writes`: the value at the end
 * of each path is deep-copied, the objects on the way to it are copied shallowly (so setting a
 * missing field on them is safe), and every other field is shared with `object`. A path stops
 * where the object has nothing (or a scalar) at a step: whatever the handler creates there is
 * new anyway. Writing anywhere else would write into the request object: callers list what
 * they write (see PLAN_REPLACES in placement.ts), and the tests run every handler on frozen input.
 *
 * `replaces` lists fields the handler only ever assigns a new value to, never changing the old
 * value in place: the objects on the way are copied shallowly and the old value stays shared,
 * so a large field (a pod's node affinity terms) costs nothing to copy, nor to diff where the
 * new value reuses its parts.
 */
export function cloneForWrites<T extends object>(
  object: T,
  writes: readonly FieldPath[],
  replaces: readonly FieldPath[] = [],
): T {
  if (writes.some((path) => path.length === 0)) return deepClone(object);
  const root = shallowCopy(object as Container);
  // What this copy owns, so paths with a common prefix reuse it: shallow copies on the way, and
  // deep copies at the ends (nothing below those is shared).
  const owned: Owned = { shallow: new Set<Container>([root]), deep: new Set<Container>() };
  for (const path of writes) ownPath(root, path, path.length, owned);
  for (const path of replaces) ownPath(root, path, path.length - 1, owned);
  return root as T;
}

interface Owned {
  shallow: Set<Container>;
  deep: Set<Container>;
}

/** Copies the containers at path[0..length-1] into `root`: shallowly, the one at the path's end deeply. */
function ownPath(root: Container, path: FieldPath, length: number, owned: Owned): void {
  let node = root as Record<string, unknown>;
  for (let i = 0; i < length; i++) {
    const key = path[i] as string;
    const value = node[key];
    if (!isContainer(value) || owned.deep.has(value)) return;
    if (i === path.length - 1) {
      const copy = deepClone(value);
      node[key] = copy;
      owned.deep.add(copy);
      return;
    }
    let copy = value;
    if (!owned.shallow.has(value)) {
      copy = shallowCopy(value);
      node[key] = copy;
      owned.shallow.add(copy);
    }
    node = copy as Record<string, unknown>;
  }
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
 *
 * Two more differences. An array whose operations would outnumber its items is replaced whole
 * (see outnumbersItems). And no path goes through a key that JavaScript JSON-patch libraries
 * refuse or mis-apply ("__proto__", and "prototype" under "constructor"; JSON.parse makes them
 * ordinary own keys): a change at such a key is written as a replace of the object holding it.
 */
export function diff(original: object, mutated: object): JsonPatchOperation[] {
  const patch: JsonPatchOperation[] = [];
  // compare() recurses; this walk keeps its frames in an array, so that a deeply nested value
  // (JSON.parse builds them at any depth) cannot overflow the call stack.
  const frames: DiffFrame[] = [];
  const enter = (mirror: Container, obj: Container, path: string, key: string, parent?: DiffFrame): void => {
    if (mirror === obj) return;
    const oldKeys = keysOf(mirror);
    const frame: DiffFrame = {
      mirror,
      obj,
      path,
      key,
      oldKeys,
      newKeys: keysOf(obj),
      next: oldKeys.length - 1,
      deleted: false,
      start: patch.length,
      array: parent?.array,
    };
    if (Array.isArray(obj)) frame.array = frame;
    frames.push(frame);
  };
  enter(original as Container, mutated as Container, '', '');
  while (frames.length > 0) {
    const frame = frames[frames.length - 1] as DiffFrame;
    // Once the innermost array being compared is crowded it is replaced whole, whatever is
    // left of it: no need to compare the rest item by item.
    if (frame.array && outnumbersItems(frame.array, patch)) {
      const crowded = frame.array;
      frames.length = frames.lastIndexOf(crowded);
      replaceWhole(crowded, patch);
      continue;
    }
    if (frame.next < 0) {
      frames.pop();
      if (addsRefusedKey(frame)) replaceWhole(frame, patch);
      else {
        addNewKeys(frame, patch);
        if (outnumbersItems(frame, patch)) replaceWhole(frame, patch);
      }
      continue;
    }
    const key = frame.oldKeys[frame.next--] as string;
    if (isRefusedKey(frame.key, key) && !sameAt(frame, key)) {
      frames.pop();
      replaceWhole(frame, patch);
      continue;
    }
    const child = compareKey(frame, key, patch);
    if (child) enter(child.mirror, child.obj, child.path, key, frame);
  }
  return patch;
}

function keysOf(value: Container): string[] {
  if (!Array.isArray(value)) return Object.keys(value);
  const keys = new Array<string>(value.length);
  for (let i = 0; i < value.length; i++) keys[i] = String(i);
  return keys;
}

/** One level of fast-json-patch's _generate (duplex.ts): old keys are visited last to first. */
interface DiffFrame {
  mirror: Container;
  obj: Container;
  path: string;
  /** The last key of `path` ('' at the root). */
  key: string;
  oldKeys: string[];
  newKeys: string[];
  /** Index into oldKeys of the next key to compare; -1 when only additions are left. */
  next: number;
  deleted: boolean;
  /** patch.length when the frame began: its operations (and its children's) follow. */
  start: number;
  /** The innermost array frame at or above this one (this one, for an array). */
  array: DiffFrame | undefined;
}

/** fast-json-patch refuses these path steps (prototype pollution); others mis-apply them. */
function isRefusedKey(parentKey: string, key: string): boolean {
  return key === '__proto__' || (key === 'prototype' && parentKey === 'constructor');
}

function sameAt(frame: DiffFrame, key: string): boolean {
  return (
    Object.hasOwn(frame.obj, key) &&
    jsonEqual((frame.mirror as Record<string, unknown>)[key], (frame.obj as Record<string, unknown>)[key])
  );
}

/** True when the frame's additions would include a refused key. */
function addsRefusedKey(frame: DiffFrame): boolean {
  return frame.newKeys.some(
    (key) =>
      isRefusedKey(frame.key, key) &&
      !Object.hasOwn(frame.mirror, key) &&
      (frame.obj as Record<string, unknown>)[key] !== undefined,
  );
}

/**
 * True for an array (below the root) whose operations outnumber its items. Element by element,
 * compare() writes an operation per changed leaf, each repeating the path from the root: node
 * affinity terms ANDed with a placement change in every item (64 terms of 16 requirements made
 * 6,210 operations, a 1.5 MiB patch for 0.75 MiB of affinity). One replace of the array is then
 * shorter, cheaper to build and to apply, and says what the handler did. Outnumbering its items
 * means more than one operation per item: a few items changed in one place each (a toleration
 * added, a term appended) keep compare()'s operations.
 */
function outnumbersItems(frame: DiffFrame, patch: JsonPatchOperation[]): boolean {
  return frame.path !== '' && Array.isArray(frame.obj) && patch.length - frame.start > frame.obj.length;
}

/** Drops the operations written inside the frame, and replaces its whole object instead. */
function replaceWhole(frame: DiffFrame, patch: JsonPatchOperation[]): void {
  patch.length = frame.start;
  patch.push({ op: 'replace', path: frame.path, value: frame.obj });
}

/** _generate's loop body for one old key: pushes its operation, or returns the pair to descend into. */
function compareKey(
  frame: DiffFrame,
  key: string,
  patch: JsonPatchOperation[],
): { mirror: Container; obj: Container; path: string } | undefined {
  const { mirror, obj, path } = frame;
  const oldVal = (mirror as Record<string, unknown>)[key];
  const newVal = (obj as Record<string, unknown>)[key];
  // Built only when needed: most keys of a compared subtree hold equal scalars.
  const childPath = (): string => `${path}/${escapePathComponent(key)}`;
  if (Object.hasOwn(obj, key) && !(newVal === undefined && oldVal !== undefined && !Array.isArray(obj))) {
    if (isContainer(oldVal) && isContainer(newVal) && Array.isArray(oldVal) === Array.isArray(newVal)) {
      return { mirror: oldVal, obj: newVal, path: childPath() };
    }
    // compare() writes an undefined array item as null, as JSON does.
    if (oldVal !== newVal)
      patch.push({ op: 'replace', path: childPath(), value: newVal === undefined ? null : newVal });
  } else if (Array.isArray(mirror) === Array.isArray(obj)) {
    patch.push({ op: 'remove', path: childPath() });
    frame.deleted = true;
  } else {
    patch.push({ op: 'replace', path, value: obj });
  }
  return undefined;
}

/** _generate's tail: keys only the new side has, once every old key was compared. */
function addNewKeys(frame: DiffFrame, patch: JsonPatchOperation[]): void {
  const { mirror, obj, path, oldKeys, newKeys } = frame;
  if (!frame.deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    const value = (obj as Record<string, unknown>)[key];
    if (!Object.hasOwn(mirror, key) && value !== undefined)
      patch.push({ op: 'add', path: `${path}/${escapePathComponent(key)}`, value });
  }
}
