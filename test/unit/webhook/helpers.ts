// Shared helpers for the webhook server tests: a real HTTPS server on 127.0.0.1, a temp cert dir,
// captured log lines, and an HTTPS client that trusts given CAs. No fixed sleeps: poll with
// deadlines.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest, Agent } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { AdmissionHandler } from '../../../webhooks/types.ts';
import { parseWebhookArgs } from '../../../src/webhook/config.ts';
import type { WebhookConfig } from '../../../src/webhook/config.ts';
import { createLogger } from '../../../src/common/log.ts';
import { createWebhookMetrics } from '../../../src/webhook/metrics.ts';
import type { RunningWebhook, StartOptions } from '../../../src/webhook/server/webhook.ts';
import { startWebhook } from '../../../src/webhook/server/webhook.ts';

// Any unhandled rejection during the tests is a bug in the code under test: fail loudly.
const rejections: unknown[] = [];
process.on('unhandledRejection', (reason) => {
  rejections.push(reason);
  throw reason instanceof Error ? reason : new Error(String(reason));
});
export function unhandledRejections(): unknown[] {
  return rejections;
}

export async function tempDir(prefix = 'kube-offload-webhook-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Collects log lines (parsed JSON) written by pino. */
export class LogCapture extends Writable {
  lines: Array<Record<string, unknown>> = [];
  raw = '';
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    const text = chunk.toString('utf8');
    this.raw += text;
    for (const line of text.split('\n')) if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    callback();
  }
  find(message: string): Array<Record<string, unknown>> {
    return this.lines.filter((line) => line.msg === message);
  }
}

export interface TestWebhook {
  webhook: RunningWebhook;
  config: WebhookConfig;
  logs: LogCapture;
  url: string;
  dir: string;
  /** ca.crt read at start (generated or provided). */
  ca: string;
  stop(): Promise<void>;
}

export async function startTestWebhook(
  options: {
    args?: string[];
    dir?: string;
    handlers?: Record<string, AdmissionHandler>;
    processMetrics?: boolean;
    start?: Partial<StartOptions>;
  } = {},
): Promise<TestWebhook> {
  const dir = options.dir ?? (await tempDir());
  const parsed = parseWebhookArgs([
    '--cert-dir',
    dir,
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--standalone',
    '--log-level',
    'debug',
    ...(options.args ?? []),
  ]);
  if (parsed === 'help') throw new Error('unexpected help');
  const logs = new LogCapture();
  const start: StartOptions = {
    logger: createLogger(parsed.logLevel, logs),
    metrics: createWebhookMetrics({ processMetrics: options.processMetrics ?? false }),
    ...(options.handlers ? { handlers: options.handlers as StartOptions['handlers'] } : {}),
    ...options.start,
  };
  const webhook = await startWebhook(parsed, start);
  let ca = '';
  try {
    ca = await readFile(join(dir, 'ca.crt'), 'utf8');
  } catch {
    // provided certs without ca.crt
  }
  return {
    webhook,
    config: parsed,
    logs,
    url: webhook.url,
    dir,
    ca,
    async stop() {
      await webhook.shutdown();
      if (!options.dir) await removeDir(dir);
    },
  };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint256: string;
  serialNumber: string;
}

export function send(
  url: string,
  options: {
    method?: string;
    path?: string;
    body?: string | Buffer;
    headers?: Record<string, string | number>;
    ca?: string | string[];
    agent?: Agent | false;
    timeoutMs?: number;
    /** Skip certificate verification (for tests of broken certificates). */
    insecure?: boolean;
  } = {},
): Promise<Reply> {
  const target = new URL(options.path ?? '/', url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      target,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        ...(options.ca ? { ca: options.ca } : {}),
        // The certs name 127.0.0.1 and localhost; verify for real unless told otherwise.
        rejectUnauthorized: !options.insecure,
        agent: options.agent ?? false,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json,
            fingerprint256: peer.fingerprint256,
            serialNumber: peer.serialNumber,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${target.href} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export function review(
  overrides: { uid?: string; apiVersion?: string; request?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    apiVersion: overrides.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: overrides.uid ?? 'a1b2c3d4-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'demo',
      name: 'web-1',
      operation: 'CREATE',
      userInfo: { username: 'alice' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web-1', namespace: 'demo' },
        spec: { containers: [{ name: 'c', image: 'nginx' }] },
      },
      ...overrides.request,
    },
  };
}

export function postReview(
  url: string,
  path: string,
  body: unknown,
  options: { ca: string | string[]; agent?: Agent; headers?: Record<string, string> },
): Promise<Reply> {
  return send(url, {
    method: 'POST',
    path,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...options.headers },
    ca: options.ca,
    ...(options.agent ? { agent: options.agent } : {}),
  });
}

/** Polls `probe` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Value of a sample in Prometheus text format, e.g. metric('x_total{a="b"}'). */
export function metricValue(text: string, sample: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return undefined;
}
