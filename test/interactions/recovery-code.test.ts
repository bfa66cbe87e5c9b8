import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import { recoveryCodeOffered } from '../../interactions/engine/guards.js';
import { findForm, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { APP_STALE_NOTICE } from '../../interactions/methods/new-recovery-codes/index.js';
import { SET_UP_MESSAGES } from '../../interactions/methods/set-up-authenticator-app/index.js';
import { addAuthenticatorApp, appCode, codesOn, createAccount, errorSummary, heading, journeyAmr, startJourney, submit, submitStepForm, TEST_PASSWORD, type Journey } from './support.js';

const APP_HEADING = 'Enter the security code from your authenticator app';
const SMS_HEADING = 'Check your mobile phone';
const RECOVERY_HEADING = 'Enter a recovery code';
const USED_HEADING = 'You signed in with a recovery code';

/** The authenticator app key a setup page shows as text ("I cannot scan the QR code"). */
function secretOn(page: Page): string {
  const key = /id="secret-key"><strong>([A-Z2-7 ]+)<\/strong>/.exec(page.html)?.[1];
  if (!key) throw new Error('no secret key on the page');
  return key.replace(/ /g, '');
}

describe('recoveryCodeOffered', () => {
  it('offers a recovery code in sign-in to an account with unused codes, never in a step-up', () => {
    expect(recoveryCodeOffered({ hasRecoveryCodes: true })).to.equal(true);
    expect(recoveryCodeOffered({ hasRecoveryCodes: false })).to.equal(false);
    expect(recoveryCodeOffered({})).to.equal(false);
    expect(recoveryCodeOffered({ hasRecoveryCodes: true, stepUp: { reason: 'credentials', missing: ['Ck'] } })).to.equal(false);
  });
});

/**
 * Signing in with a saved recovery code (decisions D21), over HTTP with a real relying party:
 * where "Use a recovery code" is offered, what a sign-in with one reports (Cp alone), the page after
 * it that offers a new set, and the way back to the usual second factor.
 */
describe('sign-in with a recovery code', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  async function codesAccount(options: { codes?: boolean } = {}): Promise<{ account: Account; codes: string[] }> {
    const account = await createAccount(test);
    await addAuthenticatorApp(test, account);
    const codes = options.codes === false ? [] : await test.idp.services.recoveryCodes.generate(account, { ip: '127.0.0.1' });
    return { account, codes };
  }

  async function toSecondFactor(email: string, vtr: string): Promise<{ journey: Journey; page: Page }> {
    const journey = await startJourney(test, { params: { vtr } });
    let page = await submit(journey, journey.page, { email });
    page = await submit(journey, page, { password: TEST_PASSWORD });
    return { journey, page };
  }

  async function toRecoveryCodePage(email: string, vtr: string): Promise<{ journey: Journey; page: Page }> {
    const { journey, page } = await toSecondFactor(email, vtr);
    expect(heading(page)).to.equal(APP_HEADING);
    const recovery = await journey.browser.submit(page, {}, { actionContains: '/use-recovery-code' });
    expect(heading(recovery)).to.equal(RECOVERY_HEADING);
    return { journey, page: recovery };
  }

  /** Past the consent page, if one comes, to the service's callback. */
  async function finish(journey: Journey, page: Page): Promise<Page> {
    return page.callbackUrl ? page : journey.browser.submit(page, {}, { button: 'Continue' });
  }

  async function left(accountId: string): Promise<number> {
    const [row] = await test.idp.db.dataSource.query('SELECT recovery_codes_left FROM account WHERE id = $1', [accountId]);
    return Number(row.recovery_codes_left);
  }

  it('offers "Use a recovery code" on the app and text message pages only to an account with unused codes', async () => {
    const without = await codesAccount({ codes: false });
    const plain = await toSecondFactor(without.account.email, '["P0.Cp.Ck","P0.Cp.Cd"]');
    expect(heading(plain.page)).to.equal(APP_HEADING);
    expect(pageText(plain.page)).to.not.contain('Use a recovery code');

    const { account } = await codesAccount();
    const app = await toSecondFactor(account.email, '["P0.Cp.Ck","P0.Cp.Cd"]');
    expect(pageText(app.page)).to.contain('Use a recovery code');
    const sms = await toSecondFactor(account.email, '["P0.Cp.Cd"]');
    expect(heading(sms.page)).to.equal(SMS_HEADING);
    expect(pageText(sms.page)).to.contain('Use a recovery code');
    const viaText = await sms.journey.browser.submit(sms.page, {}, { actionContains: '/use-recovery-code' });
    expect(heading(viaText)).to.equal(RECOVERY_HEADING);

    // Every code used: the link goes.
    await test.idp.db.dataSource.query('UPDATE recovery_code SET used_at = now() WHERE account_id = $1', [account.id]);
    await test.idp.db.dataSource.query('UPDATE account SET recovery_codes_left = 0 WHERE id = $1', [account.id]);
    const spent = await toSecondFactor(account.email, '["P0.Cp.Ck","P0.Cp.Cd"]');
    expect(pageText(spent.page)).to.not.contain('Use a recovery code');
  });

  it('signs in with a code (typed in lower case with spaces): the code is spent, the page says how many are left, and the service gets Cp alone', async () => {
    const { account, codes } = await codesAccount();
    const { journey, page } = await toRecoveryCodePage(account.email, '["P0.Cp.Ck","P0.Cp"]');
    const typed = codes[3]!.toLowerCase().replace(/(.{4})(?=.)/g, '$1 ');
    const used = await submit(journey, page, { code: typed });
    expect(heading(used)).to.equal(USED_HEADING);
    expect(pageText(used)).to.contain('You have 9 recovery codes left');
    expect(await left(account.id)).to.equal(9);

    const done = await finish(journey, await submitStepForm(journey, used));
    const tokens = await test.rp.exchange(done.callbackUrl!, journey.request);
    // A recovery code proves no second factor (D21): never Ck, whatever the service hoped for.
    expect(tokens.claims()).to.include({ sub: account.id, vot: 'P0.Cp' });
    expect(await journeyAmr(test, journey.uid)).to.deep.equal(['pwd']);
  });

  it('gets a new set on the page after: ten new codes shown once, the old ones dead, then on to the service', async () => {
    const { account, codes } = await codesAccount();
    const { journey, page } = await toRecoveryCodePage(account.email, '["P0.Cp"]');
    const used = await submit(journey, page, { code: codes[0]! });
    const fresh = await journey.browser.submit(used, {}, { actionContains: '/generate' });
    expect(heading(fresh)).to.equal('Save your new recovery codes');
    const shown = codesOn(fresh);
    expect(shown).to.have.length(10);
    expect(new Set(shown).size).to.equal(10);
    expect(shown.some((code) => codes.includes(code))).to.equal(false);
    expect(await left(account.id)).to.equal(10);

    const done = await finish(journey, await submitStepForm(journey, fresh));
    expect((await test.rp.exchange(done.callbackUrl!, journey.request)).claims()).to.include({ vot: 'P0.Cp' });
    // An old unused code no longer works; a new one does.
    expect(await test.idp.services.recoveryCodes.use(account, codes[1]!, { ip: '127.0.0.1' })).to.deep.equal({ used: false });
    expect(await test.idp.services.recoveryCodes.use(account, shown[0]!, { ip: '127.0.0.1' })).to.deep.equal({ used: true, left: 9 });
  });

  it('never claims more than was checked: a service that needs an app code asks for it after a recovery code, with no recovery code offered', async () => {
    const { account, codes } = await codesAccount();
    const { journey, page } = await toRecoveryCodePage(account.email, '["P0.Cp.Ck"]');
    const used = await submit(journey, page, { code: codes[0]! });
    const next = await submitStepForm(journey, used);
    expect(next.callbackUrl, 'no tokens for Cp alone').to.equal(undefined);
    expect(heading(next)).to.equal(APP_HEADING);
    expect(pageText(next)).to.not.contain('Use a recovery code');
  });

  it('refuses a wrong code with an error summary, and goes back to the app or a text message on request', async () => {
    const { account } = await codesAccount();
    const { journey, page } = await toRecoveryCodePage(account.email, '["P0.Cp.Ck","P0.Cp.Cd"]');
    const wrong = await submit(journey, page, { code: '0000 0000 0000 0000' });
    expect(wrong.status).to.equal(400);
    expect(heading(wrong)).to.equal(RECOVERY_HEADING);
    expect(errorSummary(wrong)).to.deep.equal(['The recovery code is not correct, or has already been used. Check the code and try again']);
    const malformed = await submit(journey, wrong, { code: 'not a code' });
    expect(errorSummary(malformed)).to.deep.equal(['Enter a recovery code in the right format: 16 letters and numbers, like 7KQ2 M9XD 4TRB H0WE']);
    expect(await left(account.id)).to.equal(10);

    const back = await journey.browser.submit(malformed, {}, { actionContains: '/use-authenticator-app' });
    expect(heading(back)).to.equal(APP_HEADING);
    const again = await journey.browser.submit(back, {}, { actionContains: '/use-recovery-code' });
    const text = await journey.browser.submit(again, {}, { actionContains: '/use-text-message' });
    expect(heading(text)).to.equal(SMS_HEADING);
  });

  it('refuses "Use a recovery code" in a step-up, where a recovery code could add nothing', async () => {
    const { account, codes } = await codesAccount();
    const { journey, page } = await toRecoveryCodePage(account.email, '["P0.Cp.Ck"]');
    const used = await submit(journey, page, { code: codes[0]! });
    const stepUp = await submitStepForm(journey, used);
    expect(heading(stepUp)).to.equal(APP_HEADING);
    // A forged post of the action the page does not offer: nothing happens, and nothing goes to the service.
    const action = findForm(stepUp).action;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(stepUp.html)![1]!;
    const forged = { ...stepUp, html: `${stepUp.html}<form method="post" action="${action}/use-recovery-code"><input type="hidden" name="_csrf" value="${csrf}"></form>` };
    const refused = await journey.browser.submit(forged, {}, { actionContains: '/use-recovery-code' });
    expect(heading(refused)).to.equal(APP_HEADING);
    expect(refused.callbackUrl).to.equal(undefined);
    expect(await left(account.id)).to.equal(9);
  });
  it('sets up a new authenticator app after a recovery code: the old app stops working, the new one proves Ck, and a service that needs Ck gets the person', async () => {
    const { account, codes } = await codesAccount();
    const oldSecret = (await test.idp.services.accounts.findById(account.id))!.authenticatorSecret;
    const { journey, page } = await toRecoveryCodePage(account.email, '["P0.Cp.Ck"]');
    const used = await submit(journey, page, { code: codes[0]! });
    const setUp = await journey.browser.submit(used, {}, { actionContains: '/set-up-authenticator-app' });
    expect(heading(setUp)).to.equal('Set up a new authenticator app');
    const secret = secretOn(setUp);

    // A mistyped code keeps the secret the person already scanned.
    const wrong = await submit(journey, setUp, { code: '000000' });
    expect(errorSummary(wrong)).to.deep.equal([SET_UP_MESSAGES.incorrect]);
    expect(secretOn(wrong)).to.equal(secret);

    const done = await finish(journey, await submit(journey, wrong, { code: await appCode(secret) }));
    const tokens = await test.rp.exchange(done.callbackUrl!, journey.request);
    expect(tokens.claims()).to.include({ sub: account.id, vot: 'P0.Cp.Ck' });
    expect(await journeyAmr(test, journey.uid)).to.deep.equal(['pwd', 'otp']);

    const stored = (await test.idp.services.accounts.findById(account.id))!;
    expect(stored.authenticatorSecret).to.not.equal(oldSecret);
    expect(await test.idp.services.authenticatorApps.check(stored, await appCode(secret, 30))).to.equal('valid');
    const emails: { template: string }[] = await test.idp.db.dataSource.query(`SELECT template FROM outbox_message WHERE recipient = $1 AND template = 'sign-in-method-changed'`, [account.email]);
    expect(emails.length, 'the owner is told of the new app').to.be.at.least(2);
  });

  it('offers no new app once 15 minutes have passed since the recovery code, and "Continue without an authenticator app" reports Cp alone', async () => {
    const { account, codes } = await codesAccount();
    const { journey, page } = await toRecoveryCodePage(account.email, '["P0.Cp"]');
    const used = await submit(journey, page, { code: codes[0]! });
    const setUp = await journey.browser.submit(used, {}, { actionContains: '/set-up-authenticator-app' });
    const secret = secretOn(setUp);
    await test.idp.db.dataSource.query(
      `UPDATE journey_state SET facts = jsonb_set(facts, '{recoveryCodeUsedAt}', to_jsonb($2::bigint)) WHERE uid = $1`,
      [journey.uid, Math.floor(Date.now() / 1000) - 16 * 60],
    );
    const stale = await submit(journey, setUp, { code: await appCode(secret) });
    expect(pageText(stale)).to.contain(APP_STALE_NOTICE);
    expect(stale.html).to.not.contain('id="secret-key"');
    expect((await test.idp.services.accounts.findById(account.id))!.authenticatorSecret, 'no app was bound').to.not.equal(null);
    expect(await test.idp.services.authenticatorApps.check((await test.idp.services.accounts.findById(account.id))!, await appCode(secret))).to.equal('invalid');

    const done = await finish(journey, await journey.browser.submit(stale, {}, { actionContains: '/skip' }));
    expect((await test.rp.exchange(done.callbackUrl!, journey.request)).claims()).to.include({ vot: 'P0.Cp' });
  });
  it('offers a recovery code on the page that says the app step is locked, and the code still signs the person in', async () => {
    const { account, codes } = await codesAccount();
    const { journey, page } = await toSecondFactor(account.email, '["P0.Cp.Ck","P0.Cp"]');
    let current = page;
    for (let i = 0; i < test.idp.config.limits.securityCodeAttempts; i++) current = await submitStepForm(journey, current, { code: '000000' });
    expect(current.status).to.equal(429);
    expect(heading(current)).to.equal('You entered the wrong security code too many times');
    const recovery = await journey.browser.submit(current, {}, { actionContains: '/use-recovery-code' });
    expect(heading(recovery)).to.equal(RECOVERY_HEADING);
    const used = await submit(journey, recovery, { code: codes[0]! });
    expect(heading(used)).to.equal(USED_HEADING);
  });
});
