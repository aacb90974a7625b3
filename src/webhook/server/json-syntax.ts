// Where a body stops being JSON, in bytes. Used only after JSON.parse has failed: V8's message
// quotes the text around the error (a password, a token), so the shell reports this position
// instead. An iterative scan with an explicit stack, so any nesting depth is fine.

// What the scanner expects next.
/** Any value. */
const VALUE = 0;
/** Right after "[": a value or "]". */
const VALUE_OR_ARRAY_END = 1;
/** Right after "{": a key or "}". */
const KEY_OR_OBJECT_END = 2;
/** After "," in an object. */
const KEY = 3;
/** After a key. */
const COLON_NEXT = 4;
/** After a complete value: ",", a closing bracket, or the end of the text. */
const SEPARATOR = 5;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const isWhitespace = (byte: number): boolean => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
const isDigit = (byte: number): boolean => byte >= ZERO && byte <= NINE;
const isHexDigit = (byte: number): boolean =>
  isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
/** The characters that may follow a backslash in a JSON string: " \ / b f n r t u. */
const ESCAPABLE = new Set([QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74, 0x75]);
/** true, false and null, by their first byte. */
const LITERALS = new Map(['true', 'false', 'null'].map((word) => [word.charCodeAt(0), Buffer.from(word)]));

/** Where a JSON text first goes wrong: the 0-based offset of the offending byte, or the end. */
export type JsonSyntaxError = { kind: 'unexpected'; offset: number } | { kind: 'truncated'; length: number };

/** A scanning step's outcome: the offset to go on from, or the error found. */
type Step = number | JsonSyntaxError;

/**
 * The first syntax error of `bytes` as JSON (RFC 8259, as JSON.parse reads it), or undefined
 * when they are valid JSON. Invalid UTF-8 is not an error: the body is decoded with replacement
 * characters before it is parsed.
 */
export function findJsonSyntaxError(bytes: Uint8Array): JsonSyntaxError | undefined {
  return new JsonScanner(bytes).run();
}

