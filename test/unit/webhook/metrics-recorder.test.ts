// The admission recorder defers prom-client's updates to the scrape (src/webhook/metrics.ts).
// What a scrape shows must be exactly what prom-client shows when updated per request: checked
// against prom-client itself, fed the same admissions in a registry of its own.
import { expect } from 'chai';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import type { AdmissionOutcome } from '../../../src/webhook/metrics.ts';
import { ADMISSION_OUTCOMES, createWebhookMetrics } from '../../../src/webhook/metrics.ts';

const REQUESTS = 'kube_offload_webhook_admission_requests_total';
const DURATION = 'kube_offload_webhook_admission_duration_seconds';

type Admission = { webhook: string; outcome: AdmissionOutcome; seconds: number };

/** Our metrics' admission families, as text, after recording `admissions` through the recorder. */
async function recorded(admissions: Admission[]): Promise<string> {
  const metrics = createWebhookMetrics({ processMetrics: false });
  const recorders = new Map<string, ReturnType<typeof metrics.admissionRecorder>>();
  for (const { webhook, outcome, seconds } of admissions) {
    if (!recorders.has(webhook)) recorders.set(webhook, metrics.admissionRecorder(webhook));
    recorders.get(webhook)?.record(outcome, seconds);
  }
  return admissionFamilies(metrics.registry);
}

/** The same families from prom-client updated per admission, as the server did before. */
async function perRequest(admissions: Admission[]): Promise<string> {
  const ours = createWebhookMetrics({ processMetrics: false });
  const registry = new Registry();
  const counter = await ours.admissionRequests.get();
  const histogram = await ours.admissionDuration.get();
  const requests = new Counter({
    name: REQUESTS,
    help: counter.help,
    labelNames: ['webhook', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: DURATION,
    help: histogram.help,
    labelNames: ['webhook'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  for (const { webhook, outcome, seconds } of admissions) {
    requests.labels(webhook, outcome).inc();
    duration.labels(webhook).observe(seconds);
  }
  return admissionFamilies(registry);
}

/**
 * The admission families' lines, sorted: series of a family may come in another order (the
 * recorder hands them over route by route), which Prometheus does not care about; every line,
 * value and label must be the same.
 */
async function admissionFamilies(registry: Registry): Promise<string> {
  const text = await registry.metrics();
  return text
    .split('\n')
    .filter((line) => line.includes(REQUESTS) || line.includes(DURATION))
    .sort()
    .join('\n');
}

const admission = fc.record({
  webhook: fc.constantFrom('mutate-pods', 'validate', 'mutate-replicated'),
  outcome: fc.constantFrom(...ADMISSION_OUTCOMES),
  seconds: fc.double({ min: 0, max: 3, noNaN: true }),
});

describe('webhook metrics: the deferred admission recorder', function () {
  it('shows at every scrape what per-request prom-client updates would show', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(admission, { maxLength: 300 }), async (admissions) => {
        expect(await recorded(admissions)).to.equal(await perRequest(admissions));
      }),
      { numRuns: 60 },
    );
  });

  it('hands its buffer over when it fills between scrapes, losing nothing', async function () {
    // More than the recorder buffers (4096 durations), with a scrape in the middle.
    const admissions = Array.from({ length: 9000 }, (_, i) => ({
      webhook: 'mutate-pods',
      outcome: ADMISSION_OUTCOMES[i % ADMISSION_OUTCOMES.length] as AdmissionOutcome,
      seconds: (i % 97) / 10_000,
    }));
    const metrics = createWebhookMetrics({ processMetrics: false });
    const recorder = metrics.admissionRecorder('mutate-pods');
    for (const a of admissions.slice(0, 5000)) recorder.record(a.outcome, a.seconds);
    const midway = await admissionFamilies(metrics.registry);
    expect(midway).to.equal(await perRequest(admissions.slice(0, 5000)));
    for (const a of admissions.slice(5000)) recorder.record(a.outcome, a.seconds);
    expect(await admissionFamilies(metrics.registry)).to.equal(await perRequest(admissions));
    expect(await admissionFamilies(metrics.registry)).to.include(`${DURATION}_count{webhook="mutate-pods"} 9000`);
  });
});
