import type { DataSource } from 'typeorm';
import { loadConfig, type Config } from '../config/index.js';
import { openDatabase } from '../db/data-source.js';
import { createLogger, type Logger } from '../logger.js';

/**
 * The frame of a support command that works on the database (`npm run accounts`, `npm run reviewers`,
 * `npm run photo-id-evidence`): parse the arguments (a usage error prints its message and exits 1,
 * or 0 for --help), open the database from the one configuration, run, and always close it.
 */
export async function runDatabaseCommand<A>(
  argv: readonly string[],
  parse: (argv: readonly string[]) => A,
  isUsageError: (error: unknown) => boolean,
  run: (args: A, dataSource: DataSource, logger: Logger, config: Config) => Promise<number>,
): Promise<number> {
  let args: A;
  try {
    args = parse(argv);
  } catch (error) {
    if (!isUsageError(error)) throw error;
    process.stderr.write(`${(error as Error).message}\n`);
    return argv.includes('--help') ? 0 : 1;
  }
  const logger = createLogger({ level: 'warn' });
  const config = loadConfig();
  const db = await openDatabase(config, logger);
  try {
    return await run(args, db.dataSource, logger, config);
  } finally {
    await db.close();
  }
}

/** The answer to an email address no account has. */
export function noAccount(): number {
  process.stderr.write('No account has that email address.\n');
  return 1;
}
