// SPDY/3.1 framing (SPDY Protocol draft 3.1, section 2.2), the subset that moby/spdystream speaks:
// kube-apiserver and kubectl use spdystream, which never sends or honours flow control, so
// SETTINGS and WINDOW_UPDATE are parsed only to be ignored. Header blocks are encoded here
// uncompressed; the connection runs them through its zlib contexts (header-zlib.ts).

export const SPDY_VERSION = 3;

export const ControlType = {
  synStream: 1,
  synReply: 2,
  rstStream: 3,
  settings: 4,
  ping: 6,
  goAway: 7,
  headers: 8,
  windowUpdate: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  protocolError: 1,
  invalidStream: 2,
  refusedStream: 3,
  unsupportedVersion: 4,
  cancel: 5,
  internalError: 6,
  flowControlError: 7,
  streamInUse: 8,
  streamAlreadyClosed: 9,
  frameTooLarge: 11,
} as const;

export const GoAwayStatus = { ok: 0, protocolError: 1, internalError: 2 } as const;

/** Largest payload the 24-bit length field can carry. */
export const MAX_FRAME_PAYLOAD = 0xffffff;
const FRAME_HEADER_LENGTH = 8;
const STREAM_ID_MASK = 0x7fffffff;

/** Header names as on the wire (lower case), each with its values (joined by NUL on the wire). */
export type SpdyHeaders = Map<string, string[]>;

/** A frame as split off the wire, before any header block is decompressed. */
export type RawFrame =
  | { control: false; streamId: number; flags: number; data: Buffer }
  | { control: true; version: number; type: number; flags: number; payload: Buffer };

