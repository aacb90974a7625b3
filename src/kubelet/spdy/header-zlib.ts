// The two zlib contexts of a SPDY/3 connection: every header block a side sends continues one
// deflate stream (primed with the SPDY dictionary) and ends on a sync flush, so the peer's one
// inflate stream can decode it on its own. Node's zlib streams work asynchronously, so each
// context serialises its blocks: block n+1 starts only once block n is flushed and collected.
import zlib from 'node:zlib';
import { SPDY3_HEADER_DICTIONARY } from './dictionary.ts';

/** One direction's zlib context: compress (deflate) or decompress (inflate) whole header blocks. */
export class HeaderZlib {
  readonly #stream: zlib.Deflate | zlib.Inflate;
  readonly #maxOutput: number;
  #output: Buffer[] = [];
  #outputBytes = 0;
  #tail: Promise<unknown> = Promise.resolve();
  #error: Error | undefined;
  /** Rejects the block in progress: zlib reports bad input by 'error' and never calls back. */
  #failCurrent: ((err: Error) => void) | undefined;

  private constructor(stream: zlib.Deflate | zlib.Inflate, maxOutput: number) {
    this.#stream = stream;
    this.#maxOutput = maxOutput;
    // Flowing mode: output is emitted while zlib works, before the flush callback runs.
    stream.on('data', (chunk: Buffer) => {
      this.#output.push(chunk);
      this.#outputBytes += chunk.length;
      if (this.#outputBytes > this.#maxOutput) this.#fail(new Error(`header block inflates beyond ${maxOutput} bytes`));
    });
    stream.on('error', (err: Error) => this.#fail(err));
  }

  static compressor(): HeaderZlib {
    return new HeaderZlib(zlib.createDeflate({ dictionary: SPDY3_HEADER_DICTIONARY }), Infinity);
  }

  /** `maxOutput` bounds one decompressed block: a small frame must not inflate to gigabytes. */
  static decompressor(maxOutput = 4 << 20): HeaderZlib {
    return new HeaderZlib(zlib.createInflate({ dictionary: SPDY3_HEADER_DICTIONARY }), maxOutput);
  }

  /** Runs one block through the context and returns everything it produced up to a sync flush. */
  process(block: Buffer): Promise<Buffer> {
    const result = this.#tail.then(() => this.#step(block));
    this.#tail = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.#stream.destroy();
  }

  /** A context that failed once is out of step with the peer for good. */
  #fail(err: Error): void {
    this.#error ??= err;
    this.#failCurrent?.(this.#error);
    this.#failCurrent = undefined;
    this.#stream.destroy();
  }

  #step(block: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.#error) return reject(this.#error);
      this.#failCurrent = reject;
      this.#stream.write(block);
      this.#stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const output = Buffer.concat(this.#output, this.#outputBytes);
        this.#output = [];
        this.#outputBytes = 0;
        this.#failCurrent = undefined;
        if (this.#error) reject(this.#error);
        else resolve(output);
      });
    });
  }
}
