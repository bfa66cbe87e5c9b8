import { expect } from 'chai';
import { Account } from '../../entities/account.js';
import { createAccountService, type AccountService } from '../../src/accounts/account-service.js';
import { keepReadAhead, readAheadKey, withReadAhead } from '../../src/db/read-ahead.js';
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

  it('gives exactly the entity TypeORM would, every column and type (hand-written SQL, hydrated by TypeORM\'s metadata)', async () => {
    const [row]: { id: string }[] = await db.dataSource.query(
      `INSERT INTO account (email, email_normalised, email_verified_at, password_hash, mobile_number, mobile_verified_at, phone_number_pds_matched,
         proofing_level, nhs_number, given_name, family_name, birthdate, postcode, gp_ods_code, gp_user_id, gp_linkage_key, terms_version,
         terms_accepted_at, test_persona)
       VALUES ('Full@Example.com', 'full@example.com', now(), 'hash', '+447900000001', now(), true, 'P9', '9999999999', 'Ada', 'Lovelace',
         '1990-02-03', 'LS1 4AP', 'A12345', 'u1', 'k1', '2026-01', now(), 'p9-copy') RETURNING id`,
    );
    const typeorm = await db.dataSource.getRepository(Account).findOneBy({ id: row.id });
    const ours = await accounts.findById(row.id);
    expect(ours).to.be.instanceOf(Account);
    expect(ours).to.deep.equal(typeorm);
    expect(ours?.birthdate, 'a date column stays a calendar date').to.equal('1990-02-03');
    expect(ours?.createdAt).to.be.instanceOf(Date);
    expect(await accounts.findByEmail('FULL@example.com')).to.deep.equal(typeorm);
  });

  it('takes an account read ahead for this request once, then reads the database again', async () => {
    const stand = Object.assign(new Account(), { id, email: 'read-ahead@example.com' });
    await withReadAhead(async () => {
      keepReadAhead(readAheadKey.account(id), stand);
      expect(await accounts.findById(id)).to.equal(stand);
      expect((await accounts.findById(id))?.email, 'the second read is the database\'s').to.equal('User@Example.com');
    });
  });
});
