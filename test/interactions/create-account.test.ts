import { expect } from 'chai';
import { PASSWORD_MESSAGES } from '../../src/accounts/password-policy.js';
import { UK_MOBILE_MESSAGES } from '../../src/accounts/uk-mobile.js';
import { pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { emailCode, enterDetails, NEW_PASSWORD, newEmail, newMobile, outboxCount, registerThrough, smsCodeTo, startRegistration } from './create-account-helpers.js';
import { createAccount, errorSummary, heading, startJourney, stepOf, submit, TEST_PASSWORD, wrongCode, type Journey } from './support.js';
import type { Page } from '../helpers/browser.js';

/**
 * Creating an account over HTTP: a real IdP, the real pages driven through their forms, codes
 * read from the outbox, and an openid-client relying party validating the ID token.
 */
describe('create-account journey', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true' } });
  });
  after(async () => test?.close());

  async function accountRow(email: string): Promise<Record<string, unknown> | undefined> {
    const rows: Record<string, unknown>[] = await test.idp.db.dataSource.query(
      'SELECT id, email, email_verified_at, mobile_number, mobile_verified_at, proofing_level, terms_version, terms_accepted_at, password_hash FROM account WHERE email_normalised = lower($1)',
      [email.trim()],
    );
    return rows[0];
  }

  /** Through the first page to "Check your email". */
  async function atConfirmEmail(): Promise<{ journey: Journey; page: Page; email: string }> {
    const email = newEmail();
    const { journey, page } = await startRegistration(test);
    const next = await enterDetails(journey, page, { email });
    expect(heading(next)).to.equal('Check your email');
    return { journey, page: next, email };
  }

  /** Through the email code to "Enter your mobile phone number". */
  async function atMobileNumber(): Promise<{ journey: Journey; page: Page; email: string }> {
    const { journey, page, email } = await atConfirmEmail();
    const next = await submit(journey, page, { code: await emailCode(test, email) });
    expect(heading(next)).to.equal('Enter your mobile phone number');
    return { journey, page: next, email };
  }

  it('creates a P0 account from the RP to a validated ID token with vot P0.Cp.Cd', async () => {
    const { journey, page, email, mobile } = await registerThrough(test, { params: { scope: 'openid email phone' } });
    expect(heading(page)).to.equal('Share your information with Test patient portal');
    const done = await journey.browser.submit(page, {}, { button: 'Continue' });
    const tokens = await test.rp.exchange(done.callbackUrl!, journey.request);
    const claims = tokens.claims()!;
    const row = await accountRow(email);
    expect(claims).to.include({ sub: row!.id, vot: 'P0.Cp.Cd', email, email_verified: true, phone_number: `+44${mobile.slice(1)}`, phone_number_verified: true });
    expect(row).to.include({ proofing_level: 'P0', terms_version: test.idp.config.termsVersion, mobile_number: `+44${mobile.slice(1)}` });
    expect(row!.email_verified_at).to.be.instanceOf(Date);
    expect(row!.mobile_verified_at).to.be.instanceOf(Date);
    expect(row!.terms_accepted_at).to.be.instanceOf(Date);
  });

  it('asks a new account at a service that wants P9 to prove who it is, never a token that claims more', async () => {
    const { page, email } = await registerThrough(test, { params: { vtr: '["P9.Cp.Cd"]' } });
    expect(heading(page)).to.equal('Prove who you are');
    expect(page.callbackUrl).to.equal(undefined);
    // The account exists and is usable at P0 meanwhile.
    expect((await accountRow(email))!).to.include({ proofing_level: 'P0' });
    expect((await accountRow(email))!.email_verified_at).to.be.instanceOf(Date);
  });

  describe('the email page', () => {
    it('offers "Create an account"', async () => {
      const journey = await startJourney(test);
      expect(pageText(journey.page)).to.contain('Create an account');
    });

    it('hides it, and refuses it, when the service sent allow_registration=false', async () => {
      const journey = await startJourney(test, { params: { allow_registration: 'false' } });
      expect(pageText(journey.page)).to.not.contain('Create an account');
      const page = await journey.browser.post(`${test.url}/interaction/${journey.uid}/enter-email/create-account`, { _csrf: /name="_csrf" value="([^"]+)"/.exec(journey.page.html)![1]! }, { origin: test.url });
      expect(heading(page)).to.equal('Enter your email address');
    });

    it('switches journey once when "Create an account" is pressed twice at the same time', async () => {
      const journey = await startJourney(test);
      const pages = await Promise.all([0, 1].map(() => journey.browser.submit(journey.page, {}, { actionContains: '/create-account' })));
      for (const page of pages) expect(heading(page)).to.equal('Create your carelogin account');
      const [state] = await test.idp.db.dataSource.query('SELECT journey, step, version FROM journey_state WHERE uid = $1', [journey.uid]);
      expect(state).to.deep.equal({ journey: 'create-account', step: 'enter-account-details', version: 1 });
    });

    it('ignores an action that no journey declares', async () => {
      const journey = await startJourney(test);
      const csrf = /name="_csrf" value="([^"]+)"/.exec(journey.page.html)![1]!;
      const other = await journey.browser.post(`${test.url}/interaction/${journey.uid}/enter-email/step-up`, { _csrf: csrf }, { origin: test.url });
      expect(heading(other)).to.equal('Enter your email address');
    });

    it('"Sign in instead" goes back to the email page with the address typed, and nothing is created', async () => {
      const journey = await startJourney(test);
      const email = newEmail();
      let next = await submit(journey, journey.page, { email });
      next = await journey.browser.submit(next, {}, { actionContains: '/change-email' });
      next = await journey.browser.submit(next, {}, { actionContains: '/create-account' });
      const refused = await enterDetails(journey, next, { email, terms: false });
      expect(refused.status).to.equal(400);
      next = await journey.browser.submit(refused, {}, { actionContains: '/sign-in' });
      expect(heading(next)).to.equal('Enter your email address');
      expect(next.html).to.contain(`value="${email}"`);
      expect(await accountRow(email)).to.equal(undefined);
      // And forwards again: the same interaction can still create an account.
      next = await journey.browser.submit(next, {}, { actionContains: '/create-account' });
      expect(heading(next)).to.equal('Create your carelogin account');
      const [state] = await test.idp.db.dataSource.query('SELECT journey, step FROM journey_state WHERE uid = $1', [journey.uid]);
      expect(state).to.deep.equal({ journey: 'create-account', step: 'enter-account-details' });
    });

    it('keeps the address typed on the email page', async () => {
      const journey = await startJourney(test);
      const email = newEmail();
      let page = await submit(journey, journey.page, { email });
      expect(heading(page)).to.equal('Enter your password');
      page = await journey.browser.submit(page, {}, { actionContains: '/change-email' });
      page = await journey.browser.submit(page, {}, { actionContains: '/create-account' });
      expect(heading(page)).to.equal('Create your carelogin account');
      expect(page.html).to.contain(`value="${email}"`);
    });
  });

  describe('the first page', () => {
    it('explains the password rules', async () => {
      const { page } = await startRegistration(test);
      const text = pageText(page);
      expect(text).to.contain('12 characters or more');
      expect(text).to.contain('three random words');
      expect(text).to.contain('I agree to the terms of use');
    });

    const cases: { name: string; fields: { email: string; password?: string; terms?: boolean }; errors: string[] }[] = [
      { name: 'a malformed email address', fields: { email: 'not-an-address' }, errors: ['Enter an email address in the correct format, like name@example.com'] },
      { name: 'no email address', fields: { email: '' }, errors: ['Enter your email address'] },
      { name: 'a short password', fields: { email: 'short@example.test', password: 'tiny words' }, errors: [PASSWORD_MESSAGES.too_short] },
      { name: 'a common password', fields: { email: 'common@example.test', password: 'Password123456' }, errors: [PASSWORD_MESSAGES.common] },
      { name: 'a password containing the address', fields: { email: 'harriet.jones@example.test', password: 'harriet.jones@example.test1' }, errors: [PASSWORD_MESSAGES.contains_personal] },
      { name: 'terms not accepted', fields: { email: 'terms@example.test', terms: false }, errors: ['Confirm that you agree to the terms of use'] },
      { name: 'everything wrong at once', fields: { email: 'x', password: 'short', terms: false }, errors: ['Enter an email address in the correct format, like name@example.com', PASSWORD_MESSAGES.too_short, 'Confirm that you agree to the terms of use'] },
    ];
    for (const c of cases) {
      it(`refuses ${c.name} with an error summary, keeping what was typed except the password, and creates nothing`, async () => {
        const { journey, page } = await startRegistration(test);
        const next = await enterDetails(journey, page, c.fields);
        expect(next.status).to.equal(400);
        expect(heading(next)).to.equal('Create your carelogin account');
        expect(errorSummary(next)).to.deep.equal(c.errors);
        if (c.fields.email) expect(next.html).to.contain(`value="${c.fields.email}"`);
        if (c.fields.terms !== false) expect(next.html).to.match(/value="agreed"[^>]*checked|checked[^>]*value="agreed"/);
        expect(next.html).to.not.contain(c.fields.password ?? NEW_PASSWORD);
        if (c.fields.email) expect(await accountRow(c.fields.email)).to.equal(undefined);
      });
    }
  });

  describe('confirming the email address', () => {
    it('refuses a wrong code', async () => {
      const { journey, page, email } = await atConfirmEmail();
      const next = await submit(journey, page, { code: wrongCode(await emailCode(test, email)) });
      expect(next.status).to.equal(400);
      expect(errorSummary(next)).to.deep.equal(['The security code is not correct']);
      expect((await accountRow(email))!.email_verified_at).to.equal(null);
    });

    it('refuses an expired code', async () => {
      const { journey, page, email } = await atConfirmEmail();
      await test.idp.db.dataSource.query(`UPDATE security_code SET expires_at = now() - interval '1 second' WHERE journey_id = $1`, [journey.uid]);
      const next = await submit(journey, page, { code: await emailCode(test, email) });
      expect(errorSummary(next)).to.deep.equal(['The security code has expired – request a new code']);
    });

    it('sends a new code on request; only the newest works', async () => {
      const { journey, page, email } = await atConfirmEmail();
      const first = await emailCode(test, email);
      let next = await journey.browser.submit(page, {}, { actionContains: '/resend' });
      expect(pageText(next)).to.contain(`We have sent a new security code to ${email}`);
      const second = await emailCode(test, email);
      expect(await outboxCount(test, email, 'email-confirmation-code')).to.equal(2);
      if (first !== second) {
        next = await submit(journey, next, { code: first });
        expect(errorSummary(next)).to.deep.equal(['The security code is not correct']);
      }
      next = await submit(journey, next, { code: second });
      expect(heading(next)).to.equal('Enter your mobile phone number');
    });

    it('limits how many new codes can be sent', async () => {
      const { journey, email } = await atConfirmEmail();
      let page: Page | undefined;
      for (let i = 0; i < test.idp.config.limits.securityCodeSends; i++) {
        page = await journey.browser.submit(page ?? (await journey.browser.get(`${test.url}/interaction/${journey.uid}`)), {}, { actionContains: '/resend' });
      }
      expect(errorSummary(page!)[0]).to.match(/^You have asked for too many new codes/);
      expect(await outboxCount(test, email, 'email-confirmation-code')).to.equal(test.idp.config.limits.securityCodeSends);
    });

    it('locks after too many wrong codes, and then not even the right code works', async () => {
      const { journey, page, email } = await atConfirmEmail();
      const code = await emailCode(test, email);
      let next = page;
      for (let i = 0; i < test.idp.config.limits.securityCodeAttempts; i++) next = await submit(journey, next.status === 429 ? await journey.browser.get(`${test.url}/interaction/${journey.uid}`) : next, { code: wrongCode(code) });
      expect(next.status).to.equal(429);
      expect(heading(next)).to.equal('You entered the wrong security code too many times');
      const again = await journey.browser.post(`${test.url}/interaction/${journey.uid}/confirm-email`, { code, _csrf: /name="_csrf" value="([^"]+)"/.exec(page.html)![1]! }, { origin: test.url });
      expect(again.status).to.equal(429);
      expect((await accountRow(email))!.email_verified_at).to.equal(null);
    });
  });

  describe('a fault between confirming the address and moving the journey on', () => {
    /**
     * Makes the journey's move off confirm-email fail once, as an outage or a crash after the code
     * was used would: a trigger on journey_state that raises the first time (a sequence, because
     * nextval is not rolled back with the failed statement), for this journey only.
     */
    async function failNextMoveOnce(uid: string): Promise<() => Promise<void>> {
      const name = `fail_move_${uid.replace(/[^A-Za-z0-9]/g, '_').toLowerCase()}`;
      const db = test.idp.db.dataSource;
      await db.query(`CREATE SEQUENCE ${name}`);
      await db.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.uid = '${uid}' AND OLD.step = 'confirm-email' AND NEW.step <> OLD.step AND nextval('${name}') = 1 THEN
            RAISE EXCEPTION 'simulated outage while moving the journey on';
          END IF;
          RETURN NEW;
        END $$`);
      await db.query(`CREATE TRIGGER ${name} BEFORE UPDATE ON journey_state FOR EACH ROW EXECUTE FUNCTION ${name}()`);
      return async () => {
        await db.query(`DROP TRIGGER ${name} ON journey_state`);
        await db.query(`DROP FUNCTION ${name}()`);
        await db.query(`DROP SEQUENCE ${name}`);
      };
    }

    async function confirmedButStuck(): Promise<{ journey: Journey; page: Page; email: string; code: string }> {
      const { journey, page, email } = await atConfirmEmail();
      const code = await emailCode(test, email);
      const restore = await failNextMoveOnce(journey.uid);
      try {
        const failed = await submit(journey, page, { code });
        expect(failed.status).to.be.at.least(500);
      } finally {
        await restore();
      }
      // The address is confirmed and the code spent, but the journey is still at confirm-email.
      expect((await accountRow(email))!.email_verified_at).to.be.instanceOf(Date);
      const [state] = await test.idp.db.dataSource.query('SELECT step FROM journey_state WHERE uid = $1', [journey.uid]);
      expect(state.step).to.equal('confirm-email');
      return { journey, page, email, code };
    }

    it('submitting the same code again moves on to the mobile number', async () => {
      const { journey, page, code } = await confirmedButStuck();
      const next = await submit(journey, page, { code });
      expect(heading(next)).to.equal('Enter your mobile phone number');
    });

    it('coming back to the page moves on to the mobile number', async () => {
      const { journey } = await confirmedButStuck();
      const next = await journey.browser.get(`${test.url}/interaction/${journey.uid}`);
      expect(heading(next)).to.equal('Enter your mobile phone number');
    });

    it('"Send a new code" moves on instead of claiming to have sent one', async () => {
      const { journey, page, email } = await confirmedButStuck();
      const before = await outboxCount(test, email, 'email-confirmation-code');
      const next = await journey.browser.submit(page, {}, { actionContains: '/resend' });
      expect(heading(next)).to.equal('Enter your mobile phone number');
      expect(await outboxCount(test, email, 'email-confirmation-code')).to.equal(before);
    });
  });

  describe('the mobile phone number', () => {
    const refused: { name: string; mobile: string; message: string }[] = [
      { name: 'a landline', mobile: '020 7946 0000', message: UK_MOBILE_MESSAGES.landline },
      { name: 'a premium-rate number', mobile: '09098 790123', message: UK_MOBILE_MESSAGES.premium_rate },
      { name: 'an internet phone number', mobile: '056 1234 5678', message: UK_MOBILE_MESSAGES.internet_phone },
      { name: 'a malformed number', mobile: '07912 34', message: UK_MOBILE_MESSAGES.malformed },
      { name: 'a non-UK number', mobile: '+33 6 12 34 56 78', message: UK_MOBILE_MESSAGES.not_uk },
    ];
    it('refuses landlines, premium-rate, VoIP, malformed and non-UK numbers, saying why and keeping the number', async () => {
      const { journey, page } = await atMobileNumber();
      for (const r of refused) {
        const next = await submit(journey, page, { mobile: r.mobile });
        expect(next.status, r.name).to.equal(400);
        expect(errorSummary(next), r.name).to.deep.equal([r.message]);
        expect(next.html, r.name).to.contain(`value="${r.mobile}"`);
      }
    });

    it('"Change number" goes back with the number shown; the new number\'s code works, the old one\'s does not', async () => {
      const { journey, page, email } = await atMobileNumber();
      const wrongNumber = newMobile();
      let next = await submit(journey, page, { mobile: wrongNumber });
      expect(heading(next)).to.equal('Check your mobile phone');
      const oldCode = await smsCodeTo(test, wrongNumber);
      next = await journey.browser.submit(next, {}, { actionContains: '/change-number' });
      expect(heading(next)).to.equal('Enter your mobile phone number');
      expect(next.html).to.contain(`value="${wrongNumber.slice(0, 5)} ${wrongNumber.slice(5)}"`);
      const rightNumber = newMobile();
      next = await submit(journey, next, { mobile: rightNumber });
      const newCode = await smsCodeTo(test, rightNumber);
      if (oldCode !== newCode) {
        next = await submit(journey, next, { code: oldCode });
        expect(errorSummary(next)).to.deep.equal(['The security code is not correct']);
      }
      next = await submit(journey, next, { code: newCode });
      expect(heading(next)).to.equal('Share your information with Test patient portal');
      expect((await accountRow(email))!.mobile_number).to.equal(`+44${rightNumber.slice(1)}`);
    });

    it('refuses a wrong code and limits new codes', async () => {
      const { journey, page, email } = await atMobileNumber();
      const mobile = newMobile();
      let next = await submit(journey, page, { mobile });
      next = await submit(journey, next, { code: wrongCode(await smsCodeTo(test, mobile)) });
      expect(errorSummary(next)).to.deep.equal(['The security code is not correct']);
      for (let i = 1; i < test.idp.config.limits.securityCodeSends; i++) next = await journey.browser.submit(next, {}, { actionContains: '/resend' });
      next = await journey.browser.submit(next, {}, { actionContains: '/resend' });
      expect(errorSummary(next)[0]).to.match(/^You have asked for too many new codes/);
      expect((await accountRow(email))!.mobile_verified_at).to.equal(null);
    });

    it('refuses an expired code', async () => {
      const { journey, page, email } = await atMobileNumber();
      const mobile = newMobile();
      const next = await submit(journey, page, { mobile });
      await test.idp.db.dataSource.query(`UPDATE security_code SET expires_at = now() - interval '1 second' WHERE journey_id = $1 AND purpose = 'verify-mobile'`, [journey.uid]);
      const refused = await submit(journey, next, { code: await smsCodeTo(test, mobile) });
      expect(errorSummary(refused)).to.deep.equal(['The security code has expired – request a new code']);
      expect((await accountRow(email))!.mobile_verified_at).to.equal(null);
    });

    it('locks after too many wrong codes', async () => {
      const { journey, page } = await atMobileNumber();
      const mobile = newMobile();
      let next = await submit(journey, page, { mobile });
      const code = await smsCodeTo(test, mobile);
      for (let i = 0; i < test.idp.config.limits.securityCodeAttempts; i++) next = await submit(journey, next, { code: wrongCode(code) });
      expect(next.status).to.equal(429);
      expect(heading(next)).to.equal('You entered the wrong security code too many times');
    });
  });

  describe('leaving and coming back', () => {
    it('resumes at the step where the patient left off, whichever URL they come back to', async () => {
      const { journey, email } = await atMobileNumber();
      for (const path of ['', '/enter-account-details', '/confirm-email', '/confirm-mobile']) {
        const page = await journey.browser.get(`${test.url}/interaction/${journey.uid}${path}`);
        expect(heading(page), path).to.equal('Enter your mobile phone number');
        expect(stepOf(page)).to.equal('enter-mobile-number');
      }
      // A form for an earlier step is not evaluated: the journey does not go back or skip.
      const csrf = /name="_csrf" value="([^"]+)"/.exec(journey.page.html)![1]!;
      const replay = await journey.browser.post(`${test.url}/interaction/${journey.uid}/enter-account-details`, { _csrf: csrf, email: newEmail(), password: NEW_PASSWORD, terms: 'agreed' }, { origin: test.url });
      expect(heading(replay)).to.equal('Enter your mobile phone number');
      expect(await outboxCount(test, email, 'email-confirmation-code')).to.equal(1);
    });

    it('finishes an unconfirmed registration by signing in: confirm the email, add a mobile, done', async () => {
      const { email } = await atConfirmEmail();
      // The patient closed the tab; later they sign in with the password they chose.
      const journey = await startJourney(test, { params: { scope: 'openid email' } });
      let page = await submit(journey, journey.page, { email });
      page = await submit(journey, page, { password: NEW_PASSWORD });
      expect(heading(page)).to.equal('Check your email');
      page = await submit(journey, page, { code: await emailCode(test, email) });
      expect(heading(page)).to.equal('Enter your mobile phone number');
      const mobile = newMobile();
      page = await submit(journey, page, { mobile });
      page = await submit(journey, page, { code: await smsCodeTo(test, mobile) });
      page = await journey.browser.submit(page, {}, { button: 'Continue' });
      const tokens = await test.rp.exchange(page.callbackUrl!, journey.request);
      expect(tokens.claims()).to.include({ vot: 'P0.Cp.Cd', email });
    });

    it('registering the same unconfirmed address again starts cleanly; the earlier registration can no longer be confirmed', async () => {
      const { journey: first, page: firstPage, email } = await atConfirmEmail();
      const firstCode = await emailCode(test, email);
      const { journey: second, page } = await startRegistration(test);
      let next = await enterDetails(second, page, { email, password: 'another three words' });
      expect(heading(next)).to.equal('Check your email');
      const stale = await submit(first, firstPage, { code: firstCode });
      expect(errorSummary(stale)).to.deep.equal(['The security code is not correct']);
      next = await submit(second, next, { code: await emailCode(test, email) });
      expect(heading(next)).to.equal('Enter your mobile phone number');
      const rows: unknown[] = await test.idp.db.dataSource.query('SELECT id FROM account WHERE email_normalised = lower($1)', [email]);
      expect(rows).to.have.length(1);
      expect(await test.idp.services.hasher.verify(String((await accountRow(email))!.password_hash), 'another three words')).to.equal(true);
    });
  });

  describe('signing in without a verified mobile', () => {
    it('adds and confirms a mobile, then signs in with vot P0.Cp.Cd and tells the email address', async () => {
      const account = await createAccount(test, { mobile: false });
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      expect(heading(page)).to.equal('Enter your mobile phone number');
      expect(pageText(page)).to.contain('You need a mobile phone number to sign in');
      const mobile = newMobile();
      page = await submit(journey, page, { mobile });
      expect(heading(page)).to.equal('Check your mobile phone');
      page = await submit(journey, page, { code: await smsCodeTo(test, mobile) });
      page = await journey.browser.submit(page, {}, { button: 'Continue' });
      const tokens = await test.rp.exchange(page.callbackUrl!, journey.request);
      expect(tokens.claims()).to.include({ sub: account.id, vot: 'P0.Cp.Cd' });
      expect(await outboxCount(test, account.email, 'mobile-changed')).to.equal(1);
      const [row] = await test.idp.db.dataSource.query('SELECT mobile_number FROM account WHERE id = $1', [account.id]);
      expect(row.mobile_number).to.equal(`+44${mobile.slice(1)}`);
    });
  });
});
