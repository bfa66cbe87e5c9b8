import type { EntityManager } from 'typeorm';

/**
 * Runs SQL and returns the rows, whatever the statement. TypeORM answers UPDATE and DELETE with
 * `[rows, rowCount]` instead of rows, which makes `result.length` lie (it is always 2): use this for
 * every `UPDATE … RETURNING` / `DELETE … RETURNING`, where "did a row change?" is a security decision.
 */
export async function queryRows<R = Record<string, unknown>>(db: Pick<EntityManager, 'query'>, sql: string, parameters: unknown[] = []): Promise<R[]> {
  const result: unknown = await db.query(sql, parameters);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as R[];
  return Array.isArray(result) ? (result as R[]) : [];
}
