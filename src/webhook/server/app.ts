// The request listener: POSTs to the four admission routes go straight to their handlers; the
// few other paths (health, readiness, metrics) and every error answer are matched here by hand,
// and the same probes and metrics serve the plain-HTTP --metrics-port (createProbeListener).
// No framework: express cost about a quarter of the server's CPU per admission when it routed
// them, and ~10 MiB of resident memory even when it only served the probes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdmissionContext, AdmissionHandler } from '../../../webhooks/types.ts';
import type { Logger } from '../../common/log.ts';
import { clipText } from '../../common/log.ts';
import type { WebhookMetrics } from '../metrics.ts';
import type { AdmissionRoute } from './admission.ts';
import { admissionRoute, sendStatus } from './admission.ts';
import { AdmissionGate } from './gate.ts';
import { DecisionPacer } from './pacer.ts';
import type { GateLimits } from './gate.ts';
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
  /** Request bytes the admissions may hold at once, and how many may wait for room. */
  limits: GateLimits;
  liveness: Checks;
  readiness: Checks;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Decision time per event-loop turn before further decisions wait for the next turn (see
 * pacer.ts): far above a turn of ordinary reviews, far below a probe's 1 s timeout.
 */
const DECISION_SLICE_MS = 10;

/** The path without the query, and without one trailing slash ("/healthz/" is "/healthz"). */
function routePath(url: string): string {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export function createRequestListener(deps: AppDeps): RequestListener {
  const gate = new AdmissionGate(deps.limits);
  deps.metrics.gateSource.stats = () => gate.stats();
  // A decision that throws despite answering its own errors: a bug worth a line, not a crash.
  const pacer = new DecisionPacer(DECISION_SLICE_MS, (error) =>
    deps.logger.error({ errorClass: error instanceof Error ? error.name : typeof error }, 'admission decision threw'),
  );
  const routes = new Map<string, AdmissionRoute>(
    ADMISSION_PATHS.map((path) => [path, admissionRoute(path, deps.handlers[path], { ...deps, gate, pacer })]),
  );
  const serveOther = createOtherRoutes(deps, routes);
  return (req, res) => {
    // The API server calls e.g. /mutate/pods?timeout=10s: match the path without the query.
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const route = req.method === 'POST' ? routes.get(query < 0 ? url : url.slice(0, query)) : undefined;
    if (route) route(req, res);
    else serveOther(req, res);
  };
}

/** Serves /healthz, /readyz and /metrics for GET and HEAD; false for any other request. */
type ProbeRoutes = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

function createProbeRoutes(deps: ProbeDeps): ProbeRoutes {
  const { liveness, readiness, metrics, logger } = deps;
  const sendMetrics = async (res: ServerResponse): Promise<void> => {
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const failed = (res: ServerResponse, error: unknown): void => {
    logger.error(
      {
        errorClass: error instanceof Error ? error.name : typeof error,
        err: clipText(String((error as Error)?.message ?? error)),
      },
      'request failed',
    );
    if (!res.headersSent) sendStatus(res, 500, 'InternalError', 'internal error');
    else res.destroy();
  };
  return (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    try {
      if (path === '/healthz') sendChecks(res, liveness);
      else if (path === '/readyz') sendChecks(res, readiness);
      else if (path === '/metrics') void sendMetrics(res).catch((error: unknown) => failed(res, error));
      else return false;
    } catch (error) {
      failed(res, error);
    }
    return true;
  };
}

function notFound(res: ServerResponse, method: string, path: string): void {
  sendStatus(res, 404, 'NotFound', `no route for ${clipText(method, 16)} ${clipText(path, 64)}`);
}

export type ProbeDeps = Pick<AppDeps, 'liveness' | 'readiness' | 'metrics' | 'logger'>;

/**
 * The plain-HTTP listener of --metrics-port: the probes and /metrics only, the same answers as
 * on the HTTPS port, for scrapers and probes that do not speak TLS to pod IPs.
 */
export function createProbeListener(deps: ProbeDeps): RequestListener {
  const serveProbe = createProbeRoutes(deps);
  return (req, res) => {
    const method = req.method ?? 'GET';
    const path = routePath(req.url ?? '/');
    if (!serveProbe(req, res, path)) notFound(res, method, path);
  };
}

function createOtherRoutes(deps: AppDeps, routes: Map<string, AdmissionRoute>): RequestListener {
  const serveProbe = createProbeRoutes(deps);
  return (req, res) => {
    const method = req.method ?? 'GET';
    const path = routePath(req.url ?? '/');
    // Only reached by paths the fast path did not match exactly (e.g. a trailing slash).
    const route = routes.get(path);
    if (route) {
      if (method === 'POST') return route(req, res);
      res.setHeader('allow', 'POST');
      return sendStatus(res, 405, 'MethodNotAllowed', `${path} accepts POST only`);
    }
    if (!serveProbe(req, res, path)) notFound(res, method, path);
  };
}
