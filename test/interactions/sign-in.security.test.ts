import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Browser, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import {
  TEST_PASSWORD, createAccount, errorSummary, heading, latestSmsCode, smsCount, startJourney, stepOf, submit, wrongCode, type Journey,
} from './support.js';

/**
 * Security regressions for the sign-in journey (security-bar X8, A3, A4, B2, B3, B11, C5, F1),
 * over HTTP against a real IdP. Each test uses its own client address (X-Forwarded-For, trusted
 * in this IdP) unless it is about the per-IP throttle.
 */
describe('sign-in journey (security)', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true' } });
  });
  after(async () => test?.close());

  const query = <T>(sql: string, params: unknown[] = []): Promise<T[]> => test.idp.db.dataSource.query(sql, params);

  async function journeyState(uid: string): Promise<{ step: string; version: number }> {
    const [row] = await query<{ step: string; version: number }>('SELECT step, version FROM journey_state WHERE uid = $1', [uid]);
    return row!;
  }

  async function atPasswordStep(email: string, options: { browser?: Browser } = {}): Promise<{ journey: Journey; page: Page }> {
    const journey = await startJourney(test, { browser: options.browser });
    const page = await submit(journey, journey.page, { email });
    expect(stepOf(page)).to.equal('enter-password');
    return { journey, page };
  }

  /** The page with everything that must differ between two journeys (uid, CSRF token, the typed address) blanked. */
  function normalised(page: Page, journey: Journey, email: string): string {
    return page.html
      .replaceAll(journey.uid, 'UID')
      .replaceAll(test.idp.services.csrf.token(journey.uid), 'CSRF')
      .replaceAll(email, 'EMAIL')
      .replace(/nonce="[^"]*"/g, 'nonce="N"');
  }

  function cookieNames(page: Page): string[] {
    return page.setCookies.map((c) => c.split('=')[0]!).sort();
  }

  describe('password lockout (X8, A3)', () => {
    it('locks after 5 wrong passwords: the right password is then refused with the same page, status and message', async function () {
      this.timeout(90_000);
      const account = await createAccount(test);
      const { journey, page: start } = await atPasswordStep(account.email);
      let page = start;
      const wrongPages: Page[] = [];
      for (let i = 0; i < 5; i++) {
        page = await submit(journey, page, { password: `wrong-${i}` });
        wrongPages.push(page);
        expect(page.status).to.equal(400);
        expect(errorSummary(page)).to.deep.equal(['Enter the correct email address and password']);
      }
      const [counter] = await query<{ locked: boolean; retry: number }>(
        `SELECT locked_until > now() AS locked, CEIL(EXTRACT(EPOCH FROM (locked_until - now())))::int AS retry FROM attempt_counter WHERE key = $1`,
        [`password:${account.id}`],
      );
      expect(counter).to.deep.include({ locked: true });
      expect(counter!.retry).to.be.within(890, 900);

      const locked = await submit(journey, page, { password: TEST_PASSWORD });
      expect(locked.status).to.equal(wrongPages[4]!.status);
      expect(normalised(locked, journey, account.email)).to.equal(normalised(wrongPages[4]!, journey, account.email));
      expect(stepOf(locked)).to.equal('enter-password');

      // A new sign-in attempt does not get round the lock: it is on the account, not the journey.
      const other = await atPasswordStep(account.email);
      const refused = await submit(other.journey, other.page, { password: TEST_PASSWORD });
      expect(refused.status).to.equal(400);
      expect(errorSummary(refused)).to.deep.equal(['Enter the correct email address and password']);

      // When the lock has run out, the right password works and clears the count.
      await query(`UPDATE attempt_counter SET locked_until = now() - interval '1 second' WHERE key = $1`, [`password:${account.id}`]);
      const after = await submit(other.journey, refused, { password: TEST_PASSWORD });
      expect(heading(after)).to.equal('Check your mobile phone');
      expect(await query('SELECT 1 FROM attempt_counter WHERE key = $1', [`password:${account.id}`])).to.have.length(0);
    });

    it('slows down answers from the 3rd wrong password', async function () {
      this.timeout(60_000);
      const account = await createAccount(test);
      const { journey, page: start } = await atPasswordStep(account.email);
      let page = start;
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        page = await submit(journey, page, { password: `wrong-${i}` });
        times.push(performance.now() - started);
      }
      expect(times[2]).to.be.at.least(1000);
      expect(times[0]).to.be.below(1000);
    });
  });

  describe('the owner is told about failed attempts (A4, ASVS 6.3.5)', () => {
    async function toldMessages(email: string): Promise<{ body: string }[]> {
      return query<{ body: string }>(`SELECT body FROM outbox_message WHERE recipient = $1 AND template = 'signed-in-after-failures'`, [email]);
    }

    it('3 wrong passwords and then the right one: one signed-in-after-failures email to the owner; a clean sign-in: none', async function () {
      this.timeout(60_000);
      const account = await createAccount(test);
      const { journey, page: start } = await atPasswordStep(account.email);
      let page = start;
      for (let i = 0; i < 3; i++) page = await submit(journey, page, { password: `wrong-${i}` });
      expect(heading(await submit(journey, page, { password: TEST_PASSWORD }))).to.equal('Check your mobile phone');
      const told = await toldMessages(account.email);
      expect(told).to.have.length(1);
      expect(told[0]!.body).to.contain('after 3 attempts with the wrong password');

      // The count was cleared with the message: the next (clean) sign-in tells nobody anything.
      const again = await atPasswordStep(account.email);
      expect(heading(await submit(again.journey, again.page, { password: TEST_PASSWORD }))).to.equal('Check your mobile phone');
      expect(await toldMessages(account.email)).to.have.length(1);

      const clean = await createAccount(test);
      const fresh = await atPasswordStep(clean.email);
      expect(heading(await submit(fresh.journey, fresh.page, { password: TEST_PASSWORD }))).to.equal('Check your mobile phone');
      expect(await toldMessages(clean.email)).to.have.length(0);
    });

    it('tells the owner who signs in after a lock someone else caused has run out', async function () {
      this.timeout(90_000);
      const account = await createAccount(test);
      const attacker = await atPasswordStep(account.email);
      let page = attacker.page;
      for (let i = 0; i < test.idp.config.limits.passwordAttempts; i++) page = await submit(attacker.journey, page, { password: `guess-${i}` });
      expect((await query<{ locked: boolean }>('SELECT locked_until > now() AS locked FROM attempt_counter WHERE key = $1', [`password:${account.id}`]))[0]).to.deep.equal({ locked: true });
      expect(await toldMessages(account.email)).to.have.length(0);

      // The lock runs out (as if LOCKOUT_SECONDS had passed); then the owner signs in from their own browser.
      await query(`UPDATE attempt_counter SET locked_until = now() - interval '1 second' WHERE key = $1`, [`password:${account.id}`]);
      const owner = await atPasswordStep(account.email);
      expect(heading(await submit(owner.journey, owner.page, { password: TEST_PASSWORD }))).to.equal('Check your mobile phone');
      const told = await toldMessages(account.email);
      expect(told).to.have.length(1);
      expect(told[0]!.body).to.contain(`after ${test.idp.config.limits.passwordAttempts} attempts with the wrong password`);
    });
  });

  describe('enumeration (F1)', () => {
    it('answers an unknown address exactly as a known one with a wrong password: status, page and cookies', async () => {
      const account = await createAccount(test);
      const unknown = `nobody-${randomUUID()}@example.test`;
      const known = await atPasswordStep(account.email);
      const missing = await atPasswordStep(unknown);
      expect(normalised(known.page, known.journey, account.email)).to.equal(normalised(missing.page, missing.journey, unknown));

      const a = await submit(known.journey, known.page, { password: 'not-it' });
      const b = await submit(missing.journey, missing.page, { password: 'not-it' });
      expect(a.status).to.equal(b.status);
      expect(normalised(a, known.journey, account.email)).to.equal(normalised(b, missing.journey, unknown));
      expect(cookieNames(a)).to.deep.equal(cookieNames(b));
      expect([...a.headers.keys()].sort()).to.deep.equal([...b.headers.keys()].sort());
    });

    it('gives an unknown address the same growing delays and lock as a known one', async function () {
      this.timeout(90_000);
      const unknown = `nobody-${randomUUID()}@example.test`;
      const { journey, page: start } = await atPasswordStep(unknown);
      let page = start;
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        page = await submit(journey, page, { password: `wrong-${i}` });
        times.push(performance.now() - started);
      }
      expect(times[0]).to.be.below(1000);
      expect(times[2]).to.be.at.least(1000);
      expect(times[4]).to.be.at.least(4000);
      const rows = await query<{ key: string }>(`SELECT key FROM attempt_counter WHERE key LIKE 'password:unknown:%' AND failures = 5 AND locked_until > now()`);
      expect(rows).to.have.length(1);
      // The counter key is a digest, never the address itself.
      for (const row of await query<{ key: string }>('SELECT key FROM attempt_counter')) expect(row.key).to.not.contain('@');
    });
  });

  describe('per-IP throttle (A4)', () => {
    it('answers 429 from one address after too many failures across accounts, while other addresses still sign in', async function () {
      this.timeout(60_000);
      const limit = test.idp.config.limits.ipFailures;
      const browser = new Browser({ stopAt: test.rp.redirectUri, headers: { 'x-forwarded-for': '192.0.2.200' } });
      for (let i = 0; i < limit; i++) {
        const { journey, page } = await atPasswordStep(`spray-${i}-${randomUUID()}@example.test`, { browser });
        const answer = await submit(journey, page, { password: 'Password123!' });
        expect(answer.status).to.equal(400);
      }
      const victim = await createAccount(test);
      const blocked = await atPasswordStep(victim.email, { browser });
      const answer = await submit(blocked.journey, blocked.page, { password: TEST_PASSWORD });
      expect(answer.status).to.equal(429);
      expect(heading(answer)).to.equal('Sorry, there have been too many attempts to sign in');
      expect(await smsCount(test, victim.mobileNumber!)).to.equal(0);

      const elsewhere = await atPasswordStep(victim.email);
      expect(heading(await submit(elsewhere.journey, elsewhere.page, { password: TEST_PASSWORD }))).to.equal('Check your mobile phone');
    });
  });

  describe('security code lockout (X8, B2)', () => {
    it('locks after 5 wrong codes in total, counting across a new code', async function () {
      this.timeout(60_000);
      const account = await createAccount(test);
      const { journey, page: start } = await atPasswordStep(account.email);
      let page = await submit(journey, start, { password: TEST_PASSWORD });
      const first = await latestSmsCode(test, account.mobileNumber!);
      for (let i = 0; i < 3; i++) page = await submit(journey, page, { code: wrongCode(first) });
      page = await journey.browser.submit(page, {}, { actionContains: '/resend' });
      const second = await latestSmsCode(test, account.mobileNumber!);
      page = await submit(journey, page, { code: wrongCode(second) });
      expect(errorSummary(page)).to.deep.equal(['The security code is not correct']);
      page = await submit(journey, page, { code: wrongCode(second) });
      expect(heading(page)).to.equal('You entered the wrong security code too many times');

      // The new code died with the lock, and a further new code cannot be had during it.
      const resend = await journey.browser.post(`${test.url}/interaction/${journey.uid}/enter-security-code/resend`, { _csrf: test.idp.services.csrf.token(journey.uid) }, { origin: test.url });
      expect(heading(resend)).to.equal('You entered the wrong security code too many times');
      const right = await journey.browser.post(`${test.url}/interaction/${journey.uid}/enter-security-code`, { code: second, _csrf: test.idp.services.csrf.token(journey.uid) }, { origin: test.url });
      expect(heading(right)).to.equal('You entered the wrong security code too many times');
      expect((await journeyState(journey.uid)).step).to.equal('enter-security-code');
    });
  });

  describe('CSRF and cross-site posts (C5)', () => {
    async function atEmailStep(): Promise<Journey> {
      return startJourney(test);
    }

    it('refuses a form without the CSRF token with 403 and changes nothing', async () => {
      const journey = await atEmailStep();
      const before = await journeyState(journey.uid);
      const page = await journey.browser.submit(journey.page, { email: 'someone@example.test' }, { omit: ['_csrf'] });
      expect(page.status).to.equal(403);
      expect(heading(page)).to.equal('Sorry, we could not accept that form');
      expect(await journeyState(journey.uid)).to.deep.equal(before);
    });

    it('refuses a wrong CSRF token, including one made for another interaction', async () => {
      const journey = await atEmailStep();
      const other = await atEmailStep();
      const before = await journeyState(journey.uid);
      for (const token of ['x'.repeat(43), test.idp.services.csrf.token(other.uid), '']) {
        const page = await journey.browser.submit(journey.page, { email: 'someone@example.test', _csrf: token });
        expect(page.status, token).to.equal(403);
      }
      expect(await journeyState(journey.uid)).to.deep.equal(before);
    });

    it('refuses a post from another origin even with a valid token', async () => {
      const journey = await atEmailStep();
      const before = await journeyState(journey.uid);
      const evil = await journey.browser.submit(journey.page, { email: 'someone@example.test' }, { headers: { origin: 'http://evil.example' } });
      expect(evil.status).to.equal(403);
      const crossSite = await journey.browser.submit(journey.page, { email: 'someone@example.test' }, { headers: { 'sec-fetch-site': 'cross-site' } });
      expect(crossSite.status).to.equal(403);
      expect(await journeyState(journey.uid)).to.deep.equal(before);
    });

    it('refuses side actions without the token too (no code is sent)', async () => {
      const account = await createAccount(test);
      const { journey, page } = await atPasswordStep(account.email);
      const codePage = await submit(journey, page, { password: TEST_PASSWORD });
      const forged = await journey.browser.submit(codePage, {}, { actionContains: '/resend', omit: ['_csrf'] });
      expect(forged.status).to.equal(403);
      expect(await smsCount(test, account.mobileNumber!)).to.equal(1);
    });
  });

  describe('step skipping (B11)', () => {
    it('does not evaluate a post for a later step: the journey stays where it is', async () => {
      const account = await createAccount(test);
      const { journey } = await atPasswordStep(account.email);
      const before = await journeyState(journey.uid);
      const token = test.idp.services.csrf.token(journey.uid);
      for (const step of ['enter-security-code', 'signed-in', 'choose-second-factor', 'consent', 'nonsense']) {
        const page = await journey.browser.post(`${test.url}/interaction/${journey.uid}/${step}`, { code: '190696', _csrf: token }, { origin: test.url });
        expect(page.callbackUrl, step).to.equal(undefined);
        expect(stepOf(page), step).to.equal('enter-password');
      }
      expect(await journeyState(journey.uid)).to.deep.equal(before);
      expect(await smsCount(test, account.mobileNumber!)).to.equal(0);
    });

    it('issues no code to a half-signed-in browser that starts a prompt=none request', async () => {
      const account = await createAccount(test);
      const { journey, page } = await atPasswordStep(account.email);
      await submit(journey, page, { password: TEST_PASSWORD });
      const request = await test.rp.authorize({ scope: 'openid', prompt: 'none', vtr: '["P0.Cp.Cd"]' });
      const answer = await journey.browser.get(request.url);
      const params = new URL(answer.callbackUrl!).searchParams;
      // NHS login's name for it (EIS v1.13); oidc-provider's login_required is renamed at the edge.
      expect(params.get('error')).to.equal('sso_login_required');
      expect(params.get('code')).to.equal(null);
    });

    it('never acts on GET: an action URL typed into the address bar sends nothing', async () => {
      const account = await createAccount(test);
      const { journey, page } = await atPasswordStep(account.email);
      await submit(journey, page, { password: TEST_PASSWORD });
      const shown = await journey.browser.get(`${test.url}/interaction/${journey.uid}/enter-security-code/resend`);
      expect(stepOf(shown)).to.equal('enter-security-code');
      expect(await smsCount(test, account.mobileNumber!)).to.equal(1);
    });

    it('refuses an interaction cookie used under another interaction\'s URL', async () => {
      const mine = await startJourney(test);
      const theirs = await startJourney(test);
      // A validly signed cookie for `mine`, presented at `theirs`' address: the URL must not pick the journey.
      const forged = new Browser();
      for (const name of ['carelogin-interaction', 'carelogin-interaction.sig']) {
        const cookie = mine.page.setCookies.find((c) => c.startsWith(`${name}=`));
        expect(cookie, name).to.be.a('string');
        forged.setCookie(test.url, name, cookie!.split(';')[0]!.slice(name.length + 1), `/interaction/${theirs.uid}`);
      }
      const page = await forged.get(`${test.url}/interaction/${theirs.uid}/enter-email`);
      expect(page.status).to.equal(400);
      expect(heading(page)).to.equal('Your session has timed out');
    });
  });

  describe('double submission (B3)', () => {
    it('sends one code when the password form is submitted twice at once', async () => {
      const account = await createAccount(test);
      const { journey, page } = await atPasswordStep(account.email);
      const pages = await Promise.all([submit(journey, page, { password: TEST_PASSWORD }), submit(journey, page, { password: TEST_PASSWORD })]);
      for (const p of pages) expect(stepOf(p)).to.equal('enter-security-code');
      expect(await smsCount(test, account.mobileNumber!)).to.equal(1);
      expect((await journeyState(journey.uid)).version).to.equal(2);
    });

    it('signs in once when the code form is submitted twice at once', async () => {
      const account = await createAccount(test);
      const { journey, page } = await atPasswordStep(account.email);
      const codePage = await submit(journey, page, { password: TEST_PASSWORD });
      const before = await journeyState(journey.uid);
      const code = await latestSmsCode(test, account.mobileNumber!);
      const pages = await Promise.all([submit(journey, codePage, { code }), submit(journey, codePage, { code })]);
      const after = await journeyState(journey.uid);
      expect(after).to.deep.equal({ step: 'signed-in', version: before.version + 1 });
      const signedIn = await query(`SELECT 1 FROM audit_event WHERE type = 'account.signed_in' AND account_id = $1`, [account.id]);
      expect(signedIn).to.have.length(1);
      expect(pages.some((p) => heading(p) === 'Share your information with Test patient portal'), pages.map((p) => `${p.status} ${heading(p)}`).join(' | ')).to.equal(true);
      // Replaying the code form after the sign-in finished does not sign in again.
      const replay = await journey.browser.post(`${test.url}/interaction/${journey.uid}/enter-security-code`, { code, _csrf: test.idp.services.csrf.token(journey.uid) }, { origin: test.url });
      expect(replay.callbackUrl).to.equal(undefined);
      expect(await query(`SELECT 1 FROM audit_event WHERE type = 'account.signed_in' AND account_id = $1`, [account.id])).to.have.length(1);
      expect(pageText(replay)).to.not.contain('Check your mobile phone');
    });
  });
});

