// `kube-offload webhook`: parse flags, start the admission server, run until SIGTERM/SIGINT,
// then drain and exit 0. Exit 2 on bad flags, 1 when the server cannot start.
import { parseWebhookArgs, WEBHOOK_USAGE } from '../webhook/config.ts';
import { parseCommandFlags } from '../common/flags.ts';
import { listenForShutdown, logUnhandledRejections } from '../common/process-events.ts';

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('webhook', argv, parseWebhookArgs, WEBHOOK_USAGE);
  if (typeof config === 'number') return config;

  // Loaded after the flags are checked, so a typo is reported without loading the server.
  const { createLogger, flushLogger } = await import('../common/log.ts');
  const { startWebhook } = await import('../webhook/server/webhook.ts');
  const logger = createLogger(config.logLevel);
  logUnhandledRejections(logger);
  const signalled = listenForShutdown().requested;

  const starting = startWebhook(config, { logger });
  let webhook;
  try {
    // Start-up can wait on the API server (CA Secret); a signal meanwhile means: give up.
    webhook = await Promise.race([starting, signalled]);
  } catch (error) {
    const message = (error as Error).message;
    logger.fatal({ err: message }, 'cannot start the webhook');
    await flushLogger(logger);
    process.stderr.write(`kube-offload webhook: ${message}\n`);
    return 1;
  }
  if (typeof webhook === 'string') {
    logger.info({ event: 'shutdown', signal: webhook }, `received ${webhook} while starting`);
    starting.then(
      (started) => started.shutdown(),
      () => undefined,
    );
    await flushLogger(logger);
    setTimeout(() => process.exit(0), 1000).unref();
    return 0;
  }

  const signal = await signalled;
  logger.info({ event: 'shutdown', signal }, `received ${signal}`);
  await webhook.shutdown();
  await flushLogger(logger);
  // Everything we started is stopped; should a library still hold the event loop open,
  // do not let it keep a terminating pod around.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  return 0;
}
