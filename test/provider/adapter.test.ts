import { expect } from 'chai';
import { errors } from 'oidc-provider';
import { createAdapterFactory, findGrantId, purgeExpiredModels } from '../../src/provider/adapter.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import type { Database } from '../../src/db/data-source.js';

describe('oidc-provider storage adapter', () => {
  let testDb: TestDatabase;
  let db: Database;
  let adapterFor: ReturnType<typeof createAdapterFactory>;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
    adapterFor = createAdapterFactory(db.dataSource);
  });
  after(async () => {
    await db.close();
    await testDb.drop();
  });

  it('stores, finds and destroys payloads per model', async () => {
    const sessions = adapterFor('Session');
    await sessions.upsert('s1', { uid: 'u1', accountId: 'a' }, 60);
    expect(await sessions.find('s1')).to.deep.include({ uid: 'u1', accountId: 'a' });
    expect(await sessions.findByUid('u1')).to.deep.include({ accountId: 'a' });
    expect(await adapterFor('AccessToken').find('s1'), 'models do not see each other').to.equal(undefined);
    await sessions.destroy('s1');
    expect(await sessions.find('s1')).to.equal(undefined);
  });

  it('hides expired rows and purges them', async () => {
    const codes = adapterFor('AuthorizationCode');
    await codes.upsert('old', { grantId: 'g' }, 60);
    await db.dataSource.query(`UPDATE oidc_model SET expires_at = now() - interval '2 minutes' WHERE id = 'old'`);
    expect(await codes.find('old')).to.equal(undefined);
    expect(await purgeExpiredModels(db.dataSource)).to.be.at.least(1);
    const [row] = await db.dataSource.query(`SELECT count(*) AS n FROM oidc_model WHERE id = 'old'`);
    expect(Number(row.n)).to.equal(0);
  });

  it('consumes once; a second consume fails with invalid_grant and revokes everything under the grant', async () => {
    const codes = adapterFor('AuthorizationCode');
    await codes.upsert('c1', { grantId: 'grant-1' }, 60);
    await adapterFor('AccessToken').upsert('at1', { grantId: 'grant-1' }, 60);
    await adapterFor('Grant').upsert('grant-1', { accountId: 'a', clientId: 'c' }, 60);
    await codes.consume('c1');
    expect(await codes.find('c1')).to.have.property('consumed').that.is.a('number');
    let error: unknown;
    try {
      await codes.consume('c1');
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(errors.InvalidGrant);
    expect(await adapterFor('AccessToken').find('at1')).to.equal(undefined);
    expect(await adapterFor('Grant').find('grant-1')).to.equal(undefined);
  });

  it('lets exactly one of many concurrent consumes win', async () => {
    const codes = adapterFor('AuthorizationCode');
    await codes.upsert('c2', { grantId: 'grant-2' }, 60);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => codes.consume('c2')));
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
  });

  it('refuses a duplicate replay-detection entry (concurrent client assertions with one jti)', async () => {
    const replay = adapterFor('ReplayDetection');
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => replay.upsert('jti-1', { iss: 'c' }, 60)));
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    expect(results.find((r) => r.status === 'rejected')).to.have.nested.property('reason.error', 'invalid_client');
  });

  it('finds the newest live consent for an account and client', async () => {
    const grants = adapterFor('Grant');
    await grants.upsert('g-old', { accountId: 'acc', clientId: 'rp' }, 60);
    await grants.upsert('g-new', { accountId: 'acc', clientId: 'rp' }, 3600);
    await grants.upsert('g-other', { accountId: 'acc', clientId: 'other-rp' }, 7200);
    expect(await findGrantId(db.dataSource, 'acc', 'rp')).to.equal('g-new');
    expect(await findGrantId(db.dataSource, 'nobody', 'rp')).to.equal(undefined);
  });
});
