import { expect } from 'chai';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import type { Database } from '../../src/db/data-source.js';

describe('database schema', () => {
  let testDb: TestDatabase;
  let db: Database;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
  });

  after(async () => {
    await db.close();
    await testDb.drop();
  });

  it('matches the entities exactly after migrations (no drift between entities/ and migrations)', async () => {
    const pending = await db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).to.deep.equal([]);
  });

  it('has no pending migrations', async () => {
    expect(await db.dataSource.showMigrations()).to.equal(false);
  });

  it('serialises concurrent read-modify-write transactions (no lost updates)', async () => {
    await db.dataSource.query(`INSERT INTO attempt_counter (key, failures, window_started_at, updated_at) VALUES ('race', 0, now(), now())`);
    await Promise.all(
      [1, 2, 3, 4, 5].map(() =>
        db.dataSource.transaction(async (em) => {
          const [row] = await em.query(`SELECT failures FROM attempt_counter WHERE key = 'race' FOR UPDATE`);
          await em.query(`UPDATE attempt_counter SET failures = $1 WHERE key = 'race'`, [Number(row.failures) + 1]);
        }),
      ),
    );
    const [row] = await db.dataSource.query(`SELECT failures FROM attempt_counter WHERE key = 'race'`);
    expect(Number(row.failures)).to.equal(5);
  });
});
