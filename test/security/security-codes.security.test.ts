import { expect } from 'chai';
import { createHmac, randomUUID } from 'node:crypto';
import type { Config } from '../../src/config/index.js';
import type { Database } from '../../src/db/data-source.js';
import { CareloginError } from '../../src/errors.js';
import { createAttemptCounters, type AttemptCounters } from '../../src/security/attempt-counters.js';
import {
  createSecurityCodes, securityCodeCounterKey,
  type CodePurpose, type IssueResult, type SecurityCodes, type VerifyResult,
} from '../../src/security/security-codes.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';

/** X4, X8, B1–B4: lifetime, single use, binding, wrong-code limit, races, resend cap, hashing at rest. */
describe('security codes (security)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let config: Config;
  let counters: AttemptCounters;
  let codes: SecurityCodes;
  const hmacSecret = 'test-secret-for-security-codes-0123456789';
  const mobile = '+447912345001';

  before(async () => {
    testDb = await createTestDatabase();
    config = testConfig({ ...testDb.env, SECURITY_CODE_TTL_SECONDS: '60' });
    db = await testDb.open(config);
    counters = createAttemptCounters(db.dataSource, config);
    codes = createSecurityCodes({ dataSource: db.dataSource, config, hmacKeys: hmacSecret });
  });

  after(async () => {
    await db?.close();
    await testDb?.drop();
  });

  async function newAccount(persona?: string): Promise<string> {
    const email = `${randomUUID()}@example.com`;
    const [row]: { id: string }[] = await db.dataSource.query(
      'INSERT INTO account (email, email_normalised, test_persona) VALUES ($1, $1, $2) RETURNING id',
      [email, persona ?? null],
    );
    return row.id;
  }

  /** The account's test_persona, as a caller that has just read the account passes it with a fixed code. */
  async function personaOf(accountId: string | null): Promise<string | null> {
    if (!accountId) return null;
    const [row]: { test_persona: string | null }[] = await db.dataSource.query('SELECT test_persona FROM account WHERE id = $1', [accountId]);
    return row?.test_persona ?? null;
  }

  async function issue(accountId: string | null, journeyId: string, purpose: CodePurpose = 'sign-in', extra: { fixedCode?: string; destination?: string; codes?: SecurityCodes } = {}): Promise<IssueResult> {
    const testPersona = await personaOf(accountId);
    return db.dataSource.transaction((manager) =>
      (extra.codes ?? codes).issue(manager, { accountId, purpose, journeyId, channel: 'sms', destination: extra.destination ?? mobile, ip: '192.0.2.1', fixedCode: extra.fixedCode, testPersona }),
    );
  }

  async function issueCode(accountId: string | null, journeyId: string, purpose: CodePurpose = 'sign-in'): Promise<string> {
    const result = await issue(accountId, journeyId, purpose);
    if (!result.ok) throw new Error(`issue failed: ${result.reason}`);
    return result.code;
  }

  const wrong = (code: string, n = 1): string => String((Number(code) + n) % 1_000_000).padStart(6, '0');

  it('issues a 6-digit code valid for config.ttl.securityCode', async () => {
    const accountId = await newAccount();
    const before = Date.now();
    const result = await issue(accountId, randomUUID());
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.code).to.match(/^\d{6}$/);
    expect(result.expiresAt.getTime() - before).to.be.within(55_000, 65_000);
  });

  it('codes look random: 300 samples, no repeats beyond chance and every digit used', async () => {
    const accountId = await newAccount();
    const seen: string[] = [];
    for (let i = 0; i < 300; i++) seen.push(await issueCode(accountId, randomUUID()));
    expect(new Set(seen).size).to.be.at.least(295);
    const digits = new Set(seen.join(''));
    expect(digits.size).to.equal(10);
  });

  it('accepts a code once, then refuses it (B1)', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('valid');
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('invalid');
  });

  it('accepts a code typed with a space or a hyphen', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: `${code.slice(0, 3)} ${code.slice(3)}` })).to.equal('valid');
  });

  it('refuses an expired code, even the right one (B1)', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    await db.dataSource.query(`UPDATE security_code SET expires_at = now() - interval '1 second' WHERE journey_id = $1`, [journeyId]);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('expired');
  });

  it('accepts a code just before it expires', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    await db.dataSource.query(`UPDATE security_code SET expires_at = now() + interval '1 second' WHERE journey_id = $1`, [journeyId]);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('valid');
  });

  it('a new code makes the previous one useless (B1)', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const first = await issueCode(accountId, journeyId);
    let second = await issueCode(accountId, journeyId);
    while (second === first) second = await issueCode(accountId, journeyId);
    // Not only unchecked (verify looks at the newest code alone): every earlier code is dead in the table.
    const [{ live }] = await db.dataSource.query('SELECT count(*)::int AS live FROM security_code WHERE journey_id = $1 AND invalidated_at IS NULL', [journeyId]);
    expect(live).to.equal(1);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: first })).to.equal('invalid');
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: second })).to.equal('valid');
  });

  it('binds a code to its journey, purpose, account and destination (B1, ASVS 6.6.2)', async () => {
    const accountId = await newAccount();
    const otherAccount = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId, 'change-mobile');
    expect(await codes.verify({ accountId, purpose: 'change-mobile', journeyId: randomUUID(), code })).to.equal('invalid');
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('invalid');
    expect(await codes.verify({ accountId: otherAccount, purpose: 'change-mobile', journeyId, code })).to.equal('invalid');
    expect(await codes.verify({ accountId: null, purpose: 'change-mobile', journeyId, code })).to.equal('invalid');
    expect(await codes.verify({ accountId, purpose: 'change-mobile', journeyId, code, destination: '+447912345002' })).to.equal('invalid');
    // None of those attempts used it up.
    expect(await codes.verify({ accountId, purpose: 'change-mobile', journeyId, code, destination: mobile })).to.equal('valid');
  });

  it('works before there is an account, counting against the journey', async () => {
    const journeyId = randomUUID();
    const code = await issueCode(null, journeyId, 'verify-mobile');
    expect(await codes.verify({ accountId: null, purpose: 'verify-mobile', journeyId, code: wrong(code) })).to.equal('invalid');
    const status = await counters.status(securityCodeCounterKey(null, journeyId, 'verify-mobile'));
    expect(status.failures).to.equal(1);
    expect(await codes.verify({ accountId: null, purpose: 'verify-mobile', journeyId, code })).to.equal('valid');
  });

  it('5 wrong codes invalidate the code and lock the step; the 6th attempt, even with the right code, is refused (X8, B2)', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    const results: VerifyResult[] = [];
    for (let i = 1; i <= 5; i++) results.push(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: wrong(code, i) }));
    expect(results).to.deep.equal(['invalid', 'invalid', 'invalid', 'invalid', 'locked']);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('locked');
    const [row] = await db.dataSource.query('SELECT invalidated_at, consumed_at, attempts FROM security_code WHERE journey_id = $1', [journeyId]);
    expect(row.invalidated_at).to.not.equal(null);
    expect(row.consumed_at).to.equal(null);
    expect(row.attempts).to.equal(5);
    // No new code while the step is locked, and the lock lasts 15 minutes.
    const again = await issue(accountId, journeyId);
    expect(again.ok).to.equal(false);
    if (!again.ok) {
      expect(again.reason).to.equal('locked');
      expect(again.retryAfterSeconds).to.be.within(899, 900);
    }
    // The lock is on the account's step, so a fresh journey does not escape it.
    const other = await issue(accountId, randomUUID());
    expect(other.ok).to.equal(false);
  });

  it('after the lock runs out the old code stays dead, and a new code works', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    for (let i = 1; i <= 5; i++) await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: wrong(code, i) });
    await db.dataSource.query(`UPDATE attempt_counter SET locked_until = now() - interval '1 second' WHERE key = $1`, [securityCodeCounterKey(accountId, journeyId, 'sign-in')]);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('invalid');
    const fresh = await issueCode(accountId, journeyId);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: fresh })).to.equal('valid');
  });

  it('a new code after 3 wrong attempts does not reset the count: 2 more wrong lock the step (NIST §3.1.3, B2)', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const first = await issueCode(accountId, journeyId);
    for (let i = 1; i <= 3; i++) expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: wrong(first, i) })).to.equal('invalid');
    const second = await issueCode(accountId, journeyId);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: wrong(second) })).to.equal('invalid');
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: wrong(second, 2) })).to.equal('locked');
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: second })).to.equal('locked');
  });

  it('a right code resets the count', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    for (let i = 1; i <= 4; i++) await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: wrong(code, i) });
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('valid');
    expect((await counters.status(securityCodeCounterKey(accountId, journeyId, 'sign-in'))).failures).to.equal(0);
  });

  it('counts a malformed code as a wrong one', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    await issueCode(accountId, journeyId);
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: '12345' })).to.equal('invalid');
    expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: 'abcdef' })).to.equal('invalid');
    expect((await counters.status(securityCodeCounterKey(accountId, journeyId, 'sign-in'))).failures).to.equal(2);
  });

  it('allows config.limits.securityCodeSends codes per journey and purpose, then refuses (B4)', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    for (let i = 0; i < config.limits.securityCodeSends; i++) expect((await issue(accountId, journeyId)).ok, `send ${i + 1}`).to.equal(true);
    const refused = await issue(accountId, journeyId);
    expect(refused).to.deep.include({ ok: false, reason: 'too_many_sends' });
    if (!refused.ok) expect(refused.retryAfterSeconds).to.be.within(1, config.ttl.interaction);
    // Other purposes in the same journey have their own allowance.
    expect((await issue(accountId, journeyId, 'change-email')).ok).to.equal(true);
  });

  it('never lets concurrent resend requests past the send cap', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const results = await Promise.all(Array.from({ length: 20 }, () => issue(accountId, journeyId)));
    expect(results.filter((r) => r.ok)).to.have.length(config.limits.securityCodeSends);
    const [{ count }] = await db.dataSource.query('SELECT count(*)::int AS count FROM security_code WHERE journey_id = $1', [journeyId]);
    expect(count).to.equal(config.limits.securityCodeSends);
    const [{ live }] = await db.dataSource.query('SELECT count(*)::int AS live FROM security_code WHERE journey_id = $1 AND invalidated_at IS NULL', [journeyId]);
    expect(live).to.equal(1);
  });

  it('a rolled-back issue leaves no code and does not use up a send', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    let thrown: unknown;
    try {
      await db.dataSource.transaction(async (manager) => {
        await codes.issue(manager, { accountId, purpose: 'sign-in', journeyId, channel: 'sms', destination: mobile, ip: '192.0.2.1' });
        throw new Error('outbox write failed');
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(Error);
    expect(await db.dataSource.query('SELECT id FROM security_code WHERE journey_id = $1', [journeyId])).to.have.length(0);
    for (let i = 0; i < config.limits.securityCodeSends; i++) expect((await issue(accountId, journeyId)).ok).to.equal(true);
  });

  it('of 50 concurrent submissions of the right code exactly one is valid (single use under a race)', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    const results = await Promise.all(Array.from({ length: 50 }, () => codes.verify({ accountId, purpose: 'sign-in', journeyId, code })));
    expect(results.filter((r) => r === 'valid')).to.have.length(1);
  });

  it('of 200 concurrent guesses at most 5 are checked, every checked one is counted, and the right code after the lock fails (B3)', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    // 199 wrong guesses, the right code last: the limit is reached before it is looked at.
    const guesses = Array.from({ length: 199 }, (_, i) => wrong(code, i + 1));
    const results = await Promise.all([...guesses, code].map((guess) => codes.verify({ accountId, purpose: 'sign-in', journeyId, code: guess })));
    const [row] = await db.dataSource.query('SELECT attempts, invalidated_at, consumed_at FROM security_code WHERE journey_id = $1', [journeyId]);
    const status = await counters.status(securityCodeCounterKey(accountId, journeyId, 'sign-in'));
    if (results.includes('valid')) {
      // The right code happened to be checked among the first five: it must be the only success.
      expect(results.filter((r) => r === 'valid')).to.have.length(1);
      expect(row.attempts).to.be.at.most(5);
    } else {
      expect(row.attempts).to.equal(5);
      expect(status.failures).to.equal(5);
      expect(status.locked).to.equal(true);
      expect(row.invalidated_at).to.not.equal(null);
      expect(results.filter((r) => r === 'invalid').length + results.filter((r) => r === 'locked').length).to.equal(200);
      expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('locked');
    }
  });

  it('stores only a keyed hash: the code appears nowhere in the table (B1, ASVS 6.5.2)', async () => {
    const accountId = await newAccount();
    const journeyId = randomUUID();
    const code = await issueCode(accountId, journeyId);
    const rows: { row: string }[] = await db.dataSource.query('SELECT row_to_json(security_code)::text AS row FROM security_code WHERE journey_id = $1', [journeyId]);
    expect(rows).to.have.length(1);
    expect(rows[0].row).to.not.include(code);
    const [{ code_hash }] = await db.dataSource.query('SELECT code_hash FROM security_code WHERE journey_id = $1', [journeyId]);
    expect(code_hash).to.match(/^[0-9a-f]{64}$/);
    // A different secret cannot check codes: the hash is keyed.
    const otherCodes = createSecurityCodes({ dataSource: db.dataSource, config, hmacKeys: 'a-completely-different-secret' });
    expect(await otherCodes.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('invalid');
  });

  describe('HMAC secret rotation', () => {
    const newSecret = 'the-secret-after-rotation-0123456789';

    it('a code sent before a rotation still verifies after it, and a new code is hashed with the new secret', async () => {
      const accountId = await newAccount();
      const journeyId = randomUUID();
      const code = await issueCode(accountId, journeyId);
      const rotated = createSecurityCodes({ dataSource: db.dataSource, config, hmacKeys: { current: newSecret, previous: [hmacSecret] } });
      expect(await rotated.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('valid');

      const laterJourney = randomUUID();
      const later = await issue(accountId, laterJourney, 'sign-in', { codes: rotated });
      if (!later.ok) throw new Error('no code');
      const [{ code_hash }] = await db.dataSource.query('SELECT code_hash FROM security_code WHERE journey_id = $1', [laterJourney]);
      expect(code_hash).to.equal(createHmac('sha256', newSecret).update(later.code + laterJourney + 'sign-in').digest('hex'));
    });

    it('a code hashed with a secret that has been pruned does not verify, nor a wrong code under any secret of the ring', async () => {
      const accountId = await newAccount();
      const journeyId = randomUUID();
      const code = await issueCode(accountId, journeyId);
      const rotated = createSecurityCodes({ dataSource: db.dataSource, config, hmacKeys: { current: newSecret, previous: [hmacSecret] } });
      const wrong = code === '000000' ? '000001' : '000000';
      expect(await rotated.verify({ accountId, purpose: 'sign-in', journeyId, code: wrong })).to.equal('invalid');
      const pruned = createSecurityCodes({ dataSource: db.dataSource, config, hmacKeys: { current: newSecret, previous: [] } });
      expect(await pruned.verify({ accountId, purpose: 'sign-in', journeyId, code })).to.equal('invalid');
    });
  });

  describe('persona fixed code', () => {
    it('uses the fixed code for a persona outside production', async () => {
      const accountId = await newAccount('p9');
      const journeyId = randomUUID();
      const result = await issue(accountId, journeyId, 'sign-in', { fixedCode: '190696' });
      expect(result).to.deep.include({ ok: true, code: '190696' });
      expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: '190696' })).to.equal('valid');
      expect(await codes.verify({ accountId, purpose: 'sign-in', journeyId, code: '190696' })).to.equal('invalid');
    });

    it('refuses a fixed code for an account that is not a persona, or without an account', async () => {
      const accountId = await newAccount();
      for (const id of [accountId, null]) {
        let error: unknown;
        try {
          await issue(id, randomUUID(), 'sign-in', { fixedCode: '190696' });
        } catch (caught) {
          error = caught;
        }
        expect(error).to.be.instanceOf(CareloginError);
      }
    });

    it('refuses a fixed code in production', async () => {
      const production: Config = { ...config, mode: 'production' };
      const productionCodes = createSecurityCodes({ dataSource: db.dataSource, config: production, hmacKeys: hmacSecret });
      const accountId = await newAccount('p0');
      const journeyId = randomUUID();
      let error: unknown;
      try {
        await issue(accountId, journeyId, 'sign-in', { fixedCode: '190696', codes: productionCodes });
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(CareloginError);
      expect(await db.dataSource.query('SELECT id FROM security_code WHERE journey_id = $1', [journeyId])).to.have.length(0);
    });
  });

  it('refuses a weak HMAC secret at construction', () => {
    expect(() => createSecurityCodes({ dataSource: db.dataSource, config, hmacKeys: 'short' })).to.throw();
  });
});
