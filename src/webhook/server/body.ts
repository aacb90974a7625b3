// Reads a JSON request body with a size limit. Hand-rolled instead of express.json(): it is on
// the hot path, it must tell "wrong content type", "too large" and "malformed" apart with clear
// messages, and it needs nothing else body-parser does (charsets, inflation, type matching).
import type { IncomingMessage } from 'node:http';

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

export function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const type = mediaType(req.headers['content-type']);
  if (type !== 'application/json') {
    req.resume();
    return Promise.reject(
      new HttpError(400, 'BadRequest', `Content-Type must be application/json, got ${type === undefined ? 'none' : `"${type}"`}`),
    );
  }
  const declared = Number(req.headers['content-length']);
  const tooLarge = (): HttpError => new HttpError(413, 'RequestEntityTooLarge', `request body exceeds the limit of ${limit} bytes (3 MiB)`);

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let oversized = declared > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (oversized || size > limit) {
        // Keep reading (and dropping) so the client, still sending, gets to read our 413;
        // but not forever.
        oversized = true;
        chunks.length = 0;
        if (size > MAX_DISCARD_BYTES) {
          reject(tooLarge());
          req.destroy();
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (oversized) return reject(tooLarge());
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      try {
        resolve(JSON.parse(body.toString('utf8')));
      } catch (error) {
        reject(new HttpError(400, 'BadRequest', `malformed JSON: ${(error as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}