export type Frame =
  | { kind: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { kind: 'synStream'; streamId: number; associatedTo: number; priority: number; fin: boolean; headerBlock: Buffer }
  | { kind: 'synReply'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { kind: 'headers'; streamId: number; fin: boolean; headerBlock: Buffer }
  | { kind: 'rstStream'; streamId: number; status: number }
  | { kind: 'ping'; id: number }
  | { kind: 'goAway'; lastGoodStreamId: number; status: number }
  | { kind: 'ignored'; type: number };

export class SpdyProtocolError extends Error {
  override readonly name = 'SpdyProtocolError';
}

/** Splits a byte stream into frames; chunks are kept as a list so a large frame is copied once. */
export class FrameSplitter {
  readonly #maxControlPayload: number;
  #chunks: Buffer[] = [];
  #length = 0;

  constructor(maxControlPayload = 1 << 20) {
    this.#maxControlPayload = maxControlPayload;
  }

  get bufferedBytes(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The next complete frame, or undefined until more bytes arrive. */
  next(): RawFrame | undefined {
    if (this.#length < FRAME_HEADER_LENGTH) return undefined;
    const head = this.#peek(FRAME_HEADER_LENGTH);
    const first = head.readUInt32BE(0);
    const flags = head[4] as number;
    const length = head.readUInt32BE(4) & MAX_FRAME_PAYLOAD;
    const control = (first & 0x80000000) !== 0;
    if (control && length > this.#maxControlPayload) {
      throw new SpdyProtocolError(`control frame of ${length} bytes exceeds ${this.#maxControlPayload}`);
    }
    if (this.#length < FRAME_HEADER_LENGTH + length) return undefined;
    const body = this.#take(FRAME_HEADER_LENGTH + length).subarray(FRAME_HEADER_LENGTH);
    if (!control) return { control: false, streamId: first & STREAM_ID_MASK, flags, data: body };
    return { control: true, version: (first >>> 16) & 0x7fff, type: first & 0xffff, flags, payload: body };
  }

  /** The first n bytes, copying only those n when they span chunks. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    return this.#gather(n, false);
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = this.#gather(n, true);
    }
    this.#length -= n;
    return out;
  }

  /**
   * Copies the first n bytes (n <= bufferedBytes) out of the leading chunks into one buffer,
   * removing them when `consume`. Only those n bytes are copied: concatenating everything
   * buffered each time would copy a large backlog over and over.
   */
  #gather(n: number, consume: boolean): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0;
    while (filled < n) {
      const chunk = this.#chunks[used] as Buffer;
      const part = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (part === chunk.length) used++;
      else if (consume) this.#chunks[used] = chunk.subarray(part);
    }
    if (consume) this.#chunks.splice(0, used);
    return out;
  }
}

function need(payload: Buffer, bytes: number, what: string): void {
  if (payload.length < bytes) throw new SpdyProtocolError(`${what} frame too short (${payload.length} bytes)`);
}

/** Turns a raw control or data frame into a typed frame; header blocks stay compressed. */
export function decodeFrame(raw: RawFrame): Frame {
  if (!raw.control) return { kind: 'data', streamId: raw.streamId, fin: (raw.flags & FLAG_FIN) !== 0, data: raw.data };
  const { payload, flags } = raw;
  const fin = (flags & FLAG_FIN) !== 0;
  switch (raw.type) {
    case ControlType.synStream:
      need(payload, 10, 'SYN_STREAM');
      return {
        kind: 'synStream',
        streamId: payload.readUInt32BE(0) & STREAM_ID_MASK,
        associatedTo: payload.readUInt32BE(4) & STREAM_ID_MASK,
        priority: (payload[8] as number) >> 5,
        fin,
        headerBlock: payload.subarray(10),
      };
    case ControlType.synReply:
    case ControlType.headers:
      need(payload, 4, raw.type === ControlType.synReply ? 'SYN_REPLY' : 'HEADERS');
      return {
        kind: raw.type === ControlType.synReply ? 'synReply' : 'headers',
        streamId: payload.readUInt32BE(0) & STREAM_ID_MASK,
        fin,
        headerBlock: payload.subarray(4),
      };
    case ControlType.rstStream:
      need(payload, 8, 'RST_STREAM');
      return { kind: 'rstStream', streamId: payload.readUInt32BE(0) & STREAM_ID_MASK, status: payload.readUInt32BE(4) };
    case ControlType.ping:
      need(payload, 4, 'PING');
      return { kind: 'ping', id: payload.readUInt32BE(0) };
    case ControlType.goAway:
      need(payload, 4, 'GOAWAY');
      return {
        kind: 'goAway',
        lastGoodStreamId: payload.readUInt32BE(0) & STREAM_ID_MASK,
        status: payload.length >= 8 ? payload.readUInt32BE(4) : GoAwayStatus.ok,
      };
    default:
      // SETTINGS, WINDOW_UPDATE and types this version does not know: the spec says ignore.
      return { kind: 'ignored', type: raw.type };
  }
}

function controlHeader(type: number, flags: number, length: number): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`control frame payload of ${length} bytes`);
  const head = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
  head.writeUInt32BE((0x8000 | SPDY_VERSION) * 0x10000 + type, 0);
  head.writeUInt32BE(flags * 0x1000000 + length, 4);
  return head;
}

/** A DATA frame; callers split large payloads (dataFrames) so one frame never exceeds 16 MiB. */
export function encodeData(streamId: number, data: Buffer, fin: boolean): Buffer {
  return Buffer.concat([encodeDataHeader(streamId, data.length, fin), data]);
}

/**
 * The 8 bytes before a DATA frame's payload: written ahead of the payload itself, they spare
 * copying every payload into a frame buffer.
 */
export function encodeDataHeader(streamId: number, length: number, fin: boolean): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`data frame payload of ${length} bytes`);
  const header = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
  header.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  header.writeUInt32BE((fin ? FLAG_FIN : 0) * 0x1000000 + length, 4);
  return header;
}

/** SYN_STREAM around an already compressed header block. */
export function encodeSynStream(streamId: number, compressedHeaders: Buffer, fin: boolean): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  const head = controlHeader(ControlType.synStream, fin ? FLAG_FIN : 0, 10 + compressedHeaders.length);
  return Buffer.concat([head, fixed, compressedHeaders]);
}

/** SYN_REPLY or HEADERS around an already compressed header block. */
export function encodeStreamHeaders(
  type: typeof ControlType.synReply | typeof ControlType.headers,
  streamId: number,
  compressedHeaders: Buffer,
  fin: boolean,
): Buffer {
  const id = Buffer.allocUnsafe(4);
  id.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  const head = controlHeader(type, fin ? FLAG_FIN : 0, 4 + compressedHeaders.length);
  return Buffer.concat([head, id, compressedHeaders]);
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const frame = controlHeader(ControlType.rstStream, 0, 8);
  const body = Buffer.allocUnsafe(8);
  body.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  body.writeUInt32BE(status, 4);
  return Buffer.concat([frame, body]);
}

