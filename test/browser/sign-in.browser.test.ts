/**
 * Signing in from the demo service in a real browser (Debian Chromium via playwright-core): every
 * page is screenshotted (test-artifacts/screenshots/) and scanned with axe-core for WCAG 2.2 A/AA.
 */
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PERSONAS } from '../../src/accounts/personas.js';
import { axeScan, collectPageErrors, expectNoAxeViolations, formatViolations, JourneyRecorder, acquireChromium, newContext, releaseChromium, requireChromium, Screenshots } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, focusedId, heading, summaryValue } from './helpers/pages.js';
import { startIdpWithDemoRp, type IdpWithDemoRp } from './helpers/servers.js';

const FIXED_CODE = '190696';
const persona = (key: 'p0' | 'p5' | 'p9') => PERSONAS.find((p) => p.key === key)!;

describe('browser: signing in from the demo service (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let env: IdpWithDemoRp;
  let context: BrowserContext | undefined;

  before(async function () {
    const executable = requireChromium(this);
    [browser, env] = await Promise.all([acquireChromium(executable), startIdpWithDemoRp()]);
  });
  after(async () => {
    if (browser) await releaseChromium();
    await env?.close();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function freshPage(): Promise<{ page: Page; errors: string[] }> {
    context = await newContext(browser);
    const page = await context.newPage();
    return { page, errors: collectPageErrors(page) };
  }

  /** From the demo service's start page to its signed-in page (the vector picked by its label, else the default choice). */
  async function signInAtDemo(page: Page, who: { email: string; password: string }, vector?: RegExp): Promise<void> {
    await page.goto(`${env.rpUrl}/`);
    if (vector) await page.getByRole('radio', { name: vector }).check();
    await continueFromDemoRp(page, env.rpUrl);
    await fillEmail(page, who.email);
    await fillPassword(page, who.password);
    await fillSecurityCode(page, FIXED_CODE);
    if ((await heading(page)).startsWith('Share your information')) await clickButton(page, 'Continue');
    await expectPage(page, 'You are signed in to the demo service');
  }

  it('the axe scan reports violations on a deliberately inaccessible page (so a clean scan means something)', async () => {
    const { page } = await freshPage();
    await page.setContent('<html><head><title>Broken</title></head><body><main><input type="text" id="nameless"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><p style="color:#bbb;background:#fff">faint</p></main></body></html>');
    const violations = await axeScan(page);
    expect(violations.map((v) => v.id)).to.include.members(['html-has-lang', 'label', 'image-alt', 'color-contrast']);
    const message = formatViolations(violations, 'the broken page');
    expect(message).to.include('label [critical]').and.include('#nameless').and.include('https://dequeuniversity.com/rules/axe/');
    let thrown: unknown;
    await expectNoAxeViolations(page, 'the broken page').catch((error: unknown) => {
      thrown = error;
    });
    expect(String(thrown)).to.match(/accessibility violation\(s\) on the broken page/);
  });

  it('P9 persona: demo service → email → password → security code → consent → the service shows validated claims with vot P9.Cp.Cd', async () => {
    const { page, errors } = await freshPage();
    const record = new JourneyRecorder('sign-in');
    const p9 = persona('p9');

    await page.goto(`${env.rpUrl}/`);
    await expectPage(page, 'Sign in to the demo service');
    await record.check(page, 'demo-rp-start');
    await continueFromDemoRp(page, env.rpUrl);

    expect(page.url()).to.match(new RegExp(`^${env.idp.url}/interaction/`));
    await expectPage(page, 'Enter your email address');
    await record.check(page, 'enter-email');
    await fillEmail(page, p9.email);

    await expectPage(page, 'Enter your password');
    expect(await page.getByText(p9.email).count(), 'the password page says who is signing in').to.be.greaterThan(0);
    await record.check(page, 'enter-password');
    // nhsuk's "Show password" toggle: it changes the field's type and says so to screen readers.
    const password = page.getByRole('textbox', { name: 'Password', exact: true });
    expect(await password.getAttribute('type')).to.equal('password');
    await page.getByRole('button', { name: 'Show password' }).click();
    expect(await password.getAttribute('type')).to.equal('text');
    expect(await page.getByText('Your password is visible').count(), 'the change is announced').to.equal(1);
    await page.getByRole('button', { name: 'Hide password' }).click();
    expect(await password.getAttribute('type')).to.equal('password');
    await fillPassword(page, p9.password);

    await expectPage(page, 'Check your mobile phone');
    await record.check(page, 'enter-security-code');
    await fillSecurityCode(page, FIXED_CODE);

    await expectPage(page, /^Share your information with /);
    await record.check(page, 'consent');
    await clickButton(page, 'Continue');

    expect(page.url()).to.equal(`${env.rpUrl}/signed-in`);
    await expectPage(page, 'You are signed in to the demo service');
    await record.check(page, 'demo-rp-signed-in');
    expect(await summaryValue(page, 'Achieved (vot)')).to.equal('P9.Cp.Cd');
    expect(await summaryValue(page, 'Matches the request')).to.equal('Yes');
    expect(await summaryValue(page, 'identity_proofing_level')).to.equal('P9');
    expect(await summaryValue(page, 'nhs_number')).to.equal(p9.nhsNumber);
    expect(await summaryValue(page, 'iss')).to.equal(env.idp.url);
    expect(await summaryValue(page, 'aud')).to.include('carelogin-demo-rp');

    await clickButton(page, 'Sign out of the demo service');
    await expectPage(page, 'You have signed out of the demo service');
    await record.check(page, 'demo-rp-signed-out');

    expect(record.scanned).to.deep.equal(['demo-rp-start', 'enter-email', 'enter-password', 'enter-security-code', 'consent', 'demo-rp-signed-in', 'demo-rp-signed-out']);
    expect(errors, 'script errors or CSP violations in the pages').to.deep.equal([]);
  });

  it('signing out of the demo service and carelogin: the "Sign out of carelogin?" page, back to the service, and carelogin\'s own "You have signed out" page (logout, X13)', async () => {
    const { page, errors } = await freshPage();
    const record = new JourneyRecorder('logout');
    const p5 = persona('p5');

    await signInAtDemo(page, p5, /^P5\.Cp\.Cd/);

    await clickButton(page, 'Sign out of the demo service and carelogin');
    expect(page.url()).to.match(new RegExp(`^${env.idp.url}/logout`));
    await expectPage(page, 'Do you want to sign out of carelogin?');
    await record.check(page, 'logout-confirm');
    await clickButton(page, 'Sign out of carelogin');
    expect(page.url()).to.match(new RegExp(`^${env.rpUrl}/signed-out\\?state=`));
    await expectPage(page, 'You have signed out of the demo service');
    await record.check(page, 'demo-rp-signed-out-from-carelogin');

    // With no carelogin session, /logout has nothing to ask: its self-submitting form must run under
    // carelogin's Content-Security-Policy and land on carelogin's own page.
    await page.goto(`${env.idp.url}/logout`);
    await page.waitForURL(new RegExp(`^${env.idp.url}/logout/success`));
    await expectPage(page, 'You have signed out');
    await record.check(page, 'logout-signed-out');

    expect(record.scanned).to.deep.equal(['logout-confirm', 'demo-rp-signed-out-from-carelogin', 'logout-signed-out']);
    expect(errors, 'script errors or CSP violations in the pages').to.deep.equal([]);
  });

  it('a single sign-on link (asserted_login_identity): made in one browser, it signs another in without a password; axe-clean', async () => {
    const { page, errors } = await freshPage();
    const record = new JourneyRecorder('single-sign-on');
    const p9 = persona('p9');
    await signInAtDemo(page, p9);
    await clickButton(page, 'Make a single sign-on link');
    await expectPage(page, 'Single sign-on link for a partner service');
    await record.check(page, 'demo-rp-sso-link');
    const link = await page.locator('#sso-link').getAttribute('href');

    // Another browser context: no cookies of either origin.
    const other = await (await newContext(browser)).newPage();
    const otherErrors = collectPageErrors(other);
    try {
      await other.goto(link!);
      await expectPage(other, 'Continue to the demo service with single sign-on');
      await record.check(other, 'demo-rp-sso-continue');
      await clickButton(other, 'Continue with single sign-on');
      await expectPage(other, 'You are signed in to the demo service');
      expect(await summaryValue(other, 'Achieved (vot)')).to.equal('P9.Cp.Cd');
    } finally {
      await other.context().close();
    }
    expect(record.scanned).to.deep.equal(['demo-rp-sso-link', 'demo-rp-sso-continue']);
    expect([...errors, ...otherErrors]).to.deep.equal([]);
  });

  it('declining to share: "Do not continue" on the consent page → the demo service explains it cannot be used; axe-clean', async () => {
    const { page, errors } = await freshPage();
    const record = new JourneyRecorder('sign-in-decline');
    const p9 = persona('p9');

    await page.goto(`${env.rpUrl}/`);
    // Ask for a scope not yet agreed to, so the consent page is shown again for this account.
    await page.getByRole('checkbox', { name: /^landline/ }).check();
    await continueFromDemoRp(page, env.rpUrl);
    await fillEmail(page, p9.email);
    await fillPassword(page, p9.password);
    await fillSecurityCode(page, FIXED_CODE);
    await expectPage(page, /^Share your information with /);
    await clickButton(page, 'Do not continue');

    expect(page.url()).to.match(new RegExp(`^${env.rpUrl}/callback`));
    await expectPage(page, 'You cannot use this service');
    await record.check(page, 'demo-rp-no-consent');
    expect(errors).to.deep.equal([]);
  });

  it('keyboard only, at 320 CSS pixels wide: the skip link comes first, Tab and Enter get through email and password, and no page scrolls sideways (WCAG 2.1.1, 1.4.10)', async () => {
    context = await browser.newContext({ locale: 'en-GB', viewport: { width: 320, height: 640 } });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    const shots = new Screenshots('sign-in-keyboard-320px');
    const p0 = persona('p0');
    const overflow = (): Promise<number> =>
      page.evaluate(() => {
        const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
        return root.scrollWidth - root.clientWidth;
      });
    /** Tabs forward until the element with this id has focus (at most 15 presses). */
    const tabTo = async (id: string): Promise<void> => {
      for (let presses = 0; presses < 15; presses++) {
        if ((await focusedId(page)) === id) return;
        await page.keyboard.press('Tab');
      }
      throw new Error(`#${id} never received focus from the keyboard on ${page.url()}`);
    };

    await page.goto(`${env.rpUrl}/`);
    await continueFromDemoRp(page, env.rpUrl);
    await expectPage(page, 'Enter your email address');
    await shots.take(page, 'enter-email');
    expect(await overflow(), 'horizontal overflow on the email page (px)').to.equal(0);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent?.trim())).to.equal('Skip to main content');
    await tabTo('email');
    await page.keyboard.type(p0.email);
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);

    await expectPage(page, 'Enter your password');
    await shots.take(page, 'enter-password');
    expect(await overflow(), 'horizontal overflow on the password page (px)').to.equal(0);
    await tabTo('password');
    await page.keyboard.type(p0.password);
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);

    await expectPage(page, 'Check your mobile phone');
    await shots.take(page, 'enter-security-code');
    expect(await overflow(), 'horizontal overflow on the security code page (px)').to.equal(0);
    expect(errors).to.deep.equal([]);
  });

  it('the pages a person may land on outside a journey: the IdP home page, an expired sign-in, help, terms of use, privacy notice, a bad request from a service; axe-clean', async () => {
    const { page, errors } = await freshPage();
    const record = new JourneyRecorder('idp-other-pages');

    await page.goto(`${env.idp.url}/`);
    await heading(page);
    await record.check(page, 'idp-home');

    const expired = await page.goto(`${env.idp.url}/interaction/${'x'.repeat(43)}/enter-email`);
    expect(expired?.status()).to.be.at.least(400);
    await heading(page);
    await record.check(page, 'interaction-expired');

    // The footer's pages.
    for (const path of ['/help', '/terms', '/privacy']) {
      const response = await page.goto(`${env.idp.url}${path}`);
      expect(response?.status(), path).to.equal(200);
      await heading(page);
      await record.check(page, path.slice(1));
    }

    const bad = await page.goto(`${env.idp.url}/authorize?client_id=no-such-service&response_type=code&scope=openid`);
    expect(bad?.status(), 'an unknown service gets an error page, not a redirect').to.equal(400);
    await expectPage(page, 'There is a problem with this request');
    await record.check(page, 'authorize-error');
    expect(errors).to.deep.equal([]);
  });

  it('a form with a bad CSRF token gets the "could not accept that form" page; five wrong security codes get the locked page; axe-clean', async () => {
    const { page, errors } = await freshPage();
    const record = new JourneyRecorder('sign-in-refused');
    const p5 = persona('p5');

    await page.goto(`${env.rpUrl}/`);
    await page.getByRole('radio', { name: /^P5\.Cp\.Cd/ }).check();
    await continueFromDemoRp(page, env.rpUrl);
    await expectPage(page, 'Enter your email address');
    await page.locator('input[name="_csrf"]').first().evaluate((input) => {
      (input as unknown as { value: string }).value = 'A'.repeat(43);
    });
    await page.getByRole('textbox', { name: 'Email address' }).fill(p5.email);
    await clickButton(page, 'Continue');
    await expectPage(page, 'Sorry, we could not accept that form');
    await record.check(page, 'forbidden');

    await page.goBack();
    await page.reload();
    await expectPage(page, 'Enter your email address');
    await fillEmail(page, p5.email);
    await fillPassword(page, p5.password);
    for (let attempt = 1; attempt <= 5 && (await heading(page)) === 'Check your mobile phone'; attempt++) {
      await fillSecurityCode(page, '000000');
    }
    await expectPage(page, 'You entered the wrong security code too many times');
    await record.check(page, 'security-code-locked');
    expect(errors).to.deep.equal([]);
  });

  it('the protocol error page (an unknown service) runs its scripts under the CSP', async () => {
    const { page, errors } = await freshPage();
    await page.goto(`${env.idp.url}/authorize?client_id=no-such-service&response_type=code&scope=openid`);
    await expectPage(page, 'There is a problem with this request');
    expect(errors).to.deep.equal([]);
  });

  it('a page that does not exist gets a proper "Page not found" page; axe-clean', async () => {
    const { page, errors } = await freshPage();
    const missing = await page.goto(`${env.idp.url}/no-such-page`, { waitUntil: 'load' });
    expect(missing?.status()).to.equal(404);
    await heading(page);
    await new JourneyRecorder('idp-not-found').check(page, 'not-found');
    expect(errors).to.deep.equal([]);
  });

  it('every link on the sign-in pages leads somewhere (footer: help, terms of use, privacy notice)', async () => {
    const { page } = await freshPage();
    await page.goto(`${env.rpUrl}/`);
    await continueFromDemoRp(page, env.rpUrl);
    await expectPage(page, 'Enter your email address');
    const hrefs = await page.locator('a[href]').evaluateAll((links) => links.map((a) => (a as unknown as { href: string }).href));
    const own = [...new Set(hrefs.filter((href) => href.startsWith(`${env.idp.url}/`)).map((href) => href.split('#')[0]!))];
    expect(own.length).to.be.greaterThan(2);
    const broken: string[] = [];
    for (const href of own) {
      // With the browser's cookies, as a person following the link would.
      const response = await page.request.get(href, { headers: { accept: 'text/html' } });
      if (response.status() >= 400) broken.push(`${href} → ${response.status()}`);
    }
    expect(broken, 'links that do not lead anywhere').to.deep.equal([]);
  });

  it('errors: no email address, wrong password, wrong security code (each summary takes focus and links to its field), then a P0 account at a P9 service asked to prove who it is, going back, and the service’s error page; axe-clean', async () => {
    const { page, errors } = await freshPage();
    const record = new JourneyRecorder('sign-in-errors');
    const p0 = persona('p0');

    await page.goto(`${env.rpUrl}/`);
    await continueFromDemoRp(page, env.rpUrl);
    await clickButton(page, 'Continue');
    await expectPage(page, 'Enter your email address');
    await record.check(page, 'enter-email-error');
    await expectFocusedErrorSummary(page, 'email', 'Enter your email address');

    await fillEmail(page, p0.email);
    await fillPassword(page, `${p0.password}-not`);
    await expectPage(page, 'Enter your password');
    expect(await page.title()).to.match(/^Error: Enter your password/);
    await record.check(page, 'enter-password-error');
    await expectFocusedErrorSummary(page, 'password', 'Enter the correct email address and password');
    // The password the person typed is not sent back to them.
    expect(await page.getByRole('textbox', { name: 'Password', exact: true }).inputValue()).to.equal('');

    await fillPassword(page, p0.password);
    await expectPage(page, 'Check your mobile phone');
    await fillSecurityCode(page, '000000');
    await expectPage(page, 'Check your mobile phone');
    await record.check(page, 'enter-security-code-error');
    await expectFocusedErrorSummary(page, 'code', 'The security code is not correct');

    // P0 does not meet the service's P9 request: the IdP asks it to prove who it is first.
    await fillSecurityCode(page, FIXED_CODE);
    await expectPage(page, 'Prove who you are');
    await record.check(page, 'prove-who-you-are');
    // Without the details to hand, "Go back to the service" returns an error, which the demo service explains.
    await clickButton(page, 'Go back to the service');
    expect(page.url()).to.match(new RegExp(`^${env.rpUrl}/callback`));
    await expectPage(page, 'You could not be signed in');
    expect(await page.locator('main').innerText()).to.include('access_denied');
    await record.check(page, 'demo-rp-sign-in-error');
    expect(errors).to.deep.equal([]);
  });
});
