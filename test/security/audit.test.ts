import { expect } from 'chai';
import { Writable } from 'node:stream';
import type { Database } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { createAudit, type Audit } from '../../src/security/audit.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

describe('audit', () => {
  let testDb: TestDatabase;
  let db: Database;
  let audit: Audit;
  const lines: string[] = [];
  const accountId = '3f2b8a9e-4c1d-4e5f-9a0b-1c2d3e4f5a6b';

  before(async () => {
    testDb = await createTestDatabase();
    db = await testDb.open();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    audit = createAudit(db.dataSource, createLogger({ level: 'info' }, sink));
  });

  after(async () => {
    await db?.close();
    await testDb?.drop();
  });

  beforeEach(() => {
    lines.length = 0;
  });

  it('stores an event row with type, account, client, ip and detail', async () => {
    await audit.record('password.failed', { accountId, clientId: 'demo-rp', ip: '203.0.113.9', detail: { failures: 3, reason: 'wrong_password' } });
    const rows = await db.dataSource.query(`SELECT * FROM audit_event WHERE type = 'password.failed'`);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ account_id: accountId, client_id: 'demo-rp', ip: '203.0.113.9' });
    expect(rows[0].detail).to.deep.equal({ failures: 3, reason: 'wrong_password' });
    expect(rows[0].at).to.be.instanceOf(Date);
  });

  it('logs at info with the type but no personal data or secrets (F4)', async () => {
    await audit.record('account.signed_in', {
      accountId, ip: '198.51.100.77',
      detail: { email: 'jane@example.com', nhsNumber: '9990009007', method: 'sms', vot: 'P9.Cp.Cd', password: 'hunter2-hunter2', note: 'free text with jane@example.com' },
    });
    expect(lines).to.have.length(1);
    const line = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(line).to.include({ level: 'info', audit: 'account.signed_in', accountId, method: 'sms', vot: 'P9.Cp.Cd' });
    for (const secret of ['198.51.100.77', 'jane@example.com', '9990009007', 'hunter2', 'free text']) expect(lines[0]).to.not.include(secret);
  });

  it('never stores secrets in the detail, however they are nested', async () => {
    await audit.record('security_code.failed', { accountId, detail: { purpose: 'sign-in', code: '123456', nested: { otp: '654321', token: 'abc', kept: 1 } } });
    const [row] = await db.dataSource.query(`SELECT detail FROM audit_event WHERE type = 'security_code.failed'`);
    expect(row.detail).to.deep.equal({ purpose: 'sign-in', nested: { kept: 1 } });
  });

  it('commits and rolls back with the caller\'s transaction', async () => {
    await db.dataSource.transaction((manager) => audit.record('account.created', { accountId }, manager));
    try {
      await db.dataSource.transaction(async (manager) => {
        await audit.record('account.deleted', { accountId }, manager);
        throw new Error('roll back');
      });
    } catch {
      // expected
    }
    expect(await db.dataSource.query(`SELECT id FROM audit_event WHERE type = 'account.created'`)).to.have.length(1);
    expect(await db.dataSource.query(`SELECT id FROM audit_event WHERE type = 'account.deleted'`)).to.have.length(0);
  });

  it('is append-only for every role (H3): UPDATE, DELETE and TRUNCATE are refused, and the row is unchanged', async () => {
    await audit.record('account.signed_in', { accountId });
    for (const statement of [
      `UPDATE audit_event SET type = 'account.rewritten' WHERE account_id = '${accountId}'`,
      `DELETE FROM audit_event WHERE account_id = '${accountId}'`,
      'TRUNCATE audit_event',
    ]) {
      const refused = await db.dataSource.query(statement).then(() => undefined, (error: Error) => error);
      expect(refused, statement).to.be.instanceOf(Error);
      expect(String(refused?.message), statement).to.include('append-only');
    }
    const rows: { type: string }[] = await db.dataSource.query(`SELECT type FROM audit_event WHERE account_id = $1`, [accountId]);
    expect(rows.map((r) => r.type)).to.include('account.signed_in').and.not.include('account.rewritten');
  });

  it('accepts events without an account, client or ip', async () => {
    await audit.record('ip.throttled', {});
    const [row] = await db.dataSource.query(`SELECT * FROM audit_event WHERE type = 'ip.throttled'`);
    expect(row).to.include({ account_id: null, client_id: null, ip: null });
    expect(row.detail).to.deep.equal({});
  });

  it('rejects types that are not noun.verb', async () => {
    for (const type of ['signed in', 'Account.SignedIn', 'account', 'account.signed_in.twice', '', 'a.' + 'b'.repeat(60)]) {
      let error: unknown;
      try {
        await audit.record(type, {});
      } catch (caught) {
        error = caught;
      }
      expect(error, type).to.be.instanceOf(Error);
    }
  });
});
