import { createHash } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { DataSource, EntityManager } from 'typeorm';

/** What pg's Pool and PoolClient (and the PGlite pool's stand-ins) answer to. */
interface PgQueryable {
  query(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Every statement queryRows sends itself, published as `{ sql }` on this diagnostics channel (a
 * no-op unless someone subscribes): the round-trip recorder counts them, as it counts TypeORM's.
 */
export const SQL_CHANNEL = 'carelogin:sql';
const statements = channel(SQL_CHANNEL);

/** Data sources whose hand-written SQL goes straight to the pg pool, and whether as named prepared statements. */
const direct = new WeakMap<DataSource, { readonly prepare: boolean }>();

/**
 * Sends this data source's hand-written SQL (queryRows) straight to its pg pool, or to the
 * transaction's own connection, instead of through TypeORM's query runner, which adds nothing to a
 * statement it does not build. With `prepare`, each distinct statement is a named prepared statement
 * on each connection, so PostgreSQL parses it once per connection and, after a few runs, stops
 * planning it (planning was most of the database's time on a sign-in's statements). Turn `prepare`
 * off behind a pooler that cannot keep prepared statements (PgBouncer before 1.21 in transaction mode).
 */
export function useDirectSql(dataSource: DataSource, options: { prepare: boolean }): void {
  direct.set(dataSource, options);
}

const names = new Map<string, string>();

/** The same text always gets the same name (and different texts different names), on every connection. */
function statementName(sql: string): string {
  let name = names.get(sql);
  if (!name) {
    name = `cl_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    names.set(sql, name);
  }
  return name;
}

/** The connection to send to: the transaction's own when `db` is a transaction's manager, else the pool. */
async function connectionFor(db: unknown): Promise<{ connection: PgQueryable; prepare: boolean } | undefined> {
  const dataSource = db instanceof DataSource ? db : db instanceof EntityManager ? db.connection : undefined;
  const options = dataSource && direct.get(dataSource);
  if (!dataSource || !options) return undefined;
  const runner = db instanceof EntityManager ? db.queryRunner : undefined;
  if (runner && !runner.isReleased) return { connection: (await runner.connect()) as PgQueryable, prepare: options.prepare };
  // TypeORM's Postgres driver keeps its pg pool (or the PGlite pool's stand-in) as `master`.
  return { connection: (dataSource.driver as unknown as { master: PgQueryable }).master, prepare: options.prepare };
}

/**
 * Runs SQL and returns the rows, whatever the statement. TypeORM answers UPDATE and DELETE with
 * `[rows, rowCount]` instead of rows, which makes `result.length` lie (it is always 2): use this for
 * every `UPDATE … RETURNING` / `DELETE … RETURNING`, where "did a row change?" is a security decision,
 * and for all hand-written SQL on the hot paths (see useDirectSql).
 */
export async function queryRows<R = Record<string, unknown>>(db: Pick<EntityManager, 'query'>, sql: string, parameters: unknown[] = []): Promise<R[]> {
  const target = await connectionFor(db);
  if (target) {
    if (statements.hasSubscribers) statements.publish({ sql });
    const result = await target.connection.query(target.prepare ? { name: statementName(sql), text: sql, values: parameters } : { text: sql, values: parameters });
    return result.rows as R[];
  }
  const result: unknown = await db.query(sql, parameters);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as R[];
  return Array.isArray(result) ? (result as R[]) : [];
}

/** PostgreSQL's unique_violation, however the driver wraps it. */
export function isUniqueViolation(error: unknown): boolean {
  const candidate = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  return candidate?.code === '23505' || candidate?.driverError?.code === '23505';
}
