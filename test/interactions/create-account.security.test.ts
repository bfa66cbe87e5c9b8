import { expect } from 'chai';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import type { Page } from '../helpers/browser.js';
import { emailCode, enterDetails, NEW_PASSWORD, newEmail, outboxCount, registerThrough, startRegistration } from './create-account-helpers.js';
import { createAccount, errorSummary, heading, startJourney, submit, TEST_PASSWORD, type Journey } from './support.js';

/**
 * Security regressions for creating an account (security-bar A1, A5, F2, H1, G5).
 */
describe('create-account security', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true' } });
  });
  after(async () => test?.close());

  async function accountRows(email: string): Promise<{ id: string; password_hash: string; email_verified_at: Date | null; updated_at: Date }[]> {
    return test.idp.db.dataSource.query('SELECT id, password_hash, email_verified_at, updated_at FROM account WHERE email_normalised = lower(trim($1))', [email]);
  }

  /** A page with everything that legitimately differs between two journeys blanked out. */
  function shape(page: Page, journey: Journey, email: string): string {
    return page.html
      .replaceAll(journey.uid, 'UID')
      .replaceAll(email, 'EMAIL')
      .replace(/name="_csrf" value="[^"]+"/g, 'CSRF')
      .replace(/nonce="[^"]+"/g, 'NONCE');
  }

  describe('F2/H1: an address that already has an account', () => {
    it('shows exactly the pages a new address gets, emails the owner instead, and changes nothing', async () => {
      const owner = await createAccount(test);
      const [before] = await accountRows(owner.email);

      const fresh = newEmail();
      const a = await startRegistration(test);
      const freshPage = await enterDetails(a.journey, a.page, { email: fresh });
      const b = await startRegistration(test);
      const takenPage = await enterDetails(b.journey, b.page, { email: owner.email });

      expect(takenPage.status).to.equal(freshPage.status);
      expect(heading(takenPage)).to.equal('Check your email');
      expect(shape(takenPage, b.journey, owner.email)).to.equal(shape(freshPage, a.journey, fresh));

      // The owner hears about it; no code goes to the address; the account is untouched.
      expect(await outboxCount(test, owner.email, 'account-already-exists')).to.equal(1);
      expect(await outboxCount(test, owner.email, 'email-confirmation-code')).to.equal(0);
      const after = await accountRows(owner.email);
      expect(after).to.have.length(1);
      expect(after[0]).to.deep.equal(before);
      expect(await test.idp.services.hasher.verify(after[0]!.password_hash, NEW_PASSWORD)).to.equal(false);

      // "Send a new code", wrong codes and the lock answer exactly as for a new address.
      const resentFresh = await a.journey.browser.submit(freshPage, {}, { actionContains: '/resend' });
      const resentTaken = await b.journey.browser.submit(takenPage, {}, { actionContains: '/resend' });
      expect(shape(resentTaken, b.journey, owner.email)).to.equal(shape(resentFresh, a.journey, fresh));
      expect(await outboxCount(test, owner.email, 'email-confirmation-code')).to.equal(0);
      let lastFresh = resentFresh;
      let lastTaken = resentTaken;
      for (let i = 0; i < test.idp.config.limits.securityCodeAttempts; i++) {
        lastFresh = await submit(a.journey, lastFresh, { code: '000000' });
        lastTaken = await submit(b.journey, lastTaken, { code: '000000' });
        expect(lastTaken.status, `attempt ${i + 1}`).to.equal(lastFresh.status);
        expect(shape(lastTaken, b.journey, owner.email), `attempt ${i + 1}`).to.equal(shape(lastFresh, a.journey, fresh));
      }
      expect(lastTaken.status).to.equal(429);
    });

    it('never lets the duplicate journey confirm anything, whatever code is entered', async () => {
      const owner = await createAccount(test);
      const { journey, page } = await startRegistration(test);
      let next = await enterDetails(journey, page, { email: owner.email });
      // Even a code that is valid for this journey and address (planted here, since none is ever
      // sent) confirms nothing: there is no account in this journey to confirm.
      const planted = await test.idp.db.dataSource.transaction((manager) =>
        test.idp.services.codes.issue(manager, { accountId: null, purpose: 'confirm-email', journeyId: journey.uid, channel: 'email', destination: owner.email.toLowerCase() }),
      );
      if (!planted.ok) throw new Error('could not plant a code');
      next = await submit(journey, next, { code: planted.code });
      expect(errorSummary(next)).to.deep.equal(['The security code is not correct']);
      const [state] = await test.idp.db.dataSource.query('SELECT step, account_id FROM journey_state WHERE uid = $1', [journey.uid]);
      expect(state).to.deep.equal({ step: 'confirm-email', account_id: null });
    });

    it('takes about the same time for a new and an existing address (the password is hashed either way)', async () => {
      const owner = await createAccount(test);
      const time = async (email: string): Promise<number> => {
        const { journey, page } = await startRegistration(test);
        const start = performance.now();
        await enterDetails(journey, page, { email });
        return performance.now() - start;
      };
      const fresh: number[] = [];
      const taken: number[] = [];
      // Interleaved, so load on the machine affects both alike; medians, so one slow request does not decide.
      for (let i = 0; i < 5; i++) {
        fresh.push(await time(newEmail()));
        taken.push(await time(owner.email));
      }
      const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[2]!;
      // Both include one Argon2id hash; without it the existing address would answer several times faster.
      expect(median(taken)).to.be.above(median(fresh) * 0.4);
      expect(median(taken)).to.be.below(median(fresh) * 2.5);
    });
  });

  describe('B4: no email bombing through registration', () => {
    it('sends at most REGISTRATION_EMAILS_PER_ADDRESS (config.limits.registrationEmailsPerAddress) emails to one address, for new and existing addresses alike, with unchanged pages', async () => {
      const owner = await createAccount(test);
      const fresh = newEmail();
      for (const email of [owner.email, fresh]) {
        for (let i = 0; i < test.idp.config.limits.registrationEmailsPerAddress + 2; i++) {
          const { journey, page } = await startRegistration(test);
          const next = await enterDetails(journey, page, { email });
          expect(heading(next), `${i}`).to.equal('Check your email');
        }
      }
      expect(await outboxCount(test, owner.email, 'account-already-exists')).to.equal(test.idp.config.limits.registrationEmailsPerAddress);
      expect(await outboxCount(test, fresh, 'email-confirmation-code')).to.equal(test.idp.config.limits.registrationEmailsPerAddress);
      expect(await accountRows(fresh)).to.have.length(1);
    });
  });

  describe('H1: concurrent registrations of one address', () => {
    it('end with exactly one account, and every registration sees the same page', async () => {
      const local = newEmail();
      const variants = [local, local.replace(/^new/, 'NEW').toUpperCase(), `  ${local}  `, local, local.toUpperCase()];
      const starts = await Promise.all(variants.map(() => startRegistration(test)));
      const pages = await Promise.all(starts.map((s, i) => enterDetails(s.journey, s.page, { email: variants[i]! })));
      for (const page of pages) {
        expect(page.status).to.equal(200);
        expect(heading(page)).to.equal('Check your email');
      }
      expect(await accountRows(local)).to.have.length(1);
    });
  });

  describe('a double-submitted first page', () => {
    it('ends with one account that the journey can confirm, whichever submission wins', async () => {
      const email = newEmail();
      const { journey, page } = await startRegistration(test);
      const pages = await Promise.all([0, 1].map(() => enterDetails(journey, page, { email })));
      for (const p of pages) expect(heading(p)).to.equal('Check your email');
      const rows = await accountRows(email);
      expect(rows).to.have.length(1);
      const [state] = await test.idp.db.dataSource.query('SELECT account_id FROM journey_state WHERE uid = $1', [journey.uid]);
      expect(state.account_id).to.equal(rows[0]!.id);
      // Each submission emailed a code; the person has both emails, and one of them must work
      // (which one depends on which transaction committed last).
      const bodies: { body: string }[] = await test.idp.db.dataSource.query(`SELECT body FROM outbox_message WHERE recipient = $1 AND template = 'email-confirmation-code'`, [email]);
      expect(bodies.length).to.be.within(1, 2);
      let next = pages[1]!;
      for (const { body } of bodies) {
        next = await submit(journey, next, { code: /\b(\d{6})\b/.exec(body)![1]! });
        if (heading(next) === 'Enter your mobile phone number') break;
      }
      expect(heading(next)).to.equal('Enter your mobile phone number');
    });
  });

  describe('A5: terms and confirmation', () => {
    it('creates no row without the terms, and an unconfirmed account never gets a token', async () => {
      const email = newEmail();
      const { journey, page } = await startRegistration(test);
      const refused = await enterDetails(journey, page, { email, terms: false });
      expect(refused.status).to.equal(400);
      expect(await accountRows(email)).to.have.length(0);

      const next = await enterDetails(journey, refused, { email });
      expect(heading(next)).to.equal('Check your email');
      const [row] = await accountRows(email);
      expect(row!.email_verified_at).to.equal(null);

      // Signing in with the password goes to "Check your email", never to the service.
      const signIn = await startJourney(test);
      let p = await submit(signIn, signIn.page, { email });
      p = await submit(signIn, p, { password: NEW_PASSWORD });
      expect(p.callbackUrl).to.equal(undefined);
      expect(heading(p)).to.equal('Check your email');
      // The mobile step cannot be reached by posting to it.
      const csrf = /name="_csrf" value="([^"]+)"/.exec(p.html)![1]!;
      const skipped = await signIn.browser.post(`${test.url}/interaction/${signIn.uid}/add-mobile-number`, { _csrf: csrf, mobile: '07912345678' }, { origin: test.url });
      expect(heading(skipped)).to.equal('Check your email');
      expect(skipped.callbackUrl).to.equal(undefined);
    });

    it('binds the confirmation code to its journey: a code from one registration does not confirm another', async () => {
      const email = newEmail();
      const first = await startRegistration(test);
      await enterDetails(first.journey, first.page, { email });
      const code = await emailCode(test, email);
      // The same person's other tab, for another address, cannot use it.
      const other = await startRegistration(test);
      const otherPage = await enterDetails(other.journey, other.page, { email: newEmail() });
      const next = await submit(other.journey, otherPage, { code });
      expect(heading(next)).to.equal('Check your email');
    });

    it('keeps no password or code in the journey state', async () => {
      const { journey, email } = await registerThrough(test);
      const [state] = await test.idp.db.dataSource.query('SELECT facts FROM journey_state WHERE uid = $1', [journey.uid]);
      const text = JSON.stringify(state.facts);
      expect(text).to.not.contain(NEW_PASSWORD);
      expect(text).to.not.contain(email);
      expect(text).to.not.match(/\b\d{6}\b/);
    });
  });

  describe('A1: password at registration', () => {
    it('accepts a long passphrase with spaces, emoji and accents and does not truncate it', async () => {
      const password = `Crème brûlée 🍮 on the harbour wall at dawn ${'x'.repeat(50)}`;
      expect(Buffer.byteLength(password)).to.be.above(72);
      const email = newEmail();
      const { journey, page } = await startRegistration(test);
      let next = await enterDetails(journey, page, { email, password });
      next = await submit(journey, next, { code: await emailCode(test, email) });
      expect(heading(next)).to.equal('Enter your mobile phone number');
      const [row] = await accountRows(email);
      const truncated = Buffer.from(password).subarray(0, 72).toString('utf8');
      expect(await test.idp.services.hasher.verify(row!.password_hash, password)).to.equal(true);
      expect(await test.idp.services.hasher.verify(row!.password_hash, truncated)).to.equal(false);
    });

    it('refuses blocklisted passwords and ones built from the address, and never shows the password again', async () => {
      for (const [password, email] of [['Password123!', newEmail()], ['nhslogin2024!', newEmail()], ['jane.smith.example123', 'jane.smith.example@example.test']] as const) {
        const { journey, page } = await startRegistration(test);
        const next = await enterDetails(journey, page, { email, password });
        expect(next.status, password).to.equal(400);
        expect(errorSummary(next).length, password).to.equal(1);
        expect(next.html).to.not.contain(password);
      }
      expect(TEST_PASSWORD).to.be.a('string');
    });
  });
});
