// One admission route: body -> AdmissionReview -> pure handler -> response, with one log line
// and two metric updates per request. The hot path: no middleware, no per-request closures
// beyond the deadline timer, no API calls (the context reads informer caches).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdmissionContext, AdmissionHandler, AdmissionRequest, AdmissionResponse } from '../../webhooks/types.ts';
import type { Logger } from '../log.ts';
import type { AdmissionOutcome, WebhookMetrics } from '../metrics/webhook.ts';
import { webhookLabel } from '../metrics/webhook.ts';
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

function sendJson(res: ServerResponse, json: string): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

class DeadlineError extends Error {}

async function verdictOf(handler: AdmissionHandler, request: AdmissionRequest, context: AdmissionContext): Promise<AdmissionResponse> {
  // Handlers are synchronous today; awaiting also covers one that returns a promise.
  return handler(request, context);
}

export function admissionRoute(path: string, handler: AdmissionHandler, deps: AdmissionDeps) {
  const webhook = webhookLabel(path);
  const { context, metrics, logger, handlerTimeoutMs } = deps;
  const requests = metrics.admissionRequests;
  const duration = metrics.admissionDuration.labels(webhook);

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const start = performance.now();
    let outcome: AdmissionOutcome = 'error';
    let request: AdmissionRequest | undefined;
    // The API server gives up after the webhook's timeoutSeconds; answering first lets it show
    // our reason. Handlers are pure and fast, so this mostly catches slow uploads and bugs.
    let timedOut = false;
    let rejectDeadline: ((error: Error) => void) | undefined;
    const deadline = new Promise<never>((_, reject) => (rejectDeadline = reject));
    deadline.catch(() => undefined);
    const timer = setTimeout(() => {
      timedOut = true;
      rejectDeadline?.(new DeadlineError(`admission did not complete within ${handlerTimeoutMs} ms`));
    }, handlerTimeoutMs);
    try {
      const body = await Promise.race([readJsonBody(req), deadline]);
      request = parseReview(body);
      const verdict = await Promise.race([verdictOf(handler, request, context), deadline]);
      if (timedOut) throw new DeadlineError(`admission did not complete within ${handlerTimeoutMs} ms`);
      const { json, decision } = encodeReview(request.uid, verdict);
      sendJson(res, json);
      outcome = decision;
      logger.info(
        {
          uid: request.uid,
          webhook,
          kind: request.kind.kind,
          namespace: request.namespace,
          name: request.name || request.object?.metadata?.generateName,
          operation: request.operation,
          decision,
          durationSeconds: (performance.now() - start) / 1000,
        },
        'admission',
      );
    } catch (error) {
      if (error instanceof HttpError) {
        outcome = error.status >= 500 ? 'error' : 'bad_request';
        // An oversized body was not fully read: do not try to reuse this connection.
        if (error.status === 413) res.setHeader('connection', 'close');
        if (!res.headersSent) sendStatus(res, error.status, error.reason, error.message);
        logger.warn({ webhook, status: error.status, err: error.message, durationSeconds: (performance.now() - start) / 1000 }, 'bad admission request');
      } else {
        outcome = 'error';
        if (!res.headersSent) sendStatus(res, 500, 'InternalError', `kube-offload ${webhook}: ${(error as Error).message}`);
        // The error's message and stack only: never the request, which may hold a Secret.
        logger.error(
          { webhook, uid: request?.uid, kind: request?.kind.kind, namespace: request?.namespace, err: (error as Error).message, stack: (error as Error).stack },
          error instanceof DeadlineError ? 'admission deadline exceeded' : 'admission handler failed',
        );
      }
    } finally {
      clearTimeout(timer);
      requests.inc({ webhook, outcome });
      duration.observe((performance.now() - start) / 1000);
    }
  };
}
