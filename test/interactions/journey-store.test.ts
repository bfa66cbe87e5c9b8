import { expect } from 'chai';
import type { Database } from '../../src/db/data-source.js';
import { JourneyConflictError } from '../../interactions/engine/errors.js';
import { createJourneyStore, purgeExpiredJourneys, type JourneyRecord, type JourneyStore } from '../../interactions/engine/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

/** journey_state persistence: create once, advance only from the version read, expire with the interaction. */
describe('journey store', () => {
  let testDb: TestDatabase;
  let db: Database;
  let store: JourneyStore;
  let counter = 0;

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
    store = createJourneyStore(db.dataSource);
  });
  after(async () => {
    await db.close();
    await testDb.drop();
  });

  function draft(overrides: Partial<JourneyRecord> = {}): Omit<JourneyRecord, 'version'> {
    counter += 1;
    return {
      uid: `uid-${counter}-${Date.now()}`,
      journey: 'sign-in',
      step: 'enter-email',
      accountId: null,
      facts: {},
      expiresAt: new Date(Date.now() + 60_000),
      ...overrides,
    };
  }

  it('creates a journey and reads it back', async () => {
    const record = draft({ facts: { email: 'someone@example.com' } });
    const created = await db.dataSource.transaction((manager) => store.create(manager, record));
    expect(created).to.deep.include({ uid: record.uid, step: 'enter-email', version: 0 });
    const loaded = await store.load(record.uid);
    expect(loaded).to.deep.include({ uid: record.uid, journey: 'sign-in', step: 'enter-email', accountId: null, version: 0 });
    expect(loaded!.facts).to.deep.equal({ email: 'someone@example.com' });
  });

  it('creates a journey only once when two requests race', async () => {
    const record = draft();
    const [a, b] = await Promise.all([
      db.dataSource.transaction((manager) => store.create(manager, record)),
      db.dataSource.transaction((manager) => store.create(manager, { ...record, step: 'enter-password' })),
    ]);
    expect([a, b].filter((r) => r !== null)).to.have.length(1);
    const loaded = await store.load(record.uid);
    expect(loaded!.step).to.equal((a ?? b)!.step);
  });

  it('advances from the version it read, once', async () => {
    const record = draft();
    const created = (await db.dataSource.transaction((manager) => store.create(manager, record)))!;
    const moved = await db.dataSource.transaction((manager) => store.advance(manager, created, { step: 'enter-password', accountId: null, facts: { email: 'a@b.example' } }));
    expect(moved.version).to.equal(1);
    // A second submission of the same form read version 0 too: it must not move the journey again.
    let error: unknown;
    try {
      await db.dataSource.transaction((manager) => store.advance(manager, created, { step: 'enter-security-code', accountId: null, facts: {} }));
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(JourneyConflictError);
    const loaded = await store.load(record.uid);
    expect(loaded).to.deep.include({ step: 'enter-password', version: 1 });
  });

  it('lets only one of two simultaneous advances win', async () => {
    const created = (await db.dataSource.transaction((manager) => store.create(manager, draft())))!;
    const results = await Promise.allSettled([
      db.dataSource.transaction((manager) => store.advance(manager, created, { step: 'enter-password', accountId: null, facts: {} })),
      db.dataSource.transaction((manager) => store.advance(manager, created, { step: 'enter-password', accountId: null, facts: {} })),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected?.reason).to.be.instanceOf(JourneyConflictError);
  });

  it('rolls back everything else in the transaction when the advance loses', async () => {
    const created = (await db.dataSource.transaction((manager) => store.create(manager, draft())))!;
    await db.dataSource.transaction((manager) => store.advance(manager, created, { step: 'enter-password', accountId: null, facts: {} }));
    const marker = `marker-${created.uid}`;
    try {
      await db.dataSource.transaction(async (manager) => {
        await manager.query(`INSERT INTO audit_event (type, detail) VALUES ('test.marker', $1::jsonb)`, [JSON.stringify({ marker })]);
        await store.advance(manager, created, { step: 'enter-security-code', accountId: null, facts: {} });
      });
    } catch {
      // expected: JourneyConflictError
    }
    const rows: unknown[] = await db.dataSource.query(`SELECT 1 FROM audit_event WHERE detail->>'marker' = $1`, [marker]);
    expect(rows).to.have.length(0);
  });

  it('treats an expired journey as no journey', async () => {
    const record = draft({ expiresAt: new Date(Date.now() - 1000) });
    await db.dataSource.transaction((manager) => store.create(manager, record));
    expect(await store.load(record.uid)).to.equal(null);
  });

  it('treats a row whose facts it does not recognise as no journey', async () => {
    const record = draft();
    await db.dataSource.transaction((manager) => store.create(manager, record));
    await db.dataSource.query(`UPDATE journey_state SET facts = '{"amr":["made-up"]}'::jsonb WHERE uid = $1`, [record.uid]);
    expect(await store.load(record.uid)).to.equal(null);
  });

  it('refuses to store facts outside the schema', async () => {
    const record = draft({ facts: { amr: ['pwd'], password: 'never stored' } as unknown as JourneyRecord['facts'] });
    let error: unknown;
    try {
      await db.dataSource.transaction((manager) => store.create(manager, record));
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(Error);
    expect(await store.load(record.uid)).to.equal(null);
  });

  it('purges expired journeys and keeps live ones', async () => {
    const live = draft();
    const dead = draft({ expiresAt: new Date(Date.now() - 1000) });
    await db.dataSource.transaction(async (manager) => {
      await store.create(manager, live);
      await store.create(manager, dead);
    });
    expect(await purgeExpiredJourneys(db.dataSource)).to.be.at.least(1);
    const left: { uid: string }[] = await db.dataSource.query('SELECT uid FROM journey_state WHERE uid = ANY($1::text[])', [[live.uid, dead.uid]]);
    expect(left.map((r) => r.uid)).to.deep.equal([live.uid]);
  });
});
