// Reads a JSON request body with a size limit. Hand-rolled instead of express.json(): it is on
// the hot path, it must tell "wrong content type", "too large" and "malformed" apart with clear
// messages, and it needs nothing else body-parser does (charsets, inflation, type matching).
// Error messages never quote the body: V8's JSON.parse messages do, so a malformed body is
// described by the byte where it goes wrong.
import type { IncomingMessage } from 'node:http';
import { describeJsonSyntaxError } from './json-syntax.ts';

/** The API server's own object limit; an AdmissionReview above it is not worth parsing. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Past this much we stop reading an oversized body and cut the connection instead. */
const MAX_DISCARD_BYTES = 16 * 1024 * 1024;

export class HttpError extends Error {
  override name = 'HttpError';
  status: number;
  reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const semicolon = header.indexOf(';');
  return (semicolon < 0 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

/** A 400 for anything but application/json (parameters such as charset are fine), else undefined. */
export function contentTypeProblem(req: IncomingMessage): HttpError | undefined {
  const type = mediaType(req.headers['content-type']);
  if (type === 'application/json') return undefined;
  const shown = type === undefined ? 'none' : JSON.stringify(type.length > 64 ? `${type.slice(0, 64)}…` : type);
  return new HttpError(400, 'BadRequest', `Content-Type must be application/json, got ${shown}`);
}

/** The Content-Length header as a number, or undefined when absent or not a byte count. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/**
 * Reads the body (the content type already checked). The bytes are collected into a
 * single buffer of the declared length when there is one, so a large body is held once, not as
 * chunks plus their concatenation.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = declaredLength(req);
  const tooLarge = (): HttpError =>
    new HttpError(413, 'RequestEntityTooLarge', `request body exceeds the limit of ${limit} bytes (3 MiB)`);

  return new Promise((resolve, reject) => {
    let chunks: Buffer[] | undefined;
    let whole: Buffer | undefined;
    let size = 0;
    let oversized = declared !== undefined && declared > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (oversized || size > limit) {
        // Keep reading (and dropping) so the client, still sending, gets to read our 413;
        // but not forever.
        oversized = true;
        chunks = undefined;
        whole = undefined;
        if (size > MAX_DISCARD_BYTES) {
          reject(tooLarge());
          req.destroy();
        }
        return;
      }
      if (declared !== undefined && size <= declared) {
        // The common case, a body in one chunk, is kept as it is.
        if (whole === undefined && chunk.length === declared) whole = chunk;
        else {
          whole ??= Buffer.allocUnsafe(declared);
          chunk.copy(whole, size - chunk.length);
        }
      } else (chunks ??= []).push(chunk);
    });
    req.on('end', () => {
      if (oversized) return reject(tooLarge());
      let body: Buffer;
      if (chunks === undefined) body = whole === undefined ? Buffer.alloc(0) : whole.subarray(0, size);
      else body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      chunks = undefined;
      whole = undefined;
      resolve(body);
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      // The client went away mid-body (ECONNRESET "aborted"); nobody will read the answer.
      reject(new HttpError(400, 'BadRequest', `request body could not be read (${error.code ?? error.name})`));
    });
  });
}

/** The body as JSON; a 400 saying where it goes wrong when it is not. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'BadRequest', describeJsonSyntaxError(body));
  }
}
