import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createJourneyRunner, type InteractionDetails } from '../../interactions/runner.js';
import { createLogger } from '../../src/logger.js';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signInRemembering } from './remember-device-helpers.js';
import { latestEmailCode, newUkMobile, templatesSentTo, toCannotAccessMobile } from './recovery-helpers.js';
import { TEST_PASSWORD, createAccount, errorSummary, heading, latestSmsCode, startJourney, submit } from './support.js';

/** "I cannot access my mobile" end to end (security-bar A7, X1). */
describe('I cannot access my mobile', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true' } });
  });
  after(async () => test?.close());

  it('confirms the email address, proves a new number by a text to it, holds it for 24 hours with cancel links to the email and the old number, and signs in with Cp alone (X1)', async () => {
    const account = await createAccount(test, { proofingLevel: 'P9' });
    const oldMobile = account.mobileNumber!;
    const remembered = await signInRemembering(test, account);
    const mobile = newUkMobile();
    const { journey, page: emailPage } = await toCannotAccessMobile(test, account, { vtr: '["P9.Cp.Cd","P9.Cp"]' });
    expect(heading(emailPage)).to.equal('Check your email');
    expect(pageText(emailPage)).to.contain(account.email);
    expect(await templatesSentTo(test, account.email)).to.include('sign-in-email-code');

    let page = await submit(journey, emailPage, { code: await latestEmailCode(test, account.email) });
    expect(heading(page)).to.equal('Enter your new mobile phone number');
    page = await submit(journey, page, { mobile: mobile.typed });
    expect(heading(page)).to.equal('Check your new mobile phone');
    expect(pageText(page)).to.contain(mobile.e164.slice(-4));

    page = await submit(journey, page, { code: await latestSmsCode(test, mobile.e164) });
    expect(heading(page)).to.equal('We are changing your mobile phone number');
    expect(pageText(page)).to.contain(`ending in ${mobile.e164.slice(-4)}`);
    // Held: the account keeps its number, and both old contact details get the cancel link.
    expect((await test.idp.services.accounts.findById(account.id))!.mobileNumber).to.equal(oldMobile);
    const [held] = await test.idp.db.dataSource.query(`SELECT status, new_mobile, effective_at FROM mobile_change WHERE account_id = $1`, [account.id]);
    expect(held).to.include({ status: 'pending', new_mobile: mobile.e164 });
    expect(new Date(held.effective_at).getTime() - Date.now()).to.be.within(86_300_000, 86_500_000);
    expect(await templatesSentTo(test, account.email)).to.include('mobile-change-pending');
    expect(await templatesSentTo(test, oldMobile)).to.include('mobile-change-pending-sms');
    expect(await templatesSentTo(test, mobile.e164)).to.deep.equal(['mobile-confirmation-code']);
    // Changing the phone is an authenticator change: remembered devices are forgotten (B9).
    const devices: unknown[] = await test.idp.db.dataSource.query(`SELECT id FROM remembered_device WHERE account_id = $1`, [account.id]);
    expect(devices, `device ${remembered.value.split('.')[0]} forgotten`).to.deep.equal([]);

    page = await submit(journey, page, {});
    expect(heading(page)).to.match(/^Share your information/);
    page = await journey.browser.submit(page, {}, { button: 'Continue' });
    const claims = (await test.rp.exchange(page.callbackUrl!, journey.request)).claims()!;
    expect(claims.vot, 'the password and an email inbox: Cp alone').to.equal('P9.Cp');
    const [signedIn] = await test.idp.db.dataSource.query(`SELECT detail FROM audit_event WHERE account_id = $1 AND type = 'account.signed_in' ORDER BY id DESC LIMIT 1`, [account.id]);
    expect(signedIn.detail.amr).to.deep.equal(['pwd']);

    // While held, the next sign-in still texts the old number.
    const during = await startJourney(test);
    let duringPage = await submit(during, during.page, { email: account.email });
    duringPage = await submit(during, duringPage, { password: TEST_PASSWORD });
    expect(pageText(duringPage)).to.contain(`ending in ${oldMobile.slice(-4)}`);

    // When the hold ends, the worker makes the change and says so; the next sign-in texts the new number.
    await test.idp.db.dataSource.query(`UPDATE mobile_change SET effective_at = now() - interval '1 second' WHERE account_id = $1`, [account.id]);
    expect(await test.idp.services.mobileChanges.applyDue()).to.equal(1);
    expect(await test.idp.services.mobileChanges.applyDue(), 'applied once').to.equal(0);
    const after = (await test.idp.services.accounts.findById(account.id))!;
    expect(after.mobileNumber).to.equal(mobile.e164);
    expect(after.mobileVerifiedAt).to.be.instanceOf(Date);
    expect(await templatesSentTo(test, account.email)).to.include('mobile-changed');
    const next = await startJourney(test);
    let nextPage = await submit(next, next.page, { email: account.email });
    nextPage = await submit(next, nextPage, { password: TEST_PASSWORD });
    expect(pageText(nextPage)).to.contain(`ending in ${mobile.e164.slice(-4)}`);
  });

  it('gives a service that needs a security code an honest access_denied while the new number is held', async () => {
    const account = await createAccount(test);
    const mobile = newUkMobile();
    const { journey, page: emailPage } = await toCannotAccessMobile(test, account, { vtr: '["P0.Cp.Cd"]' });
    let page = await submit(journey, emailPage, { code: await latestEmailCode(test, account.email) });
    page = await submit(journey, page, { mobile: mobile.typed });
    page = await submit(journey, page, { code: await latestSmsCode(test, mobile.e164) });
    page = await submit(journey, page, {});
    expect(heading(page)).to.equal('You cannot use this service until your new mobile phone number is ready');
    page = await journey.browser.submit(page, {});
    const callback = new URL(page.callbackUrl!);
    expect(callback.searchParams.get('error')).to.equal('access_denied');
    expect(callback.searchParams.has('code')).to.equal(false);
  });

  it('refuses a wrong email code, a number that is not a UK mobile, and the number it is replacing', async () => {
    const account = await createAccount(test);
    const { journey, page: emailPage } = await toCannotAccessMobile(test, account);
    const code = await latestEmailCode(test, account.email);
    let page = await submit(journey, emailPage, { code: code === '000000' ? '111111' : '000000' });
    expect(errorSummary(page)).to.deep.equal(['The security code is not correct']);
    page = await submit(journey, page, { code });
    for (const [typed, message] of [
      ['', 'Enter your new mobile phone number'],
      ['020 7946 0000', 'Enter a mobile phone number. This is a landline number, which cannot receive text messages'],
      [account.mobileNumber!, 'Enter a different mobile phone number from the one you cannot access'],
    ] as const) {
      const answer = await submit(journey, page, { mobile: typed });
      expect(answer.status, typed).to.equal(400);
      expect(errorSummary(answer)).to.deep.equal([message]);
    }
  });

  it('can change the number before confirming it; only the code for the newest number works', async () => {
    const account = await createAccount(test);
    const first = newUkMobile();
    const second = newUkMobile();
    const { journey, page: emailPage } = await toCannotAccessMobile(test, account);
    let page = await submit(journey, emailPage, { code: await latestEmailCode(test, account.email) });
    page = await submit(journey, page, { mobile: first.typed });
    const firstCode = await latestSmsCode(test, first.e164);
    page = await journey.browser.submit(page, {}, { actionContains: '/change-number' });
    expect(heading(page)).to.equal('Enter your new mobile phone number');
    page = await submit(journey, page, { mobile: second.typed });
    const secondCode = await latestSmsCode(test, second.e164);
    if (firstCode !== secondCode) {
      const stale = await submit(journey, page, { code: firstCode });
      expect(errorSummary(stale)).to.deep.equal(['The security code is not correct']);
    }
    page = await submit(journey, page, { code: secondCode });
    expect(heading(page)).to.equal('We are changing your mobile phone number');
    expect((await test.idp.services.mobileChanges.heldFor(test.idp.db.dataSource, account.id))?.newMobile).to.equal(second.e164);
  });

  it('offers the same route on step-up, which holds the new number and ends honestly (the Cd it needs cannot be had yet)', async () => {
    const account = await createAccount(test);
    const runner = createJourneyRunner(test.idp.services);
    const request = { ip: '192.0.2.77', log: createLogger({ level: 'silent' }) };
    const details = {
      uid: randomUUID(),
      prompt: { name: 'vtr', reasons: ['vtr_unmet'], details: { reason: 'credentials', needed: 'P0.Cp.Cd' } },
      session: { accountId: account.id, uid: randomUUID(), cookie: randomUUID(), amr: ['pwd'] },
      params: { client_id: test.rp.clientId, scope: 'openid' },
      exp: Math.floor(Date.now() / 1000) + 600,
    } as unknown as InteractionDetails;
    await runner.show(details, request, undefined);
    const moved = await runner.act(details, request, 'enter-security-code', 'cannot-access-mobile');
    expect(moved).to.deep.equal({ kind: 'redirect', location: `/interaction/${details.uid}/change-mobile-confirm-email` });
    await runner.submit(details, request, 'change-mobile-confirm-email', { code: await latestEmailCode(test, account.email) });
    const mobile = newUkMobile();
    await runner.submit(details, request, 'change-mobile-enter-number', { mobile: mobile.typed });
    const held = await runner.submit(details, request, 'change-mobile-confirm-number', { code: await latestSmsCode(test, mobile.e164) });
    expect(held).to.deep.equal({ kind: 'redirect', location: `/interaction/${details.uid}/change-mobile-held` });
    const stop = await runner.submit(details, request, 'change-mobile-held', {});
    expect(stop).to.deep.equal({ kind: 'redirect', location: `/interaction/${details.uid}/mobile-change-held` });
    expect((await test.idp.services.mobileChanges.heldFor(test.idp.db.dataSource, account.id))?.newMobile).to.equal(mobile.e164);
  });
});
