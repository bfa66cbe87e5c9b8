import { expect } from 'chai';
import { createAccountService, type AccountService } from '../../src/accounts/account-service.js';
import type { Database } from '../../src/db/data-source.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

describe('account service', () => {
  let testDb: TestDatabase;
  let db: Database;
  let accounts: AccountService;
  let id: string;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
    accounts = createAccountService(db.dataSource);
    const [row]: { id: string }[] = await db.dataSource.query(
      `INSERT INTO account (email, email_normalised) VALUES ('User@Example.com', 'user@example.com') RETURNING id`,
    );
    id = row.id;
  });

  after(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('finds an account by email whatever the case and surrounding spaces (H1)', async () => {
    for (const email of ['user@example.com', 'User@Example.com', '  USER@EXAMPLE.COM ']) {
      const account = await accounts.findByEmail(email);
      expect(account?.id, email).to.equal(id);
      expect(account?.email).to.equal('User@Example.com');
    }
  });

  it('finds nothing for unknown, empty or oversized addresses', async () => {
    expect(await accounts.findByEmail('someone@example.com')).to.equal(null);
    expect(await accounts.findByEmail('')).to.equal(null);
    expect(await accounts.findByEmail('a'.repeat(400) + '@example.com')).to.equal(null);
  });

  it('finds an account by id, and nothing (rather than an SQL error) for ids that are not UUIDs', async () => {
    expect((await accounts.findById(id))?.emailNormalised).to.equal('user@example.com');
    expect((await accounts.findById(id.toUpperCase()))?.id).to.equal(id);
    expect(await accounts.findById('00000000-0000-4000-8000-000000000000')).to.equal(null);
    expect(await accounts.findById('not-a-uuid')).to.equal(null);
    expect(await accounts.findById("' OR 1=1 --")).to.equal(null);
  });
});
