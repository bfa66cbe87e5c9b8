import { expect } from 'chai';
import { accountLocks, AccountsUsageError, parseAccountsArgs, unlockAccount } from '../../src/cli/accounts.js';
import { identityCheckPolicy, lockoutKeys, passwordPolicy, photoIdUploadPolicy, securityCodePolicy } from '../../src/security/attempt-counters.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createAccount } from '../interactions/support.js';

describe('npm run accounts (the support desk lifts lockouts)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  it('lists an account\'s counters, and unlock lifts them all (a hard-cap lock too) and audits who asked why', async () => {
    const account = await createAccount(test);
    const other = await createAccount(test);
    const { counters, audit } = test.idp.services;
    for (let i = 0; i < 5; i++) await counters.recordFailure(lockoutKeys.password(account.id), passwordPolicy(test.idp.config));
    await counters.recordFailure(lockoutKeys.securityCode(account.id, 'sign-in'), securityCodePolicy(test.idp.config));
    await test.idp.db.dataSource.query(
      `INSERT INTO attempt_counter (key, failures, consecutive_failures, window_started_at, locked_until, updated_at) VALUES ($1, 0, 100, now(), 'infinity', now())`,
      [lockoutKeys.authenticatorApp(account.id)],
    );
    await counters.recordFailure(lockoutKeys.identityCheck(account.id), identityCheckPolicy(test.idp.config));
    await counters.recordFailure(lockoutKeys.photoIdUpload(account.id), photoIdUploadPolicy(test.idp.config));
    await counters.recordFailure(lockoutKeys.recoveryCode(account.id), securityCodePolicy(test.idp.config));
    await counters.recordFailure(lockoutKeys.password(other.id), passwordPolicy(test.idp.config));

    const locks = await accountLocks(test.idp.db.dataSource, account.email.toUpperCase());
    expect(locks!.map((l) => l.what)).to.have.members(['password', 'security code (sign-in)', 'authenticator app', 'recovery codes', 'identity check', 'photo ID uploads (per day)']);
    expect(locks!.find((l) => l.what === 'authenticator app')).to.include({ lockedUntil: 'never', consecutiveFailures: 100 });
    expect(locks!.find((l) => l.what === 'password')!.lockedUntil).to.be.instanceOf(Date);
    expect(locks!.find((l) => l.what === 'security code (sign-in)')!.lockedUntil).to.equal(null);

    expect(await unlockAccount(test.idp.db.dataSource, audit, account.email, 'caller passed ID checks, ticket 1234')).to.equal(6);
    expect(await accountLocks(test.idp.db.dataSource, account.email)).to.deep.equal([]);
    expect((await counters.status(lockoutKeys.authenticatorApp(account.id))).disabled).to.equal(false);
    // Another account's counters are untouched.
    expect(await accountLocks(test.idp.db.dataSource, other.email)).to.have.length(1);
    const [row] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'account.unlocked'`, [account.id]);
    expect(row.detail).to.deep.include({ by: 'operator', note: 'caller passed ID checks, ticket 1234', counters: 6 });
  });

  it('says when no account has the address', async () => {
    expect(await accountLocks(test.idp.db.dataSource, 'nobody@example.test')).to.equal(undefined);
    expect(await unlockAccount(test.idp.db.dataSource, test.idp.services.audit, 'nobody@example.test', 'x')).to.equal(undefined);
  });

  it('needs a command, an email address, and a reason to unlock', () => {
    expect(() => parseAccountsArgs([])).to.throw(AccountsUsageError);
    expect(() => parseAccountsArgs(['locks'])).to.throw(AccountsUsageError, /--email/);
    expect(() => parseAccountsArgs(['unlock', '--email', 'a@example.test'])).to.throw(AccountsUsageError, /--reason/);
    expect(() => parseAccountsArgs(['unlock', '--email', 'a@example.test', '--reason', '  '])).to.throw(AccountsUsageError, /--reason/);
    expect(parseAccountsArgs(['unlock', '--email', 'a@example.test', '--reason', ' checked '])).to.deep.equal({ command: 'unlock', email: 'a@example.test', reason: 'checked' });
  });
});
