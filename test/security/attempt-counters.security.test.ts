import { expect } from 'chai';
import type { Config } from '../../src/config/index.js';
import type { Database } from '../../src/db/data-source.js';
import {
  countWithinCaps, createAttemptCounters, delayFor, ipThrottleKey, lockoutKeys, passwordPolicy, securityCodePolicy,
  type AttemptCounters, type CapUse, type LockoutPolicy,
} from '../../src/security/attempt-counters.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';

/** X8, A3, A4, B2, B3: lockouts, delays, the hard cap and the per-IP throttle. */
describe('attempt counters (security)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let config: Config;
  let counters: AttemptCounters;
  let policy: LockoutPolicy;
  let n = 0;
  const freshKey = (): string => lockoutKeys.password(`00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`);

  /** Moves a counter's clock: the lock ran out `seconds` ago. */
  const expireLock = (key: string, seconds = 1): Promise<unknown> =>
    db.dataSource.query(`UPDATE attempt_counter SET locked_until = now() - $2::int * interval '1 second' WHERE key = $1 AND isfinite(locked_until)`, [key, seconds]);

  before(async () => {
    testDb = await createTestDatabase();
    config = testConfig(testDb.env);
    db = await testDb.open(config);
    counters = createAttemptCounters(db.dataSource, config);
    policy = passwordPolicy(config);
  });

  after(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('passwordPolicy and securityCodePolicy follow X8 and the configuration', () => {
    expect(passwordPolicy(config)).to.include({ maxFailures: 5, lockSeconds: 900, hardCap: 100, delayFromFailure: 3 });
    const codes = securityCodePolicy(config);
    expect(codes).to.include({ maxFailures: 5, lockSeconds: 900, hardCap: 100 });
    expect(codes.windowSeconds).to.be.at.least(config.ttl.securityCode);
    expect(codes.delayFromFailure).to.equal(undefined);
    const stricter = testConfig({ PASSWORD_MAX_ATTEMPTS: '3', LOCKOUT_SECONDS: '120', AUTHENTICATOR_HARD_CAP: '10' });
    expect(passwordPolicy(stricter)).to.include({ maxFailures: 3, lockSeconds: 120, hardCap: 10 });
  });

  it('is not locked before any failure', async () => {
    expect(await counters.status(freshKey())).to.deep.include({ locked: false, disabled: false, retryAfterSeconds: 0, failures: 0 });
  });

  it('locks at the 5th failure for 15 minutes, with growing delays from the 3rd (A3)', async () => {
    const key = freshKey();
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await counters.recordFailure(key, policy));
    expect(results.map((r) => r.failures)).to.deep.equal([1, 2, 3, 4, 5]);
    expect(results.map((r) => r.locked)).to.deep.equal([false, false, false, false, true]);
    expect(results.map((r) => r.delayMs)).to.deep.equal([0, 0, 1000, 2000, 4000]);
    expect(results[4].retryAfterSeconds).to.be.within(899, 900);
    expect(results[4].disabled).to.equal(false);
    const status = await counters.status(key, { policy });
    expect(status).to.deep.include({ locked: true, disabled: false, failures: 5, consecutiveFailures: 5, delayMs: 4000 });
    expect(status.retryAfterSeconds).to.be.within(899, 900);
  });

  it('caps the delay at 4 seconds', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map((f) => delayFor(f, policy))).to.deep.equal([0, 0, 1000, 2000, 4000, 4000, 4000]);
    expect(delayFor(50, securityCodePolicy(config))).to.equal(0);
  });

  it('keeps reporting locked during the lock, so even the correct answer is refused (A3, B2)', async () => {
    const key = freshKey();
    for (let i = 0; i < 5; i++) await counters.recordFailure(key, policy);
    // The caller checks status before verifying: a correct password at this point never gets checked.
    expect((await counters.status(key)).locked).to.equal(true);
    // Failures arriving during the lock are counted but do not extend it.
    const before = (await counters.status(key)).retryAfterSeconds;
    await db.dataSource.query(`UPDATE attempt_counter SET locked_until = now() + interval '100 seconds' WHERE key = $1`, [key]);
    const during = await counters.recordFailure(key, policy);
    expect(during).to.include({ locked: true, failures: 6 });
    expect(during.retryAfterSeconds).to.be.within(99, 100);
    expect(before).to.be.greaterThan(100);
  });

  it('lifts the lock when it runs out and starts a new window, but keeps counting consecutive failures', async () => {
    const key = freshKey();
    for (let i = 0; i < 5; i++) await counters.recordFailure(key, policy);
    await expireLock(key);
    expect(await counters.status(key)).to.deep.include({ locked: false, consecutiveFailures: 5 });
    const next = await counters.recordFailure(key, policy);
    expect(next).to.include({ failures: 1, locked: false });
    expect((await counters.status(key)).consecutiveFailures).to.equal(6);
    // ...and the delay keeps growing with the consecutive count, not the new window.
    expect(next.delayMs).to.equal(4000);
  });

  it('forgets failures after the window when no lock happened, but not for the hard cap', async () => {
    const key = freshKey();
    for (let i = 0; i < 4; i++) await counters.recordFailure(key, policy);
    await db.dataSource.query(`UPDATE attempt_counter SET window_started_at = now() - interval '2 days' WHERE key = $1`, [key]);
    const next = await counters.recordFailure(key, policy);
    expect(next).to.include({ failures: 1, locked: false });
    expect((await counters.status(key)).consecutiveFailures).to.equal(5);
  });

  it('disables the authenticator at the hard cap of 100 consecutive failures, whatever time passes (NIST §3.2.2, B2)', async () => {
    const key = freshKey();
    let last;
    for (let i = 1; i <= 100; i++) {
      last = await counters.recordFailure(key, policy);
      if (i < 100) {
        expect(last.disabled, `failure ${i}`).to.equal(false);
        // Let time pass between rounds: locks run out and windows go stale.
        await expireLock(key);
        await db.dataSource.query(`UPDATE attempt_counter SET window_started_at = now() - interval '30 days' WHERE key = $1`, [key]);
      }
    }
    expect(last).to.include({ disabled: true, locked: true });
    // Time does not help: a stale window and "a year later" still leave it disabled.
    await db.dataSource.query(`UPDATE attempt_counter SET window_started_at = now() - interval '365 days', updated_at = now() - interval '365 days' WHERE key = $1`, [key]);
    expect(await counters.status(key)).to.deep.include({ locked: true, disabled: true, consecutiveFailures: 100 });
    // Only an explicit reset (rebinding: password reset, new phone) re-enables it.
    await counters.reset(key);
    expect(await counters.status(key)).to.deep.include({ locked: false, disabled: false, consecutiveFailures: 0 });
  });

  it('resets failures and the consecutive count on success', async () => {
    const key = freshKey();
    for (let i = 0; i < 4; i++) await counters.recordFailure(key, policy);
    await counters.recordSuccess(key);
    expect(await counters.status(key)).to.deep.include({ failures: 0, consecutiveFailures: 0, locked: false });
    const after = await counters.recordFailure(key, policy);
    expect(after).to.include({ failures: 1, locked: false, delayMs: 0 });
  });

  it('counts every one of 200 concurrent failures exactly once, and ends locked (B3)', async () => {
    const key = freshKey();
    const results = await Promise.all(Array.from({ length: 200 }, () => counters.recordFailure(key, policy)));
    const counts = results.map((r) => r.failures).sort((a, b) => a - b);
    expect(counts).to.deep.equal(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(results.filter((r) => r.locked)).to.have.length(196);
    const status = await counters.status(key);
    expect(status).to.deep.include({ locked: true, failures: 200, consecutiveFailures: 200, disabled: true });
  });

  it('lets exactly maxFailures of 200 concurrent reserved attempts through (B3: at most 5 guesses are checked)', async () => {
    const key = freshKey();
    const results = await Promise.all(Array.from({ length: 200 }, () => counters.reserveAttempt(key, policy)));
    expect(results.filter((r) => r.allowed)).to.have.length(5);
    expect(await counters.status(key)).to.deep.include({ locked: true, failures: 5, consecutiveFailures: 5 });
  });

  it('a reserved attempt that turns out right lifts the lock it started', async () => {
    const key = freshKey();
    for (let i = 0; i < 4; i++) expect((await counters.reserveAttempt(key, policy)).allowed).to.equal(true);
    const fifth = await counters.reserveAttempt(key, policy);
    expect(fifth).to.include({ allowed: true, locked: true });
    expect((await counters.reserveAttempt(key, policy)).allowed).to.equal(false);
    await counters.recordSuccess(key);
    expect((await counters.status(key)).locked).to.equal(false);
  });

  it('a reserved attempt given back (never checked, e.g. a busy photo decoder) uncounts itself and lifts the lock it started, but never a hard-cap lock', async () => {
    const quota: LockoutPolicy = { maxFailures: 3, lockSeconds: 86_400, windowSeconds: 86_400 };
    const key = freshKey();
    for (let i = 0; i < 3; i++) expect((await counters.reserveAttempt(key, quota)).allowed).to.equal(true);
    expect(await counters.status(key), 'the third reservation locked the counter').to.deep.include({ locked: true, failures: 3 });
    await counters.releaseAttempt(key, quota);
    expect(await counters.status(key)).to.deep.include({ locked: false, failures: 2 });
    expect((await counters.reserveAttempt(key, quota)).allowed, 'the given-back attempt can be used again').to.equal(true);
    expect((await counters.reserveAttempt(key, quota)).allowed, 'and no more than that').to.equal(false);

    const capped = freshKey();
    const hard: LockoutPolicy = { maxFailures: 3, lockSeconds: 60, hardCap: 2 };
    await counters.reserveAttempt(capped, hard);
    await counters.reserveAttempt(capped, hard);
    await counters.releaseAttempt(capped, hard);
    expect(await counters.status(capped), 'a hard cap is not undone').to.deep.include({ disabled: true });

    const untouched = freshKey();
    await counters.releaseAttempt(untouched, quota);
    expect(await counters.status(untouched)).to.deep.include({ failures: 0, locked: false });
  });

  it('keeps counters for different keys apart', async () => {
    const a = freshKey();
    const b = freshKey();
    for (let i = 0; i < 5; i++) await counters.recordFailure(a, policy);
    expect((await counters.status(a)).locked).to.equal(true);
    expect((await counters.status(b)).locked).to.equal(false);
  });

  describe('ordered caps in one statement (countWithinCaps, B4)', () => {
    const caps = (cap: number): CapUse[] => [
      { key: `${freshKey()}:first`, cap, windowSeconds: 3600 },
      { key: `${freshKey()}:second`, cap: 100, windowSeconds: 3600 },
    ];
    const used = async (key: string): Promise<number> => {
      const [row]: { failures: number }[] = await db.dataSource.query('SELECT failures FROM attempt_counter WHERE key = $1', [key]);
      return row ? Number(row.failures) : 0;
    };

    it('counts every cap while each lets the use through', async () => {
      const lock = freshKey();
      const [first, second] = caps(3);
      for (let i = 0; i < 3; i++) expect(await countWithinCaps(db.dataSource, lock, [first!, second!])).to.deep.include({ refusedBy: null });
      expect([await used(first!.key), await used(second!.key)]).to.deep.equal([3, 3]);
    });

    it('a use refused by one cap is not counted by the caps after it', async () => {
      const [first, second] = caps(2);
      const results = [];
      for (let i = 0; i < 5; i++) results.push((await countWithinCaps(db.dataSource, freshKey(), [first!, second!])).refusedBy);
      expect(results).to.deep.equal([null, null, 0, 0, 0]);
      expect(await used(second!.key), 'the second cap counted only the two uses the first let through').to.equal(2);
    });

    it('counts nothing while the step is locked, and reports the lock', async () => {
      const lock = freshKey();
      for (let i = 0; i < policy.maxFailures; i++) await counters.recordFailure(lock, policy);
      const [first, second] = caps(10);
      const result = await countWithinCaps(db.dataSource, lock, [first!, second!]);
      expect(result.refusedBy).to.equal(null);
      expect(result.lock).to.deep.include({ locked: true });
      expect(result.lock.retryAfterSeconds).to.be.greaterThan(0);
      expect([await used(first!.key), await used(second!.key)]).to.deep.equal([0, 0]);
    });

    it('lets exactly `cap` of 100 concurrent uses through, each counted once by the next cap', async () => {
      const [first, second] = caps(7);
      const results = await Promise.all(Array.from({ length: 100 }, () => countWithinCaps(db.dataSource, freshKey(), [first!, second!])));
      expect(results.filter((r) => r.refusedBy === null)).to.have.length(7);
      expect([await used(first!.key), await used(second!.key)]).to.deep.equal([7, 7]);
    });
  });

  describe('per-IP throttle (A4)', () => {
    it('blocks an IP once it reaches config.limits.ipFailures failures in the window, across accounts', async () => {
      const ip = '203.0.113.7';
      for (let i = 1; i < config.limits.ipFailures; i++) expect(await counters.recordIpFailure(ip), `failure ${i}`).to.equal(false);
      expect((await counters.ipBlocked(ip)).blocked).to.equal(false);
      expect(await counters.recordIpFailure(ip)).to.equal(true);
      const blocked = await counters.ipBlocked(ip);
      expect(blocked.blocked).to.equal(true);
      expect(blocked.retryAfterSeconds).to.be.within(config.limits.ipFailureWindow - 1, config.limits.ipFailureWindow);
      // Another address (a legitimate user elsewhere) is unaffected.
      expect((await counters.ipBlocked('203.0.113.8')).blocked).to.equal(false);
    });

    it('counts 200 concurrent failures from one IP and blocks it', async () => {
      const ip = '198.51.100.20';
      const results = await Promise.all(Array.from({ length: 200 }, () => counters.recordIpFailure(ip)));
      expect(results.filter((blocked) => !blocked)).to.have.length(config.limits.ipFailures - 1);
      expect((await counters.ipBlocked(ip)).blocked).to.equal(true);
    });

    it('unblocks after the window', async () => {
      const ip = '198.51.100.30';
      for (let i = 0; i < config.limits.ipFailures; i++) await counters.recordIpFailure(ip);
      expect((await counters.ipBlocked(ip)).blocked).to.equal(true);
      await db.dataSource.query(`UPDATE attempt_counter SET locked_until = now() - interval '1 second', window_started_at = now() - interval '1 hour' WHERE key = $1`, [ipThrottleKey(ip)]);
      expect((await counters.ipBlocked(ip)).blocked).to.equal(false);
      expect(await counters.recordIpFailure(ip)).to.equal(false);
    });

    it('forgets failures older than the window', async () => {
      const ip = '198.51.100.40';
      for (let i = 1; i < config.limits.ipFailures; i++) await counters.recordIpFailure(ip);
      await db.dataSource.query(`UPDATE attempt_counter SET window_started_at = now() - $2::int * interval '1 second' WHERE key = $1`, [ipThrottleKey(ip), config.limits.ipFailureWindow + 1]);
      expect(await counters.recordIpFailure(ip)).to.equal(false);
    });

    it('treats an IPv6 /64 as one address and IPv4-mapped IPv6 as IPv4', async () => {
      expect(ipThrottleKey('2001:db8:1:2:aaaa::1')).to.equal(ipThrottleKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
      expect(ipThrottleKey('2001:db8:1:2::1')).to.not.equal(ipThrottleKey('2001:db8:1:3::1'));
      expect(ipThrottleKey('::ffff:192.0.2.1')).to.equal(ipThrottleKey('192.0.2.1'));
      expect(ipThrottleKey('::1')).to.equal('ip:0:0:0:0::/64');
      for (let i = 0; i < config.limits.ipFailures; i++) await counters.recordIpFailure(`2001:db8:9:9::${(i + 1).toString(16)}`);
      expect((await counters.ipBlocked('2001:db8:9:9:1234:5678:9abc:def0')).blocked).to.equal(true);
      expect((await counters.ipBlocked('2001:db8:9:a::1')).blocked).to.equal(false);
    });
  });
});
