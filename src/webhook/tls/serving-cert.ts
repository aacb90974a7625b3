// The serving certificate and how it stays fresh without a restart. Two modes, chosen from what
// the cert dir holds at start:
//   provided  tls.crt + tls.key and no ca.key: someone else (a mounted Secret, cert-manager,
//             certs/generate.ts) owns them; we reload them whenever they change on disk.
//   managed   anything else: we own a CA (ca.crt + ca.key in the dir, or the shared Secret in
//             cluster mode) and issue serving certs from it, renewing at 2/3 of their lifetime.
//             The CA outlives the serving certs so the registered caBundle stays valid.
import type { Logger } from '../../common/log.ts';
import type { WebhookMetrics } from '../metrics.ts';
import { CA_CERT, CA_KEY, TLS_CERT, TLS_KEY, readCertDir, writeCertFiles } from './files.ts';
import type { CertAuthority, KeyPair } from './generate.ts';
import { generateCa, issueServingCert } from './generate.ts';
import type { CertInfo } from './inspect.ts';
import { CertError, issuedFor, parseCa, parseKeyPair } from './inspect.ts';
import { watchCertDir } from './watch.ts';

export interface ServingCertOptions {
  dir: string;
  /** SANs of certificates we issue. */
  names: string[];
  validityMs: number;
  pollIntervalMs: number;
  logger: Logger;
  metrics: WebhookMetrics;
  /**
   * Cluster mode: picks the CA to use (the shared Secret's), given the one found in the dir.
   * Without it (standalone) the dir's CA is used, or a new one is generated.
   */
  resolveCa?: (local: CertAuthority | undefined) => Promise<CertAuthority>;
}

export type CertMode = 'provided' | 'managed';
export type CertListener = (pair: KeyPair, info: CertInfo) => void;

export interface ServingCertSource {
  readonly mode: CertMode;
  current(): { pair: KeyPair; info: CertInfo };
  /** PEM to register as caBundle: our CA, or the ca.crt that came with provided certs, if any. */
  caBundle(): string | undefined;
  /** Called after each successful swap; a throwing listener fails the swap. */
  onChange(listener: CertListener): void;
  /** Liveness: loaded, not expired and, for certs we issue, renewal not long overdue. */
  health(now?: number): { ok: boolean; reason?: string };
  /** Readiness: loaded and not expired. */
  usable(now?: number): { ok: boolean; reason?: string };
  stop(): void;
}

// setTimeout takes a signed 32-bit delay; longer waits are re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1;

export async function startServingCert(options: ServingCertOptions): Promise<ServingCertSource> {
  const files = await readCertDir(options.dir);
  const provided = files.tlsCert !== undefined && files.tlsKey !== undefined && files.caKey === undefined;
  if (!provided && files.caKey === undefined && (files.tlsCert !== undefined || files.tlsKey !== undefined)) {
    const missing = files.tlsCert === undefined ? TLS_CERT : TLS_KEY;
    throw new CertError(
      `${options.dir}: ${missing} is missing (put both tls.crt and tls.key there, or neither to have them generated)`,
    );
  }
  if (!provided && files.caCert !== undefined && files.caKey === undefined) {
    throw new CertError(
      `${options.dir}: ca.crt without ca.key cannot sign serving certs (add ca.key, or tls.crt and tls.key)`,
    );
  }
  return provided ? startProvided(options, files.caCert) : startManaged(options, files);
}

/** State and plumbing shared by both modes. */
function createBase(options: ServingCertOptions, mode: CertMode) {
  const listeners: CertListener[] = [];
  let current: { pair: KeyPair; info: CertInfo } | undefined;
  const base = {
    listeners,
    get current() {
      return current;
    },
    /** Installs a new pair (listeners first, so a failure leaves the old one in place). */
    apply(pair: KeyPair, info: CertInfo, trigger: 'initial' | 'file' | 'renewal'): void {
      if (trigger !== 'initial') for (const listener of listeners) listener(pair, info);
      current = { pair, info };
      options.metrics.certExpiry.set(info.notAfter.getTime() / 1000);
      if (trigger !== 'initial') options.metrics.certReloads.inc({ trigger, result: 'success' });
      options.logger.info(
        {
          event: 'serving-cert',
          mode,
          trigger,
          serial: info.serialNumber,
          fingerprint256: info.fingerprint256,
          notAfter: info.notAfter.toISOString(),
        },
        trigger === 'initial' ? 'serving certificate loaded' : 'serving certificate replaced',
      );
    },
    health(now: number, overdueMatters: boolean): { ok: boolean; reason?: string } {
      if (!current) return { ok: false, reason: 'no serving certificate loaded' };
      const { notAfter, overdueAt, renewAt } = current.info;
      if (now >= notAfter.getTime())
        return { ok: false, reason: `serving certificate expired at ${notAfter.toISOString()}` };
      if (overdueMatters && now >= overdueAt.getTime()) {
        return {
          ok: false,
          reason:
            `serving certificate renewal overdue ` +
            `(due ${renewAt.toISOString()}, expires ${notAfter.toISOString()})`,
        };
      }
      return { ok: true };
    },
  };
  return base;
}

