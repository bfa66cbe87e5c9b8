import http from 'node:http';
import { loadConfig } from './config/index.js';
import { createLogger } from './logger.js';
import { isDatabaseConnectionError } from './errors.js';
import { createIdp } from './app.js';
import { ensureDemoRpRegistered } from './demo-rp/registration.js';
import { createDemoRp } from './demo-rp/app.js';

/** `npm start`: the identity provider and, in development, the demo relying party beside it. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) throw new Error(`carelogin needs Node 24 LTS (running ${process.version}); start it with "npm start"`);

  const credentials = config.demoRp.enabled ? await ensureDemoRpRegistered(config, logger) : undefined;
  const idp = await startWithRetry(() => createIdp(config, { logger }), config.startupRetrySeconds, logger);
  await idp.listen();

  let demoServer: http.Server | undefined;
  let closeDemo: (() => Promise<void>) | undefined;
  if (credentials) {
    const demo = await createDemoRp({ config, logger, credentials });
    closeDemo = demo.close;
    demoServer = http.createServer(demo.app.callback());
    await new Promise<void>((resolve) => demoServer!.listen(config.demoRp.port, config.host, resolve));
  }

  logger.info({ issuer: config.issuer, demoRp: credentials ? config.demoRp.url : undefined, database: idp.db.kind }, 'carelogin started');
  if (process.stdout.isTTY || config.mode === 'development') {
    console.log(`\n  carelogin is running\n  Identity provider: ${config.issuer}\n${credentials ? `  Demo service:      ${config.demoRp.url}\n` : ''}${config.notifications.devOutbox ? `  Messages:          ${config.issuer}/dev/outbox\n` : ''}  Database:          ${idp.db.kind === 'pglite' ? `embedded PGlite (${config.database.pgliteDir})` : 'PostgreSQL'}\n`);
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 5000);
    force.unref();
    Promise.all([
      idp.close(),
      demoServer ? new Promise<void>((resolve) => demoServer!.close(() => resolve())) : Promise.resolve(),
      closeDemo?.(),
    ]).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** The database may come up after us (containers starting together): retry connection failures for a while. */
async function startWithRetry<T>(start: () => Promise<T>, seconds: number, logger: ReturnType<typeof createLogger>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!isDatabaseConnectionError(error) || Date.now() >= deadline) throw error;
      logger.warn({ attempt, err: error }, 'database not reachable yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * attempt)));
    }
  }
}

main().catch((error: unknown) => {
  console.error(`carelogin could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
