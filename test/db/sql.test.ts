import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { expect } from 'chai';
import type { Database } from '../../src/db/data-source.js';
import { queryRows, SQL_CHANNEL } from '../../src/db/sql.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';

describe('hand-written SQL (queryRows)', () => {
  let testDb: TestDatabase;
  let db: Database;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open(testConfig(testDb.env));
    await db.dataSource.query('CREATE TABLE sql_probe (k text PRIMARY KEY, n int NOT NULL)');
  });
  after(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('returns the rows of every kind of statement (TypeORM would give [rows, count] for UPDATE and DELETE)', async () => {
    expect(await queryRows(db.dataSource, 'INSERT INTO sql_probe (k, n) VALUES ($1, $2) RETURNING k', ['a', 1])).to.deep.equal([{ k: 'a' }]);
    expect(await queryRows(db.dataSource, 'UPDATE sql_probe SET n = n + 1 WHERE k = $1 RETURNING n', ['a'])).to.deep.equal([{ n: 2 }]);
    expect(await queryRows(db.dataSource, 'UPDATE sql_probe SET n = n + 1 WHERE k = $1 RETURNING n', ['nobody'])).to.deep.equal([]);
    expect(await queryRows(db.dataSource, 'SELECT n FROM sql_probe WHERE k = $1', ['a'])).to.deep.equal([{ n: 2 }]);
    expect(await queryRows(db.dataSource, 'DELETE FROM sql_probe WHERE k = $1 RETURNING k', ['a'])).to.deep.equal([{ k: 'a' }]);
  });

  it('runs on the transaction\'s own connection when given its manager: it sees the transaction\'s rows and rolls back with it', async () => {
    let seenInside: unknown[] = [];
    let thrown: unknown;
    try {
      await db.dataSource.transaction(async (manager) => {
        await queryRows(manager, 'INSERT INTO sql_probe (k, n) VALUES ($1, 1)', ['in-transaction']);
        seenInside = await queryRows(manager, 'SELECT k FROM sql_probe WHERE k = $1', ['in-transaction']);
        throw new Error('roll back');
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(Error);
    expect(seenInside).to.deep.equal([{ k: 'in-transaction' }]);
    expect(await queryRows(db.dataSource, 'SELECT k FROM sql_probe WHERE k = $1', ['in-transaction'])).to.deep.equal([]);
  });

  it('publishes each statement it sends on its diagnostics channel (the round-trip budget counts them)', async () => {
    const seen: string[] = [];
    const listener = (message: unknown): void => {
      seen.push((message as { sql: string }).sql);
    };
    subscribe(SQL_CHANNEL, listener);
    try {
      await queryRows(db.dataSource, 'SELECT $1::int AS one', [1]);
    } finally {
      unsubscribe(SQL_CHANNEL, listener);
    }
    expect(seen).to.deep.equal(['SELECT $1::int AS one']);
  });

  describe('named prepared statements (PostgreSQL)', () => {
    const preparedOnThisConnection = (sql: string): Promise<boolean> => db.dataSource.transaction(async (manager) => {
      await queryRows(manager, sql, ['x']);
      const names: { statement: string }[] = await manager.query('SELECT statement FROM pg_prepared_statements');
      return names.some((row) => row.statement === sql);
    });

    it('prepares each statement once per connection, under a name, and runs it again by that name', async function () {
      if (testDb.kind !== 'postgres') this.skip();
      const sql = 'SELECT count(*)::int AS n FROM sql_probe WHERE k = $1';
      expect(await preparedOnThisConnection(sql)).to.equal(true);
      for (let i = 0; i < 8; i++) expect(await queryRows(db.dataSource, sql, ['x'])).to.deep.equal([{ n: 0 }]);
    });

    it('DB_PREPARED_STATEMENTS=false sends them unnamed', async function () {
      if (testDb.kind !== 'postgres') this.skip();
      const unprepared = await testDb.open(testConfig({ ...testDb.env, DB_PREPARED_STATEMENTS: 'false' }));
      try {
        const sql = 'SELECT count(*)::int AS n FROM sql_probe WHERE k <> $1';
        const prepared = await unprepared.dataSource.transaction(async (manager) => {
          await queryRows(manager, sql, ['x']);
          const names: { statement: string }[] = await manager.query('SELECT statement FROM pg_prepared_statements');
          return names.some((row) => row.statement === sql);
        });
        expect(prepared).to.equal(false);
      } finally {
        await unprepared.close();
      }
    });
  });
});
