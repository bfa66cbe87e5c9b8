import { expect } from 'chai';
import { normaliseEmail } from '../../entities/account.js';
import { issueEmailConfirmationCode, mayEmailForRegistration } from '../../src/accounts/registration.js';
import { createRememberedDevices } from '../../src/accounts/remembered-devices.js';
import type { TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { lockoutKeys, passwordPolicy } from '../../src/security/attempt-counters.js';
import { addPasskey, createAccount, errorSummary, heading } from '../interactions/support.js';
import { outbox, signInToAccount, startAccountTestIdp, TEST_PASSWORD } from './support.js';

describe('Your account: deleting the account', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => {
    await test?.close();
  });

  async function count(sql: string, params: unknown[]): Promise<number> {
    const rows: { n: string | number }[] = await test.idp.db.dataSource.query(sql, params);
    return Number(rows[0]!.n);
  }

  it('after a confirmation page, removes the account and everything of it in one go, revokes services\' tokens and keeps the goodbye email', async () => {
    const account = await createAccount(test);
    const bystander = await createAccount(test);
    await createRememberedDevices(test.idp.db.dataSource, test.idp.config).remember(account.id, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36');
    await test.idp.db.dataSource.query(`INSERT INTO client_user_metadata (account_id, client_id, value) VALUES ($1, $2, 'kept by a service')`, [account.id, test.rp.clientId]);
    await addPasskey(test, account);
    await addPasskey(test, bystander);
    const rpSignIn = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    const tokens = await test.rp.exchange(rpSignIn.callbackUrl, rpSignIn.request);
    const other = await signIn(test, { email: bystander.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    const otherTokens = await test.rp.exchange(other.callbackUrl, other.request);

    const browser = rpSignIn.browser;
    const confirm = await browser.get(`${test.url}/account/delete`);
    expect(heading(confirm)).to.equal('Delete your carelogin account');
    expect(await count(`SELECT count(*) AS n FROM account WHERE id = $1`, [account.id]), 'the confirmation page itself deletes nothing').to.equal(1);
    const done = await browser.submit(confirm, { password: TEST_PASSWORD });
    expect(heading(done)).to.equal('Your account has been deleted');

    expect(await count(`SELECT count(*) AS n FROM account WHERE id = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM passkey WHERE account_id = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM passkey WHERE account_id = $1`, [bystander.id]), 'another account keeps its passkey').to.equal(1);
    expect(await count(`SELECT count(*) AS n FROM client_user_metadata WHERE account_id = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM security_code WHERE account_id = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM oidc_model WHERE payload->>'accountId' = $1`, [account.id])).to.equal(0);
    expect(await count(`SELECT count(*) AS n FROM outbox_message WHERE account_id = $1`, [account.id])).to.equal(0);
    const goodbye = await outbox(test, account.email, 'account-deleted');
    expect(goodbye).to.have.length(1);
    expect(goodbye[0]!.account_id).to.equal(null);

    const userinfo = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).to.equal(401);
    const bystanderInfo = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${otherTokens.access_token}` } });
    expect(bystanderInfo.status).to.equal(200);
    expect(await count(`SELECT count(*) AS n FROM account WHERE id = $1`, [bystander.id])).to.equal(1);

    // Signed out: the account page asks to sign in again.
    expect((await browser.get(`${test.url}/account`)).url).to.match(/\/interaction\//);
  });

  it('leaves no row holding the address: codes and counters kept without the account id, and the lockout counters, go too', async () => {
    const account = await createAccount(test);
    const { services } = test.idp;
    // What an abandoned registration of the same address leaves behind: a code with no account, and the email count.
    await test.idp.db.dataSource.transaction(async (manager) => {
      await issueEmailConfirmationCode(services.codes, manager, 'abandoned-registration-journey', account.email);
      await mayEmailForRegistration(services, manager, account.email);
    });
    await services.counters.recordFailure(`password:${account.id}`, { maxFailures: 5, lockSeconds: 900 });
    const { browser } = await signInToAccount(test, account);
    await services.counters.recordFailure(`security-code:sign-in:${account.id}`, { maxFailures: 5, lockSeconds: 900 });
    // And every other counter kept by account id: identity checks, photo ID uploads, recovery codes.
    for (const key of [lockoutKeys.identityCheck(account.id), lockoutKeys.photoIdUpload(account.id), lockoutKeys.recoveryCode(account.id)]) {
      await services.counters.recordFailure(key, { maxFailures: 5, lockSeconds: 900 });
    }
    const addressRows = async (): Promise<number> =>
      (await count(`SELECT count(*) AS n FROM security_code WHERE lower(destination) = $1 OR destination = $2`, [normaliseEmail(account.email), account.mobileNumber])) +
      (await count(`SELECT count(*) AS n FROM journey_state WHERE lower(facts->>'email') = $1`, [normaliseEmail(account.email)])) +
      (await count(`SELECT count(*) AS n FROM attempt_counter WHERE key LIKE 'registration-emails:%' AND key = $1`, [`registration-emails:${services.digest('registration-emails', normaliseEmail(account.email))}`])) +
      (await count(`SELECT count(*) AS n FROM attempt_counter WHERE key LIKE '%' || $1::text`, [account.id]));
    expect(await addressRows(), 'rows before the deletion').to.be.greaterThan(5);
    const done = await browser.submit(await browser.get(`${test.url}/account/delete`), { password: TEST_PASSWORD });
    expect(heading(done)).to.equal('Your account has been deleted');
    expect(await addressRows()).to.equal(0);
  });

  it('asks for the password: none, or a wrong one, deletes nothing, with an error linked to the field, and counts against the password lock (X8)', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    const confirm = await browser.get(`${test.url}/account/delete`);
    expect(confirm.html).to.match(/<label[^>]*for="password"[^>]*>\s*Password\s*<\/label>/);
    expect(confirm.html).to.include('autocomplete="current-password"');
    const empty = await browser.submit(confirm, {});
    expect(empty.status).to.equal(400);
    expect(heading(empty)).to.equal('Delete your carelogin account');
    expect(errorSummary(empty)).to.deep.equal(['Enter your password']);
    expect(empty.html).to.include('href="#password"');
    const wrong = await browser.submit(empty, { password: `${TEST_PASSWORD}-wrong` });
    expect(wrong.status).to.equal(400);
    expect(errorSummary(wrong)).to.deep.equal(['Your password is not correct']);
    expect(await count(`SELECT count(*) AS n FROM account WHERE id = $1`, [account.id])).to.equal(1);
    expect(await count(`SELECT failures AS n FROM attempt_counter WHERE key = $1`, [`password:${account.id}`])).to.equal(1);

    // The same lock as signing in and the password page: once it is reached, even the right password deletes nothing.
    const policy = passwordPolicy(test.idp.config);
    for (let i = 1; i < policy.maxFailures; i++) await test.idp.services.counters.recordFailure(`password:${account.id}`, policy);
    const locked = await browser.submit(wrong, { password: TEST_PASSWORD });
    expect(locked.status).to.equal(429);
    expect(errorSummary(locked)).to.deep.equal(['You have entered the wrong password too many times. Try again later']);
    expect(await count(`SELECT count(*) AS n FROM account WHERE id = $1`, [account.id])).to.equal(1);
    const passwordPage = await browser.submit(await browser.get(`${test.url}/account/password`), { currentPassword: TEST_PASSWORD, newPassword: 'violet-harbour-compass-42' });
    expect(passwordPage.status).to.equal(429);
  });
});
