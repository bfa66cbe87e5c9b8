import { expect } from 'chai';
import { lockoutKeys } from '../../src/security/attempt-counters.js';
import { pageText, type Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { addAuthenticatorApp, appCode, callbackError, createAccount, errorSummary, heading, journeyAmr, latestSmsCode, smsCount, startJourney, submit, TEST_PASSWORD, wrongCode } from './support.js';

const APP_HEADING = 'Enter the security code from your authenticator app';
const SMS_HEADING = 'Check your mobile phone';

/**
 * Signing in with an authenticator app (Ck, amr otp), over HTTP with a real relying party: which
 * second factor a journey asks for given the service's vtr, what each reports, and the hand-overs
 * to a text message.
 */
describe('sign-in with an authenticator app', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  async function appAccount(): Promise<{ account: Awaited<ReturnType<typeof createAccount>>; secret: string }> {
    const account = await createAccount(test);
    return { account, secret: await addAuthenticatorApp(test, account) };
  }

  async function toSecondFactor(email: string, vtr: string, browser?: Browser, params: Record<string, string> = {}) {
    const journey = await startJourney(test, { params: { vtr, ...params }, ...(browser ? { browser } : {}) });
    let page = await submit(journey, journey.page, { email });
    page = await submit(journey, page, { password: TEST_PASSWORD });
    return { journey, page };
  }


  async function finish(journey: Awaited<ReturnType<typeof startJourney>>, page: Awaited<ReturnType<typeof submit>>) {
    if (!page.callbackUrl) page = await journey.browser.submit(page, {}, { button: 'Continue' });
    return test.rp.exchange(page.callbackUrl!, journey.request);
  }

  it('asks for the app code, sends no text message, and reports Ck with amr otp', async () => {
    const { account, secret } = await appAccount();
    const { journey, page } = await toSecondFactor(account.email, '["P0.Cp.Ck"]');
    expect(heading(page)).to.equal(APP_HEADING);
    expect(await smsCount(test, account.mobileNumber!)).to.equal(0);
    // Nothing to fall back to: the service accepts only the app.
    expect(pageText(page)).to.not.contain('Use a text message instead');
    const done = await submit(journey, page, { code: await appCode(secret) });
    const tokens = await finish(journey, done);
    expect(tokens.claims()).to.include({ sub: account.id, vot: 'P0.Cp.Ck' });
    expect(await journeyAmr(test, journey.uid)).to.deep.equal(['pwd', 'otp']);
  });

  it('accepts the code of the step before or after now (±1 step) and refuses one two steps away', async () => {
    const { account, secret } = await appAccount();
    const late = await toSecondFactor(account.email, '["P0.Cp.Ck"]');
    const refused = await submit(late.journey, late.page, { code: await appCode(secret, -65) });
    expect(refused.status).to.equal(400);
    expect(errorSummary(refused)).to.deep.equal(['The security code is not correct']);
    const accepted = await submit(late.journey, refused, { code: await appCode(secret, -30) });
    expect((await finish(late.journey, accepted)).claims()).to.include({ vot: 'P0.Cp.Ck' });
  });

  it('accepts a code once: the same code in a second sign-in is refused and says why', async () => {
    const { account, secret } = await appAccount();
    const code = await appCode(secret, 30);
    const first = await toSecondFactor(account.email, '["P0.Cp.Ck"]');
    await finish(first.journey, await submit(first.journey, first.page, { code }));
    const second = await toSecondFactor(account.email, '["P0.Cp.Ck"]');
    const again = await submit(second.journey, second.page, { code });
    expect(again.status).to.equal(400);
    expect(heading(again)).to.equal(APP_HEADING);
    expect(errorSummary(again)).to.deep.equal(['That security code has already been used. Wait for your authenticator app to show a new code']);
    // An earlier step's code is no good after a later one was used, either.
    const earlier = await submit(second.journey, again, { code: await appCode(secret, 0) });
    expect(errorSummary(earlier)).to.have.length(1);
  });

  it('offers "Use a text message instead" when the service also accepts Cd, which then reports Cd', async () => {
    const { account } = await appAccount();
    const { journey, page } = await toSecondFactor(account.email, '["P0.Cp.Cd","P0.Cp.Ck"]');
    expect(heading(page)).to.equal(APP_HEADING);
    const sms = await journey.browser.submit(page, {}, { actionContains: '/use-text-message' });
    expect(heading(sms)).to.equal(SMS_HEADING);
    expect(await smsCount(test, account.mobileNumber!)).to.equal(1);
    const done = await submit(journey, sms, { code: await latestSmsCode(test, account.mobileNumber!) });
    const tokens = await finish(journey, done);
    expect(tokens.claims()).to.include({ vot: 'P0.Cp.Cd' });
    expect(await journeyAmr(test, journey.uid)).to.deep.equal(['pwd', 'sms']);
  });

  it('goes straight to a text message when the service accepts only Cd, with no way to the app', async () => {
    const { account } = await appAccount();
    const { page } = await toSecondFactor(account.email, '["P0.Cp.Cd"]');
    expect(heading(page)).to.equal(SMS_HEADING);
    expect(pageText(page)).to.not.contain('Use your authenticator app instead');
  });

  it('from the text message page, "Use your authenticator app instead" goes back to the app', async () => {
    const { account, secret } = await appAccount();
    const { journey, page } = await toSecondFactor(account.email, '["P0.Cp.Cd","P0.Cp.Ck"]');
    const sms = await journey.browser.submit(page, {}, { actionContains: '/use-text-message' });
    const app = await journey.browser.submit(sms, {}, { actionContains: '/use-authenticator-app' });
    expect(heading(app)).to.equal(APP_HEADING);
    const tokens = await finish(journey, await submit(journey, app, { code: await appCode(secret) }));
    expect(tokens.claims()).to.include({ vot: 'P0.Cp.Ck' });
  });

  it('an account without an app is never offered one', async () => {
    const account = await createAccount(test);
    const { page } = await toSecondFactor(account.email, '["P0.Cp.Cd","P0.Cp.Ck"]');
    expect(heading(page)).to.equal(SMS_HEADING);
    expect(pageText(page)).to.not.contain('authenticator app');
  });

  it('locks the step after 5 wrong codes: the right code is then refused too, on a 429 page', async () => {
    const { account, secret } = await appAccount();
    const { journey, page } = await toSecondFactor(account.email, '["P0.Cp.Ck"]');
    let current = page;
    const right = await appCode(secret);
    for (let i = 0; i < 4; i++) {
      current = await submit(journey, current, { code: wrongCode(right) });
      expect(current.status).to.equal(400);
    }
    const locked = await submit(journey, current, { code: wrongCode(right) });
    expect(locked.status).to.equal(429);
    expect(heading(locked)).to.equal('You entered the wrong security code too many times');
    expect(pageText(locked)).to.contain('enter the code your authenticator app shows');
    expect(pageText(locked)).to.contain('Reference: CL1003');
    const stillLocked = await journey.browser.post(`${test.url}/interaction/${journey.uid}/enter-authenticator-code`, { code: right, _csrf: /name="_csrf" value="([^"]+)"/.exec(page.html)![1]! });
    expect(stillLocked.status).to.equal(429);
    expect(stillLocked.callbackUrl).to.equal(undefined);
  });

  it('a locked app step offers a text message when the service accepts one, and that works', async () => {
    const { account, secret } = await appAccount();
    const { journey, page } = await toSecondFactor(account.email, '["P0.Cp.Cd","P0.Cp.Ck"]');
    let current = page;
    const right = await appCode(secret);
    for (let i = 0; i < 5; i++) current = await submit(journey, current, { code: wrongCode(right) });
    expect(current.status).to.equal(429);
    const sms = await journey.browser.submit(current, {}, { actionContains: '/use-text-message' });
    expect(heading(sms)).to.equal(SMS_HEADING);
    const tokens = await finish(journey, await submit(journey, sms, { code: await latestSmsCode(test, account.mobileNumber!) }));
    expect(tokens.claims()).to.include({ vot: 'P0.Cp.Cd' });
  });

  it('an app turned off at the hard cap is passed over for a text message when the service accepts one', async () => {
    const { account } = await appAccount();
    await test.idp.db.dataSource.query(
      `INSERT INTO attempt_counter (key, failures, consecutive_failures, window_started_at, locked_until, updated_at) VALUES ($1, 0, 100, now(), 'infinity', now())`,
      [lockoutKeys.authenticatorApp(account.id)],
    );
    const { page } = await toSecondFactor(account.email, '["P0.Cp.Cd","P0.Cp.Ck"]');
    expect(heading(page)).to.equal(SMS_HEADING);
    // And the text message page does not send them back to it.
    expect(pageText(page)).to.not.contain('Use your authenticator app instead');
  });

  it('a browser remembered from an app sign-in needs only the password next time, and reports Cd', async () => {
    const { account, secret } = await appAccount();
    const first = await toSecondFactor(account.email, '["P0.Cp.Cd","P0.Cp.Ck"]');
    const done = await submit(first.journey, first.page, { code: await appCode(secret), rememberDevice: 'yes' });
    expect((await finish(first.journey, done)).claims()).to.include({ vot: 'P0.Cp.Ck' });
    const second = await toSecondFactor(account.email, '["P0.Cp.Cd","P0.Cp.Ck"]', first.journey.browser, { prompt: 'login' });
    const tokens = await finish(second.journey, second.page);
    expect(tokens.claims()).to.include({ vot: 'P0.Cp.Cd' });
    expect(await journeyAmr(test, second.journey.uid)).to.deep.equal(['pwd', 'remembered_device']);
    expect(await smsCount(test, account.mobileNumber!)).to.equal(0);
  });

  it('steps up a session signed in with a text message to Ck with the app, without the password', async () => {
    const { account, secret } = await appAccount();
    const first = await toSecondFactor(account.email, '["P0.Cp.Cd"]');
    const done = await submit(first.journey, first.page, { code: await latestSmsCode(test, account.mobileNumber!) });
    await finish(first.journey, done);
    const again = await startJourney(test, { params: { vtr: '["P0.Cp.Ck"]' }, browser: first.journey.browser });
    expect(heading(again.page)).to.equal(APP_HEADING);
    const stepped = await submit(again, again.page, { code: await appCode(secret) });
    const tokens = await finish(again, stepped);
    expect(tokens.claims()).to.include({ vot: 'P0.Cp.Ck' });
    expect(await journeyAmr(test, again.uid)).to.have.members(['pwd', 'sms', 'otp']);
  });

  it('an account without an app that a service asks Ck of is told so honestly (access_denied), never given Cd', async () => {
    const account = await createAccount(test);
    const { journey, page } = await toSecondFactor(account.email, '["P0.Cp.Ck"]');
    expect(heading(page)).to.equal(SMS_HEADING);
    const after = await submit(journey, page, { code: await latestSmsCode(test, account.mobileNumber!) });
    expect(heading(after)).to.equal('You cannot sign in to this service in this way');
    expect(pageText(after)).to.contain('needs a security code from an authenticator app');
    expect(pageText(after)).to.contain('Reference: CL1021');
    const back = await journey.browser.submit(after, {}, { button: 'Continue' });
    expect(callbackError(back).error).to.equal('access_denied');
  });
});
