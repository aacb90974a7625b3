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
const isHexDigit = (byte: number): boolean => isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
/** The characters that may follow a backslash in a JSON string: " \ / b f n r t u. */
const ESCAPABLE = new Set([QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74, 0x75]);
const LITERALS = new Map([0x74, 0x66, 0x6e].map((first) => [first, Buffer.from(first === 0x74 ? 'true' : first === 0x66 ? 'false' : 'null')]));

/** Where a JSON text first goes wrong: the 0-based offset of the offending byte, or the end. */
export type JsonSyntaxError = { kind: 'unexpected'; offset: number } | { kind: 'truncated'; length: number };

/**
 * The first syntax error of `bytes` as JSON (RFC 8259, as JSON.parse reads it), or undefined
 * when they are valid JSON. Invalid UTF-8 is not an error: the body is decoded with replacement
 * characters before it is parsed.
 */
export function findJsonSyntaxError(bytes: Uint8Array): JsonSyntaxError | undefined {
  /** Open containers, innermost last: true for an object, false for an array. */
  const open: boolean[] = [];
  let expect = VALUE;
  let offset = 0;
  const end = bytes.length;
  const unexpected = (at: number): JsonSyntaxError => ({ kind: 'unexpected', offset: at });
  const truncated: JsonSyntaxError = { kind: 'truncated', length: end };

  /** Scans the string starting at the quote at `start`; returns the offset after its closing quote. */
  const scanString = (start: number): number | JsonSyntaxError => {
    let at = start + 1;
    while (at < end) {
      const byte = bytes[at] as number;
      if (byte === QUOTE) return at + 1;
      if (byte < 0x20) return unexpected(at);
      if (byte === BACKSLASH) {
        if (at + 1 >= end) return truncated;
        const escaped = bytes[at + 1] as number;
        if (!ESCAPABLE.has(escaped)) return unexpected(at + 1);
        if (escaped === 0x75) {
          for (let digit = at + 2; digit < at + 6; digit++) {
            if (digit >= end) return truncated;
            if (!isHexDigit(bytes[digit] as number)) return unexpected(digit);
          }
          at += 6;
        } else at += 2;
      } else at++;
    }
    return truncated;
  };

  /** Scans the number starting at `start`; returns the offset after it. */
  const scanNumber = (start: number): number | JsonSyntaxError => {
    let at = start;
    if (bytes[at] === MINUS) at++;
    if (at >= end) return truncated;
    if (bytes[at] === ZERO) at++;
    else if (isDigit(bytes[at] as number)) while (at < end && isDigit(bytes[at] as number)) at++;
    else return unexpected(at);
    if (at < end && bytes[at] === DOT) {
      at++;
      if (at >= end) return truncated;
      if (!isDigit(bytes[at] as number)) return unexpected(at);
      while (at < end && isDigit(bytes[at] as number)) at++;
    }
    if (at < end && (bytes[at] === 0x65 || bytes[at] === 0x45)) {
      at++;
      if (at < end && (bytes[at] === PLUS || bytes[at] === MINUS)) at++;
      if (at >= end) return truncated;
      if (!isDigit(bytes[at] as number)) return unexpected(at);
      while (at < end && isDigit(bytes[at] as number)) at++;
    }
    return at;
  };

  while (offset < end) {
    const byte = bytes[offset] as number;
    if (isWhitespace(byte)) {
      offset++;
      continue;
    }
    switch (expect) {
      case VALUE:
      case VALUE_OR_ARRAY_END: {
        if (byte === CLOSE_ARRAY && expect === VALUE_OR_ARRAY_END) {
          open.pop();
          offset++;
          expect = SEPARATOR;
          break;
        }
        if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
          open.push(byte === OPEN_OBJECT);
          expect = byte === OPEN_OBJECT ? KEY_OR_OBJECT_END : VALUE_OR_ARRAY_END;
          offset++;
          break;
        }
        let next: number | JsonSyntaxError;
        if (byte === QUOTE) next = scanString(offset);
        else if (byte === MINUS || isDigit(byte)) next = scanNumber(offset);
        else {
          const literal = LITERALS.get(byte);
          if (!literal) return unexpected(offset);
          for (let index = 1; index < literal.length; index++) {
            if (offset + index >= end) return truncated;
            if (bytes[offset + index] !== literal[index]) return unexpected(offset + index);
          }
          next = offset + literal.length;
        }
        if (typeof next !== 'number') return next;
        offset = next;
        expect = SEPARATOR;
        break;
      }
      case KEY_OR_OBJECT_END:
      case KEY: {
        if (byte === CLOSE_OBJECT && expect === KEY_OR_OBJECT_END) {
          open.pop();
          offset++;
          expect = SEPARATOR;
          break;
        }
        if (byte !== QUOTE) return unexpected(offset);
        const next = scanString(offset);
        if (typeof next !== 'number') return next;
        offset = next;
        expect = COLON_NEXT;
        break;
      }
      case COLON_NEXT:
        if (byte !== COLON) return unexpected(offset);
        offset++;
        expect = VALUE;
        break;
      case SEPARATOR: {
        if (open.length === 0) return unexpected(offset);
        const inObject = open[open.length - 1] as boolean;
        if (byte === COMMA) {
          expect = inObject ? KEY : VALUE;
          offset++;
        } else if (byte === (inObject ? CLOSE_OBJECT : CLOSE_ARRAY)) {
          open.pop();
          offset++;
          expect = SEPARATOR;
        } else return unexpected(offset);
        break;
      }
    }
  }
  return expect === SEPARATOR && open.length === 0 ? undefined : truncated;
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
