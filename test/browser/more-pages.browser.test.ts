/**
 * Pages no other browser test reached, each by a real person's path, in Debian's Chromium: adding
 * a mobile at sign-in (with a landline refused), "Your account" in a second browser after the
 * password changed in the first, changing the mobile number (its code page) and deleting the
 * account in "Your account", and the demo service's own error pages. Every page is screenshotted
 * (test-artifacts/screenshots/) and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Page, Response } from 'playwright-core';
import { PERSONAS } from '../../src/accounts/personas.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, heading, latestOutboxMessage, outboxCode, summaryValue } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';
import { newMobile } from '../interactions/create-account-helpers.js';

const FIXED_CODE = '190696';
const persona = (key: 'p0' | 'p5' | 'p9') => PERSONAS.find((p) => p.key === key)!;

function e164(mobile: string): string {
  return `+44${mobile.slice(1)}`;
}

describe('browser: pages off the main routes – adding a mobile at sign-in, another browser after a password change, changing the mobile and deleting the account, the demo service’s errors (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(90_000);

  const suite = useBrowserSuite();

  /** Follows a link by its accessible name and waits for the page it opens. */
  async function follow(page: Page, name: string | RegExp): Promise<void> {
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name }).first().click()]);
  }

  /** Clicks a button and returns the response of the document it leads to (after redirects). */
  async function submit(page: Page, name: string | RegExp): Promise<Response | null> {
    const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name, exact: typeof name === 'string' }).click()]);
    return response;
  }

  /** Signs in to "Your account" (/account) through the usual sign-in pages, with a persona's fixed code. */
  async function signInToAccount(page: Page, who: { email: string; password: string }): Promise<void> {
    await page.goto(`${suite.env.idp.url}/account`);
    await expectPage(page, 'Enter your email address');
    await fillEmail(page, who.email);
    await fillPassword(page, who.password);
    await expectPage(page, 'Check your mobile phone');
    await fillSecurityCode(page, FIXED_CODE);
    await expectPage(page, 'Your account');
    expect(page.url()).to.equal(`${suite.env.idp.url}/account`);
  }

  it('an account with no verified mobile signs in at a service: asked to add a UK mobile (a landline refused, the summary linking to the field), the code texted to it, then on to the service (P0.Cp.Cd)', async () => {
    const email = `no-mobile-${randomUUID().slice(0, 8)}@example.test`;
    const password = 'meadow-copper-kettle-58';
    const mobile = newMobile();

    // First, a registration abandoned at the mobile page: the email address is confirmed, no mobile.
    {
      const { page, context } = await suite.openPage();
      await page.goto(`${suite.env.rpUrl}/`);
      await page.getByRole('radio', { name: /^P0\.Cp\.Cd/ }).check();
      await continueFromDemoRp(page, suite.env.rpUrl);
      await clickButton(page, 'Create an account');
      await expectPage(page, 'Create your carelogin account');
      await page.getByRole('textbox', { name: 'Email address' }).fill(email);
      await page.getByRole('textbox', { name: 'Create a password', exact: true }).fill(password);
      await page.getByRole('checkbox', { name: 'I agree to the terms of use' }).check();
      await clickButton(page, 'Continue');
      await expectPage(page, 'Check your email');
      const emailedCode = await outboxCode(suite.env.idp.url, email);
      await page.getByRole('textbox', { name: 'Security code' }).fill(emailedCode);
      await clickButton(page, 'Continue');
      await expectPage(page, 'Enter your mobile phone number');
      // The person closes the browser here.
      await context.close();
    }

    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('sign-in-add-mobile');
    await page.goto(`${suite.env.rpUrl}/`);
    await page.getByRole('radio', { name: /^P0\.Cp\.Cd/ }).check();
    await continueFromDemoRp(page, suite.env.rpUrl);
    await fillEmail(page, email);
    await fillPassword(page, password);

    // Signing in (not creating an account): the page says why a mobile is needed.
    await expectPage(page, 'Enter your mobile phone number');
    expect(await page.locator('main').innerText()).to.match(/You need a mobile phone number to sign in/);
    await record.check(page, 'enter-mobile-number');

    // A landline is refused: the error summary and the field's own message, linked together.
    await page.getByRole('textbox', { name: 'UK mobile phone number' }).fill('01632 960 001');
    const refused = await submit(page, 'Continue');
    expect(refused?.status(), 'a refused number re-shows the form with 400').to.equal(400);
    await expectPage(page, 'Enter your mobile phone number');
    expect(await page.title()).to.match(/^Error: /);
    expect(await page.locator('.nhsuk-error-summary').count(), 'an error summary').to.equal(1);
    expect(await page.locator('#mobile-error').count(), 'the inline error by the field').to.equal(1);
    expect(await page.getByRole('textbox', { name: 'UK mobile phone number' }).inputValue(), 'what was typed is kept').to.equal('01632 960 001');
    await record.check(page, 'enter-mobile-number-landline-error');
    await expectFocusedErrorSummary(page, 'mobile', /mobile/i);

    await page.getByRole('textbox', { name: 'UK mobile phone number' }).fill(mobile);
    await clickButton(page, 'Continue');

    await expectPage(page, 'Check your mobile phone');
    expect(await page.locator('main').innerText()).to.include(mobile.slice(-4));
    await record.check(page, 'confirm-mobile');
    const textedCode = await outboxCode(suite.env.idp.url, e164(mobile));
    await page.getByRole('textbox', { name: 'Security code' }).fill(textedCode);
    await clickButton(page, 'Continue');

    await expectPage(page, /^Share your information with /);
    await clickButton(page, 'Continue');
    expect(page.url()).to.equal(`${suite.env.rpUrl}/signed-in`);
    await expectPage(page, 'You are signed in to the demo service');
    await record.check(page, 'demo-rp-signed-in');
    expect(await summaryValue(page, 'Achieved (vot)')).to.equal('P0.Cp.Cd');
    expect(await summaryValue(page, 'email')).to.equal(email);

    expect(record.scanned).to.deep.equal(['enter-mobile-number', 'enter-mobile-number-landline-error', 'confirm-mobile', 'demo-rp-signed-in']);
    expect(errors).to.deep.equal([]);
  });

  it('"Your account" open in one browser while the password is changed in another: the first browser’s next action says it was signed out, then asks for a sign-in again', async () => {
    const p5 = persona('p5');
    const record = new JourneyRecorder('account-other-browser-password-changed');
    const a = await suite.openPage();
    const b = await suite.openPage();

    await signInToAccount(a.page, p5);
    await record.check(a.page, 'browser-a-account-overview');
    await signInToAccount(b.page, p5);

    // Browser B changes the password; every other browser signed in to the account is signed out.
    await follow(b.page, /^Change\s+password$/);
    await expectPage(b.page, 'Change your password');
    await b.page.getByRole('textbox', { name: 'Current password', exact: true }).fill(p5.password);
    await b.page.getByRole('textbox', { name: 'New password', exact: true }).fill('harbour-thistle-lantern-72');
    await clickButton(b.page, 'Change password');
    await expectPage(b.page, 'Your account');
    expect(await b.page.getByRole('status').innerText()).to.include('You have been signed out on other devices');
    await record.check(b.page, 'browser-b-password-changed');

    // Browser A still shows the overview; its next click finds the session ended, and says why.
    await follow(a.page, /^Change\s+email address$/);
    await expectPage(a.page, 'You have been signed out');
    expect(await a.page.locator('main').innerText()).to.include('your password was changed');
    await record.check(a.page, 'browser-a-session-ended');
    await a.page.getByRole('button', { name: 'Sign in' }).click();
    expect(a.page.url(), 'browser A is sent to sign in again').to.match(new RegExp(`^${suite.env.idp.url}/interaction/`));
    await expectPage(a.page, 'Enter your email address');
    await record.check(a.page, 'browser-a-signed-out-sign-in-again');

    // The old password no longer works there; the new one does, and A gets back to where it was going.
    await fillEmail(a.page, p5.email);
    await fillPassword(a.page, p5.password);
    await expectPage(a.page, 'Enter your password');
    await record.check(a.page, 'browser-a-old-password-refused');
    await fillPassword(a.page, 'harbour-thistle-lantern-72');
    await fillSecurityCode(a.page, FIXED_CODE);
    await expectPage(a.page, 'Change your email address');
    expect(a.page.url()).to.equal(`${suite.env.idp.url}/account/email`);

    expect(record.scanned).to.deep.equal(['browser-a-account-overview', 'browser-b-password-changed', 'browser-a-session-ended', 'browser-a-signed-out-sign-in-again', 'browser-a-old-password-refused']);
    expect(a.errors).to.deep.equal([]);
    expect(b.errors).to.deep.equal([]);
  });

  it('"Your account": changing the mobile number (a landline refused, the code page, a wrong code, then changed), then deleting the account (its confirmation page and the "deleted" page)', async () => {
    const p0 = persona('p0');
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('account-change-mobile-and-delete');
    const mobile = newMobile();

    await signInToAccount(page, p0);
    await follow(page, /^Change\s+mobile phone number$/);
    await expectPage(page, 'Change your mobile phone number');
    await page.getByRole('textbox', { name: 'New UK mobile phone number' }).fill('01632 960 002');
    const refused = await submit(page, 'Continue');
    expect(refused?.status()).to.equal(400);
    await expectPage(page, 'Change your mobile phone number');
    expect(await page.title()).to.match(/^Error: /);
    await record.check(page, 'account-mobile-landline-error');
    await expectFocusedErrorSummary(page, 'mobile', /.+/);

    await page.getByRole('textbox', { name: 'New UK mobile phone number' }).fill(mobile);
    await clickButton(page, 'Continue');
    await expectPage(page, 'Check your mobile phone');
    expect(await page.locator('main').innerText()).to.include(mobile.slice(-4));
    await record.check(page, 'account-check-mobile');
    const textedCode = await outboxCode(suite.env.idp.url, e164(mobile));

    await page.getByRole('textbox', { name: 'Security code' }).fill(textedCode === '000000' ? '111111' : '000000');
    const wrong = await submit(page, 'Continue');
    expect(wrong?.status()).to.equal(400);
    await expectPage(page, 'Check your mobile phone');
    expect(await page.title()).to.match(/^Error: /);
    await record.check(page, 'account-check-mobile-wrong-code');
    await expectFocusedErrorSummary(page, 'code', 'The security code is not correct');

    await page.getByRole('textbox', { name: 'Security code' }).fill(textedCode);
    await clickButton(page, 'Continue');
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.match(/mobile/i);
    await record.check(page, 'account-mobile-changed');

    await follow(page, 'Delete your carelogin account');
    await expectPage(page, 'Delete your carelogin account');
    await record.check(page, 'account-delete-confirm');
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill(p0.password);
    await clickButton(page, 'Delete my account');
    expect(page.url()).to.equal(`${suite.env.idp.url}/account/deleted`);
    await expectPage(page, 'Your account has been deleted');
    await record.check(page, 'account-deleted');
    const notice = await latestOutboxMessage(suite.env.idp.url, p0.email, 'account-deleted');
    expect(notice.recipient).to.equal(p0.email);

    // Deleted means gone: /account asks for a sign-in, and the old details are not accepted.
    await page.goto(`${suite.env.idp.url}/account`);
    await expectPage(page, 'Enter your email address');
    await fillEmail(page, p0.email);
    await fillPassword(page, p0.password);
    await expectPage(page, 'Enter your password');
    expect(await page.locator('.nhsuk-error-summary').count()).to.equal(1);

    expect(record.scanned).to.deep.equal([
      'account-mobile-landline-error',
      'account-check-mobile',
      'account-check-mobile-wrong-code',
      'account-mobile-changed',
      'account-delete-confirm',
      'account-deleted',
    ]);
    expect(errors).to.deep.equal([]);
  });

  it('the demo service’s own error pages: a response for another sign-in (state mismatch), a callback opened again after signing in, and a page that does not exist', async () => {
    const p9 = persona('p9');
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('demo-rp-errors');
    const callbacks: string[] = [];
    page.on('request', (request) => {
      if (request.isNavigationRequest() && request.url().startsWith(`${suite.env.rpUrl}/callback`)) callbacks.push(request.url());
    });

    // A sign-in started in this browser, answered with a response that belongs to another one.
    await page.goto(`${suite.env.rpUrl}/`);
    await continueFromDemoRp(page, suite.env.rpUrl);
    await expectPage(page, 'Enter your email address');
    // Let the IdP page finish loading, so leaving it does not cut a download short.
    await page.waitForLoadState('networkidle');
    const mismatch = await page.goto(`${suite.env.rpUrl}/callback?code=${'c'.repeat(43)}&state=${'s'.repeat(43)}&iss=${encodeURIComponent(suite.env.idp.url)}`);
    expect(mismatch?.status()).to.equal(400);
    await expectPage(page, 'There is a problem');
    expect(await page.locator('main').innerText()).to.include('does not belong to the sign-in this browser started');
    await record.check(page, 'demo-rp-state-mismatch');
    callbacks.length = 0;

    await page.goto(`${suite.env.rpUrl}/`);
    await continueFromDemoRp(page, suite.env.rpUrl);
    await fillEmail(page, p9.email);
    await fillPassword(page, p9.password);
    await fillSecurityCode(page, FIXED_CODE);
    if ((await heading(page)).startsWith('Share your information with ')) await clickButton(page, 'Continue');
    expect(page.url()).to.equal(`${suite.env.rpUrl}/signed-in`);
    expect(callbacks, 'the IdP sent the browser back to the callback once').to.have.length(1);

    // The same callback again (a bookmark, or the browser's history): used already.
    const replay = await page.goto(callbacks[0]!);
    expect(replay?.status()).to.equal(400);
    await expectPage(page, 'There is a problem');
    expect(await page.locator('main').innerText()).to.include('This sign-in has expired or has already been used');
    expect(await page.getByRole('link', { name: 'Go back to the start of the demo service' }).count()).to.equal(1);
    await record.check(page, 'demo-rp-callback-used');

    const missing = await page.goto(`${suite.env.rpUrl}/no-such-page`);
    expect(missing?.status()).to.equal(404);
    await expectPage(page, 'Page not found');
    await record.check(page, 'demo-rp-not-found');

    // The error page's way out works.
    await follow(page, 'Go back to the start of the demo service');
    await expectPage(page, 'Sign in to the demo service');

    expect(record.scanned).to.deep.equal(['demo-rp-state-mismatch', 'demo-rp-callback-used', 'demo-rp-not-found']);
    expect(errors).to.deep.equal([]);
  });
});
