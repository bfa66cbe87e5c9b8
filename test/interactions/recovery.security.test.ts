import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { createLogger } from '../../src/logger.js';
import { Browser, findForm } from '../helpers/browser.js';
import { createLogCapture } from '../helpers/log-capture.js';
import type { TestIdp } from '../helpers/idp.js';
import { latestEmailCode, latestResetLink, newUkMobile, outboxCount, recoveryBrowser, requestReset, startRecoveryIdp, templatesSentTo, toCannotAccessMobile } from './recovery-helpers.js';
import { createAccount, errorSummary, heading, latestSmsCode, startJourney, submit } from './support.js';

const NEW_PASSWORD = 'lantern orchard pebble sunrise';

/** Security regressions for "Forgotten your password?" (security-bar A6, F2, F5, C5). */
describe('forgotten your password: security', () => {
  let test: TestIdp;

  const logs = createLogCapture();

  before(async () => {
    test = await startRecoveryIdp({ logger: createLogger({ level: 'debug' }, logs) });
  });
  after(async () => test?.close());

  it('F4: a reset token never reaches the logs, and neither does the new password', async () => {
    const account = await createAccount(test);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    const link = await latestResetLink(test, account.email);
    const token = link.split('/').pop()!;
    const form = await browser.get(link);
    await browser.submit(form, { password: `${NEW_PASSWORD} logged`, confirmPassword: `${NEW_PASSWORD} logged` });
    expect(logs.find('request').some((r) => r.path === '/reset-password/:token'), 'the access log shows the route').to.equal(true);
    expect(logs.text()).to.not.contain(token);
    expect(logs.text()).to.not.contain(`${NEW_PASSWORD} logged`);
    expect(logs.text()).to.not.contain(account.email);
  });

  /** What a person (or a script) can observe about a reset request: status, final page, cookies. */
  async function observe(email: string, interaction?: string): Promise<{ status: number; url: string; html: string; cookies: string[] }> {
    const browser = recoveryBrowser(test);
    const start = await browser.get(`${test.url}/forgotten-password${interaction ? `?interaction=${interaction}` : ''}`);
    const page = await browser.submit(start, { email });
    // The CSP nonce differs on every response by design.
    return { status: page.status, url: page.url, html: page.html.replace(/nonce="[^"]*"/g, 'nonce=""'), cookies: page.setCookies.map((c) => c.split('=')[0]!).sort() };
  }

  it('F2: a known and an unknown address get the same status, page and cookies; only the known one is emailed', async () => {
    const account = await createAccount(test);
    const before = await outboxCount(test);
    const unknown = await observe('no-such-patient@example.test', 'uid-for-test');
    expect(await outboxCount(test)).to.equal(before);
    const known = await observe(account.email, 'uid-for-test');
    expect(await outboxCount(test)).to.equal(before + 1);
    expect(known).to.deep.equal(unknown);
  });

  it('F2: a known and an unknown address take about the same time (lower quartiles within 0.65-1.5 of each other)', async function () {
    this.timeout(120_000);
    const pairs = 24;
    // A fresh account per known request, so none reaches RESET_LINKS_PER_HOUR (a cheaper answer).
    const accounts = await Promise.all(Array.from({ length: pairs + 1 }, () => createAccount(test)));
    const form = findForm(await recoveryBrowser(test).get(`${test.url}/forgotten-password`));
    // The POST alone (not the page it redirects to): its answer is where the work differs.
    const time = async (email: string): Promise<number> => {
      const body = new URLSearchParams({ ...form.fields, email }).toString();
      const start = performance.now();
      const response = await fetch(`${test.url}/forgotten-password`, { method: 'POST', body, redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: test.url } });
      await response.arrayBuffer();
      const elapsed = performance.now() - start;
      expect(response.headers.get('location')).to.equal('/forgotten-password/check-your-email');
      return elapsed;
    };
    const unknownAddress = (i: number): string => `no-such-patient-${i}-${Date.now()}@example.test`;
    // A warm-up pair; then interleaved, so load on the machine affects both alike. Load only ever
    // adds time, so the lower quartile (not the mean, nor one sample) shows what each answer costs.
    await time(accounts[pairs]!.email);
    await time(unknownAddress(-1));
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < pairs; i++) {
      known.push(await time(accounts[i]!.email));
      unknown.push(await time(unknownAddress(i)));
    }
    const quartile = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 4)]!;
    const ratio = quartile(unknown) / quartile(known);
    // Before, an unknown address answered without a transaction, in about half the time or less (F2);
    // now both run one transaction of the same shape, and only the known one also queues its message.
    expect(ratio, `lower quartiles: known ${quartile(known).toFixed(1)} ms, unknown ${quartile(unknown).toFixed(1)} ms`).to.be.within(0.65, 1.5);
  });

  it('F2: a disabled account is answered like an unknown address and sent nothing', async () => {
    const account = await createAccount(test);
    await test.idp.db.dataSource.query(`UPDATE account SET status = 'disabled' WHERE id = $1`, [account.id]);
    const before = await outboxCount(test);
    const answer = await observe(account.email);
    expect(answer.status).to.equal(200);
    expect(await outboxCount(test)).to.equal(before);
  });

  it('A6/F5: the link holds only a 256-bit token, the database only its SHA-256, and the token is never sent to another origin', async () => {
    const account = await createAccount(test);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    const link = await latestResetLink(test, account.email);
    const token = link.split('/').pop()!;
    expect(Buffer.from(token, 'base64url')).to.have.length(32);
    expect(link).to.not.contain(account.email);
    expect(link).to.not.contain(account.id);
    const rows: Record<string, unknown>[] = await test.idp.db.dataSource.query(`SELECT * FROM password_reset_token WHERE account_id = $1`, [account.id]);
    expect(rows).to.have.length(1);
    expect(rows[0]!.token_hash).to.equal(createHash('sha256').update(token).digest('hex'));
    expect(JSON.stringify(rows)).to.not.contain(token);
    const page = await browser.get(link);
    // Our own origin only: same-origin (no-referrer would make browsers send Origin: null on our form posts).
    expect(page.headers.get('referrer-policy')).to.equal('same-origin');
    expect(page.headers.get('cache-control')).to.equal('no-store');
  });

  it('A6: a reset never signs anyone in: the browser that asked is back at the password step, with no session', async () => {
    const account = await createAccount(test);
    const journey = await startJourney(test, { browser: recoveryBrowser(test) });
    const passwordPage = await submit(journey, journey.page, { email: account.email });
    await requestReset(test, journey.browser, account.email, passwordPage);
    const page = await journey.browser.submit(await journey.browser.get(await latestResetLink(test, account.email)), { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    expect(heading(page)).to.equal('Enter your password');
    expect(page.callbackUrl).to.equal(undefined);
    const sessions: unknown[] = await test.idp.db.dataSource.query(`SELECT id FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]);
    expect(sessions).to.deep.equal([]);
    // A fresh authorization in the same browser starts from the beginning.
    const again = await startJourney(test, { browser: journey.browser });
    expect(heading(again.page)).to.equal('Enter your email address');
  });

  it('C5: the new-password form is refused without its CSRF token or from another site, and nothing changes', async () => {
    const account = await createAccount(test);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    const link = await latestResetLink(test, account.email);
    const form = await browser.get(link);
    const noToken = await browser.submit(form, { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { omit: ['_csrf'] });
    expect(noToken.status).to.equal(403);
    const crossSite = await browser.submit(form, { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.status).to.equal(403);
    // Another link's token does not fit this link's form.
    const other = await createAccount(test);
    await requestReset(test, browser, other.email);
    const otherForm = await browser.get(await latestResetLink(test, other.email));
    const swapped = await browser.post(link, { ...findForm(otherForm).fields, password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { origin: test.url });
    expect(swapped.status).to.equal(403);
    expect(heading(await browser.get(link))).to.equal('Create a new password');
  });

  it('C5: the request form is refused from another site and sends nothing', async () => {
    const account = await createAccount(test);
    const browser = new Browser();
    const start = await browser.get(`${test.url}/forgotten-password`);
    const before = await outboxCount(test);
    const page = await browser.submit(start, { email: account.email }, { headers: { origin: 'https://evil.example' } });
    expect(page.status).to.equal(403);
    expect(await outboxCount(test)).to.equal(before);
  });

  it('two simultaneous uses of one link: exactly one changes the password', async () => {
    const account = await createAccount(test);
    const browser = recoveryBrowser(test);
    await requestReset(test, browser, account.email);
    const form = await browser.get(await latestResetLink(test, account.email));
    const pages = await Promise.all(['first', 'second', 'third'].map((word) => browser.submit(form, { password: `${NEW_PASSWORD} ${word}`, confirmPassword: `${NEW_PASSWORD} ${word}` })));
    expect(pages.filter((p) => heading(p) === 'Your password has been changed')).to.have.length(1);
    const changed: unknown[] = await test.idp.db.dataSource.query(`SELECT id FROM outbox_message WHERE recipient = $1 AND template = 'password-changed'`, [account.email]);
    expect(changed).to.have.length(1);
  });
});

/** Security regressions for "I cannot access my mobile" (security-bar X1, A7, B1, B11, X8). */
describe('I cannot access my mobile: security', () => {
  let test: TestIdp;

  before(async () => {
    test = await startRecoveryIdp();
  });
  after(async () => test?.close());

  it('B11/X1: no step can be skipped: the number step and the login need the email code, then a code to the new number', async () => {
    const account = await createAccount(test);
    const { journey, page } = await toCannotAccessMobile(test, account);
    const base = `${test.url}/interaction/${journey.uid}`;
    const csrf = findForm(page).fields._csrf!;
    const skipped = await journey.browser.post(`${base}/change-mobile-enter-number`, { _csrf: csrf, mobile: newUkMobile().typed }, { origin: test.url });
    expect(heading(skipped)).to.equal('Check your email');
    const afterEmail = await submit(journey, page, { code: await latestEmailCode(test, account.email) });
    expect(heading(afterEmail)).to.equal('Enter your new mobile phone number');
    const jumped = await journey.browser.post(`${base}/change-mobile-confirm-number`, { _csrf: csrf, code: '123456' }, { origin: test.url });
    expect(heading(jumped)).to.equal('Enter your new mobile phone number');
    expect(jumped.callbackUrl).to.equal(undefined);
    expect((await test.idp.services.accounts.findById(account.id))!.mobileNumber).to.equal(account.mobileNumber);
  });

  it('B1: the emailed code and the old phone\'s sign-in code do not confirm the new number', async () => {
    const account = await createAccount(test);
    const oldCode = await (async () => {
      const { journey, page } = await toCannotAccessMobile(test, account);
      const emailed = await latestEmailCode(test, account.email);
      const signInCode = await latestSmsCode(test, account.mobileNumber!);
      let next = await submit(journey, page, { code: emailed });
      const mobile = newUkMobile();
      next = await submit(journey, next, { mobile: mobile.typed });
      const newCode = await latestSmsCode(test, mobile.e164);
      for (const code of [emailed, signInCode].filter((c) => c !== newCode)) {
        const answer = await submit(journey, next, { code });
        expect(errorSummary(answer), code).to.deep.equal(['The security code is not correct']);
      }
      return signInCode;
    })();
    expect(oldCode).to.match(/^\d{6}$/);
    expect((await test.idp.services.accounts.findById(account.id))!.mobileNumber).to.equal(account.mobileNumber);
  });

  it('X8: 5 wrong email codes lock the step; even the right code is then refused', async () => {
    const account = await createAccount(test);
    const { journey, page } = await toCannotAccessMobile(test, account);
    const code = await latestEmailCode(test, account.email);
    const wrong = code === '000000' ? '111111' : '000000';
    let answer = page;
    for (let i = 0; i < 5; i++) answer = await submit(journey, page, { code: wrong });
    expect(answer.status).to.equal(429);
    const right = await journey.browser.get(`${test.url}/interaction/${journey.uid}`);
    expect(right.status).to.equal(429);
    expect(await templatesSentTo(test, account.email)).to.not.include('mobile-changed');
  });
});

