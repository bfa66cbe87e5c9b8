import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import { pathOnly } from '../../src/logger.js';
import { Browser, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { latestEmailCode, newUkMobile, templatesSentTo, toCannotAccessMobile } from './recovery-helpers.js';
import { TEST_PASSWORD, createAccount, heading, latestSmsCode, submit, type Journey } from './support.js';
import { signInToAccount } from '../account/support.js';

/**
 * security-bar X1: a new mobile from "I cannot access my mobile" rests on the password and the email
 * inbox alone, so it is held, and the cancel link sent to the old contact details is the owner's way
 * out. The link must act only on POST, once, and only while the change is held.
 */
describe('the hold on a mobile changed without the old phone (X1)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true' } });
  });
  after(async () => test?.close());

  /**
   * An attacker with the password and the inbox puts their own number on hold; returns the cancel
   * link sent to the old number, and the attacker's journey, resting on the "being changed" page.
   */
  async function heldChange(account: Account): Promise<{ link: string; newMobile: string; journey: Journey; page: Page }> {
    const mobile = newUkMobile();
    const { journey, page: emailPage } = await toCannotAccessMobile(test, account, { vtr: '["P0.Cp"]' });
    let page = await submit(journey, emailPage, { code: await latestEmailCode(test, account.email) });
    page = await submit(journey, page, { mobile: mobile.typed });
    page = await submit(journey, page, { code: await latestSmsCode(test, mobile.e164) });
    expect(heading(page)).to.equal('We are changing your mobile phone number');
    const [sms] = await test.idp.db.dataSource.query(`SELECT body FROM outbox_message WHERE recipient = $1 AND template = 'mobile-change-pending-sms'`, [account.mobileNumber]);
    const link = /(https?:\/\/\S+\/cancel-mobile\/[A-Za-z0-9_-]{43})/.exec(sms?.body ?? '')?.[1];
    expect(link, 'the old number gets the cancel link').to.be.a('string');
    const [email] = await test.idp.db.dataSource.query(`SELECT body FROM outbox_message WHERE recipient = $1 AND template = 'mobile-change-pending'`, [account.email]);
    expect(email.body, 'so does the email address').to.include(link);
    return { link: link!, newMobile: mobile.e164, journey, page };
  }

  const status = async (accountId: string): Promise<string> =>
    (await test.idp.db.dataSource.query(`SELECT status FROM mobile_change WHERE account_id = $1 ORDER BY created_at DESC LIMIT 1`, [accountId]))[0].status;

  it('a GET of the link (a mail scanner, a link preview) changes nothing; a forged form is refused', async () => {
    const account = await createAccount(test);
    const { link } = await heldChange(account);
    const browser = new Browser();
    const page = await browser.get(link);
    expect(page.status).to.equal(200);
    expect(heading(page)).to.equal('Cancel the change to your mobile phone number');
    expect(page.headers.get('cache-control')).to.include('no-store');
    expect(await status(account.id)).to.equal('pending');
    const forged = await browser.post(link, { _csrf: 'forged' }, { origin: new URL(link).origin });
    expect(forged.status).to.equal(403);
    const crossSite = await browser.submit(page, {}, { headers: { origin: 'https://attacker.example' } });
    expect(crossSite.status).to.equal(403);
    expect(await status(account.id)).to.equal('pending');
  });

  it('cancels once: everyone is signed out, devices forgotten, the owner emailed; the number never changes', async () => {
    const account = await createAccount(test);
    // The owner (or the attacker) signed in somewhere.
    const { browser: signedIn } = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
    const { link } = await heldChange(account);
    const browser = new Browser();
    const asked = await browser.get(link);
    const done = await browser.submit(asked, {});
    expect(done.status).to.equal(200);
    expect(heading(done)).to.equal('You have cancelled the change to your mobile phone number');
    expect(pageText(done)).to.include('Reset your password');
    expect(await status(account.id)).to.equal('cancelled');
    const silent = await test.rp.authorize({ vtr: '["P0.Cp.Cd"]', prompt: 'none' });
    expect(new URL((await signedIn.get(silent.url)).callbackUrl!).searchParams.get('error'), 'signed out').to.equal('sso_login_required');
    expect(await templatesSentTo(test, account.email)).to.include('mobile-change-cancelled');

    // Used: the same link again, GET or POST, says so and does nothing.
    const again = await browser.get(link);
    expect(again.status).to.equal(400);
    expect(heading(again)).to.equal('This change has already been cancelled');
    const replayed = await browser.submit(asked, {});
    expect(replayed.status).to.equal(400);
    expect(heading(replayed)).to.equal('This change has already been cancelled');
    await test.idp.db.dataSource.query(`UPDATE mobile_change SET effective_at = now() - interval '1 second' WHERE account_id = $1`, [account.id]);
    expect(await test.idp.services.mobileChanges.applyDue(), 'a cancelled change is never applied').to.equal(0);
    expect((await test.idp.services.accounts.findById(account.id))!.mobileNumber).to.equal(account.mobileNumber);
  });

  it('cannot cancel once the change has taken effect; a link never issued is not recognised', async () => {
    const account = await createAccount(test);
    const { link } = await heldChange(account);
    const browser = new Browser();
    const page = await browser.get(link);
    await test.idp.db.dataSource.query(`UPDATE mobile_change SET effective_at = now() - interval '1 second' WHERE account_id = $1`, [account.id]);
    const late = await browser.submit(page, {});
    expect(late.status).to.equal(400);
    expect(heading(late)).to.equal('This link has expired');
    expect(await status(account.id)).to.equal('pending');

    for (const bad of [`${link.slice(0, -1)}${link.endsWith('A') ? 'B' : 'A'}`, `${new URL(link).origin}/cancel-mobile/short`]) {
      const unknown = await browser.get(bad);
      expect(unknown.status, bad).to.equal(404);
      expect(heading(unknown)).to.equal('This link is not recognised');
    }
  });

  it('a newer change, or one made in Your account, replaces the held one and its link', async () => {
    const account = await createAccount(test);
    const first = await heldChange(account);
    const second = await heldChange(account);
    const rows: { new_mobile: string; status: string }[] = await test.idp.db.dataSource.query(`SELECT new_mobile, status FROM mobile_change WHERE account_id = $1 ORDER BY created_at`, [account.id]);
    expect(rows).to.deep.equal([{ new_mobile: first.newMobile, status: 'superseded' }, { new_mobile: second.newMobile, status: 'pending' }]);
    const stale = await new Browser().get(first.link);
    expect(heading(stale)).to.equal('This link has expired');
  });

  it('the owner, signed in with the old number, sees the held change in Your account and can cancel it there', async () => {
    const account = await createAccount(test);
    const { link } = await heldChange(account);
    const { browser, page } = await signInToAccount(test, account);
    expect(pageText(page)).to.include('Your mobile phone number is being changed');
    const done = await browser.submit(page, {}, { actionContains: '/account/mobile/cancel-change' });
    expect(heading(done)).to.equal('You have cancelled the change to your mobile phone number');
    expect(await status(account.id)).to.equal('cancelled');
    expect(heading(await new Browser().get(link)), 'the link is spent too').to.equal('This change has already been cancelled');
    const after = await browser.get(`${test.url}/account`);
    expect(heading(after), 'this browser was signed out too').not.to.equal('Your account');
  });

  it('never applies a change held for an account disabled since, not even once it is enabled again', async () => {
    const account = await createAccount(test);
    await heldChange(account);
    await test.idp.db.dataSource.query(`UPDATE account SET status = 'disabled' WHERE id = $1`, [account.id]);
    await test.idp.db.dataSource.query(`UPDATE mobile_change SET effective_at = now() - interval '1 second' WHERE account_id = $1`, [account.id]);
    await test.idp.services.mobileChanges.applyDue();
    expect(await status(account.id)).to.equal('superseded');
    await test.idp.db.dataSource.query(`UPDATE account SET status = 'active' WHERE id = $1`, [account.id]);
    await test.idp.services.mobileChanges.applyDue();
    expect((await test.idp.services.accounts.findById(account.id))!.mobileNumber).to.equal(account.mobileNumber);
  });

  it('a change cancelled while its journey is still open signs nobody in: Continue ends with access_denied', async () => {
    const account = await createAccount(test);
    // The owner uses the link texted to the old number while the attacker's page is open.
    const { link, journey, page } = await heldChange(account);
    const owner = new Browser();
    await owner.submit(await owner.get(link), {});
    expect(await status(account.id)).to.equal('cancelled');

    const ended = await submit(journey, page, {});
    expect(heading(ended)).to.equal('Your mobile phone number has not been changed');
    const back = await journey.browser.submit(ended, {});
    const callback = new URL(back.callbackUrl!);
    expect(callback.searchParams.get('error')).to.equal('access_denied');
    expect(callback.searchParams.has('code')).to.equal(false);
    const signedIn: unknown[] = await test.idp.db.dataSource.query(`SELECT id FROM audit_event WHERE account_id = $1 AND type = 'account.signed_in'`, [account.id]);
    expect(signedIn, 'no sign-in recorded').to.deep.equal([]);
  });

  it('keeps the token out of the logs', () => {
    expect(pathOnly(`/cancel-mobile/${'A'.repeat(43)}`)).to.equal('/cancel-mobile/:token');
  });
});