async function startProvided(options: ServingCertOptions, initialCa: string | undefined): Promise<ServingCertSource> {
  const base = createBase(options, 'provided');
  let caBundle = initialCa;
  let needsRetry = false;
  let busy: Promise<void> | undefined;
  let again = false;

  const load = async (): Promise<{ pair: KeyPair; info: CertInfo; caCert?: string }> => {
    const files = await readCertDir(options.dir);
    if (files.tlsCert === undefined || files.tlsKey === undefined) {
      throw new CertError(`${options.dir}: tls.crt or tls.key is missing`);
    }
    const pair = { cert: files.tlsCert, key: files.tlsKey };
    const { info } = parseKeyPair(pair, options.dir);
    return files.caCert === undefined ? { pair, info } : { pair, info, caCert: files.caCert };
  };

  const reloadOnce = async (): Promise<void> => {
    try {
      const next = await load();
      needsRetry = false;
      if (next.caCert !== undefined) caBundle = next.caCert;
      if (next.info.fingerprint256 === base.current?.info.fingerprint256) return;
      base.apply(next.pair, next.info, 'file');
    } catch (error) {
      // Often transient (cert written, key not yet): keep serving the old pair, retry on poll.
      needsRetry = true;
      options.metrics.certReloads.inc({ trigger: 'file', result: 'error' });
      options.logger.warn(
        { event: 'serving-cert', err: (error as Error).message },
        'cannot reload serving certificate; keeping the current one',
      );
    }
  };
  // Serialize reloads; a change during a reload triggers one more.
  const reload = (): void => {
    if (busy) {
      again = true;
      return;
    }
    busy = reloadOnce().finally(() => {
      busy = undefined;
      if (again) {
        again = false;
        reload();
      }
    });
  };

  const first = await load();
  base.apply(first.pair, first.info, 'initial');
  const watcher = watchCertDir({
    dir: options.dir,
    files: [TLS_CERT, TLS_KEY, CA_CERT],
    pollIntervalMs: options.pollIntervalMs,
    onChange: reload,
    wantsRetry: () => needsRetry,
    onWatchError: (error) =>
      options.logger.warn({ event: 'serving-cert', err: error.message }, 'fs.watch failed; relying on polling'),
  });

  return {
    mode: 'provided',
    current: () => base.current as { pair: KeyPair; info: CertInfo },
    caBundle: () => caBundle,
    onChange: (listener) => void base.listeners.push(listener),
    // Nobody here can renew someone else's certificate: only expiry makes us unhealthy.
    health: (now = Date.now()) => base.health(now, false),
    usable: (now = Date.now()) => base.health(now, false),
    stop: () => watcher.close(),
  };
}

async function startManaged(
  options: ServingCertOptions,
  files: { caCert?: string; caKey?: string; tlsCert?: string; tlsKey?: string },
): Promise<ServingCertSource> {
  const base = createBase(options, 'managed');
  const local =
    files.caCert !== undefined && files.caKey !== undefined ? { cert: files.caCert, key: files.caKey } : undefined;
  if (local) parseCa(local, `${options.dir}/ca.crt + ca.key`);

  const ca = options.resolveCa ? await options.resolveCa(local) : (local ?? (await generateCa()));
  const caX509 = parseCa(ca, 'CA');

  // Writing is best effort: a read-only dir still serves from memory, but a generated CA would
  // then not survive a restart, so say so.
  const persist = async (entries: Array<{ name: string; data: string; secret: boolean }>): Promise<void> => {
    try {
      await writeCertFiles(options.dir, entries);
    } catch (error) {
      options.logger.warn(
        { event: 'serving-cert', dir: options.dir, err: (error as Error).message },
        'cannot write the cert dir; serving from memory',
      );
    }
  };
  if (!local || local.cert !== ca.cert || local.key !== ca.key) {
    await persist([
      { name: CA_KEY, data: ca.key, secret: true },
      { name: CA_CERT, data: ca.cert, secret: false },
    ]);
  }

  const issue = async (): Promise<{ pair: KeyPair; info: CertInfo }> => {
    const pair = await issueServingCert(ca, options.names, options.validityMs);
    const { info } = parseKeyPair(pair, 'issued serving certificate');
    await persist([
      { name: TLS_KEY, data: pair.key, secret: true },
      { name: TLS_CERT, data: pair.cert, secret: false },
    ]);
    return { pair, info };
  };

  // Reuse the serving cert from a previous run when it is ours, still fresh and names the same
  // Service; otherwise issue one.
  let initial: { pair: KeyPair; info: CertInfo } | undefined;
  if (files.tlsCert !== undefined && files.tlsKey !== undefined) {
    try {
      const pair = { cert: files.tlsCert, key: files.tlsKey };
      const { x509, info } = parseKeyPair(pair, options.dir);
      const now = Date.now();
      if (issuedFor(x509, caX509, options.names) && now >= info.notBefore.getTime() && now < info.renewAt.getTime()) {
        initial = { pair, info };
      }
    } catch {
      // Unusable leftovers: replaced below.
    }
  }
  initial ??= await issue();
  base.apply(initial.pair, initial.info, 'initial');

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (at: number): void => {
    if (stopped) return;
    timer = setTimeout(
      () => {
        if (Date.now() < at) schedule(at);
        else void renew();
      },
      Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS),
    );
    timer.unref();
  };
  const renew = async (): Promise<void> => {
    try {
      const next = await issue();
      if (stopped) return;
      base.apply(next.pair, next.info, 'renewal');
      schedule(next.info.renewAt.getTime());
    } catch (error) {
      options.metrics.certReloads.inc({ trigger: 'renewal', result: 'error' });
      options.logger.error(
        { event: 'serving-cert', err: (error as Error).message },
        'serving certificate renewal failed; retrying',
      );
      // Retry well before expiry: a twentieth of the lifetime, between 1 s and 1 min.
      schedule(Date.now() + Math.min(60_000, Math.max(1000, options.validityMs / 20)));
    }
  };
  schedule(initial.info.renewAt.getTime());

  return {
    mode: 'managed',
    current: () => base.current as { pair: KeyPair; info: CertInfo },
    caBundle: () => ca.cert,
    onChange: (listener) => void base.listeners.push(listener),
    health: (now = Date.now()) => base.health(now, true),
    usable: (now = Date.now()) => base.health(now, false),
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
