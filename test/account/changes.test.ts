import { expect } from 'chai';
import { createPasswordReset } from '../../src/accounts/password-reset.js';
import { createRememberedDevices } from '../../src/accounts/remembered-devices.js';
import { pageText } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { latestResetLink } from '../interactions/recovery-helpers.js';
import { createAccount, errorSummary, heading, latestSmsCode, wrongCode } from '../interactions/support.js';
import { outbox, signInToAccount, startAccountTestIdp, TEST_PASSWORD } from './support.js';

const NEW_PASSWORD = 'violet-harbour-compass-42';

describe('Your account: changing the password, email address and mobile number', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => {
    await test?.close();
  });

  async function passwordHash(accountId: string): Promise<string> {
    const [row] = await test.idp.db.dataSource.query(`SELECT password_hash FROM account WHERE id = $1`, [accountId]);
    return row.password_hash as string;
  }

  async function emailCode(to: string): Promise<string> {
    const [row] = await outbox(test, to, 'email-confirmation-code');
    const match = /\b(\d{6})\b/.exec(row?.body ?? '');
    if (!match) throw new Error(`no code sent to ${to}`);
    return match[1]!;
  }

  /** Asks for a "forgotten your password" link; returns whether it is live, to ask again later. */
  async function resetLink(email: string): Promise<() => Promise<boolean>> {
    const resets = createPasswordReset(test.idp.services);
    await resets.request(email, {});
    const token = (await latestResetLink(test, email)).split('/').pop()!;
    expect(await resets.find(token), 'the link works before the change').to.not.equal(null);
    return async () => (await resets.find(token)) !== null;
  }

  describe('password', () => {
    it('changes the password with the current one, emails the patient, signs out other sessions, revokes services\' tokens and forgets devices', async () => {
      const account = await createAccount(test);
      await createRememberedDevices(test.idp.db.dataSource, test.idp.config).remember(account.id, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36');
      const atService = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
      const tokens = await test.rp.exchange(atService.callbackUrl, atService.request);
      const elsewhere = await signInToAccount(test, account);
      const { browser } = await signInToAccount(test, account);
      const form = await browser.get(`${test.url}/account/password`);
      expect(heading(form)).to.equal('Change your password');
      const done = await browser.submit(form, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
      expect(heading(done)).to.equal('Your account');
      expect(pageText(done)).to.include('Your password has been changed');
      expect(await test.idp.services.hasher.verify(await passwordHash(account.id), NEW_PASSWORD)).to.equal(true);
      expect(await outbox(test, account.email, 'password-changed')).to.have.length(1);
      expect(await outbox(test, account.mobileNumber!, 'password-changed-sms')).to.have.length(1);
      // The other browser is signed out; this one is not.
      expect(heading(await elsewhere.browser.get(`${test.url}/account`))).to.equal('You have been signed out');
      expect(heading(await browser.get(`${test.url}/account`))).to.equal('Your account');
      const userinfo = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(userinfo.status).to.equal(401);
      const [devices] = await test.idp.db.dataSource.query(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [account.id]);
      expect(Number(devices.n)).to.equal(0);
      // The new password signs in; the old one does not.
      await signIn(test, { email: account.email, password: NEW_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    });

    it('a reset link asked for before the change no longer works after it', async () => {
      const account = await createAccount(test);
      const linkLive = await resetLink(account.email);
      const { browser } = await signInToAccount(test, account);
      const done = await browser.submit(await browser.get(`${test.url}/account/password`), { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
      expect(pageText(done)).to.include('Your password has been changed');
      expect(await linkLive()).to.equal(false);
    });

    it('refuses a wrong current password, and a new password that breaks the policy, changing nothing', async () => {
      const account = await createAccount(test);
      const before = await passwordHash(account.id);
      const { browser } = await signInToAccount(test, account);
      const form = await browser.get(`${test.url}/account/password`);
      const wrong = await browser.submit(form, { currentPassword: 'not my password at all', newPassword: NEW_PASSWORD });
      expect(wrong.status).to.equal(400);
      expect(errorSummary(wrong)).to.deep.equal(['Your current password is not correct']);
      const short = await browser.submit(wrong, { currentPassword: TEST_PASSWORD, newPassword: 'short' });
      expect(short.status).to.equal(400);
      expect(errorSummary(short)).to.have.length(1);
      expect(errorSummary(short)[0]).to.match(/12 characters/);
      const common = await browser.submit(short, { currentPassword: TEST_PASSWORD, newPassword: 'password1234' });
      expect(common.status).to.equal(400);
      const same = await browser.submit(common, { currentPassword: TEST_PASSWORD, newPassword: TEST_PASSWORD });
      expect(same.status).to.equal(400);
      expect(await passwordHash(account.id)).to.equal(before);
      expect(await outbox(test, account.email, 'password-changed')).to.have.length(0);
    });
  });

  describe('email address', () => {
    it('changes the email once the code sent to the new address is entered, and tells the old address', async () => {
      const account = await createAccount(test);
      const newEmail = `new-${account.email}`;
      const { browser } = await signInToAccount(test, account);
      const form = await browser.get(`${test.url}/account/email`);
      const check = await browser.submit(form, { email: newEmail, password: TEST_PASSWORD });
      expect(heading(check)).to.equal('Check your email');
      const bad = await browser.submit(check, { code: wrongCode(await emailCode(newEmail)) });
      expect(bad.status).to.equal(400);
      expect(errorSummary(bad)).to.deep.equal(['The security code is not correct']);
      const done = await browser.submit(bad, { code: await emailCode(newEmail) });
      expect(pageText(done)).to.include('Your email address has been changed');
      expect(pageText(done)).to.include(newEmail);
      const [row] = await test.idp.db.dataSource.query(`SELECT email, email_normalised FROM account WHERE id = $1`, [account.id]);
      expect(row).to.deep.equal({ email: newEmail, email_normalised: newEmail.toLowerCase() });
      expect(await outbox(test, account.email, 'email-changed')).to.have.length(1);
    });

    it('a reset link sent to the old address before the change no longer works after it', async () => {
      const account = await createAccount(test);
      const linkLive = await resetLink(account.email);
      const newEmail = `relinked-${account.email}`;
      const { browser } = await signInToAccount(test, account);
      const check = await browser.submit(await browser.get(`${test.url}/account/email`), { email: newEmail, password: TEST_PASSWORD });
      const done = await browser.submit(check, { code: await emailCode(newEmail) });
      expect(pageText(done)).to.include('Your email address has been changed');
      expect(await linkLive()).to.equal(false);
    });

    it('an address another account uses: the same "check your email" page, no code sent, and no code works', async () => {
      const account = await createAccount(test);
      const owner = await createAccount(test);
      const fresh = `fresh-${account.email}`;
      const { browser } = await signInToAccount(test, account);
      const takenPage = await browser.submit(await browser.get(`${test.url}/account/email`), { email: owner.email.toUpperCase(), password: TEST_PASSWORD });
      const freshPage = await browser.submit(await browser.get(`${test.url}/account/email`), { email: fresh, password: TEST_PASSWORD });
      expect(takenPage.status).to.equal(freshPage.status);
      expect(heading(takenPage)).to.equal(heading(freshPage));
      expect(pageText(takenPage).replace(owner.email.toUpperCase(), 'X')).to.equal(pageText(freshPage).replace(fresh, 'X'));
      expect(await outbox(test, owner.email.toUpperCase(), 'email-confirmation-code')).to.have.length(0);
      expect(await outbox(test, owner.email, 'email-confirmation-code')).to.have.length(0);
      // Neither a guess nor the code sent for the other address confirms the taken one.
      const guess = await browser.submit(takenPage, { code: '123456' });
      expect(errorSummary(guess)).to.deep.equal(['The security code is not correct']);
      const swapped = await browser.post(`${test.url}/account/email/confirm`, { _csrf: /name="_csrf" value="([^"]+)"/.exec(takenPage.html)![1]!, email: owner.email, code: await emailCode(fresh) });
      expect(swapped.status).to.equal(400);
      const [row] = await test.idp.db.dataSource.query(`SELECT email FROM account WHERE id = $1`, [account.id]);
      expect(row.email).to.equal(account.email);
    });

    it('an address held only by an unconfirmed (abandoned) registration: the code is sent, and confirming replaces that registration', async () => {
      const account = await createAccount(test);
      const abandoned = `abandoned-${account.email}`;
      const [stale] = await test.idp.db.dataSource.query(
        `INSERT INTO account (email, email_normalised, password_hash, status) VALUES ($1, $2, 'x', 'active') RETURNING id`,
        [abandoned, abandoned.toLowerCase()],
      );
      const { browser } = await signInToAccount(test, account);
      const check = await browser.submit(await browser.get(`${test.url}/account/email`), { email: abandoned.toUpperCase(), password: TEST_PASSWORD });
      expect(heading(check)).to.equal('Check your email');
      const done = await browser.submit(check, { code: await emailCode(abandoned.toUpperCase()) });
      expect(pageText(done)).to.include('Your email address has been changed');
      const [row] = await test.idp.db.dataSource.query(`SELECT email_normalised FROM account WHERE id = $1`, [account.id]);
      expect(row.email_normalised).to.equal(abandoned.toLowerCase());
      expect(await test.idp.db.dataSource.query(`SELECT 1 FROM account WHERE id = $1`, [stale.id])).to.have.length(0);
    });

    it('an address taken by another account between the code and its confirmation is not changed to, even with the right code', async () => {
      const account = await createAccount(test);
      const racer = await createAccount(test);
      const wanted = `wanted-${account.email}`;
      const { browser } = await signInToAccount(test, account);
      const check = await browser.submit(await browser.get(`${test.url}/account/email`), { email: wanted, password: TEST_PASSWORD });
      await test.idp.db.dataSource.query(`UPDATE account SET email = $2, email_normalised = $2 WHERE id = $1`, [racer.id, wanted]);
      const page = await browser.submit(check, { code: await emailCode(wanted) });
      expect(page.status).to.equal(400);
      expect(errorSummary(page)).to.deep.equal(['The security code is not correct']);
      const [row] = await test.idp.db.dataSource.query(`SELECT email FROM account WHERE id = $1`, [account.id]);
      expect(row.email).to.equal(account.email);
      expect(await outbox(test, account.email, 'email-changed')).to.have.length(0);
    });

    it('two accounts confirming the same new address at once: exactly one gets it (H1)', async () => {
      const wanted = `contested-${Date.now()}@example.test`;
      const pending = [];
      for (let i = 0; i < 2; i++) {
        const account = await createAccount(test);
        const { browser } = await signInToAccount(test, account);
        const check = await browser.submit(await browser.get(`${test.url}/account/email`), { email: wanted, password: TEST_PASSWORD });
        pending.push({ browser, check, code: await emailCode(wanted) });
      }
      const results = await Promise.all(pending.map((p) => p.browser.submit(p.check, { code: p.code })));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).to.deep.equal([200, 400]);
      const rows: { n: string | number }[] = await test.idp.db.dataSource.query(`SELECT count(*) AS n FROM account WHERE email_normalised = $1`, [wanted]);
      expect(Number(rows[0]!.n)).to.equal(1);
    });

    it('asks for the password: none, or a wrong one, sends no code, with an error linked to the field, and counts against the password lock (X8)', async () => {
      const account = await createAccount(test);
      const newEmail = `unproven-${account.email}`;
      const { browser } = await signInToAccount(test, account);
      const form = await browser.get(`${test.url}/account/email`);
      expect(form.html).to.match(/<label[^>]*for="password"[^>]*>\s*Password\s*<\/label>/);
      expect(form.html).to.include('autocomplete="current-password"');
      const empty = await browser.submit(form, { email: newEmail });
      expect(empty.status).to.equal(400);
      expect(heading(empty)).to.equal('Change your email address');
      expect(errorSummary(empty)).to.deep.equal(['Enter your password']);
      expect(empty.html).to.include('href="#password"');
      const wrong = await browser.submit(empty, { email: newEmail, password: `${TEST_PASSWORD}-wrong` });
      expect(wrong.status).to.equal(400);
      expect(errorSummary(wrong)).to.deep.equal(['Your password is not correct']);
      expect(await outbox(test, newEmail, 'email-confirmation-code')).to.have.length(0);
      const [counter] = await test.idp.db.dataSource.query(`SELECT failures FROM attempt_counter WHERE key = $1`, [`password:${account.id}`]);
      expect(Number(counter.failures)).to.equal(1);
      const right = await browser.submit(wrong, { email: newEmail, password: TEST_PASSWORD });
      expect(heading(right)).to.equal('Check your email');
    });

    it('refuses a malformed address and the current one', async () => {
      const account = await createAccount(test);
      const { browser } = await signInToAccount(test, account);
      const form = await browser.get(`${test.url}/account/email`);
      const malformed = await browser.submit(form, { email: 'not-an-email', password: TEST_PASSWORD });
      expect(malformed.status).to.equal(400);
      expect(errorSummary(malformed)[0]).to.match(/correct format/);
      // The one address rule (src/accounts/email-address.ts): what the outbox or PostgreSQL would refuse is a 400, never a 500.
      for (const email of ['new,addr@example.com', 'a"b@example.com', 'a<b>@example.com', 'nul\u0000@example.com']) {
        const refused = await browser.submit(malformed, { email, password: TEST_PASSWORD });
        expect(refused.status, JSON.stringify(email)).to.equal(400);
        expect(errorSummary(refused)[0], JSON.stringify(email)).to.match(/correct format/);
      }
      const same = await browser.submit(malformed, { email: account.email.toUpperCase(), password: TEST_PASSWORD });
      expect(errorSummary(same)[0]).to.match(/already your email address/);
    });
  });

  describe('the same form submitted twice (a double click, a resubmission)', () => {
    it('change password: the second answer is the same success page, and no failure is counted', async () => {
      const account = await createAccount(test);
      const { browser } = await signInToAccount(test, account);
      const form = await browser.get(`${test.url}/account/password`);
      for (const attempt of ['first', 'second']) {
        const page = await browser.submit(form, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
        expect(page.status, attempt).to.equal(200);
        expect(pageText(page), attempt).to.include('Your password has been changed');
      }
      expect(await test.idp.services.hasher.verify(await passwordHash(account.id), NEW_PASSWORD)).to.equal(true);
      const counters = await test.idp.db.dataSource.query(`SELECT failures FROM attempt_counter WHERE key = $1 AND failures > 0`, [`password:${account.id}`]);
      expect(counters).to.have.length(0);
      const failed = await test.idp.db.dataSource.query(`SELECT 1 FROM audit_event WHERE account_id = $1 AND type = 'password.change_failed'`, [account.id]);
      expect(failed).to.have.length(0);
      expect(await outbox(test, account.email, 'password-changed')).to.have.length(1);
    });

    it('change password: long after a change, the new password in the form does not stand in for a wrong current one', async () => {
      const account = await createAccount(test);
      const { browser } = await signInToAccount(test, account);
      const form = await browser.get(`${test.url}/account/password`);
      await browser.submit(form, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
      // The audit trail is append-only (H3): the test ages the row with triggers off, as only a superuser can.
      await test.idp.db.dataSource.transaction(async (manager) => {
        await manager.query(`SET LOCAL session_replication_role = replica`);
        await manager.query(`UPDATE audit_event SET at = at - interval '1 hour' WHERE account_id = $1 AND type = 'password.changed'`, [account.id]);
      });
      const again = await browser.submit(form, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
      expect(again.status).to.equal(400);
      expect(errorSummary(again)).to.deep.equal(['Your current password is not correct']);
    });

    it('confirm new email address: the second answer is the same success page, not "the security code is not correct"', async () => {
      const account = await createAccount(test);
      const newEmail = `twice-${account.email}`;
      const { browser } = await signInToAccount(test, account);
      const check = await browser.submit(await browser.get(`${test.url}/account/email`), { email: newEmail, password: TEST_PASSWORD });
      const code = await emailCode(newEmail);
      for (const attempt of ['first', 'second']) {
        const page = await browser.submit(check, { code });
        expect(page.status, attempt).to.equal(200);
        expect(pageText(page), attempt).to.include('Your email address has been changed');
      }
      expect(await outbox(test, account.email, 'email-changed')).to.have.length(1);
    });

    it('confirm new mobile number: the second answer is the same success page', async () => {
      const account = await createAccount(test);
      const newMobile = '+447912345671';
      const { browser } = await signInToAccount(test, account);
      const check = await browser.submit(await browser.get(`${test.url}/account/mobile`), { mobile: newMobile });
      const code = await latestSmsCode(test, newMobile);
      for (const attempt of ['first', 'second']) {
        const page = await browser.submit(check, { code });
        expect(page.status, attempt).to.equal(200);
        expect(pageText(page), attempt).to.include('Your mobile phone number has been changed');
      }
      expect(await outbox(test, account.email, 'mobile-changed')).to.have.length(1);
    });
  });

  describe('mobile number', () => {
    it('changes the mobile once the code texted to the new number is entered; emails the patient and texts the old number', async () => {
      const account = await createAccount(test);
      const newMobile = '+447912345678';
      const { browser } = await signInToAccount(test, account);
      const check = await browser.submit(await browser.get(`${test.url}/account/mobile`), { mobile: '07912 345678' });
      expect(heading(check)).to.equal('Check your mobile phone');
      const bad = await browser.submit(check, { code: wrongCode(await latestSmsCode(test, newMobile)) });
      expect(errorSummary(bad)).to.deep.equal(['The security code is not correct']);
      const done = await browser.submit(bad, { code: await latestSmsCode(test, newMobile) });
      expect(pageText(done)).to.include('Your mobile phone number has been changed');
      expect(pageText(done)).to.include('Ending in 5678');
      const [row] = await test.idp.db.dataSource.query(`SELECT mobile_number FROM account WHERE id = $1`, [account.id]);
      expect(row.mobile_number).to.equal(newMobile);
      expect(await outbox(test, account.email, 'mobile-changed')).to.have.length(1);
      expect(await outbox(test, account.mobileNumber!, 'mobile-changed-sms')).to.have.length(1);
    });

    it('forgets remembered devices when the number changes, an MFA change (X2, B9), and says so', async () => {
      const account = await createAccount(test);
      await createRememberedDevices(test.idp.db.dataSource, test.idp.config).remember(account.id, 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36');
      const newMobile = '+447912345670';
      const { browser } = await signInToAccount(test, account);
      const check = await browser.submit(await browser.get(`${test.url}/account/mobile`), { mobile: newMobile });
      const done = await browser.submit(check, { code: await latestSmsCode(test, newMobile) });
      const [devices] = await test.idp.db.dataSource.query(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [account.id]);
      expect(Number(devices.n)).to.equal(0);
      expect(pageText(done)).to.include('Remembered devices have been removed');
      const [event] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'mobile.changed'`, [account.id]);
      expect(event.detail).to.include({ devicesRemoved: 1 });
      expect(await outbox(test, account.mobileNumber!, 'mobile-changed-sms')).to.have.length(1);
    });

    it('refuses numbers that are not UK mobiles', async () => {
      const account = await createAccount(test);
      const { browser } = await signInToAccount(test, account);
      const form = await browser.get(`${test.url}/account/mobile`);
      for (const number of ['+33 6 12 34 56 78', '020 7946 0018', 'not a number']) {
        const page = await browser.submit(form, { mobile: number });
        expect(page.status, number).to.equal(400);
        expect(errorSummary(page)[0], number).to.match(/mobile phone number/);
      }
      const [row] = await test.idp.db.dataSource.query(`SELECT mobile_number FROM account WHERE id = $1`, [account.id]);
      expect(row.mobile_number).to.equal(account.mobileNumber);
    });
  });
});
