/** Entry point: the only place that reads process.env, handles signals or exits. */
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  // A bug must not take every room down with it; it is logged loudly instead.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));

  const app = await buildApp(config, logger);
  const { url } = await app.start();
  logger.info({ url, store: app.storeKind, instanceId: config.instanceId }, 'conflict-rooms is listening');
  console.log(`\n  conflict-rooms on the ${app.storeKind === 'redis' ? 'Redis' : 'embedded in-memory'} store`);
  console.log(`  GraphiQL and the GraphQL endpoint: ${url}\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    const began = Date.now();
    // Whatever hangs, the process is gone within SHUTDOWN_TIMEOUT_MS.
    const force = setTimeout(() => {
      logger.error({ signal, timeoutMs: config.shutdownTimeoutMs }, 'stop did not finish within SHUTDOWN_TIMEOUT_MS: exiting anyway');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    app.stop().then(
      () => {
        logger.info({ signal, stopMs: Date.now() - began }, 'stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  // Only the message: a client library's error can carry its command, arguments and all (ioredis's
  // HELLO/AUTH holds the Redis password), which must not reach a log.
  console.error(`conflict-rooms could not start: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  process.exit(1);
});
