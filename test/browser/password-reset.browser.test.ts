/**
 * "Forgotten your password?" in a real browser, from the sign-in the demo service started: the
 * reset link is read from the development outbox page (as a developer would), the new password is
 * set in the same browser, which goes back to its sign-in at the password step and finishes it.
 * Every page is screenshotted and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, latestOutboxMessage, summaryValue } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;
const NEW_PASSWORD = 'harbour-violet-teapot-42';

describe('browser: resetting a forgotten password during sign-in (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);

  const suite = useBrowserSuite();

  it('password page → "Forgotten your password?" → email → link from the outbox → new password → back to the sign-in → signed in to the service', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('password-reset');

    await page.goto(`${suite.env.rpUrl}/`);
    await continueFromDemoRp(page, suite.env.rpUrl);
    await fillEmail(page, p9.email);
    await expectPage(page, 'Enter your password');
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Forgotten your password?' }).click()]);

    await expectPage(page, 'Reset your password');
    await record.check(page, 'forgotten-password');
    await clickButton(page, 'Send reset link');
    await expectPage(page, 'Reset your password');
    await record.check(page, 'forgotten-password-error');
    await expectFocusedErrorSummary(page, 'email', 'Enter your email address');
    await page.getByRole('textbox', { name: 'Email address' }).fill(p9.email);
    await clickButton(page, 'Send reset link');

    await expectPage(page, 'Check your email');
    await record.check(page, 'check-your-email');

    // The email, as a developer finds it: the development outbox page (and its JSON for the link).
    const message = await latestOutboxMessage(suite.env.idp.url, p9.email, 'password-reset-link');
    const link = /https?:\/\/[^\s)]+\/reset-password\/[\w-]+/.exec(message.body)?.[0];
    expect(link, `reset link in: ${message.body}`).to.be.a('string');
    expect(new URL(link!).origin, 'the link points at the issuer').to.equal(suite.env.idp.url);
    await page.goto(`${suite.env.idp.url}/dev/outbox?to=${encodeURIComponent(p9.email)}`);
    await expectPage(page, 'Development outbox');
    expect(await page.getByText(link!).count(), 'the outbox page shows the link').to.be.greaterThan(0);
    await record.check(page, 'dev-outbox');

    await page.goto(link!);
    await expectPage(page, 'Create a new password');
    await record.check(page, 'create-new-password');
    await page.getByRole('textbox', { name: 'New password', exact: true }).fill(NEW_PASSWORD);
    await page.getByRole('textbox', { name: 'Re-enter new password', exact: true }).fill(`${NEW_PASSWORD}x`);
    await clickButton(page, 'Change password');
    await expectPage(page, 'Create a new password');
    await record.check(page, 'create-new-password-mismatch');
    await expectFocusedErrorSummary(page, 'confirmPassword', /do not match/);
    await page.getByRole('textbox', { name: 'New password', exact: true }).fill(NEW_PASSWORD);
    await page.getByRole('textbox', { name: 'Re-enter new password', exact: true }).fill(NEW_PASSWORD);
    await clickButton(page, 'Change password');

    // The browser that asked goes back to its sign-in, at the password step (A6: the new password
    // and the security code are still needed).
    expect(page.url()).to.match(new RegExp(`^${suite.env.idp.url}/interaction/`));
    await expectPage(page, 'Enter your password');
    await record.check(page, 'enter-password-after-reset');
    await fillPassword(page, p9.password);
    await expectPage(page, 'Enter your password');
    expect(await page.title(), 'the old password no longer works').to.match(/^Error: /);
    await fillPassword(page, NEW_PASSWORD);
    await expectPage(page, 'Check your mobile phone');
    await fillSecurityCode(page, '190696');
    await expectPage(page, /^Share your information with /);
    await clickButton(page, 'Continue');

    expect(page.url()).to.equal(`${suite.env.rpUrl}/signed-in`);
    await record.check(page, 'demo-rp-signed-in');
    expect(await summaryValue(page, 'Achieved (vot)')).to.equal('P9.Cp.Cd');

    // The link is single use.
    await page.goto(link!);
    await expectPage(page, 'This link has already been used');
    await record.check(page, 'link-expired');

    expect(record.scanned).to.deep.equal([
      'forgotten-password',
      'forgotten-password-error',
      'check-your-email',
      'dev-outbox',
      'create-new-password',
      'create-new-password-mismatch',
      'enter-password-after-reset',
      'demo-rp-signed-in',
      'link-expired',
    ]);
    expect(errors).to.deep.equal([]);
  });
});
