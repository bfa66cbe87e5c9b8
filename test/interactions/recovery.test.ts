import { expect } from 'chai';
import { textPasswordChanged } from '../../src/accounts/password-reset.js';
import { pageText } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { signInRemembering } from './remember-device-helpers.js';
import { latestResetLink, outboxCount, recoveryBrowser, requestReset, startRecoveryIdp, templatesSentTo } from './recovery-helpers.js';
import { TEST_PASSWORD, createAccount, errorSummary, heading, latestSmsCode, startJourney, submit } from './support.js';

const NEW_PASSWORD = 'violet kettle harbour morning';

/** "Forgotten your password?" end to end (security-bar A6, F2). */
describe('forgotten your password', () => {
  let test: TestIdp;

  before(async () => {
    test = await startRecoveryIdp();
  });
  after(async () => test?.close());

  it('links from the password page, emails a link on the issuer origin, and sends this browser back to its sign-in, where the password AND the code are still asked', async () => {
    const account = await createAccount(test);
    const journey = await startJourney(test, { browser: recoveryBrowser(test) });
    const passwordPage = await submit(journey, journey.page, { email: account.email });
    expect(pageText(passwordPage)).to.contain('Forgotten your password?');

    let page = await requestReset(test, journey.browser, account.email, passwordPage);
    expect(heading(page)).to.equal('Check your email');
    // "Ask for a new link" keeps this sign-in, so a second link brings the browser back to it too.
    expect(page.html).to.contain(`href="/forgotten-password?interaction=${journey.uid}"`);
    const link = await latestResetLink(test, account.email);
    expect(link).to.match(new RegExp(`^${test.url}/reset-password/[A-Za-z0-9_-]{43}$`));

    page = await journey.browser.get(link);
    expect(heading(page)).to.equal('Create a new password');
    page = await journey.browser.submit(page, { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    // Back at the sign-in it came from: the password step, not signed in.
    expect(page.url).to.contain(`/interaction/${journey.uid}`);
    expect(heading(page)).to.equal('Enter your password');

    const old = await submit(journey, page, { password: TEST_PASSWORD });
    expect(errorSummary(old)).to.deep.equal(['Enter the correct email address and password']);
    page = await submit(journey, old, { password: NEW_PASSWORD });
    expect(heading(page)).to.equal('Check your mobile phone');
    page = await submit(journey, page, { code: await latestSmsCode(test, account.mobileNumber!) });
    expect(heading(page)).to.match(/^Share your information/);
    expect(await templatesSentTo(test, account.email)).to.include.members(['password-reset-link', 'password-changed']);
    // The verified mobile is told too: whoever reset the password may hold the email account.
    expect(await templatesSentTo(test, account.mobileNumber!)).to.include('password-changed-sms');
  });

  it('in another browser, says the password has changed and to go back to the service', async () => {
    const account = await createAccount(test);
    const journey = await startJourney(test, { browser: recoveryBrowser(test) });
    const passwordPage = await submit(journey, journey.page, { email: account.email });
    await requestReset(test, journey.browser, account.email, passwordPage);
    const other = recoveryBrowser(test);
    let page = await other.get(await latestResetLink(test, account.email));
    page = await other.submit(page, { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    expect(page.status).to.equal(200);
    expect(heading(page)).to.equal('Your password has been changed');
    expect(pageText(page)).to.contain('Go back to the service you were using and sign in');
  });

  it('answers an unknown address with the same page and sends nothing', async () => {
    const before = await outboxCount(test);
    const page = await requestReset(test, recoveryBrowser(test), 'nobody-here@example.test');
    expect(heading(page)).to.equal('Check your email');
    expect(page.status).to.equal(200);
    expect(await outboxCount(test)).to.equal(before);
  });

  it('asks for a valid email address', async () => {
    const browser = recoveryBrowser(test);
    const page = await browser.submit(await browser.get(`${test.url}/forgotten-password`), { email: 'not an email' });
    expect(page.status).to.equal(400);
    expect(errorSummary(page)).to.deep.equal(['Enter an email address in the correct format, like name@example.com']);
  });

  it('applies the password rules to the new password (X3) without using up the link', async () => {
    const account = await createAccount(test);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    const form = await browser.get(await latestResetLink(test, account.email));
    const cases: [Record<string, string>, string[]][] = [
      [{ password: '', confirmPassword: '' }, ['Enter a password', 'Re-enter your new password']],
      [{ password: 'short words', confirmPassword: 'short words' }, ['Password must be 12 characters or more']],
      [{ password: 'password1234', confirmPassword: 'password1234' }, ['Choose a password that is harder to guess. This one is too common']],
      [{ password: `${account.email}-2024`, confirmPassword: `${account.email}-2024` }, ['Password must not contain your email address']],
      [{ password: NEW_PASSWORD, confirmPassword: `${NEW_PASSWORD}!` }, ['The passwords do not match. Enter the same password twice']],
    ];
    for (const [fields, messages] of cases) {
      const page = await browser.submit(form, fields);
      expect(page.status, messages[0]).to.equal(400);
      expect(errorSummary(page)).to.deep.equal(messages);
    }
    const done = await browser.submit(form, { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    expect(heading(done)).to.equal('Your password has been changed');
  });

  it('works once: the same link again says it has been used (CID2022)', async () => {
    const account = await createAccount(test);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    const link = await latestResetLink(test, account.email);
    const form = await browser.get(link);
    expect(heading(await browser.submit(form, { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }))).to.equal('Your password has been changed');
    const again = await browser.get(link);
    expect(again.status).to.equal(400);
    expect(heading(again)).to.equal('This link has already been used');
    expect(pageText(again)).to.include('Reference: CID2022');
    const replay = await browser.submit(form, { password: `${NEW_PASSWORD} again`, confirmPassword: `${NEW_PASSWORD} again` });
    expect(heading(replay)).to.equal('This link has already been used');
    expect(await test.idp.services.hasher.verify((await test.idp.services.accounts.findById(account.id))!.passwordHash, NEW_PASSWORD)).to.equal(true);
  });

  it('expires after an hour', async () => {
    const account = await createAccount(test);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    // A fresh link is stored for exactly RESET_LINK_TTL_SECONDS (default 1 hour) from its creation, and that is about now.
    const [row]: { lifetime: string | number; remaining: string | number }[] = await test.idp.db.dataSource.query(
      `SELECT extract(epoch FROM expires_at - created_at) AS lifetime, extract(epoch FROM expires_at - now()) AS remaining
         FROM password_reset_token WHERE account_id = $1`,
      [account.id],
    );
    expect(Number(row!.lifetime), 'expires_at - created_at').to.be.within(3600 - 2, 3600 + 2);
    expect(Number(row!.remaining), 'expires_at - now()').to.be.within(3600 - 5, 3600);
    await test.idp.db.dataSource.query(`UPDATE password_reset_token SET expires_at = now() - interval '1 second' WHERE account_id = $1`, [account.id]);
    const page = await browser.get(await latestResetLink(test, account.email));
    expect(heading(page)).to.equal('This link has expired');
    expect(pageText(page)).to.include('Reference: CID2021');
  });

  it('says a link it never issued, or a cut-off one, is not working (CID2023), with no hint about accounts', async () => {
    const account = await createAccount(test);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    const link = await latestResetLink(test, account.email);
    for (const broken of [link.slice(0, -5), `${link.slice(0, -1)}${link.endsWith('A') ? 'B' : 'A'}`]) {
      const page = await browser.get(broken);
      expect(page.status, broken).to.equal(404);
      expect(heading(page)).to.equal('This link is not working');
      expect(pageText(page)).to.include('Reference: CID2023').and.include('Ask for a new link');
    }
  });

  it('a newer link makes the older one useless', async () => {
    const account = await createAccount(test);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    const older = await latestResetLink(test, account.email);
    await requestReset(test, browser, account.email);
    const newer = await latestResetLink(test, account.email);
    expect(newer).to.not.equal(older);
    expect(heading(await browser.get(older))).to.equal('This link has expired');
    expect(heading(await browser.get(newer))).to.equal('Create a new password');
  });

  it('revokes remembered devices, sessions and grants, and lifts the password lock', async () => {
    const account = await createAccount(test);
    const remembered = await signInRemembering(test, account);
    const before: { model: string }[] = await test.idp.db.dataSource.query(`SELECT model FROM oidc_model WHERE payload->>'accountId' = $1`, [account.id]);
    expect(before.map((r) => r.model)).to.include('Session');

    // Lock password sign-in, as an attacker could (A4).
    const attacker = await startJourney(test, { browser: recoveryBrowser(test) });
    let attempt = await submit(attacker, attacker.page, { email: account.email });
    for (let i = 0; i < 5; i++) attempt = await submit(attacker, attempt, { password: `wrong password ${i}` });
    const [locked] = await test.idp.db.dataSource.query(`SELECT (locked_until > now()) AS locked FROM attempt_counter WHERE key = $1`, [`password:${account.id}`]);
    expect(locked.locked).to.equal(true);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    const done = await browser.submit(await browser.get(await latestResetLink(test, account.email)), { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    expect(heading(done)).to.equal('Your password has been changed');

    const after: { model: string }[] = await test.idp.db.dataSource.query(`SELECT model FROM oidc_model WHERE payload->>'accountId' = $1 AND model IN ('Session', 'Grant')`, [account.id]);
    expect(after).to.deep.equal([]);
    const devices: unknown[] = await test.idp.db.dataSource.query(`SELECT id FROM remembered_device WHERE account_id = $1`, [account.id]);
    expect(devices).to.deep.equal([]);
    const [counter] = await test.idp.db.dataSource.query(`SELECT failures FROM attempt_counter WHERE key = $1`, [`password:${account.id}`]);
    expect(Number(counter?.failures ?? 0)).to.equal(0);

    // The old device cookie now does nothing: the new password, then a code.
    const journey = await startJourney(test, { browser: recoveryBrowser(test) });
    let page = await submit(journey, journey.page, { email: account.email });
    journey.browser.setCookie(test.url, 'carelogin-device', remembered.value);
    page = await submit(journey, page, { password: NEW_PASSWORD });
    expect(heading(page)).to.equal('Check your mobile phone');
  });

  it('renders every reset page with one h1 matching its title, and a CSRF field in every form', () => {
    const renderer = test.idp.services.renderer;
    for (const file of ['forgotten-password', 'check-your-email', 'create-new-password', 'link-expired', 'password-changed']) {
      const html = renderer.render(`password-reset/${file}.njk`, { formAction: '/x', csrfToken: 'csrf-token', expiresIn: '1 hour' });
      const headings = [...html.matchAll(/<h1[^>]*>([\s\S]*?)<\/h1>/g)].map((m) => m[1]!.trim());
      expect(headings, file).to.have.length(1);
      expect(/<title>([\s\S]*?)<\/title>/.exec(html)![1]!.trim(), file).to.equal(`${headings[0]} – carelogin`);
      for (const form of html.matchAll(/<form\b[\s\S]*?<\/form>/g)) expect(form[0], file).to.contain('name="_csrf" value="csrf-token"');
    }
  });

  it('texts "password changed" only to a verified mobile: an unverified number may not be the patient\'s', async () => {
    const verified = await createAccount(test);
    const unverified = await createAccount(test);
    await test.idp.db.dataSource.query('UPDATE account SET mobile_verified_at = NULL WHERE id = $1', [unverified.id]);
    await test.idp.db.dataSource.transaction(async (manager) => {
      for (const account of [verified, unverified]) await textPasswordChanged(test.idp.services.notifications, manager, account.id);
    });
    expect(await templatesSentTo(test, verified.mobileNumber!)).to.include('password-changed-sms');
    expect(await templatesSentTo(test, unverified.mobileNumber!)).not.to.include('password-changed-sms');
  });
});
