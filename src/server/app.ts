// The express application: four admission routes plus health, readiness and metrics. Express
// runs with the body parser, ETag and x-powered-by off; admission routes read the body themselves.
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { AdmissionContext, AdmissionHandler } from '../../webhooks/types.ts';
import type { Logger } from '../log.ts';
import type { WebhookMetrics } from '../metrics/webhook.ts';
import { admissionRoute, sendStatus } from './admission.ts';
import type { Checks } from './health.ts';
import { sendChecks } from './health.ts';

export const ADMISSION_PATHS = ['/mutate/pods', '/mutate/workloads', '/mutate/replicated', '/validate'] as const;
export type AdmissionPath = (typeof ADMISSION_PATHS)[number];

export interface AppDeps {
  handlers: Record<AdmissionPath, AdmissionHandler>;
  context: AdmissionContext;
  metrics: WebhookMetrics;
  logger: Logger;
  handlerTimeoutMs: number;
  liveness: Checks;
  readiness: Checks;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  for (const path of ADMISSION_PATHS) {
    app.post(path, admissionRoute(path, deps.handlers[path], deps));
    app.all(path, (_req: Request, res: Response) => {
      res.setHeader('allow', 'POST');
      sendStatus(res, 405, 'MethodNotAllowed', `${path} accepts POST only`);
    });
  }

  app.get('/healthz', (_req: Request, res: Response) => sendChecks(res, deps.liveness));
  app.get('/readyz', (_req: Request, res: Response) => sendChecks(res, deps.readiness));
  app.get('/metrics', async (_req: Request, res: Response) => {
    const text = await deps.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': deps.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });

  app.use((req: Request, res: Response) => sendStatus(res, 404, 'NotFound', `no route for ${req.method} ${req.path}`));
  // Only reached by faults outside the admission routes (they answer their own errors).
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: error.message, stack: error.stack }, 'request failed');
    if (!res.headersSent) sendStatus(res, 500, 'InternalError', 'internal error');
    else res.destroy();
  });
  return app;
}
