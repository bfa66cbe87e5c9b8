/**
 * The limits a person can run into, in Debian's Chromium, on an IdP with low limits of its own
 * (IP_FAILURE_LIMIT 2, SECURITY_CODE_MAX_SENDS 2) so a few clicks reach them: "Send a new code"
 * once too often, and wrong passwords from one network until carelogin answers 429 "Sorry, there
 * have been too many attempts to sign in". Every page is screenshotted and scanned with axe-core
 * (WCAG 2.2 A/AA). A file of its own: the per-network block would refuse every other test's sign-in.
 */
import { expect } from 'chai';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { PERSONAS } from '../../src/accounts/personas.js';
import { acquireChromium, collectPageErrors, JourneyRecorder, newContext, releaseChromium, requireChromium } from './helpers/browser.js';
import { continueFromDemoRp, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, heading } from './helpers/pages.js';
import { startIdpWithDemoRp, type IdpWithDemoRp } from './helpers/servers.js';

const IP_FAILURE_LIMIT = 2;
const SECURITY_CODE_MAX_SENDS = 2;
const persona = (key: 'p0' | 'p5' | 'p9') => PERSONAS.find((p) => p.key === key)!;

describe('browser: too many codes, too many attempts (429) (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(90_000);
  let browser: Browser;
  let env: IdpWithDemoRp;
  const contexts: BrowserContext[] = [];

  before(async function () {
    const executable = requireChromium(this);
    [browser, env] = await Promise.all([
      acquireChromium(executable),
      startIdpWithDemoRp({ env: { IP_FAILURE_LIMIT: String(IP_FAILURE_LIMIT), SECURITY_CODE_MAX_SENDS: String(SECURITY_CODE_MAX_SENDS) } }),
    ]);
  });
  after(async () => {
    await Promise.all(contexts.map((context) => context.close()));
    if (browser) await releaseChromium();
    await env?.close();
  });

  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    const context = await newContext(browser);
    contexts.push(context);
    const page = await context.newPage();
    return { page, errors: collectPageErrors(page) };
  }

  /** Clicks a button and returns the response of the document it leads to (after redirects). */
  async function submit(page: Page, name: string): Promise<Response | null> {
    const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name, exact: true }).click()]);
    return response;
  }

  // This test runs first: the next one blocks this network at the IdP.
  it('"Send a new code" once more than allowed: the security code page says so, next to the field, and the code already sent still works', async () => {
    const p5 = persona('p5');
    const { page, errors } = await openPage();
    const record = new JourneyRecorder('security-code-resend-limit');

    await page.goto(`${env.rpUrl}/`);
    await page.getByRole('radio', { name: /^P5\.Cp\.Cd/ }).check();
    await continueFromDemoRp(page, env.rpUrl);
    await fillEmail(page, p5.email);
    await fillPassword(page, p5.password);
    await expectPage(page, 'Check your mobile phone');

    // Arriving sent one code; one more is allowed.
    const resent = await submit(page, 'Send a new code');
    expect(resent?.status()).to.equal(200);
    await expectPage(page, 'Check your mobile phone');
    expect(await page.locator('main').innerText()).to.include('We have sent a new security code');
    await record.check(page, 'security-code-resent');

    const refused = await submit(page, 'Send a new code');
    // The step re-shown with an error answers 400, like any other form error on these pages.
    expect(refused?.status(), 'the page is shown again with its error').to.equal(400);
    await expectPage(page, 'Check your mobile phone');
    expect(await page.title()).to.match(/^Error: /);
    await record.check(page, 'security-code-resend-refused');
    await expectFocusedErrorSummary(page, 'code', /You have asked for too many new codes\. Enter the last code we sent you, or wait \d+ (minutes?|hours?)( and \d+ minutes?)? before asking for another/);

    await page.getByRole('textbox', { name: 'Security code' }).fill('190696');
    await submit(page, 'Continue');
    await expectPage(page, /^Share your information with /);
    expect(record.scanned).to.deep.equal(['security-code-resent', 'security-code-resend-refused']);
    expect(errors).to.deep.equal([]);
  });

  it('wrong passwords from one network until it is blocked: 429 "Sorry, there have been too many attempts to sign in", saying how long to wait; the right password is refused too until then', async () => {
    const p9 = persona('p9');
    const { page, errors } = await openPage();
    const record = new JourneyRecorder('too-many-requests');

    await page.goto(`${env.rpUrl}/`);
    await continueFromDemoRp(page, env.rpUrl);
    await fillEmail(page, p9.email);
    for (let attempt = 1; attempt <= IP_FAILURE_LIMIT; attempt++) {
      await fillPassword(page, `${p9.password}-wrong-${attempt}`);
      await expectPage(page, 'Enter your password');
    }
    await record.check(page, 'enter-password-wrong');

    // Blocked now: even the right password gets the page saying to wait.
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(p9.password);
    const blocked = await submit(page, 'Continue');
    expect(blocked?.status(), 'the blocked attempt answers 429 Too Many Requests').to.equal(429);
    await expectPage(page, 'Sorry, there have been too many attempts to sign in');
    const text = await page.locator('main').innerText();
    expect(text, 'why').to.include('we have stopped sign-in attempts from your network for a while');
    expect(text, 'what to do next, and when').to.match(/Wait \d+ minutes?, then try again\./);
    expect(await page.locator('.nhsuk-error-summary').count(), 'not a form error').to.equal(0);
    expect(await page.getByRole('textbox').count(), 'no form to try again on this page').to.equal(0);
    await record.check(page, 'too-many-requests');

    // Starting again from the service while blocked gets the same page, not a way round it.
    await page.goto(`${env.rpUrl}/`);
    await continueFromDemoRp(page, env.rpUrl);
    await fillEmail(page, p9.email);
    await expectPage(page, 'Enter your password');
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(p9.password);
    const again = await submit(page, 'Continue');
    expect(again?.status()).to.equal(429);
    expect(await heading(page)).to.equal('Sorry, there have been too many attempts to sign in');

    expect(record.scanned).to.deep.equal(['enter-password-wrong', 'too-many-requests']);
    expect(errors).to.deep.equal([]);
  });
});
