// Prometheus metrics of the admission webhook, on a Registry of its own (not the global one) so
// tests and several servers in one process never collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const ADMISSION_OUTCOMES = ['allowed', 'denied', 'patched', 'error', 'bad_request'] as const;
export type AdmissionOutcome = (typeof ADMISSION_OUTCOMES)[number];

export interface WebhookMetrics {
  registry: Registry;
  /** Counts and times the admissions of one route (webhook label); see deferredRecorder. */
  admissionRecorder(webhook: string): AdmissionRecorder;
  admissionRequests: Counter<'webhook' | 'outcome'>;
  admissionDuration: Histogram<'webhook'>;
  certExpiry: Gauge;
  certReloads: Counter<'trigger' | 'result'>;
  caBundleSyncErrors: Counter;
  tlsHandshakes: Counter<'protocol'>;
  /** Where the admission gate gauges read from, set once the gate exists (see server/app.ts). */
  gateSource: { stats?: () => { admittedBytes: number; waiting: number } };
}

/** Records admissions of one route: `record(outcome, seconds)` on the hot path. */
export interface AdmissionRecorder {
  record(outcome: AdmissionOutcome, seconds: number): void;
}

/** Durations a route buffers before handing them to prom-client between scrapes. */
const PENDING_DURATIONS = 4096;

/**
 * Admissions are recorded in typed arrays and handed to prom-client when the metrics are read
 * (its collect() hook runs before every scrape) or when the durations buffer is full. prom-client
 * hashes the label values on every inc() and observe(), even through a labels() child, which
 * cost 2-4 us per admission in the server (of about 55): this way a request pays two array
 * writes, and prom-client sees one inc() per outcome and a tight loop of observe()s per scrape.
 * What a scrape shows is exactly what per-request updates would have shown.
 */
function deferredRecorder(
  counters: ReadonlyMap<AdmissionOutcome, { inc(value: number): void }>,
  duration: { observe(seconds: number): void },
): AdmissionRecorder & { flush(): void } {
  const outcomeIndex = new Map(ADMISSION_OUTCOMES.map((outcome, i) => [outcome, i]));
  const counts = new Uint32Array(ADMISSION_OUTCOMES.length);
  const durations = new Float64Array(PENDING_DURATIONS);
  let pending = 0;
  const flush = (): void => {
    for (let i = 0; i < pending; i++) duration.observe(durations[i] as number);
    pending = 0;
    ADMISSION_OUTCOMES.forEach((outcome, i) => {
      if (counts[i] === 0) return;
      counters.get(outcome)?.inc(counts[i] as number);
      counts[i] = 0;
    });
  };
  return {
    record(outcome, seconds) {
      const i = outcomeIndex.get(outcome) as number;
      counts[i] = (counts[i] as number) + 1;
      durations[pending++] = seconds;
      if (pending === PENDING_DURATIONS) flush();
    },
    flush,
  };
}

export function createWebhookMetrics(options: { processMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new Registry();
  const recorders: Array<{ flush(): void }> = [];
  const flushRecorders = (): void => {
    for (const recorder of recorders) recorder.flush();
  };
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
  const admissionRequests = new Counter({
    name: 'kube_offload_webhook_admission_requests_total',
    help:
      'Admission requests by webhook and outcome (allowed, denied, patched, error, bad_request); ' +
      'error includes 429s.',
    labelNames: ['webhook', 'outcome'],
    registers: [registry],
    collect: flushRecorders,
  });
  const admissionDuration = new Histogram({
    name: 'kube_offload_webhook_admission_duration_seconds',
    help: 'Time from request arrival to response, in seconds.',
    labelNames: ['webhook'],
    // Admission is sub-millisecond when healthy; the API server gives up at 10-30 s.
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
    collect: flushRecorders,
  });
  return {
    registry,
    gateSource,
    admissionRequests,
    admissionDuration,
    admissionRecorder(webhook) {
      // Label children resolved once per route.
      const counters = new Map(
        ADMISSION_OUTCOMES.map((outcome) => [outcome, admissionRequests.labels(webhook, outcome)]),
      );
      const recorder = deferredRecorder(counters, admissionDuration.labels(webhook));
      recorders.push(recorder);
      return recorder;
    },
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
