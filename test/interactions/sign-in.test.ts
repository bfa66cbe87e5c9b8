import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import { Browser, pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import {
  TEST_PASSWORD, callbackError, createAccount, errorSummary, heading, latestSmsCode, signInThroughCode, smsCount, startJourney, stepOf, submit, wrongCode,
} from './support.js';

/**
 * The sign-in journey over HTTP, as a browser and a relying party see it: a real IdP, a real
 * openid-client RP validating the ID token, pages driven through their forms.
 */
describe('sign-in journey', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true' } });
  });
  after(async () => test?.close());

  describe('personas', () => {
    for (const persona of PERSONAS) {
      const vtr = `${persona.proofingLevel}.Cp.Cd`;
      it(`signs ${persona.key} in end to end and the RP gets a validated ID token with vot ${vtr}`, async () => {
        const result = await signIn(test, { email: persona.email, password: persona.password }, { params: { vtr: JSON.stringify([vtr]) } });
        expect(result.pages.map((p) => heading(p))).to.deep.equal([
          'Enter your email address',
          'Enter your password',
          'Check your mobile phone',
          'Share your information with Test patient portal',
        ]);
        const tokens = await test.rp.exchange(result.callbackUrl, result.request);
        const claims = tokens.claims()!;
        const account = await test.idp.services.accounts.findByEmail(persona.email);
        expect(claims.sub).to.equal(account!.id);
        expect(claims.vot).to.equal(vtr);
      });
    }

    it('texts the persona the documented fixed security code', async () => {
      const persona = PERSONAS[0]!;
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: persona.email });
      page = await submit(journey, page, { password: persona.password });
      expect(heading(page)).to.equal('Check your mobile phone');
      expect(await latestSmsCode(test, persona.mobileNumber)).to.equal(test.idp.config.personas.securityCode);
    });
  });

  describe('an ordinary account', () => {
    it('signs in with a random code read from the outbox, and shows only the last 4 digits of the mobile', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test, { params: { scope: 'openid email' } });
      expect(journey.page.status).to.equal(200);
      expect(heading(journey.page)).to.equal('Enter your email address');
      let page = await submit(journey, journey.page, { email: account.email });
      expect(heading(page)).to.equal('Enter your password');
      expect(pageText(page)).to.contain(account.email);
      page = await submit(journey, page, { password: TEST_PASSWORD });
      expect(heading(page)).to.equal('Check your mobile phone');
      expect(pageText(page)).to.contain(`ending in ${account.mobileNumber!.slice(-4)}`);
      expect(page.html).to.not.contain(account.mobileNumber!);
      const code = await latestSmsCode(test, account.mobileNumber!);
      expect(code).to.not.equal(test.idp.config.personas.securityCode);
      page = await submit(journey, page, { code: `${code.slice(0, 3)} ${code.slice(3)}` });
      expect(heading(page)).to.equal('Share your information with Test patient portal');
      expect(pageText(page)).to.contain('your email address');
      // The journey kept what it proved and dropped the typed address once it ended.
      const [state] = await test.idp.db.dataSource.query('SELECT step, account_id, facts FROM journey_state WHERE uid = $1', [journey.uid]);
      expect(state).to.deep.equal({ step: 'signed-in', account_id: account.id, facts: { amr: ['pwd', 'sms'], identityLevel: 'P0', hasVerifiedMobile: true, hasVerifiedEmail: true, hasAuthenticatorApp: false, hasRecoveryCodes: false, requestedCredentials: [['Cp', 'Cd']] } });
      page = await journey.browser.submit(page, {}, { button: 'Continue' });
      const tokens = await test.rp.exchange(page.callbackUrl!, journey.request);
      expect(tokens.claims()).to.include({ sub: account.id, vot: 'P0.Cp.Cd', email: account.email });
    });

    it('sends exactly one code on arriving at the code step, however often the page is viewed', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      await journey.browser.get(page.url);
      await journey.browser.get(`${test.url}/interaction/${journey.uid}`);
      expect(await smsCount(test, account.mobileNumber!)).to.equal(1);
    });
  });

  describe('errors', () => {
    it('asks for an email address when none is given, and for the right format when it is wrong', async () => {
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: '' });
      expect(page.status).to.equal(400);
      expect(errorSummary(page)).to.deep.equal(['Enter your email address']);
      expect(page.html).to.match(/<title>\s*Error: Enter your email address/);
      page = await submit(journey, page, { email: 'name.example.com' });
      expect(page.status).to.equal(400);
      expect(errorSummary(page)).to.deep.equal(['Enter an email address in the correct format, like name@example.com']);
      expect(page.html).to.contain('value="name.example.com"');
    });

    it('goes on to the password step for an address with no account (no enumeration)', async () => {
      const journey = await startJourney(test);
      const page = await submit(journey, journey.page, { email: `nobody-${randomUUID()}@example.test` });
      expect(page.status).to.equal(200);
      expect(heading(page)).to.equal('Enter your password');
    });

    it('asks again after a wrong password, then lets the right one through', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: 'wrong password here' });
      expect(page.status).to.equal(400);
      expect(heading(page)).to.equal('Enter your password');
      expect(errorSummary(page)).to.deep.equal(['Enter the correct email address and password']);
      expect(page.html).to.not.contain('wrong password here');
      page = await submit(journey, page, { password: '' });
      expect(errorSummary(page)).to.deep.equal(['Enter your password']);
      page = await submit(journey, page, { password: TEST_PASSWORD });
      expect(heading(page)).to.equal('Check your mobile phone');
    });

    it('lets the person change the email address they typed', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: 'typo@example.test' });
      page = await journey.browser.submit(page, {}, { actionContains: '/change-email' });
      expect(heading(page)).to.equal('Enter your email address');
      expect(page.html).to.contain('value="typo@example.test"');
      page = await submit(journey, page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      expect(heading(page)).to.equal('Check your mobile phone');
    });

    it('says a wrong security code is not correct, then accepts the right one', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      const code = await latestSmsCode(test, account.mobileNumber!);
      page = await submit(journey, page, { code: wrongCode(code) });
      expect(page.status).to.equal(400);
      expect(errorSummary(page)).to.deep.equal(['The security code is not correct']);
      page = await submit(journey, page, { code: '12ab' });
      expect(errorSummary(page)).to.deep.equal(['The security code must be 6 numbers']);
      page = await submit(journey, page, { code: '' });
      expect(errorSummary(page)).to.deep.equal(['Enter the security code']);
      page = await submit(journey, page, { code });
      expect(heading(page)).to.equal('Share your information with Test patient portal');
    });

    it('sends a new code on request; only the newest code works', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      const first = await latestSmsCode(test, account.mobileNumber!);
      page = await journey.browser.submit(page, {}, { actionContains: '/resend' });
      expect(page.status).to.equal(200);
      expect(pageText(page)).to.contain(`We have sent a new security code to your mobile phone number ending in ${account.mobileNumber!.slice(-4)}`);
      expect(await smsCount(test, account.mobileNumber!)).to.equal(2);
      const second = await latestSmsCode(test, account.mobileNumber!);
      if (first !== second) {
        page = await submit(journey, page, { code: first });
        expect(errorSummary(page)).to.deep.equal(['The security code is not correct']);
      }
      page = await submit(journey, page, { code: second });
      expect(heading(page)).to.equal('Share your information with Test patient portal');
    });

    it('stops sending codes at the resend limit and says what to do', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      const sends = test.idp.config.limits.securityCodeSends;
      for (let i = 1; i < sends; i++) page = await journey.browser.submit(page, {}, { actionContains: '/resend' });
      expect(await smsCount(test, account.mobileNumber!)).to.equal(sends);
      page = await journey.browser.submit(page, {}, { actionContains: '/resend' });
      expect(page.status).to.equal(400);
      expect(errorSummary(page)[0]).to.match(/^You have asked for too many new codes\. Enter the last code we sent you, or wait (\d+ minutes?|1 hour) before asking for another$/);
      expect(await smsCount(test, account.mobileNumber!)).to.equal(sends);
      page = await submit(journey, page, { code: await latestSmsCode(test, account.mobileNumber!) });
      expect(heading(page)).to.equal('Share your information with Test patient portal');
    });

    it('says an expired code has expired', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      const code = await latestSmsCode(test, account.mobileNumber!);
      await test.idp.db.dataSource.query(`UPDATE security_code SET expires_at = now() - interval '1 second' WHERE journey_id = $1`, [journey.uid]);
      page = await submit(journey, page, { code });
      expect(page.status).to.equal(400);
      expect(errorSummary(page)).to.deep.equal(['The security code has expired – request a new code']);
    });

    it('shows a wait page after 5 wrong codes, and then even the right code does not work', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      const code = await latestSmsCode(test, account.mobileNumber!);
      for (let i = 0; i < 4; i++) {
        page = await submit(journey, page, { code: wrongCode(code) });
        expect(errorSummary(page)).to.deep.equal(['The security code is not correct']);
      }
      page = await submit(journey, page, { code: wrongCode(code) });
      expect(page.status).to.equal(429);
      expect(heading(page)).to.equal('You entered the wrong security code too many times');
      expect(pageText(page)).to.contain('wait 15 minutes');
      const again = await journey.browser.get(`${test.url}/interaction/${journey.uid}`);
      expect(heading(again)).to.equal('You entered the wrong security code too many times');
      const forced = await journey.browser.post(`${test.url}/interaction/${journey.uid}/enter-security-code`, { code, _csrf: test.idp.services.csrf.token(journey.uid) }, { origin: test.url });
      expect(heading(forced)).to.equal('You entered the wrong security code too many times');
      expect(forced.callbackUrl).to.equal(undefined);
    });
  });

  describe('consent', () => {
    it('says what will be shared, in plain English, with the service name', async () => {
      const account = await createAccount(test, { proofingLevel: 'P9' });
      const { page } = await signInThroughCode(test, account, { params: { scope: 'openid profile phone gp_registration_details', vtr: '["P9.Cp.Cd"]' } });
      expect(heading(page)).to.equal('Share your information with Test patient portal');
      const text = pageText(page);
      for (const item of ['your NHS number', 'your surname', 'your date of birth', 'your mobile phone number', 'your GP practice']) expect(text).to.contain(item);
      expect(text).to.not.contain('your email address');
    });

    it('returns access_denied with ConsentNotGiven when the person does not continue', async () => {
      const persona = PERSONAS[1]!;
      const browser = new Browser({ stopAt: test.rp.redirectUri, headers: { 'x-forwarded-for': '192.0.2.77' } });
      const request = await test.rp.authorize({ scope: 'openid profile', vtr: '["P5.Cp.Cd"]' });
      let page = await browser.get(request.url);
      page = await browser.submit(page, { email: persona.email });
      page = await browser.submit(page, { password: persona.password });
      page = await browser.submit(page, { code: test.idp.config.personas.securityCode! });
      page = await browser.submit(page, {}, { button: 'Do not continue' });
      expect(callbackError(page)).to.deep.equal({ error: 'access_denied', description: 'ConsentNotGiven' });
      expect(new URL(page.callbackUrl!).searchParams.get('code')).to.equal(null);
    });

    it('a double-clicked "Continue" gives the service one grant, not two', async () => {
      const account = await createAccount(test);
      const { journey, page } = await signInThroughCode(test, account);
      expect(heading(page)).to.match(/^Share your information with/);
      // Both clicks are answered before the browser follows either redirect (a real double click).
      const answers = await Promise.all([0, 1].map(() => journey.browser.submit(page, {}, { button: 'Continue', noFollow: true })));
      for (const answer of answers) expect(answer.status).to.be.within(300, 399);
      const done = await journey.browser.get(new URL(answers[0]!.headers.get('location')!, page.url).toString());
      expect(done.callbackUrl, pageText(done).slice(0, 200)).to.be.a('string');
      const tokens = await test.rp.exchange(done.callbackUrl!, journey.request);
      expect(tokens.claims()!.sub).to.equal(account.id);
      const grants: unknown[] = await test.idp.db.dataSource.query(`SELECT id FROM oidc_model WHERE model = 'Grant' AND payload->>'accountId' = $1`, [account.id]);
      expect(grants).to.have.length(1);
    });

    it('does not ask again for consent already given', async () => {
      const account = await createAccount(test);
      const first = await signInThroughCode(test, account);
      const done = await first.journey.browser.submit(first.page, {}, { button: 'Continue' });
      expect(done.callbackUrl).to.be.a('string');
      const request = await test.rp.authorize({ scope: 'openid', vtr: '["P0.Cp.Cd"]' });
      const again = await first.journey.browser.get(request.url);
      expect(again.callbackUrl, pageText(again).slice(0, 200)).to.be.a('string');
      const tokens = await test.rp.exchange(again.callbackUrl!, request);
      expect(tokens.claims()!.sub).to.equal(account.id);
    });
  });

  describe('leaving and coming back', () => {
    it('shows the current step at any URL of the journey', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      expect(stepOf(journey.page)).to.equal('enter-email');
      const page = await submit(journey, journey.page, { email: account.email });
      expect(stepOf(page)).to.equal('enter-password');
      for (const path of ['', '/enter-email', '/enter-security-code', '/signed-in', '/nonsense', '/enter-email/resend']) {
        const back = await journey.browser.get(`${test.url}/interaction/${journey.uid}${path}`);
        expect(back.status, path).to.equal(200);
        expect(stepOf(back), path).to.equal('enter-password');
      }
    });

    it('carries on from where the person left off', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test);
      const page = await submit(journey, journey.page, { email: account.email });
      const left = await submit(journey, page, { password: TEST_PASSWORD });
      expect(heading(left)).to.equal('Check your mobile phone');
      const resumed = await journey.browser.get(`${test.url}/interaction/${journey.uid}`);
      expect(heading(resumed)).to.equal('Check your mobile phone');
      const next = await submit(journey, resumed, { code: await latestSmsCode(test, account.mobileNumber!) });
      expect(heading(next)).to.equal('Share your information with Test patient portal');
    });

    it('marks every interaction page no-store', async () => {
      const journey = await startJourney(test);
      expect(journey.page.headers.get('cache-control')).to.equal('no-store');
      const error = await submit(journey, journey.page, { email: '' });
      expect(error.headers.get('cache-control')).to.equal('no-store');
    });

    it('shows a friendly timed-out page, never a stack trace, when the interaction is gone', async () => {
      const journey = await startJourney(test);
      const stranger = new Browser();
      for (const url of [`${test.url}/interaction/${journey.uid}`, `${test.url}/interaction/no-such-interaction/enter-email`]) {
        const page = await stranger.get(url);
        expect(page.status, url).to.equal(400);
        expect(heading(page)).to.equal('Your session has timed out');
        expect(page.html).to.not.match(/at \w+ \(|node_modules|Error:/);
      }
    });

    it('times out a journey whose interaction has expired', async () => {
      const journey = await startJourney(test);
      await test.idp.db.dataSource.query(`UPDATE journey_state SET expires_at = now() - interval '1 second' WHERE uid = $1`, [journey.uid]);
      await test.idp.db.dataSource.query(`DELETE FROM oidc_model WHERE model = 'Interaction' AND id = $1`, [journey.uid]);
      const page = await journey.browser.get(journey.page.url);
      expect(page.status).to.equal(400);
      expect(heading(page)).to.equal('Your session has timed out');
    });
  });

  describe('step-up and unmet vectors of trust', () => {
    it('asks a P0 account at a P9 service to prove who it is (P5 first), never returning a token that claims more', async () => {
      const persona = PERSONAS.find((p) => p.key === 'p0')!;
      const journey = await startJourney(test, { params: { vtr: '["P9.Cp.Cd"]' } });
      let page = await submit(journey, journey.page, { email: persona.email });
      page = await submit(journey, page, { password: persona.password });
      page = await submit(journey, page, { code: test.idp.config.personas.securityCode! });
      expect(heading(page)).to.equal('Prove who you are');
      expect(page.callbackUrl).to.equal(undefined);
    });

    it('says a method the account does not have (Cm) is not available, then returns access_denied', async () => {
      const account = await createAccount(test);
      const journey = await startJourney(test, { params: { vtr: '["P0.Cm"]' } });
      let page = await submit(journey, journey.page, { email: account.email });
      page = await submit(journey, page, { password: TEST_PASSWORD });
      page = await submit(journey, page, { code: await latestSmsCode(test, account.mobileNumber!) });
      expect(heading(page)).to.equal('You cannot sign in to this service in this way');
      page = await submit(journey, page, {});
      expect(callbackError(page)).to.deep.equal({ error: 'access_denied', description: 'authentication method not available' });
    });

    it('uses the existing session for a second service that asks for the same vector (single sign-on)', async () => {
      const account = await createAccount(test);
      const first = await signInThroughCode(test, account);
      await first.journey.browser.submit(first.page, {}, { button: 'Continue' });
      const request = await test.rp.authorize({ scope: 'openid', vtr: '["P0.Cp"]' });
      const page = await first.journey.browser.get(request.url);
      expect(page.callbackUrl).to.be.a('string');
      expect((await test.rp.exchange(page.callbackUrl!, request)).claims()!.vot).to.equal('P0.Cp');
    });
  });
});
