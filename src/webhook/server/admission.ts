// One admission route: body -> AdmissionReview -> pure handler -> response, with two metric
// updates and one log line per request (debug level for allowed and patched admissions, info
// for denials, warn/error for failures). This is the hot path: it is called straight from the
// HTTPS request listener (see app.ts), allocates no timer and no promise beyond the body read,
// and makes no API calls (the context reads informer caches).
//
// Client input never reaches an answer or a log line unbounded: identifiers are clipped, a
// handler's error is answered with its class only (its message may quote the object), and only
// a genuine fault logs code locations, never a review that is merely too deeply nested.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  AdmissionContext,
  AdmissionHandler,
  AdmissionRequest,
  AdmissionResponse,
} from '../../../webhooks/types.ts';
import type { Logger } from '../../common/log.ts';
import { clientText, clipText, createLineWriter } from '../../common/log.ts';
import type { AdmissionOutcome, WebhookMetrics } from '../metrics.ts';
import { webhookLabel } from '../metrics.ts';
import { contentTypeProblem, declaredLength, HttpError, MAX_BODY_BYTES, parseJsonBody, readBody } from './body.ts';
import type { AdmissionGate } from './gate.ts';
import type { DecisionPacer } from './pacer.ts';
import { encodeReview, parseReview } from './review.ts';

export interface AdmissionDeps {
  context: AdmissionContext;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Deadline from request arrival to response; past it we answer 500 ourselves. */
  handlerTimeoutMs: number;
  /** Shared by all admission routes: bounds the request bytes held at once. */
  gate: AdmissionGate;
  /** Shared by all admission routes: lets I/O in between long decisions. */
  pacer: DecisionPacer;
}

/** A metav1.Status body: the API server shows its message when a webhook call fails. */
export function sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function isThenable(value: unknown): value is PromiseLike<AdmissionResponse> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

export type AdmissionRoute = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Deadlines of in-flight admissions, checked by one timer for all of them instead of a timer per
 * request (which measurably costs on the hot path). Precision is a tenth of the deadline.
 */
function createDeadlines(timeoutMs: number): { add(expire: () => void): () => void } {
  const inFlight = new Map<() => void, number>();
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    const now = performance.now();
    for (const [expire, due] of inFlight) if (now >= due) expire();
    if (inFlight.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  return {
    add(expire) {
      inFlight.set(expire, performance.now() + timeoutMs);
      if (!sweeper) {
        sweeper = setInterval(sweep, Math.max(10, Math.min(1000, timeoutMs / 10)));
        sweeper.unref();
      }
      return () => inFlight.delete(expire);
    },
  };
}

/**
 * Nesting past which a handler that ran out of stack is answered "too deeply nested" (400)
 * rather than "internal error" (500). Kubernetes objects nest a few dozen levels; a handler
 * recursing over a review overflows the stack somewhere between 5,000 and 10,000.
 */
export const MAX_SANE_NESTING = 1000;

/** Whether `value` nests objects or arrays more than `limit` levels deep; iterative. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (pending.length > 0) {
    const { value: current, depth } = pending.pop() as { value: unknown; depth: number };
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) pending.push({ value: child, depth: depth + 1 });
    }
  }
  return false;
}

/** Up to five "function (file:line:column)" entries of a stack: code locations, no message. */
function codeFrames(error: unknown): string[] {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
  const frames: string[] = [];
  for (const line of stack.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('at ')) continue;
    frames.push(clipText(trimmed.slice(3), 200));
    if (frames.length === 5) break;
  }
  return frames;
}

function errorClass(error: unknown): string {
  return clipText(error instanceof Error ? error.name : typeof error, 64);
}

/** Bodies from this size on are decided through the pacer (a 4 KiB pod review takes ~20 us). */
const PACED_BYTES = 64 * 1024;