/**
 * F1 timing, on an IdP of its own with the production Argon2 cost (m=19456 KiB, t=2, the schema's
 * defaults): the other tests' cheap parameters make one verification cost less than the margin, so
 * an unknown address that skipped the dummy verification would not show.
 */
describe('sign-in enumeration timing (F1), at the production Argon2 cost', () => {
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp({ env: { TRUST_PROXY: 'true', ARGON2_MEMORY_KIB: '19456', ARGON2_ITERATIONS: '2' } });
  });
  after(async () => test?.close());

  const median = (values: number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

  async function atPasswordStep(email: string): Promise<{ journey: Journey; page: Page }> {
    const journey = await startJourney(test);
    const page = await submit(journey, journey.page, { email });
    expect(stepOf(page)).to.equal('enter-password');
    return { journey, page };
  }

  it('takes the same time for unknown and known addresses (within 15 ms, and within half of one verification)', async function () {
    this.timeout(180_000);
    // A busy machine can push one run over the margin; a skipped verification fails every run.
    this.retries(2);
    expect(test.idp.config.argon2).to.deep.equal({ memoryCost: 19456, timeCost: 2 });
    const account = await createAccount(test);
    expect(account.passwordHash).to.match(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);

    // What one verification costs here: skipping it for unknown addresses must exceed the margin.
    const costs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await test.idp.services.hasher.verify(account.passwordHash, 'not-the-password');
      costs.push(performance.now() - started);
    }
    const verification = median(costs);
    const margin = Math.min(15, verification / 2);

    const unknown = `nobody-${randomUUID()}@example.test`;
    const known = await atPasswordStep(account.email);
    const missing = await atPasswordStep(unknown);
    const samples: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
    let pages = { known: known.page, unknown: missing.page };
    const SAMPLES = 40;
    for (let i = 0; i < SAMPLES * 2; i++) {
      // Clear the counters so no sample carries a lockout delay: this measures the lookup and hashing paths.
      await test.idp.db.dataSource.query(`DELETE FROM attempt_counter WHERE key LIKE 'password:%' OR key LIKE 'ip:%'`);
      const which = i % 2 === 0 ? 'known' : 'unknown';
      const journey = which === 'known' ? known.journey : missing.journey;
      const started = performance.now();
      const page = await submit(journey, pages[which], { password: 'not-the-password' });
      const elapsed = performance.now() - started;
      pages = { ...pages, [which]: page };
      expect(page.status).to.equal(400);
      if (i >= 4) samples[which].push(elapsed);
    }
    // Each known sample against the unknown one taken right after it: load on a shared machine drifts
    // slowly, so the median of these paired differences is steadier than a difference of medians.
    const paired = samples.known.map((known, i) => known - samples.unknown[i]!);
    const difference = Math.abs(median(paired));
    expect(difference, `median paired difference; medians ${median(samples.known).toFixed(1)} ms vs ${median(samples.unknown).toFixed(1)} ms; one verification ${verification.toFixed(1)} ms`).to.be.below(margin);
  });
});
