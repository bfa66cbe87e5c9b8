/**
 * "Your account" (/account) in a real browser: signing in through the usual journey, the overview
 * after using a service, each settings page, an error, and signing out. Every page is
 * screenshotted and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { PERSONAS } from '../../src/accounts/personas.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, outboxCode } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;

describe('browser: "Your account" (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);
  /** The page the first test leaves signed out, for the second. */
  let signedOut: Page | undefined;

  const suite = useBrowserSuite();

  /** Follows a link by its accessible name and waits for the page it opens. */
  async function follow(page: Page, name: string | RegExp): Promise<void> {
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name }).first().click()]);
  }

  it('after using a service: the overview lists it and the remembered device, removing the device, withdrawing consent, changing the password (and an error) and the email address, the other settings pages, signing out', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('account');

    // Use a service first, with "remember this device", so the overview has a service and a device to list.
    await page.goto(`${suite.env.rpUrl}/`);
    await continueFromDemoRp(page, suite.env.rpUrl);
    await fillEmail(page, p9.email);
    await fillPassword(page, p9.password);
    await fillSecurityCode(page, '190696', { remember: true });
    await expectPage(page, /^Share your information with /);
    await clickButton(page, 'Continue');
    expect(page.url()).to.equal(`${suite.env.rpUrl}/signed-in`);

    // Already signed in to carelogin (with a code): /account opens without asking again, and
    // without a consent page for carelogin itself (docs/account.md).
    await page.goto(`${suite.env.idp.url}/account`);
    await expectPage(page, 'Your account');
    expect(page.url()).to.equal(`${suite.env.idp.url}/account`);
    await record.check(page, 'account-overview');
    expect(await page.getByText(p9.email).count(), 'the overview shows the email address').to.be.greaterThan(0);
    expect(await page.getByText(p9.mobileNumber).count(), 'the full mobile number is not shown').to.equal(0);
    expect(await page.getByRole('button', { name: /^Withdraw consent for / }).count(), 'the demo service is listed').to.equal(1);
    expect(await page.getByRole('button', { name: /^Remove / }).count(), 'the remembered device is listed').to.be.greaterThan(0);

    // Forgetting the remembered device, then withdrawing consent: each confirmed on the overview.
    await clickButton(page, /^Remove (?!all)/);
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.include('The device has been removed');
    expect(await page.getByText('You have no remembered devices.').count()).to.equal(1);
    await record.check(page, 'account-device-removed');
    await clickButton(page, /^Withdraw consent for /);
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.include('You have withdrawn your consent');
    expect(await page.getByRole('button', { name: /^Withdraw consent for / }).count(), 'the demo service is no longer listed').to.equal(0);
    await record.check(page, 'account-consent-withdrawn');

    await follow(page, /^Change\s+password$/);
    await expectPage(page, 'Change your password');
    await record.check(page, 'account-password');
    await page.getByRole('textbox', { name: 'Current password', exact: true }).fill(`${p9.password}-wrong`);
    await page.getByRole('textbox', { name: 'New password', exact: true }).fill('lighthouse-walnut-river-9');
    await clickButton(page, 'Change password');
    await expectPage(page, 'Change your password');
    await record.check(page, 'account-password-error');
    await expectFocusedErrorSummary(page, 'currentPassword', /.+/);

    await page.getByRole('textbox', { name: 'Current password', exact: true }).fill(p9.password);
    await page.getByRole('textbox', { name: 'New password', exact: true }).fill('lighthouse-walnut-river-9');
    await clickButton(page, 'Change password');
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.include('Your password has been changed');
    await record.check(page, 'account-password-changed');

    await follow(page, /^Change\s+email address$/);
    await expectPage(page, 'Change your email address');
    await record.check(page, 'account-email');
    const newEmail = `eleanor-${Date.now()}@example.test`;
    await page.getByRole('textbox', { name: 'New email address' }).fill(newEmail);
    // The password was changed just above.
    await page.getByRole('textbox', { name: 'Password', exact: true }).fill('lighthouse-walnut-river-9');
    await clickButton(page, 'Continue');
    await expectPage(page, 'Check your email');
    await record.check(page, 'account-check-email');
    const emailedCode = await outboxCode(suite.env.idp.url, newEmail, 'email-confirmation-code');
    await page.getByRole('textbox', { name: 'Security code' }).fill(emailedCode);
    await clickButton(page, 'Continue');
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.include('Your email address has been changed');
    expect(await page.getByText(newEmail).count(), 'the overview shows the new address').to.be.greaterThan(0);

    await page.goto(`${suite.env.idp.url}/account`);
    await follow(page, /^Change\s+mobile phone number$/);
    await expectPage(page, 'Change your mobile phone number');
    await record.check(page, 'account-mobile');

    await page.goto(`${suite.env.idp.url}/account`);
    await follow(page, 'Delete your carelogin account');
    await expectPage(page, 'Delete your carelogin account');
    await record.check(page, 'account-delete');

    await page.goto(`${suite.env.idp.url}/account`);
    await clickButton(page, 'Sign out');
    await expectPage(page, 'You have signed out');
    await record.check(page, 'account-signed-out');

    expect(record.scanned).to.deep.equal([
      'account-overview',
      'account-device-removed',
      'account-consent-withdrawn',
      'account-password',
      'account-password-error',
      'account-password-changed',
      'account-email',
      'account-check-email',
      'account-mobile',
      'account-delete',
      'account-signed-out',
    ]);
    expect(errors).to.deep.equal([]);
    signedOut = page;
  });

  it('signed out means signed out: /account asks for a sign-in again, through the usual sign-in pages', async () => {
    expect(signedOut, 'the previous test ended signed out').to.not.equal(undefined);
    const page = signedOut!;
    const record = new JourneyRecorder('account-sign-in');
    await page.goto(`${suite.env.idp.url}/account`);
    expect(page.url()).to.match(new RegExp(`^${suite.env.idp.url}/interaction/`));
    await expectPage(page, 'Enter your email address');
    await record.check(page, 'account-sign-in');
  });
});