export function admissionRoute(path: string, handler: AdmissionHandler, deps: AdmissionDeps): AdmissionRoute {
  const webhook = webhookLabel(path);
  const { context, handlerTimeoutMs, gate, pacer } = deps;
  // Bound once: the webhook name is serialized into the child logger a single time.
  const logger = deps.logger.child({ webhook });
  // Admissions that pass are the bulk: a line each only at debug level (the metrics count
  // them); a denial is rare and worth a line by default.
  const logPassed = createLineWriter(logger, 'admission', 'debug');
  const logDenied = createLineWriter(logger, 'admission', 'info');
  const recorder = deps.metrics.admissionRecorder(webhook);
  const deadlines = createDeadlines(handlerTimeoutMs);
  const deadlineMessage = `admission did not complete within ${handlerTimeoutMs} ms`;
  const tooDeep = new HttpError(
    400,
    'BadRequest',
    `the review is nested too deeply to process (more than ${MAX_SANE_NESTING} levels)`,
  );

  return (req, res) => {
    const start = performance.now();
    let done = false;
    let body: unknown;
    let request: AdmissionRequest | undefined;
    /** Bytes reserved in the gate once admitted; 0 before (and for bodies refused unread). */
    let reserved = 0;
    let cancelWait: (() => void) | undefined;

    const finish = (outcome: AdmissionOutcome): number => {
      done = true;
      untrack();
      cancelWait?.();
      if (reserved > 0) gate.leave(reserved);
      reserved = 0;
      const seconds = (performance.now() - start) / 1000;
      recorder.record(outcome, seconds);
      return seconds;
    };
    const fail = (error: unknown): void => {
      if (done) return;
      // Answering before the body is in: do not read the rest, and do not reuse the connection.
      if (!req.complete) res.setHeader('connection', 'close');
      // Out of stack on a review nested thousands of levels deep: the input's fault, not ours.
      const refusal =
        error instanceof RangeError && body !== undefined && nestsDeeperThan(body, MAX_SANE_NESTING) ? tooDeep : error;
      if (refusal instanceof HttpError) {
        sendStatus(res, refusal.status, refusal.reason, refusal.message);
        // A 429 is our overload, not the client's fault.
        const seconds = finish(refusal.status >= 500 || refusal.status === 429 ? 'error' : 'bad_request');
        logger.warn(
          { status: refusal.status, err: clipText(refusal.message, 512), durationSeconds: seconds },
          'bad admission request',
        );
        return;
      }
      const errorName = errorClass(error);
      if (error instanceof Error && error.message === deadlineMessage) {
        sendStatus(res, 500, 'InternalError', `kube-offload ${webhook}: ${deadlineMessage}`);
      } else {
        // The message may quote the object (a Secret's data, megabytes of it): the log has it.
        sendStatus(
          res,
          500,
          'InternalError',
          `kube-offload ${webhook}: internal error (${errorName}); the webhook's log has the details`,
        );
      }
      const seconds = finish('error');
      logger.error(
        {
          uid: clientText(request?.uid),
          kind: clientText(request?.kind?.kind),
          namespace: clientText(request?.namespace),
          errorClass: errorName,
          err: clipText(error instanceof Error ? error.message : String(error)),
          frames: codeFrames(error),
          durationSeconds: seconds,
        },
        'admission failed',
      );
    };
    const respond = (verdict: AdmissionResponse): void => {
      if (done || request === undefined) return;
      const { body: answer, decision } = encodeReview(request.uid, verdict);
      res.writeHead(200, answerHeaders(answer.length, res));
      res.end(answer);
      const seconds = finish(decision);
      // Passed admissions log at debug level: by default nothing to build.
      if (!logger.isLevelEnabled(decision === 'denied' ? 'info' : 'debug')) return;
      (decision === 'denied' ? logDenied : logPassed)({
        uid: clientText(request.uid),
        kind: clientText(request.kind.kind),
        namespace: clientText(request.namespace),
        name: clientText(request.name || request.object?.metadata?.generateName),
        operation: clientText(request.operation),
        decision,
        durationSeconds: seconds,
      });
    };
    const decide = (bytes: Buffer): void => {
      if (done) return;
      try {
        body = parseJsonBody(bytes);
        request = parseReview(body);
        const verdict = handler(request, context) as AdmissionResponse | PromiseLike<AdmissionResponse>;
        if (isThenable(verdict)) {
          verdict.then(respond, fail).then(undefined, fail);
          return;
        }
        respond(verdict);
      } catch (error) {
        fail(error);
      }
      // Answered: nothing of the review needs to outlive this turn, whoever still holds a callback.
      body = undefined;
      request = undefined;
    };
    const read = (): void => {
      cancelWait = undefined;
      if (done) return;
      if (req.destroyed) {
        // The client gave up while waiting for room; nobody reads an answer.
        finish('bad_request');
        return;
      }
      // Small reviews take microseconds to decide: only large ones are paced.
      readBody(req).then(
        (bytes) => (bytes.length < PACED_BYTES ? decide(bytes) : pacer.run(() => decide(bytes))),
        fail,
      );
    };

    // The API server gives up after the webhook's timeoutSeconds; answering first lets it show
    // our reason. Handlers are pure and synchronous, so this catches slow uploads, a long wait
    // for the gate, and a handler that would return a promise that never settles.
    const untrack = deadlines.add(() => fail(new Error(deadlineMessage)));

    const problem = contentTypeProblem(req);
    if (problem) {
      fail(problem);
      return;
    }
    const declared = declaredLength(req);
    // Larger than allowed: read and dropped (then 413) without holding anything.
    if (declared !== undefined && declared > MAX_BODY_BYTES) {
      read();
      return;
    }
    const bytes = declared ?? MAX_BODY_BYTES;
    const cancel = gate.enter(bytes, () => {
      reserved = bytes;
      read();
    });
    if (cancel === undefined) {
      res.setHeader('retry-after', '1');
      fail(new HttpError(429, 'TooManyRequests', `kube-offload ${webhook}: too many admissions waiting; try again`));
    } else if (reserved === 0) cancelWait = cancel;
  };
}

/**
 * Headers of an admission answer. An answer larger than the socket's high-water mark closes its
 * connection: while such an answer drains, Node's HTTP server pauses the connection's request
 * parser, and over TLS a next request that the client sends on the kept-alive connection in
 * that window fails to parse (HPE_PAUSED) and the connection is reset, which the API server
 * reports as a failed webhook call. Only the largest pods' answers are that large; the next
 * call pays one TLS handshake instead.
 */
export function answerHeaders(length: number, res: ServerResponse): Record<string, string | number> {
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': length };
  if (length >= (res.socket?.writableHighWaterMark ?? DEFAULT_HIGH_WATER_MARK)) headers.connection = 'close';
  return headers;
}

/** Node's default for a socket's writable high-water mark (64 KiB since Node 22), for a detached response. */
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