export function encodePing(id: number): Buffer {
  const body = Buffer.allocUnsafe(4);
  body.writeUInt32BE(id >>> 0, 0);
  return Buffer.concat([controlHeader(ControlType.ping, 0, 4), body]);
}

export function encodeGoAway(lastGoodStreamId: number, status: number = GoAwayStatus.ok): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeUInt32BE(lastGoodStreamId & STREAM_ID_MASK, 0);
  body.writeUInt32BE(status, 4);
  return Buffer.concat([controlHeader(ControlType.goAway, 0, 8), body]);
}

export function encodeSettings(entries: Array<{ id: number; value: number; flags?: number }>): Buffer {
  const body = Buffer.allocUnsafe(4 + entries.length * 8);
  body.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    body.writeUInt32BE(((e.flags ?? 0) << 24) + (e.id & 0xffffff), 4 + i * 8);
    body.writeUInt32BE(e.value, 8 + i * 8);
  });
  return Buffer.concat([controlHeader(ControlType.settings, 0, body.length), body]);
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  body.writeUInt32BE(delta & STREAM_ID_MASK, 4);
  return Buffer.concat([controlHeader(ControlType.windowUpdate, 0, 8), body]);
}

/** The uncompressed name/value block: a count, then length-prefixed names and NUL-joined values. */
export function encodeHeaderBlock(headers: Iterable<[string, string | string[]]>): Buffer {
  const parts: Buffer[] = [];
  let count = 0;
  for (const [name, value] of headers) {
    const values = Array.isArray(value) ? value : [value];
    parts.push(lengthPrefixed(Buffer.from(name.toLowerCase(), 'utf8')));
    parts.push(lengthPrefixed(Buffer.from(values.join('\0'), 'utf8')));
    count++;
  }
  const countBytes = Buffer.allocUnsafe(4);
  countBytes.writeUInt32BE(count, 0);
  return Buffer.concat([countBytes, ...parts]);
}

function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}

export interface HeaderBlockLimits {
  maxHeaders: number;
  maxFieldBytes: number;
}

/** spdystream's own limits: a peer that honours them never trips ours. */
const DEFAULT_HEADER_LIMITS: HeaderBlockLimits = { maxHeaders: 1000, maxFieldBytes: 1 << 20 };

/** Parses an uncompressed header block; names are lower-cased, a repeated name adds values. */
export function decodeHeaderBlock(block: Buffer, limits: HeaderBlockLimits = DEFAULT_HEADER_LIMITS): SpdyHeaders {
  const reader = new BlockReader(block);
  const count = reader.u32();
  if (count > limits.maxHeaders) throw new SpdyProtocolError(`${count} headers in one block`);
  const headers: SpdyHeaders = new Map();
  for (let i = 0; i < count; i++) {
    const name = reader.field(limits.maxFieldBytes).toLowerCase();
    const values = reader.field(limits.maxFieldBytes).split('\0');
    headers.set(name, [...(headers.get(name) ?? []), ...values]);
  }
  if (!reader.atEnd()) throw new SpdyProtocolError('trailing bytes after the header block');
  return headers;
}

class BlockReader {
  readonly #block: Buffer;
  #offset = 0;

  constructor(block: Buffer) {
    this.#block = block;
  }

  u32(): number {
    if (this.#offset + 4 > this.#block.length) throw new SpdyProtocolError('header block truncated');
    const value = this.#block.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  field(maxBytes: number): string {
    const length = this.u32();
    if (length > maxBytes) throw new SpdyProtocolError(`header field of ${length} bytes`);
    if (this.#offset + length > this.#block.length) throw new SpdyProtocolError('header block truncated');
    const text = this.#block.toString('utf8', this.#offset, this.#offset + length);
    this.#offset += length;
    return text;
  }

  atEnd(): boolean {
    return this.#offset === this.#block.length;
  }
}

/** The first value of a header, looked up case-insensitively. */
export function headerValue(headers: SpdyHeaders, name: string): string | undefined {
  return headers.get(name.toLowerCase())?.[0];
}
