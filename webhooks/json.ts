// Walks over JSON values (plain objects, arrays, strings, numbers, booleans, null) for the
// handlers: structural equality, deep copies and serialization; the only ones in webhooks/.
// Every walk keeps its own stack instead of recursing: a review is parsed by JSON.parse, which
// builds values nested deeper than any call stack (100,000 levels and more), and a stack
// overflow would fail the request. Keys are own keys whatever their name: "__proto__" from
// JSON.parse is copied as a key, never as a prototype.

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return isContainer(value) && !Array.isArray(value);
}

/**
 * Structural equality of JSON values: arrays item by item, objects key by key in any order. A
 * key whose value is undefined counts as absent, as it would once serialized.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  // Pairs still to compare, flattened: [a0, b0, a1, b1, ...].
  const pending: unknown[] = [a, b];
  while (pending.length > 0) {
    const y = pending.pop();
    const x = pending.pop();
    if (x === y) continue;
    if (Array.isArray(x)) {
      if (!Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) pending.push(x[i], y[i]);
    } else if (isPlainRecord(x) && isPlainRecord(y)) {
      if (!pushSameKeys(x, y, pending)) return false;
    } else {
      return false;
    }
  }
  return true;
}

/** Queues the value pairs of two objects; false when their defined keys differ. */
function pushSameKeys(x: Record<string, unknown>, y: Record<string, unknown>, pending: unknown[]): boolean {
  let defined = 0;
  for (const key of Object.keys(x)) {
    const value = x[key];
    if (value === undefined) continue;
    if (!Object.hasOwn(y, key)) return false;
    defined++;
    pending.push(value, y[key]);
  }
  let otherDefined = 0;
  for (const key of Object.keys(y)) if (y[key] !== undefined) otherDefined++;
  return defined === otherDefined;
}

function emptyLike(value: Container): Container {
  return Array.isArray(value) ? [] : {};
}

/**
 * Sets `record[key]` as an own data property. JSON.parse makes "__proto__" an ordinary own key,
 * but assigning to it calls Object.prototype's setter: the key would be lost, and an object
 * value would become the record's prototype. Other keys ("constructor", "prototype") assign
 * normally on a plain object.
 */
export function setOwn(record: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    record[key] = value;
  }
}

/**
 * A deep copy of a JSON value: own enumerable keys in their order (a "__proto__" key too, as an
 * own key), undefined values kept, nothing shared with the original.
 */
export function deepClone<T>(value: T): T {
  if (!isContainer(value)) return value;
  const root = emptyLike(value);
  // Containers whose copy exists but is still empty: [source, copy].
  const pending: Array<[Container, Container]> = [[value, root]];
  const copyOf = (child: unknown): unknown => {
    if (!isContainer(child)) return child;
    const copy = emptyLike(child);
    pending.push([child, copy]);
    return copy;
  };
  while (pending.length > 0) {
    const [source, target] = pending.pop() as [Container, Container];
    if (Array.isArray(source)) {
      for (const item of source) (target as unknown[]).push(copyOf(item));
    } else {
      const record = target as Record<string, unknown>;
      for (const key of Object.keys(source)) setOwn(record, key, copyOf(source[key]));
    }
  }
  return root as T;
}

/** JSON text of a string, number, boolean or null; undefined for what JSON has no text for. */
function leafJson(value: unknown): string | undefined {
  const type = typeof value;
  return value === null || type === 'string' || type === 'number' || type === 'boolean'
    ? JSON.stringify(value)
    : undefined;
}

interface WriteFrame {
  node: Container;
  /** The keys to write, for an object; undefined for an array. */
  keys: readonly string[] | undefined;
  index: number;
}

function writeFrame(node: Container, sortKeys: boolean): WriteFrame {
  if (Array.isArray(node)) return { node, keys: undefined, index: 0 };
  // Like JSON.stringify: a key whose value has no JSON text is left out.
  const keys = Object.keys(node).filter((key) => isContainer(node[key]) || leafJson(node[key]) !== undefined);
  return { node, keys: sortKeys ? keys.sort() : keys, index: 0 };
}

/**
 * JSON.stringify(value) for JSON values, without recursion. With `maxLength`, writing stops soon
 * after that many characters, so a message quoting a huge value costs what it shows.
 */
export function toJson(value: unknown, maxLength = Infinity): string | undefined {
  return writeJson(value, maxLength, false);
}

/**
 * JSON text with every object's keys sorted: equal for values jsonEqual() calls equal, so it can
 * key a Set or Map (finding duplicates among n values in linear time, not n² comparisons).
 */
export function canonicalJson(value: unknown): string {
  return writeJson(value, Infinity, true) ?? 'undefined';
}

function writeJson(value: unknown, maxLength: number, sortKeys: boolean): string | undefined {
  if (!isContainer(value)) return leafJson(value);
  const parts: string[] = [];
  let length = 0;
  const emit = (text: string): void => {
    parts.push(text);
    length += text.length;
  };
  const frames: WriteFrame[] = [];
  const enter = (node: Container): void => {
    emit(Array.isArray(node) ? '[' : '{');
    frames.push(writeFrame(node, sortKeys));
  };
  enter(value);
  while (frames.length > 0 && length <= maxLength) {
    const frame = frames[frames.length - 1] as WriteFrame;
    const { node, keys } = frame;
    if (frame.index >= (keys ?? (node as unknown[])).length) {
      emit(keys ? '}' : ']');
      frames.pop();
      continue;
    }
    const index = frame.index++;
    if (index > 0) emit(',');
    let child: unknown;
    if (keys) {
      const key = keys[index] as string;
      emit(`${JSON.stringify(key)}:`);
      child = (node as Record<string, unknown>)[key];
    } else {
      child = (node as unknown[])[index];
    }
    // In an array, a value without JSON text is written as null, as JSON.stringify does.
    if (isContainer(child)) enter(child);
    else emit(leafJson(child) ?? 'null');
  }
  return parts.join('');
}
