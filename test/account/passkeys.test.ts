import { expect } from 'chai';
import { decodeEntities, pageText, type Page } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js';
import { createAccount, errorSummary as rawErrorSummary, heading, passkeyOptionsOn } from '../interactions/support.js';
import { ageSignIn, newBrowser, outbox, signInToAccount, startAccountTestIdp } from './support.js';

describe('Your account: passkeys', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => test?.close());

  function errorSummary(page: Page): string[] {
    return rawErrorSummary(page).map(decodeEntities);
  }

  function registrationOn(page: Page): string {
    return /name="registration" value="([^"]+)"/.exec(page.html)![1]!;
  }

  /** Posts the create form of `page` (found by its exact action: the Remove forms' actions start the same). */
  function postCreate(browser: Awaited<ReturnType<typeof signInToAccount>>['browser'], page: Page, fields: { registration: string; credential: string }): Promise<Page> {
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)![1]!;
    return browser.post(`${test.url}/account/passkeys`, { _csrf: csrf, ...fields });
  }

  async function create(browser: Awaited<ReturnType<typeof signInToAccount>>['browser'], authenticator: SoftwareAuthenticator): Promise<Page> {
    const page = await browser.get(`${test.url}/account/passkeys`);
    const answer = authenticator.register(passkeyOptionsOn(page) as never);
    return postCreate(browser, page, { registration: registrationOn(page), credential: JSON.stringify(answer) });
  }

  it('creates a passkey with the page\'s options, lists it, emails the owner, and it signs in to Your account on its own', async () => {
    const account = await createAccount(test);
    const { browser, page: overview } = await signInToAccount(test, account);
    expect(pageText(overview)).to.match(/Passkeys\s+None/);
    const list = await browser.get(`${test.url}/account/passkeys`);
    expect(heading(list)).to.equal('Passkeys');
    expect(pageText(list)).to.contain('You have no passkeys.');
    const options = passkeyOptionsOn(list);
    // The user handle is the account id, never the email address.
    expect(Buffer.from(options.user!.id, 'base64url').toString('utf8')).to.equal(account.id);
    const authenticator = new SoftwareAuthenticator(new URL(test.url).origin);
    const done = await create(browser, authenticator);
    expect(heading(done)).to.equal('Your account');
    expect(pageText(done)).to.contain('Your passkey has been created');
    expect(pageText(done)).to.match(/Passkeys\s+1 passkey/);
    const [email] = await outbox(test, account.email, 'sign-in-method-changed');
    expect(email?.body).to.contain('You can now sign in to carelogin with a passkey');

    // A new browser signs in to Your account with the passkey alone (its vectors accept Cm).
    const other = newBrowser(test);
    const start = await other.get(`${test.url}/account`);
    const passkeyPage = await other.submit(start, {}, { actionContains: '/use-passkey' });
    const signedIn = await other.submit(passkeyPage, { credential: JSON.stringify(authenticator.authenticate(passkeyOptionsOn(passkeyPage))) });
    expect(heading(signedIn)).to.equal('Your account');
    expect(pageText(signedIn)).to.contain(account.email);
    // Where you are signed in: this device, by passkey; the first browser, by password and text message.
    expect(pageText(signedIn)).to.contain('with a passkey');
    expect(pageText(signedIn)).to.contain('with a password and a security code by text message');
  });

  it('says what to do when no passkey was made, when the page is from another sign-in, and when the passkey is already saved', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    const page = await browser.get(`${test.url}/account/passkeys`);
    const none = await postCreate(browser, page, { registration: registrationOn(page), credential: '' });
    expect(none.status).to.equal(400);
    expect(errorSummary(none)).to.deep.equal(['Your passkey was not created. Select "Create a passkey" and follow what your device asks']);

    const second = await signInToAccount(test, account);
    const authenticator = new SoftwareAuthenticator(new URL(test.url).origin);
    const otherPage = await second.browser.get(`${test.url}/account/passkeys`);
    const answer = authenticator.register(passkeyOptionsOn(page) as never);
    const crossed = await postCreate(second.browser, otherPage, { registration: registrationOn(page), credential: JSON.stringify(answer) });
    expect(errorSummary(crossed)).to.deep.equal(['This page timed out. Select "Create a passkey" again']);
    expect(await test.idp.services.passkeys.count(account.id)).to.equal(0);

    // In its own sign-in the answer is good; sent twice, the second is the same passkey again.
    const fresh = await browser.get(`${test.url}/account/passkeys`);
    const added = await postCreate(browser, fresh, { registration: registrationOn(page), credential: JSON.stringify(answer) });
    expect(heading(added)).to.equal('Your account');
    const again = await browser.get(`${test.url}/account/passkeys`);
    // The page tells the browser not to make a second passkey on the same authenticator.
    expect((passkeyOptionsOn(again) as { excludeCredentials?: { id: string }[] }).excludeCredentials?.map((c) => c.id)).to.deep.equal([answer.id]);
    const duplicate = await postCreate(browser, again, { registration: registrationOn(page), credential: JSON.stringify(answer) });
    expect(errorSummary(duplicate), `${duplicate.status} ${heading(duplicate)}`).to.deep.equal(['This passkey is already saved to your account']);
    expect(await test.idp.services.passkeys.count(account.id)).to.equal(1);
  });

  it('removes a passkey, which then no longer signs in; another account\'s passkey cannot be removed', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    const authenticator = new SoftwareAuthenticator(new URL(test.url).origin);
    await create(browser, authenticator);
    const list = await browser.get(`${test.url}/account/passkeys`);
    expect(pageText(list)).to.match(/Created \d{1,2} [A-Z][a-z]+ \d{4}/);
    const [passkey] = await test.idp.services.passkeys.list(account.id);

    const stranger = await createAccount(test);
    const strangerSession = await signInToAccount(test, stranger);
    const strangerPage = await strangerSession.browser.get(`${test.url}/account/passkeys`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(strangerPage.html)![1]!;
    const refused = await strangerSession.browser.post(`${test.url}/account/passkeys/${passkey!.id}/remove`, { _csrf: csrf });
    expect(refused.status).to.equal(404);

    const done = await browser.submit(list, {}, { actionContains: `/account/passkeys/${passkey!.id}/remove` });
    expect(pageText(done)).to.contain('The passkey has been removed');
    expect(await test.idp.services.passkeys.count(account.id)).to.equal(0);
    const challenge = test.idp.services.passkeys.newChallenge();
    expect(await test.idp.services.passkeys.authenticate(challenge, authenticator.authenticate(await test.idp.services.passkeys.authenticationOptions(challenge)))).to.equal(undefined);
  });

  it('asks for a fresh sign-in when the last one is older than 15 minutes', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    await ageSignIn(test, account.id);
    expect((await browser.get(`${test.url}/account/passkeys`)).url).to.contain('/interaction/');
  });
});
