// Prometheus metrics of the admission webhook, on a Registry of its own (not the global one) so
// tests and several servers in one process never collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const ADMISSION_OUTCOMES = ['allowed', 'denied', 'patched', 'error', 'bad_request'] as const;
export type AdmissionOutcome = (typeof ADMISSION_OUTCOMES)[number];

export interface WebhookMetrics {
  registry: Registry;
  admissionRequests: Counter<'webhook' | 'outcome'>;
  admissionDuration: Histogram<'webhook'>;
  certExpiry: Gauge;
  certReloads: Counter<'trigger' | 'result'>;
  caBundleSyncErrors: Counter;
  tlsHandshakes: Counter<'protocol'>;
  /** Where the admission gate gauges read from, set once the gate exists (see server/app.ts). */
  gateSource: { stats?: () => { admittedBytes: number; waiting: number } };
}

export function createWebhookMetrics(options: { processMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  // Read at scrape time, never on the admission path.
  const gateSource: WebhookMetrics['gateSource'] = {};
  new Gauge({
    name: 'kube_offload_webhook_admission_buffered_bytes',
    help: 'Request bytes reserved by admissions being received or decided (bounded by --max-buffered-bytes).',
    registers: [registry],
    collect() {
      this.set(gateSource.stats?.().admittedBytes ?? 0);
    },
  });
  new Gauge({
    name: 'kube_offload_webhook_admission_waiting',
    help:
      'Admissions waiting for room under --max-buffered-bytes ' +
      '(more than --max-waiting-reviews are refused with 429).',
    registers: [registry],
    collect() {
      this.set(gateSource.stats?.().waiting ?? 0);
    },
  });
  // Default process metrics (CPU, memory, event loop lag, GC); tests may skip them because
  // they start event-loop monitors per registry.
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    gateSource,
    admissionRequests: new Counter({
      name: 'kube_offload_webhook_admission_requests_total',
      help:
        'Admission requests by webhook and outcome (allowed, denied, patched, error, bad_request); ' +
        'error includes 429s.',
      labelNames: ['webhook', 'outcome'],
      registers: [registry],
    }),
    admissionDuration: new Histogram({
      name: 'kube_offload_webhook_admission_duration_seconds',
      help: 'Time from request arrival to response, in seconds.',
      labelNames: ['webhook'],
      // Admission is sub-millisecond when healthy; the API server gives up at 10-30 s.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    certExpiry: new Gauge({
      name: 'kube_offload_webhook_serving_cert_expiry_timestamp_seconds',
      help: 'notAfter of the serving certificate in use, as a Unix timestamp in seconds.',
      registers: [registry],
    }),
    certReloads: new Counter({
      name: 'kube_offload_webhook_serving_cert_reloads_total',
      help:
        'Serving certificate swaps: trigger=file (changed on disk) or renewal (we re-issued it); ' +
        'result=success|error.',
      labelNames: ['trigger', 'result'],
      registers: [registry],
    }),
    caBundleSyncErrors: new Counter({
      name: 'kube_offload_webhook_ca_bundle_sync_errors_total',
      help: 'Failed attempts to read or patch caBundle in our webhook configurations.',
      registers: [registry],
    }),
    tlsHandshakes: new Counter({
      name: 'kube_offload_webhook_tls_handshakes_total',
      help:
        'Completed TLS handshakes (new client connections) by negotiated protocol (http/1.1, h2). ' +
        'Far more handshakes than clients means connections are not being reused.',
      labelNames: ['protocol'],
      registers: [registry],
    }),
  };
}

/** Label value for a route path: "/mutate/pods" -> "mutate-pods". */
export function webhookLabel(path: string): string {
  return path.slice(1).replace('/', '-');
}
