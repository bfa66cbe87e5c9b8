import { expect } from 'chai';
import { signInMethodsInWords } from '../../src/account/store.js';
import { pageText } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { createAccount, heading } from '../interactions/support.js';
import { newBrowser, signInToAccount, startAccountTestIdp, TEST_PASSWORD } from './support.js';

describe('Your account: signing in and the overview', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => {
    await test?.close();
  });

  it('the home page links to "Your account"', async () => {
    const page = await newBrowser(test).get(`${test.url}/`);
    expect(page.html).to.match(/<a href="\/account">Your account<\/a>/);
  });

  it('sends a signed-out patient through the sign-in journey (an authorization request for carelogin-account) and back to the account page', async () => {
    const account = await createAccount(test);
    const browser = newBrowser(test);
    const first = await browser.get(`${test.url}/account`);
    expect(first.url).to.match(/\/interaction\//);
    expect(heading(first)).to.match(/email/i);
    const { page } = await signInToAccount(test, account);
    expect(page.status).to.equal(200);
    expect(page.headers.get('cache-control')).to.equal('no-store');
  });

  it('shows the email address, the mobile masked, the password hidden, and no devices or services yet', async () => {
    const account = await createAccount(test);
    const { page } = await signInToAccount(test, account);
    const text = pageText(page);
    expect(text).to.include(account.email);
    expect(text).to.include(`Ending in ${account.mobileNumber!.slice(-4)}`);
    expect(text).not.to.include(account.mobileNumber!);
    expect(text).not.to.include(account.mobileNumber!.slice(-6));
    expect(text).to.match(/Password\s+Hidden/);
    expect(text).to.include('You have no remembered devices');
    expect(text).to.include('You have not used carelogin with any services yet');
    expect(text).not.to.include('Your carelogin account');
  });

  it('lists the services the patient has consented to, by name', async () => {
    const account = await createAccount(test);
    // Sign in to the relying party first (consent given, device remembered), then open the account page in that browser.
    const rpSignIn = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    const page = await rpSignIn.browser.get(`${test.url}/account`);
    expect(heading(page)).to.equal('Your account');
    expect(pageText(page)).to.include('Test patient portal');
    expect(page.html).to.match(/action="\/account\/services\/[A-Za-z0-9_-]+\/withdraw"/);
  });

  it('a session signed in with a password only (no second factor) is not enough: the patient is asked for a security code', async () => {
    const account = await createAccount(test);
    const rpSignIn = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    // Every sign-in journey today proves a second factor; make the session one that proved a password only.
    await test.idp.db.dataSource.query(`UPDATE oidc_model SET payload = jsonb_set(payload, '{amr}', '["pwd"]') WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]);
    const page = await rpSignIn.browser.get(`${test.url}/account`);
    expect(page.url).to.match(/\/interaction\//);
    expect(heading(page)).to.equal('Check your mobile phone');
  });
});

describe('how a browser signed in, in words', () => {
  it('names each method once, in a fixed order, joined as a sentence', () => {
    expect(signInMethodsInWords(['pwd'])).to.equal('a password');
    expect(signInMethodsInWords(['sms', 'pwd'])).to.equal('a password and a security code by text message');
    expect(signInMethodsInWords(['pwd', 'sms', 'otp'])).to.equal('a password, a security code by text message and an authenticator app');
    expect(signInMethodsInWords(['hwk'])).to.equal('a passkey');
    expect(signInMethodsInWords(['mfa', 'unknown'])).to.equal(undefined);
    expect(signInMethodsInWords([])).to.equal(undefined);
  });
});
