// One admission route: body -> AdmissionReview -> pure handler -> response, with two metric
// updates and one log line per request (debug level for allowed and patched admissions, info
// for denials, warn/error for failures). This is the hot path: it is called straight from the
// HTTPS request listener (see app.ts), allocates no timer and no promise beyond the body read,
// and makes no API calls (the context reads informer caches).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdmissionContext, AdmissionHandler, AdmissionRequest, AdmissionResponse } from '../../../webhooks/types.ts';
import type { Logger } from '../../shared/log.ts';
import { createLineWriter } from '../../shared/log.ts';
import type { AdmissionOutcome, WebhookMetrics } from '../metrics.ts';
import { ADMISSION_OUTCOMES, webhookLabel } from '../metrics.ts';
import { HttpError, readJsonBody } from './body.ts';
import { encodeReview, parseReview } from './review.ts';

export interface AdmissionDeps {
  context: AdmissionContext;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Deadline from request arrival to response; past it we answer 500 ourselves. */
  handlerTimeoutMs: number;
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

export function admissionRoute(path: string, handler: AdmissionHandler, deps: AdmissionDeps): AdmissionRoute {
  const webhook = webhookLabel(path);
  const { context, handlerTimeoutMs } = deps;
  // Bound once: the webhook name is serialized into the child logger a single time.
  const logger = deps.logger.child({ webhook });
  // Admissions that pass are the bulk: a line each only at debug level (the metrics count
  // them); a denial is rare and worth a line by default.
  const logPassed = createLineWriter(logger, 'admission', 'debug');
  const logDenied = createLineWriter(logger, 'admission', 'info');
  // Label children resolved once: prom-client would otherwise hash the labels per request.
  const counters = new Map(ADMISSION_OUTCOMES.map((outcome) => [outcome, deps.metrics.admissionRequests.labels(webhook, outcome)]));
  const duration = deps.metrics.admissionDuration.labels(webhook);
  const deadlines = createDeadlines(handlerTimeoutMs);
  const deadlineMessage = `admission did not complete within ${handlerTimeoutMs} ms`;

  return (req, res) => {
    const start = performance.now();
    let done = false;
    let request: AdmissionRequest | undefined;

    const finish = (outcome: AdmissionOutcome): number => {
      done = true;
      untrack();
      const seconds = (performance.now() - start) / 1000;
      counters.get(outcome)?.inc();
      duration.observe(seconds);
      return seconds;
    };
    const fail = (error: unknown): void => {
      if (done) return;
      if (error instanceof HttpError) {
        // An oversized body was not fully read: do not reuse this connection.
        if (error.status === 413) res.setHeader('connection', 'close');
        sendStatus(res, error.status, error.reason, error.message);
        const seconds = finish(error.status >= 500 ? 'error' : 'bad_request');
        logger.warn({ status: error.status, err: error.message, durationSeconds: seconds }, 'bad admission request');
        return;
      }
      const message = (error as Error)?.message ?? String(error);
      sendStatus(res, 500, 'InternalError', `kube-offload ${webhook}: ${message}`);
      const seconds = finish('error');
      // The error's message and stack only: never the request, which may hold a Secret.
      logger.error(
        { uid: request?.uid, kind: request?.kind.kind, namespace: request?.namespace, err: message, stack: (error as Error)?.stack, durationSeconds: seconds },
        'admission failed',
      );
    };
    const respond = (verdict: AdmissionResponse): void => {
      if (done || request === undefined) return;
      const { json, decision } = encodeReview(request.uid, verdict);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.end(json);
      const seconds = finish(decision);
      (decision === 'denied' ? logDenied : logPassed)({
        uid: request.uid,
        kind: request.kind.kind,
        namespace: request.namespace,
        name: request.name || request.object?.metadata?.generateName,
        operation: request.operation,
        decision,
        durationSeconds: seconds,
      });
    };

    // The API server gives up after the webhook's timeoutSeconds; answering first lets it show
    // our reason. Handlers are pure and synchronous, so this catches slow uploads and a
    // handler that would return a promise that never settles.
    const untrack = deadlines.add(() => fail(new Error(deadlineMessage)));

    readJsonBody(req).then((body) => {
      if (done) return;
      try {
        request = parseReview(body);
        const verdict = handler(request, context) as AdmissionResponse | PromiseLike<AdmissionResponse>;
        if (isThenable(verdict)) verdict.then(respond, fail).then(undefined, fail);
        else respond(verdict);
      } catch (error) {
        fail(error);
      }
    }, fail);
  };
}
