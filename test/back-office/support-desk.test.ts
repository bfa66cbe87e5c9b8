import { expect } from 'chai';
import * as oidc from 'openid-client';
import { randomUUID } from 'node:crypto';
import { createPasswordReset } from '../../src/accounts/password-reset.js';
import { createRememberedDevices } from '../../src/accounts/remembered-devices.js';
import { registerAccount } from '../../src/accounts/registration.js';
import { WRONG_CREDENTIALS } from '../../interactions/methods/password/index.js';
import { lockoutKeys, passwordPolicy } from '../../src/security/attempt-counters.js';
import { pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { ageSignIn, csrfOf, outbox, signInToAccount } from '../account/support.js';
import { TEST_PASSWORD, addPasskey, createAccount, errorSummary, heading, passkeyOptionsOn, smsCount, startJourney, submit } from '../interactions/support.js';
import { newMobile, smsCodeTo } from '../interactions/create-account-helpers.js';
import { freshBrowser, signInRemembering } from '../interactions/remember-device-helpers.js';
import { auditTypes, findOnDesk, formatNhsNumber, passwordAnswer, signedInReviewer, signedInSupport, testNhsNumber } from './support.js';

const VTR = { vtr: '["P0.Cp.Cd"]' };

describe('back office: the support desk (find an account, see its state, lift locks, disable and enable it)', function () {
  this.timeout(60_000);
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ rp: { refreshTokens: true } });
  });
  after(async () => test?.close());

  /** A P5 patient with an NHS number, a name and a known mobile. */
  async function patient(): Promise<{ id: string; email: string; nhsNumber: string; mobile: string }> {
    const account = await createAccount(test, { proofingLevel: 'P5' });
    const nhsNumber = testNhsNumber();
    await test.idp.db.dataSource.query(`UPDATE account SET given_name = 'Grace', family_name = 'Hopper', nhs_number = $2 WHERE id = $1`, [account.id, nhsNumber]);
    return { id: account.id, email: account.email, nhsNumber, mobile: account.mobileNumber! };
  }

  /** Posts the action's form (reason and CSRF) from its own page; the answer. */
  async function act(browser: Awaited<ReturnType<typeof signedInSupport>>['browser'], accountId: string, action: 'unlock' | 'disable' | 'enable' | 'cleanse', reason: string): Promise<Page> {
    const form = await browser.get(`${test.url}/back-office/accounts/${accountId}/${action}`);
    expect(form.status, pageText(form).slice(0, 300)).to.equal(200);
    return browser.submit(form, { reason }, { actionContains: `/back-office/accounts/${accountId}/${action}` });
  }

  async function refreshError(refreshToken: string): Promise<string | undefined> {
    try {
      await oidc.refreshTokenGrant(await test.rp.configuration(), refreshToken);
      return undefined;
    } catch (error) {
      return (error as { error?: string }).error;
    }
  }

  it('support staff arriving at /back-office land on "Find an account"; a reviewer still lands on the queue', async () => {
    const { browser } = await signedInSupport(test);
    const again = await browser.get(`${test.url}/back-office`);
    expect(again.url).to.equal(`${test.url}/back-office/accounts`);
    expect(again.headers.get('cache-control')).to.equal('no-store');
    expect(again.html).to.include('name="_csrf"');
    const reviewer = await signedInReviewer(test);
    expect(heading(await reviewer.browser.get(`${test.url}/back-office`))).to.equal('Identity checks');
  });

  it('support staff see who they are signed in as and can sign out (C4), after which the desk asks them to sign in', async () => {
    const { account, browser, page } = await signedInSupport(test);
    expect(pageText(page)).to.include(`Signed in as ${account.email}`);
    const out = await browser.submit(page, {}, { actionContains: '/back-office/sign-out' });
    expect(heading(out)).to.equal('You have signed out');
    expect((await browser.get(`${test.url}/back-office/accounts`)).url).to.include('/interaction/');
  });

  it('finds an account by its email address (any case), its NHS number (with spaces) and its account ID, and shows its state', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await patient();
    for (const [query, by] of [[person.email.toUpperCase(), 'email'], [formatNhsNumber(person.nhsNumber), 'nhs-number'], [person.id.toUpperCase(), 'account-id']] as const) {
      const page = await findOnDesk(test, browser, query, `ticket ${by}`);
      expect(page.status, `${by}: ${pageText(page).slice(0, 300)}`).to.equal(200);
      expect(heading(page)).to.equal('Account details');
      const text = pageText(page);
      expect(text).to.include(person.id).and.include(person.email).and.include(formatNhsNumber(person.nhsNumber)).and.include('P5: details matched to an NHS record');
      expect(text).to.include('Active').and.include(`Ending in ${person.mobile.slice(-3)}`).and.include('Confirmed');
      // The mobile is masked: no more than its last 3 digits anywhere on the page.
      expect(page.html).to.not.include(person.mobile.slice(-4)).and.not.include(person.mobile);
      expect(text).to.include('No failed attempts are counted against this account').and.include('No identity check is waiting');
      expect(page.html).to.include(`href="/back-office/accounts/${person.id}/disable"`);
    }
    const rows = await auditTypes(test, staff.id);
    const searched = rows.filter((r) => r.type === 'back_office.account_searched');
    expect(searched.map((r) => r.detail)).to.deep.equal([
      { by: 'email', found: true, note: 'ticket email', subject: person.id },
      { by: 'nhs-number', found: true, note: 'ticket nhs-number', subject: person.id },
      { by: 'account-id', found: true, note: 'ticket account-id', subject: person.id },
    ]);
    expect(rows.filter((r) => r.type === 'back_office.account_viewed').map((r) => r.detail.subject)).to.deep.equal([person.id, person.id, person.id]);
  });

  it('shows sign-in methods, locks, an open identity check and recent events (type and time only)', async () => {
    const { browser } = await signedInSupport(test);
    const person = await patient();
    await test.idp.services.photoIdCases.submit({ accountId: person.id, documentType: 'passport', spokenDigits: '1234', photo: { contentType: 'image/jpeg', content: Buffer.from('jpeg') }, video: { contentType: 'video/mp4', content: Buffer.from('mp4') } });
    for (let i = 0; i < 5; i++) await test.idp.services.counters.recordFailure(lockoutKeys.password(person.id), passwordPolicy(test.idp.config));
    await test.idp.services.audit.record('password.failed', { accountId: person.id, detail: { reason: 'wrong_password', secretish: 'never shown' } });
    const page = await findOnDesk(test, browser, person.email, 'caller locked out, ticket 77');
    const text = pageText(page);
    expect(text).to.match(/Authenticator app\s+None/).and.match(/Passkeys\s+0/).and.match(/Remembered devices\s+0/);
    expect(text).to.match(/password\s+Locked until/);
    expect(text).to.include('A photo ID check sent').and.include('is waiting for a reviewer');
    expect(text).to.include('password.failed').and.include('identity.case_submitted');
    expect(text).to.not.include('never shown');
    expect(page.html).to.include(`href="/back-office/accounts/${person.id}/unlock"`);
  });

  it('needs a reason or ticket number before it shows an account, and searches only whole keys (no partial match, no listing)', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await patient();
    const noReason = await findOnDesk(test, browser, person.email, '  ');
    expect(noReason.status).to.equal(400);
    expect(errorSummary(noReason)).to.deep.equal(['Enter a reason or ticket number']);
    expect(pageText(noReason)).to.not.include(person.id);
    const empty = await findOnDesk(test, browser, '', 'ticket 1');
    expect(errorSummary(empty)).to.deep.equal(['Enter an email address, NHS number or account ID']);
    const badNumber = await findOnDesk(test, browser, '999 000 0001', 'ticket 1');
    expect(errorSummary(badNumber)).to.deep.equal(['Enter a valid 10-digit NHS number']);
    for (const partial of [person.email.slice(0, 8), 'Hopper', person.email.replace(/^[^@]+/, '%'), person.email.slice(0, -3)]) {
      const page = await findOnDesk(test, browser, partial, 'ticket 2');
      expect(page.status, partial).to.be.oneOf([400, 404]);
      expect(heading(page), partial).to.equal('Find an account');
      expect(pageText(page), partial).to.not.include(person.id);
    }
    const miss = await findOnDesk(test, browser, 'nobody-here@example.test', 'ticket 3');
    expect(miss.status).to.equal(404);
    expect(errorSummary(miss)).to.deep.equal(['No account has this email address']);
    // Nothing was viewed; the searches that ran are audited, without what was searched for.
    const rows = await auditTypes(test, staff.id);
    expect(rows.filter((r) => r.type === 'back_office.account_viewed')).to.deep.equal([]);
    expect(rows.filter((r) => r.type === 'back_office.account_searched').at(-1)!.detail).to.deep.equal({ by: 'email', found: false, note: 'ticket 3' });
    expect(JSON.stringify(rows)).to.not.include('nobody-here');
  });

  it('opening an account by its ID asks for the reason first and shows nothing of it before', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await patient();
    const ask = await browser.get(`${test.url}/back-office/accounts/${person.id}`);
    expect(heading(ask)).to.equal('Why are you opening this account?');
    expect(pageText(ask)).to.not.include(person.email);
    const noReason = await browser.submit(ask, { reason: '' }, { actionContains: `/back-office/accounts/${person.id}` });
    expect(noReason.status).to.equal(400);
    expect(errorSummary(noReason)).to.deep.equal(['Enter a reason or ticket number']);
    expect(pageText(noReason)).to.not.include(person.email);
    const shown = await browser.submit(ask, { reason: 'follow-up, ticket 9' }, { actionContains: `/back-office/accounts/${person.id}` });
    expect(heading(shown)).to.equal('Account details');
    expect(pageText(shown)).to.include(person.email);
    expect((await auditTypes(test, staff.id)).filter((r) => r.type === 'back_office.account_viewed').map((r) => r.detail)).to.deep.equal([{ subject: person.id, note: 'follow-up, ticket 9', via: 'link' }]);
    expect((await browser.get(`${test.url}/back-office/accounts/${randomUUID()}`)).status).to.equal(404);
    expect((await browser.get(`${test.url}/back-office/accounts/not-an-id`)).status).to.equal(404);
  });

  it('lifts an account\'s locks (the CLI\'s code) with a reason, audited; the patient can sign in again', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await patient();
    for (let i = 0; i < 5; i++) await test.idp.services.counters.recordFailure(lockoutKeys.password(person.id), passwordPolicy(test.idp.config));
    expect((await test.idp.services.counters.status(lockoutKeys.password(person.id))).locked).to.equal(true);
    const form = await browser.get(`${test.url}/back-office/accounts/${person.id}/unlock`);
    expect(heading(form)).to.equal('Lift the locks on this account');
    const noReason = await browser.submit(form, { reason: '' }, { actionContains: '/back-office/accounts/' });
    expect(noReason.status).to.equal(400);
    expect(errorSummary(noReason)).to.deep.equal(['Enter a reason or ticket number']);
    expect((await test.idp.services.counters.status(lockoutKeys.password(person.id))).locked).to.equal(true);

    const done = await browser.submit(form, { reason: 'caller passed security questions, ticket 5' }, { actionContains: '/back-office/accounts/' });
    expect(done.status).to.equal(200);
    expect(heading(done)).to.equal('Locks lifted');
    expect(pageText(done)).to.include('We cleared 1 counter');
    expect((await test.idp.services.counters.status(lockoutKeys.password(person.id))).locked).to.equal(false);
    const [row] = await auditTypes(test, person.id, 'account.unlocked');
    expect(row!.detail).to.deep.equal({ by: 'support', supportAccountId: staff.id, note: 'caller passed security questions, ticket 5', counters: 1 });
    await signIn(test, { email: person.email, password: TEST_PASSWORD }, { params: VTR });
  });

  it('C4: disabling ends every session and token: Your account, single sign-on, refresh and userinfo; the patient is emailed', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await patient();
    const account = (await test.idp.services.accounts.findById(person.id))!;
    const { browser: patientBrowser } = await signInToAccount(test, account);
    const signedIn = await signIn(test, { email: person.email, password: TEST_PASSWORD }, { params: VTR, browser: patientBrowser });
    const tokens = await test.rp.exchange(signedIn.callbackUrl, signedIn.request);
    expect(tokens.refresh_token).to.be.a('string');
    expect((await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).to.equal(200);

    const form = await browser.get(`${test.url}/back-office/accounts/${person.id}/disable`);
    expect(heading(form)).to.equal('Disable this account');
    const noReason = await browser.submit(form, { reason: '' }, { actionContains: '/back-office/accounts/' });
    expect(noReason.status).to.equal(400);
    expect((await test.idp.services.accounts.findById(person.id))!.status).to.equal('active');

    const done = await browser.submit(form, { reason: 'reported by the patient as used by someone else, INC-101' }, { actionContains: '/back-office/accounts/' });
    expect(done.status).to.equal(200);
    expect(heading(done)).to.equal('Account disabled');
    expect((await test.idp.services.accounts.findById(person.id))!.status).to.equal('disabled');
    const [row] = await auditTypes(test, person.id, 'account.disabled');
    expect(row!.detail).to.deep.include({ by: 'support', supportAccountId: staff.id, note: 'reported by the patient as used by someone else, INC-101' });
    expect((await outbox(test, person.email, 'account-disabled'))[0]!.body).to.include('has been disabled').and.include('CID2012');

    // Everything resting on the patient's sign-ins is gone.
    const models: { model: string }[] = await test.idp.db.dataSource.query(`SELECT model FROM oidc_model WHERE payload->>'accountId' = $1`, [person.id]);
    expect(models).to.deep.equal([]);
    expect(heading(await patientBrowser.get(`${test.url}/account`))).to.not.equal('Your account');
    expect(await refreshError(tokens.refresh_token!)).to.equal('invalid_grant');
    expect((await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).to.equal(401);

    // The account page says so and offers to enable it instead.
    const shown = await findOnDesk(test, browser, person.email, 'check, INC-101');
    expect(pageText(shown)).to.include('Disabled: cannot sign in');
    expect(shown.html).to.include(`href="/back-office/accounts/${person.id}/enable"`).and.not.include(`/accounts/${person.id}/disable"`);
  });

  it('a disabled account: the right password gets "Your account has been disabled" (CID2012); a wrong one the ordinary error; reset and registration do not enable it', async () => {
    const { browser } = await signedInSupport(test);
    const person = await patient();
    expect(heading(await act(browser, person.id, 'disable', 'INC-202'))).to.equal('Account disabled');

    const right = await passwordAnswer(test, person.email, TEST_PASSWORD);
    expect(right.status).to.equal(403);
    expect(heading(right)).to.equal('Your account has been disabled');
    expect(pageText(right)).to.include('Reference: CID2012');
    expect(right.callbackUrl).to.equal(undefined);
    const wrong = await passwordAnswer(test, person.email, 'not the password at all');
    const active = await createAccount(test);
    expect(wrong.status).to.equal((await passwordAnswer(test, active.email, 'not the password at all')).status);
    expect(errorSummary(wrong)).to.deep.equal([WRONG_CREDENTIALS]);
    expect(pageText(wrong)).to.not.include('disabled');
    const refused = (await auditTypes(test, person.id, 'sign_in.')).map((r) => r.type);
    expect(refused).to.deep.equal(['sign_in.account_disabled']);

    // A password reset sends no link to a disabled account, and registering its address changes nothing.
    await createPasswordReset(test.idp.services).request(person.email, {});
    expect(await outbox(test, person.email, 'password-reset-link')).to.deep.equal([]);
    const hash = await test.idp.services.hasher.hash('a brand new password for this');
    const registered = await registerAccount(test.idp.services, { email: person.email, passwordHash: hash, termsVersion: '1', journeyId: randomUUID() });
    expect(registered.outcome).to.equal('exists');
    const after = (await test.idp.services.accounts.findById(person.id))!;
    expect(after.status).to.equal('disabled');
    expect(await test.idp.services.hasher.verify(after.passwordHash, TEST_PASSWORD)).to.equal(true);
  });

  it('a disabled account\'s passkey gets "Your account has been disabled" too, and signs nothing in', async () => {
    const person = await createAccount(test);
    const authenticator = await addPasskey(test, person);
    await test.idp.db.dataSource.query(`UPDATE account SET status = 'disabled' WHERE id = $1`, [person.id]);
    const journey = await startJourney(test, { params: { vtr: '["P0.Cp.Cd","P0.Cm"]' } });
    const page = await journey.browser.submit(journey.page, {}, { actionContains: '/use-passkey' });
    const answer = await journey.browser.submit(page, { credential: JSON.stringify(authenticator.authenticate(passkeyOptionsOn(page))) });
    expect(answer.status).to.equal(403);
    expect(heading(answer)).to.equal('Your account has been disabled');
    expect(answer.callbackUrl).to.equal(undefined);
    expect((await auditTypes(test, person.id, 'sign_in.')).map((r) => r.detail.method)).to.deep.equal(['passkey']);
  });

  it('re-enabling lets the patient sign in again and emails them; disabling or enabling twice changes nothing more', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await patient();
    expect(heading(await act(browser, person.id, 'disable', 'INC-303'))).to.equal('Account disabled');
    const twice = await browser.post(`${test.url}/back-office/accounts/${person.id}/disable`, { _csrf: csrfOf(await browser.get(`${test.url}/back-office/accounts/${person.id}/enable`)), reason: 'again' }, { origin: test.url });
    expect(pageText(twice)).to.include('Nothing changed: the account was already disabled');

    const enabled = await act(browser, person.id, 'enable', 'identity confirmed by phone, INC-303');
    expect(heading(enabled)).to.equal('Account enabled');
    expect((await test.idp.services.accounts.findById(person.id))!.status).to.equal('active');
    expect((await outbox(test, person.email, 'account-enabled'))).to.have.length(1);
    const [row] = await auditTypes(test, person.id, 'account.enabled');
    expect(row!.detail).to.deep.equal({ by: 'support', supportAccountId: staff.id, note: 'identity confirmed by phone, INC-303' });

    const signedIn = await signIn(test, { email: person.email, password: TEST_PASSWORD }, { params: VTR });
    const tokens = await test.rp.exchange(signedIn.callbackUrl, signedIn.request);
    expect((await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).to.equal(200);
    const form = await browser.get(`${test.url}/back-office/accounts/${person.id}/enable`);
    expect(pageText(form)).to.include('This account is not disabled');
  });

  it('removing a mobile number (cleanse): the number, remembered devices, a held change and every session go; the owner is emailed, the number is not texted; nothing else changes', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await patient();
    const account = (await test.idp.services.accounts.findById(person.id))!;
    // A remembered browser (it stood in for the phone), a Your account session, a service's tokens and a held change of number.
    const { value: deviceCookie } = await signInRemembering(test, account);
    const { browser: patientBrowser } = await signInToAccount(test, account);
    const signedIn = await signIn(test, { email: person.email, password: TEST_PASSWORD }, { params: VTR, browser: patientBrowser });
    const tokens = await test.rp.exchange(signedIn.callbackUrl, signedIn.request);
    await test.idp.db.dataSource.query(`INSERT INTO mobile_change (account_id, new_mobile, effective_at, cancel_token_hash) VALUES ($1, '+447700900123', now() + interval '1 day', $2)`, [person.id, 'c'.repeat(64)]);
    const devices = createRememberedDevices(test.idp.db.dataSource, test.idp.config);
    expect(await devices.listDevices(person.id)).to.have.length(1);

    const shown = await findOnDesk(test, browser, person.email, 'caller says number recycled, INC-501');
    expect(shown.html).to.include(`href="/back-office/accounts/${person.id}/cleanse"`);
    const form = await browser.get(`${test.url}/back-office/accounts/${person.id}/cleanse`);
    expect(heading(form)).to.equal('Remove the mobile phone number from this account');
    expect(pageText(form)).to.include(`Mobile phone number: Ending in ${person.mobile.slice(-3)}`);
    expect(form.html).to.not.include(person.mobile.slice(-4));
    const noReason = await browser.submit(form, { reason: ' ' }, { actionContains: '/cleanse' });
    expect(noReason.status).to.equal(400);
    expect(errorSummary(noReason)).to.deep.equal(['Enter a reason or ticket number']);
    expect((await test.idp.services.accounts.findById(person.id))!.mobileNumber).to.equal(person.mobile);

    const textsBefore = await smsCount(test, person.mobile);
    const done = await browser.submit(form, { reason: 'number recycled by the network, INC-501' }, { actionContains: '/cleanse' });
    expect(done.status).to.equal(200);
    expect(heading(done)).to.equal('Mobile phone number removed');
    const after = (await test.idp.services.accounts.findById(person.id))!;
    expect({ mobile: after.mobileNumber, verified: after.mobileVerifiedAt, pds: after.phoneNumberPdsMatched }).to.deep.equal({ mobile: null, verified: null, pds: false });
    // Nothing else changed.
    expect({ status: after.status, email: after.email, level: after.proofingLevel, nhs: after.nhsNumber }).to.deep.equal({ status: 'active', email: person.email, level: 'P5', nhs: person.nhsNumber });
    expect(await test.idp.services.hasher.verify(after.passwordHash!, TEST_PASSWORD)).to.equal(true);
    expect(await devices.listDevices(person.id)).to.deep.equal([]);
    const [held]: { status: string }[] = await test.idp.db.dataSource.query(`SELECT status FROM mobile_change WHERE account_id = $1`, [person.id]);
    expect(held!.status).to.equal('superseded');
    // Every session ends: Your account, the service's refresh token.
    expect(heading(await patientBrowser.get(`${test.url}/account`))).to.not.equal('Your account');
    expect(await refreshError(tokens.refresh_token!)).to.equal('invalid_grant');
    expect((await outbox(test, person.email, 'mobile-removed'))[0]!.body).to.include('removed the mobile phone number');
    expect(await smsCount(test, person.mobile), 'the removed number is not texted').to.equal(textsBefore);
    const [row] = await auditTypes(test, person.id, 'mobile.cleansed');
    expect(row!.detail).to.deep.equal({ by: 'support', supportAccountId: staff.id, note: 'number recycled by the network, INC-501', devicesRemoved: 1, heldChangesSetAside: 1 });

    // The account page shows it: no mobile, no "remove" link, the event.
    const again = await findOnDesk(test, browser, person.email, 'check, INC-501');
    expect(pageText(again)).to.match(/Mobile phone number\s+None/).and.include('mobile.cleansed');
    expect(again.html).to.not.include(`/accounts/${person.id}/cleanse"`);
    expect(pageText(await browser.get(`${test.url}/back-office/accounts/${person.id}/cleanse`))).to.include('This account has no mobile phone number');
    const twice = await browser.post(`${test.url}/back-office/accounts/${person.id}/cleanse`, { _csrf: csrfOf(form), reason: 'again' }, { origin: test.url });
    expect(pageText(twice)).to.include('Nothing changed: the account has no mobile phone number');
    expect(await auditTypes(test, person.id, 'mobile.cleansed')).to.have.length(1);

    // The next sign-in, even in the remembered browser, asks for a new mobile and proves it (a real code flow).
    const journey = await startJourney(test, { browser: freshBrowser(test, deviceCookie), params: VTR });
    let page = await submit(journey, journey.page, { email: person.email });
    page = await submit(journey, page, { password: TEST_PASSWORD });
    expect(heading(page)).to.equal('Enter your mobile phone number');
    const mobile = newMobile();
    page = await submit(journey, page, { mobile });
    expect(heading(page)).to.equal('Check your mobile phone');
    page = await submit(journey, page, { code: await smsCodeTo(test, mobile) });
    page = await journey.browser.submit(page, {}, { button: 'Continue' });
    const fresh = await test.rp.exchange(page.callbackUrl!, journey.request);
    expect(fresh.claims()).to.include({ sub: person.id, vot: 'P0.Cp.Cd' });
    expect((await test.idp.services.accounts.findById(person.id))!.mobileNumber).to.equal(`+44${mobile.slice(1)}`);
  });

  it('a change needs a sign-in no older than 15 minutes: an older one signs in again and nothing changes', async () => {
    const { account: staff, browser } = await signedInSupport(test);
    const person = await patient();
    const form = await browser.get(`${test.url}/back-office/accounts/${person.id}/disable`);
    await ageSignIn(test, staff.id);
    const stale = await browser.submit(form, { reason: 'INC-404' }, { actionContains: '/back-office/accounts/' });
    expect(stale.url).to.include('/interaction/');
    expect((await test.idp.services.accounts.findById(person.id))!.status).to.equal('active');
  });
});