class JsonScanner {
  readonly bytes: Uint8Array;
  readonly end: number;
  /** Open containers, innermost last: true for an object, false for an array. */
  readonly open: boolean[] = [];
  expect = VALUE;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.end = bytes.length;
  }

  run(): JsonSyntaxError | undefined {
    let offset = 0;
    while (offset < this.end) {
      const byte = this.bytes[offset] as number;
      if (isWhitespace(byte)) {
        offset++;
        continue;
      }
      const next = this.step(byte, offset);
      if (typeof next !== 'number') return next;
      offset = next;
    }
    return this.expect === SEPARATOR && this.open.length === 0 ? undefined : this.truncated();
  }

  unexpected(offset: number): JsonSyntaxError {
    return { kind: 'unexpected', offset };
  }

  truncated(): JsonSyntaxError {
    return { kind: 'truncated', length: this.end };
  }

  /** One token at `offset` (not whitespace), given what may come there. */
  step(byte: number, offset: number): Step {
    switch (this.expect) {
      case VALUE:
      case VALUE_OR_ARRAY_END:
        return this.value(byte, offset);
      case KEY_OR_OBJECT_END:
      case KEY:
        return this.key(byte, offset);
      case COLON_NEXT:
        if (byte !== COLON) return this.unexpected(offset);
        this.expect = VALUE;
        return offset + 1;
      default:
        return this.separator(byte, offset);
    }
  }

  value(byte: number, offset: number): Step {
    if (byte === CLOSE_ARRAY && this.expect === VALUE_OR_ARRAY_END) return this.close(offset);
    if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      this.open.push(byte === OPEN_OBJECT);
      this.expect = byte === OPEN_OBJECT ? KEY_OR_OBJECT_END : VALUE_OR_ARRAY_END;
      return offset + 1;
    }
    let next: Step;
    if (byte === QUOTE) next = this.string(offset);
    else if (byte === MINUS || isDigit(byte)) next = this.number(offset);
    else next = this.literal(byte, offset);
    if (typeof next === 'number') this.expect = SEPARATOR;
    return next;
  }

  key(byte: number, offset: number): Step {
    if (byte === CLOSE_OBJECT && this.expect === KEY_OR_OBJECT_END) return this.close(offset);
    if (byte !== QUOTE) return this.unexpected(offset);
    const next = this.string(offset);
    if (typeof next === 'number') this.expect = COLON_NEXT;
    return next;
  }

  /** After a complete value: a comma, the closing bracket of the container, nothing else. */
  separator(byte: number, offset: number): Step {
    const inObject = this.open[this.open.length - 1];
    if (inObject === undefined) return this.unexpected(offset);
    if (byte === COMMA) {
      this.expect = inObject ? KEY : VALUE;
      return offset + 1;
    }
    return byte === (inObject ? CLOSE_OBJECT : CLOSE_ARRAY) ? this.close(offset) : this.unexpected(offset);
  }

  close(offset: number): Step {
    this.open.pop();
    this.expect = SEPARATOR;
    return offset + 1;
  }

  /** The string starting at the quote at `start`; continues after its closing quote. */
  string(start: number): Step {
    const { bytes, end } = this;
    let at = start + 1;
    while (at < end) {
      const byte = bytes[at] as number;
      if (byte === QUOTE) return at + 1;
      if (byte < 0x20) return this.unexpected(at);
      if (byte !== BACKSLASH) {
        at++;
        continue;
      }
      const next = this.escape(at);
      if (typeof next !== 'number') return next;
      at = next;
    }
    return this.truncated();
  }

  /** The escape sequence at the backslash at `at`. */
  escape(at: number): Step {
    if (at + 1 >= this.end) return this.truncated();
    const escaped = this.bytes[at + 1] as number;
    if (!ESCAPABLE.has(escaped)) return this.unexpected(at + 1);
    if (escaped !== 0x75) return at + 2;
    for (let digit = at + 2; digit < at + 6; digit++) {
      if (digit >= this.end) return this.truncated();
      if (!isHexDigit(this.bytes[digit] as number)) return this.unexpected(digit);
    }
    return at + 6;
  }

  /** The number starting at `start`: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  number(start: number): Step {
    const { bytes, end } = this;
    let at = start;
    if (bytes[at] === MINUS) at++;
    if (at >= end) return this.truncated();
    if (bytes[at] === ZERO) at++;
    else if (isDigit(bytes[at] as number)) at = this.digits(at);
    else return this.unexpected(at);
    if (at < end && bytes[at] === DOT) {
      const fraction = this.requiredDigits(at + 1);
      if (typeof fraction !== 'number') return fraction;
      at = fraction;
    }
    if (at < end && (bytes[at] === 0x65 || bytes[at] === 0x45)) {
      at++;
      if (at < end && (bytes[at] === PLUS || bytes[at] === MINUS)) at++;
      return this.requiredDigits(at);
    }
    return at;
  }

  digits(start: number): number {
    let at = start;
    while (at < this.end && isDigit(this.bytes[at] as number)) at++;
    return at;
  }

  /** At least one digit at `start`. */
  requiredDigits(start: number): Step {
    if (start >= this.end) return this.truncated();
    if (!isDigit(this.bytes[start] as number)) return this.unexpected(start);
    return this.digits(start);
  }

  literal(byte: number, offset: number): Step {
    const word = LITERALS.get(byte);
    if (!word) return this.unexpected(offset);
    for (let index = 1; index < word.length; index++) {
      if (offset + index >= this.end) return this.truncated();
      if (this.bytes[offset + index] !== word[index]) return this.unexpected(offset + index);
    }
    return offset + word.length;
  }
}

/** A 400 message for a body JSON.parse rejected: where it goes wrong, never what it says. */
export function describeJsonSyntaxError(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'request body is not valid JSON (it is empty)';
  const error = findJsonSyntaxError(bytes);
  if (!error) return 'request body is not valid JSON';
  // Counted from 1, as editors count columns.
  if (error.kind === 'unexpected') return `request body is not valid JSON (at byte ${error.offset + 1})`;
  return `request body is not valid JSON (it ends after ${error.length} bytes, inside a value)`;
}
