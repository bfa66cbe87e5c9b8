import { expect } from 'chai';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js';
import { addPasskey, createAccount, errorSummary, heading, journeyAmr, latestSmsCode, passkeyOptionsOn, startJourney, submit, TEST_PASSWORD } from './support.js';

const PASSKEY_HEADING = 'Sign in with a passkey';

/**
 * Signing in with a passkey (Cm, amr hwk) over HTTP, with a software authenticator answering the
 * options the page carries, and a real relying party checking the tokens.
 */
describe('sign-in with a passkey', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());


  async function toPasskeyPage(vtr = '["P0.Cp.Cd","P0.Cm"]') {
    const journey = await startJourney(test, { params: { vtr } });
    expect(pageText(journey.page)).to.contain('Sign in with a passkey');
    const page = await journey.browser.submit(journey.page, {}, { actionContains: '/use-passkey' });
    expect(heading(page)).to.equal(PASSKEY_HEADING);
    return { journey, page };
  }

  it('signs in with no email address, password or code, and reports Cm with amr hwk', async () => {
    const account = await createAccount(test);
    const authenticator = await addPasskey(test, account);
    const { journey, page } = await toPasskeyPage();
    const options = passkeyOptionsOn(page);
    expect(options).to.include({ userVerification: 'required' });
    let done = await submit(journey, page, { credential: JSON.stringify(authenticator.authenticate(options)) });
    if (!done.callbackUrl) done = await journey.browser.submit(done, {}, { button: 'Continue' });
    const tokens = await test.rp.exchange(done.callbackUrl!, journey.request);
    expect(tokens.claims()).to.include({ sub: account.id, vot: 'P0.Cm' });
    expect(await journeyAmr(test, journey.uid)).to.deep.equal(['hwk']);
  });

  it('is not offered when the service does not accept Cm', async () => {
    const journey = await startJourney(test, { params: { vtr: '["P0.Cp.Cd"]' } });
    expect(pageText(journey.page)).to.not.contain('Sign in with a passkey');
    // Posted anyway (the button is not on the page): the step stays where it is.
    const csrf = /name="_csrf" value="([^"]+)"/.exec(journey.page.html)![1]!;
    const refused = await journey.browser.post(`${test.url}/interaction/${journey.uid}/enter-email/use-passkey`, { _csrf: csrf });
    expect(heading(refused)).to.equal('Enter your email address');
  });

  it('a cancelled passkey request, a signature over another challenge and an unknown passkey each get the page again with what to do', async () => {
    const account = await createAccount(test);
    const authenticator = await addPasskey(test, account);
    const { journey, page } = await toPasskeyPage();
    const cancelled = await submit(journey, page, { credential: '' });
    expect(cancelled.status).to.equal(400);
    expect(errorSummary(cancelled)).to.deep.equal(['Use your passkey, or go back and sign in with your email address and password']);
    const stale = await submit(journey, cancelled, { credential: JSON.stringify(authenticator.authenticate({ challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })) });
    expect(errorSummary(stale)).to.deep.equal(['We could not sign you in with that passkey. Try again, or go back and sign in with your email address and password']);
    const stranger = new SoftwareAuthenticator(new URL(test.url).origin);
    stranger.register({ challenge: 'x', rp: {}, user: { id: 'eA' } });
    const unknown = await submit(journey, stale, { credential: JSON.stringify(stranger.authenticate(passkeyOptionsOn(stale))) });
    expect(unknown.status).to.equal(400);
    expect(heading(unknown)).to.equal(PASSKEY_HEADING);
  });

  it('a signature used in one journey does not sign in another (each arrival has its own challenge)', async () => {
    const account = await createAccount(test);
    const authenticator = await addPasskey(test, account);
    const first = await toPasskeyPage();
    const firstOptions = passkeyOptionsOn(first.page);
    const answer = JSON.stringify(authenticator.authenticate(firstOptions));
    await submit(first.journey, first.page, { credential: answer });
    const second = await toPasskeyPage();
    expect(passkeyOptionsOn(second.page).challenge).to.not.equal(firstOptions.challenge);
    const replayed = await submit(second.journey, second.page, { credential: answer });
    expect(replayed.status).to.equal(400);
  });

  it('Back returns to the email address page', async () => {
    const { journey, page } = await toPasskeyPage();
    const back = await journey.browser.submit(page, {}, { actionContains: '/back' });
    expect(heading(back)).to.equal('Enter your email address');
  });

  it('steps a session signed in with a text message up to Cm with the passkey', async () => {
    const account = await createAccount(test);
    const authenticator = await addPasskey(test, account);
    const journey = await startJourney(test, { params: { vtr: '["P0.Cp.Cd"]' } });
    let page = await submit(journey, journey.page, { email: account.email });
    page = await submit(journey, page, { password: TEST_PASSWORD });
    page = await submit(journey, page, { code: await latestSmsCode(test, account.mobileNumber!) });
    if (!page.callbackUrl) await journey.browser.submit(page, {}, { button: 'Continue' });
    const again = await startJourney(test, { params: { vtr: '["P0.Cm"]' }, browser: journey.browser });
    expect(heading(again.page)).to.equal(PASSKEY_HEADING);
    let done = await submit(again, again.page, { credential: JSON.stringify(authenticator.authenticate(passkeyOptionsOn(again.page))) });
    if (!done.callbackUrl) done = await again.browser.submit(done, {}, { button: 'Continue' });
    const tokens = await test.rp.exchange(done.callbackUrl!, again.request);
    expect(tokens.claims()).to.include({ vot: 'P0.Cm' });
  });
});
