import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config/index.js';
import { openDatabase, type Database } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { MIGRATIONS } from '../../entities/migrations/index.js';
import { PROJECT_ROOT } from '../../src/project-root.js';

/**
 * A fresh, migrated database for one test file.
 * - With DATABASE_URL: real PostgreSQL, in a private schema dropped afterwards (runs can overlap).
 * - Without: in-memory PGlite loaded from a cached, already-migrated template (initdb once, not per file).
 */
export interface TestDatabase {
  /** Environment to merge into loadConfig() so the app uses this database. */
  readonly env: Record<string, string>;
  /** Set for PGlite: pass to createIdp/openDatabase so every app instance shares it. */
  readonly pglite?: PGlite;
  readonly kind: 'postgres' | 'pglite';
  /** Opens a TypeORM data source on this database (for direct assertions in tests). */
  open(config?: Config): Promise<Database>;
  drop(): Promise<void>;
}

const silent = createLogger({ level: 'silent' });

export async function createTestDatabase(): Promise<TestDatabase> {
  const url = process.env.DATABASE_URL;
  if (url) return createPostgresSchema(url);
  const template = await pgliteTemplate();
  const pglite = await PGlite.create({ loadDataDir: new Blob([new Uint8Array(template)]) });
  return {
    env: {},
    pglite,
    kind: 'pglite',
    open: (config = testConfig({})) => openDatabase(config, silent, { pglite }),
    drop: async () => {
      await pglite.close();
    },
  };
}

async function createPostgresSchema(url: string): Promise<TestDatabase> {
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.end();
  const env = { DATABASE_URL: url, DATABASE_SCHEMA: schema };
  const db: TestDatabase = {
    env,
    kind: 'postgres',
    open: async (config = testConfig(env)) => openDatabase(config, silent),
    drop: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
  const migrated = await db.open();
  await migrated.close();
  return db;
}

let templatePromise: Promise<Buffer> | undefined;

/** A migrated PGlite data directory, built once per migration set and cached under .cache/. */
function pgliteTemplate(): Promise<Buffer> {
  templatePromise ??= (async () => {
    const names = MIGRATIONS.map((m) => m.name).join(',');
    const hash = createHash('sha256').update(names).digest('hex').slice(0, 16);
    const dir = path.join(PROJECT_ROOT, '.cache');
    const file = path.join(dir, `pglite-template-${hash}.tar`);
    if (existsSync(file)) return readFileSync(file);
    const pglite = await PGlite.create();
    const db = await openDatabase(testConfig({}), silent, { pglite });
    await db.close();
    const dump = await pglite.dumpDataDir('none');
    await pglite.close();
    const bytes = Buffer.from(await dump.arrayBuffer());
    mkdirSync(dir, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, bytes);
    renameSync(temporary, file);
    return bytes;
  })();
  return templatePromise;
}

/** A test-mode Config; `env` overrides the defaults (and the database settings from TestDatabase.env). */
export function testConfig(env: Record<string, string>): Config {
  return loadConfig({
    CARELOGIN_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Fast hashing in tests; the benchmark and production use the OWASP parameters.
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_ITERATIONS: '1',
    // Test files send many codes from 127.0.0.1 to a few persona numbers; the B4 tests
    // (test/security/sms-abuse.security.test.ts) set their own, low caps.
    SMS_SENDS_PER_IP_PER_HOUR: '100000',
    SMS_SENDS_PER_PREFIX_PER_HOUR: '100000',
    ...env,
  });
}
