import { expect } from 'chai';
import { generate } from 'otplib';
import { lockoutKeys } from '../../src/security/attempt-counters.js';
import { pageText, type Page } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { addAuthenticatorApp, appCode, createAccount, errorSummary, heading, wrongCode } from '../interactions/support.js';
import { ageSignIn, outbox, signInToAccount, startAccountTestIdp } from './support.js';

/** The secret key as the setup page shows it (groups of four), without the spaces. */
function secretOn(page: Page): string {
  const key = /id="secret-key"><strong>([A-Z2-7 ]+)<\/strong>/.exec(page.html)?.[1];
  if (!key) throw new Error(`no secret key on the page: ${pageText(page).slice(0, 300)}`);
  return key.replace(/ /g, '');
}

describe('Your account: authenticator app', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => test?.close());

  async function accountRow(accountId: string): Promise<{ authenticator_secret: string | null; authenticator_added_at: Date | null; authenticator_last_step: number | null }> {
    const [row] = await test.idp.db.dataSource.query(`SELECT authenticator_secret, authenticator_added_at, authenticator_last_step FROM account WHERE id = $1`, [accountId]);
    return row;
  }

  async function auditTypes(accountId: string): Promise<string[]> {
    const rows: { type: string }[] = await test.idp.db.dataSource.query(`SELECT type FROM audit_event WHERE account_id = $1 ORDER BY id`, [accountId]);
    return rows.map((r) => r.type);
  }

  it('sets one up: a QR code and a secret key, a wrong code refused, the right code stores it sealed and emails the owner', async () => {
    const account = await createAccount(test);
    const { browser, page: overview } = await signInToAccount(test, account);
    expect(pageText(overview)).to.contain('Authenticator app');
    expect(pageText(overview)).to.contain('Not set up');
    const setup = await browser.get(`${test.url}/account/authenticator-app`);
    expect(heading(setup)).to.equal('Set up an authenticator app');
    expect(setup.html).to.match(/<div class="carelogin-qr[^"]*" role="img" aria-label="[^"]+"><svg /);
    const secret = secretOn(setup);
    expect(secret).to.match(/^[A-Z2-7]{32}$/);

    const wrong = await browser.submit(setup, { code: wrongCode(await appCode(secret)) }, { actionContains: '/account/authenticator-app' });
    expect(wrong.status).to.equal(400);
    expect(errorSummary(wrong)).to.deep.equal(['The security code is not correct. Check the code your authenticator app shows and try again']);
    // The same secret is offered again: the app already holds it.
    expect(secretOn(wrong)).to.equal(secret);
    expect((await accountRow(account.id)).authenticator_secret).to.equal(null);

    const done = await browser.submit(wrong, { code: await appCode(secret) }, { actionContains: '/account/authenticator-app' });
    expect(heading(done)).to.equal('Your account');
    expect(pageText(done)).to.contain('Your authenticator app has been set up');
    expect(pageText(done)).to.match(/Set up on \d{1,2} [A-Z][a-z]+ \d{4}/);
    const row = await accountRow(account.id);
    expect(row.authenticator_added_at).to.be.instanceOf(Date);
    // Stored sealed, never as the secret itself; the code used to set it up cannot sign in.
    expect(row.authenticator_secret).to.not.contain(secret);
    expect(row.authenticator_last_step).to.be.a('number');
    const [email] = await outbox(test, account.email, 'sign-in-method-changed');
    expect(email?.body).to.contain('You can now sign in to carelogin with an authenticator app');
    expect(await auditTypes(account.id)).to.include.members(['authenticator_app.setup_failed', 'authenticator_app.added']);
  });

  it('refuses an empty or malformed code with the field\'s message, keeping the secret', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    const setup = await browser.get(`${test.url}/account/authenticator-app`);
    const empty = await browser.submit(setup, { code: '' }, { actionContains: '/account/authenticator-app' });
    expect(errorSummary(empty)).to.deep.equal(['Enter the security code']);
    const short = await browser.submit(empty, { code: '12345' }, { actionContains: '/account/authenticator-app' });
    expect(errorSummary(short)).to.deep.equal(['The security code must be 6 numbers']);
    expect(secretOn(short)).to.equal(secretOn(setup));
  });

  it('a setup page from another sign-in does not work here: a new secret, and the page says why', async () => {
    const account = await createAccount(test);
    const first = await signInToAccount(test, account);
    const second = await signInToAccount(test, account);
    const page = await first.browser.get(`${test.url}/account/authenticator-app`);
    const token = /name="setup" value="([^"]+)"/.exec(page.html)![1]!;
    const secret = secretOn(page);
    const other = await second.browser.get(`${test.url}/account/authenticator-app`);
    const answer = await second.browser.submit(other, { setup: token, code: await appCode(secret) }, { actionContains: '/account/authenticator-app' });
    expect(answer.status).to.equal(400);
    expect(errorSummary(answer)[0]).to.match(/^This page timed out/);
    expect(secretOn(answer)).to.not.equal(secret);
    expect((await accountRow(account.id)).authenticator_secret).to.equal(null);
  });

  it('replaces an app: the old one\'s codes stop working', async () => {
    const account = await createAccount(test);
    const oldSecret = await addAuthenticatorApp(test, account);
    const { browser, page: overview } = await signInToAccount(test, account, { appSecret: oldSecret });
    expect(pageText(overview)).to.match(/Set up on/);
    expect(pageText(overview)).to.contain('with a password and an authenticator app');
    const setup = await browser.get(`${test.url}/account/authenticator-app`);
    expect(pageText(setup)).to.contain('This replaces the authenticator app you set up on');
    const newSecret = secretOn(setup);
    await browser.submit(setup, { code: await appCode(newSecret) }, { actionContains: '/account/authenticator-app' });
    const fresh = await test.idp.services.accounts.findById(account.id);
    expect(await test.idp.services.authenticatorApps.check(fresh!, await generate({ secret: oldSecret }))).to.equal('invalid');
    expect(await test.idp.services.authenticatorApps.check(fresh!, await appCode(newSecret, 30))).to.equal('valid');
    expect(await auditTypes(account.id)).to.include('authenticator_app.replaced');
  });

  it('an app turned off at the hard cap says so on the overview, and setting it up again turns it back on', async () => {
    const account = await createAccount(test);
    await addAuthenticatorApp(test, account);
    await test.idp.db.dataSource.query(
      `INSERT INTO attempt_counter (key, failures, consecutive_failures, window_started_at, locked_until, updated_at) VALUES ($1, 0, 100, now(), 'infinity', now())`,
      [lockoutKeys.authenticatorApp(account.id)],
    );
    const { browser, page: overview } = await signInToAccount(test, account);
    expect(pageText(overview)).to.contain('Turned off after too many wrong security codes');
    const setup = await browser.get(`${test.url}/account/authenticator-app`);
    const done = await browser.submit(setup, { code: await appCode(secretOn(setup)) }, { actionContains: '/account/authenticator-app' });
    expect(pageText(done)).to.match(/Set up on \d/);
    expect(pageText(done)).to.not.contain('Turned off');
  });

  it('removes it after a confirmation page, emails the owner, and sign-in goes back to text messages', async () => {
    const account = await createAccount(test);
    const secret = await addAuthenticatorApp(test, account);
    const { browser } = await signInToAccount(test, account, { appSecret: secret });
    const confirm = await browser.get(`${test.url}/account/remove-authenticator-app`);
    expect(heading(confirm)).to.equal('Remove your authenticator app');
    const done = await browser.submit(confirm, {}, { actionContains: '/account/remove-authenticator-app' });
    expect(pageText(done)).to.contain('Your authenticator app has been removed');
    expect(pageText(done)).to.contain('Not set up');
    expect((await accountRow(account.id)).authenticator_secret).to.equal(null);
    const [email] = await outbox(test, account.email, 'sign-in-method-changed');
    expect(email?.body).to.contain('You can no longer sign in to carelogin with an authenticator app');
    // Without an app, the account area's sign-in asks for a text message code.
    await signInToAccount(test, account);
  });

  it('asks for the password again (re-authentication) when the sign-in is older than 15 minutes', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    await ageSignIn(test, account.id);
    for (const path of ['/account/authenticator-app', '/account/remove-authenticator-app']) {
      const answer = await browser.get(`${test.url}${path}`);
      expect(answer.url, path).to.contain('/interaction/');
    }
  });

  it('the remove page of an account without an app goes back to the overview', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    expect(heading(await browser.get(`${test.url}/account/remove-authenticator-app`))).to.equal('Your account');
  });
});
