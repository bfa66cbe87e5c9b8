import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { PGlite } from '@electric-sql/pglite';
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import { ENTITIES } from '../../entities/index.js';
import { MIGRATIONS } from '../../entities/migrations/index.js';
import { createPGliteDriver } from './pglite-pool.js';
import { useDirectSql } from './sql.js';

export interface Database {
  readonly dataSource: DataSource;
  readonly kind: 'postgres' | 'pglite';
  /** Closes the pool and, for PGlite, the embedded database. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** An already-open PGlite instance (tests share one between several app instances). */
  pglite?: PGlite;
  runMigrations?: boolean;
}

/** Opens PostgreSQL when DATABASE_URL is set, otherwise embedded PGlite, and runs pending migrations. */
export async function openDatabase(config: Config, logger: Logger, options: OpenDatabaseOptions = {}): Promise<Database> {
  const base = {
    type: 'postgres',
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    logging: false,
  } as const;

  let ownPglite: PGlite | undefined;
  let dataSourceOptions: DataSourceOptions;
  let kind: Database['kind'];
  if (config.database.url && !options.pglite) {
    kind = 'postgres';
    dataSourceOptions = {
      ...base,
      url: config.database.url,
      schema: config.database.schema,
      poolSize: config.database.poolSize,
      connectTimeoutMS: config.database.connectTimeoutMs,
      extra: {
        statement_timeout: config.database.statementTimeoutMs,
        // The server enforces statement_timeout only while it can be reached; a database that has
        // gone silent (network partition) needs a client-side limit too, or requests hang for ever.
        query_timeout: config.database.statementTimeoutMs,
        idle_in_transaction_session_timeout: config.database.statementTimeoutMs * 4,
        keepAlive: true,
        ...(config.database.schema ? { options: `-c search_path=${config.database.schema}` } : {}),
      },
      // An idle connection dropped by a database restart must not crash the process.
      poolErrorHandler: (error: unknown) => logger.warn({ err: error }, 'database connection lost; the pool will reconnect'),
    };
  } else {
    kind = 'pglite';
    let pglite = options.pglite;
    if (!pglite) {
      const dir = config.database.pgliteDir;
      if (dir) mkdirSync(path.dirname(dir), { recursive: true });
      ownPglite = await PGlite.create(dir ? { dataDir: dir } : {});
      pglite = ownPglite;
    }
    dataSourceOptions = { ...base, driver: createPGliteDriver(pglite), database: 'postgres' };
  }

  const dataSource = new DataSource(dataSourceOptions);
  await dataSource.initialize();
  // Hand-written SQL straight to the pool (sql.ts); names mean nothing to PGlite's single session.
  useDirectSql(dataSource, { prepare: kind === 'postgres' && config.database.preparedStatements });
  if (options.runMigrations !== false) await migrate(dataSource, kind, logger);
  return {
    dataSource,
    kind,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      if (ownPglite) await ownPglite.close();
    },
  };
}

const MIGRATION_LOCK_ID = 4_201_337;

/** Applies pending migrations; on PostgreSQL an advisory lock stops two starting instances racing. */
async function migrate(dataSource: DataSource, kind: Database['kind'], logger: Logger): Promise<void> {
  const runner = kind === 'postgres' ? dataSource.createQueryRunner() : undefined;
  try {
    if (runner) await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length > 0) logger.info({ migrations: applied.map((m) => m.name) }, 'database migrations applied');
  } finally {
    if (runner) {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
      await runner.release();
    }
  }
}
