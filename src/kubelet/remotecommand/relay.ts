// Joins a client's exec/attach streams (SPDY or WebSocket, see spdy.ts and websocket.ts) to the
// backend's session: stdin in (its end is the EOF the command sees), stdout and stderr out,
// resizes through, then the final Status on the error stream, then close. A client that goes
// away aborts the session, so no remote exec outlives its kubectl.
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import type { ExecSession, TerminalSize } from '../backend.ts';
import { internalErrorStatus, successStatus } from './status.ts';

/** The client's side of a remote command, whatever protocol it speaks. */
export interface ClientExecStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** JSON TerminalSize objects ({"Width":80,"Height":24}), one after another. */
  resize?: Readable;
  /** Writes the final meta/v1 Status JSON in the protocol's form and ends the error stream. */
  writeStatus(status: Buffer): Promise<void>;
  /** Ends whatever is still open and lets the client hang up. */
  finish(): Promise<void>;
  /** Drops the connection. */
  abort(): void;
  /** Resolves when the client's connection is gone. */
  gone: Promise<void>;
}

export async function relayExec(client: ClientExecStreams, session: ExecSession): Promise<void> {
  let clientGone = false;
  void client.gone.then(() => {
    clientGone = true;
    session.abort();
  });
  connectStdin(client.stdin, session.stdin);
  if (client.resize) forwardResizes(client.resize, (size) => session.resize(size));
  // Handled from the start: a client that hangs up fails these while the command still runs.
  const outputs = Promise.all([pipeOutput(session.stdout, client.stdout), pipeOutput(session.stderr, client.stderr)]);
  outputs.catch(() => undefined);
  let status: Buffer;
  try {
    status = (await session.done) ?? successStatus();
    await outputs;
  } catch (err) {
    status = internalErrorStatus(err instanceof Error ? err.message : String(err));
  }
  if (clientGone) return;
  await client.writeStatus(status).catch(() => undefined);
  await client.finish();
}

function connectStdin(from: Readable | undefined, to: Writable | undefined): void {
  if (!from) return;
  if (!to) {
    from.resume(); // nobody wants it, but it must not stall the connection
    return;
  }
  to.on('error', () => from.resume());
  from.pipe(to);
}

/** Resolves when the session's output has been handed to the client's stream (or was absent). */
async function pipeOutput(from: Readable | undefined, to: Writable | undefined): Promise<void> {
  if (!from) {
    to?.end();
    return;
  }
  if (!to) {
    from.resume();
    await finished(from).catch(() => undefined);
    return;
  }
  from.pipe(to);
  await finished(to, { readable: false });
}

/** Parses the concatenated JSON objects of a resize stream. */
export function forwardResizes(stream: Readable, onResize: (size: TerminalSize) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    pending += text;
    for (let end = objectEnd(pending); end > 0; end = objectEnd(pending)) {
      const size = parseSize(pending.slice(0, end));
      pending = pending.slice(end);
      if (size) onResize(size);
    }
    if (pending.length > 4096) pending = ''; // garbage: no size is that long
  });
  stream.on('error', () => undefined);
}

/** Length up to and including the first complete top-level {...}, or 0. Sizes hold no strings. */
function objectEnd(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i + 1;
  }
  return 0;
}

function parseSize(json: string): TerminalSize | undefined {
  try {
    const value = JSON.parse(json) as { Width?: unknown; Height?: unknown };
    const width = Number(value.Width);
    const height = Number(value.Height);
    return Number.isInteger(width) && Number.isInteger(height) ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}
