/**
 * An authenticator app in a real browser: set one up in "Your account" (the QR code page, its
 * "I cannot scan the QR code" key, a wrong code and its error), sign in again with a code from the
 * app, and remove it. Codes are made from the key the page shows, as an app would. Every page is
 * screenshotted and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import { generate } from 'otplib';
import { createAccount, TEST_PASSWORD } from '../interactions/support.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, followLink, signInToYourAccount } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

describe('browser: authenticator app (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);
  const suite = useBrowserSuite();

  it('set up in Your account from the secret key (a wrong code first), sign in again with the app, then remove it', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('authenticator-app');
    const account = await createAccount(suite.env.idp);

    await signInToYourAccount(page, suite.env.idp.url, account, TEST_PASSWORD);

    await followLink(page, 'Set up an authenticator app');
    await expectPage(page, 'Set up an authenticator app');
    expect(await page.getByRole('img', { name: /QR code/ }).count(), 'the QR code has a name').to.equal(1);
    await page.getByText('I cannot scan the QR code').click();
    const secret = (await page.locator('#secret-key').innerText()).replace(/\s+/g, '');
    expect(secret).to.match(/^[A-Z2-7]{32}$/);
    await record.check(page, 'account-authenticator-app');

    const code = await generate({ secret });
    await page.getByRole('textbox', { name: 'Security code' }).fill(code === '000000' ? '111111' : '000000');
    await clickButton(page, 'Continue');
    await expectPage(page, 'Set up an authenticator app');
    await expectFocusedErrorSummary(page, 'code', /The security code is not correct/);
    await record.check(page, 'account-authenticator-app-error');
    await page.getByRole('textbox', { name: 'Security code' }).fill(await generate({ secret }));
    await clickButton(page, 'Continue');
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.include('Your authenticator app has been set up');
    await record.check(page, 'account-authenticator-app-added');

    // Signing in again asks for the app's code, not a text message.
    await clickButton(page, 'Sign out');
    await page.goto(`${suite.env.idp.url}/account`);
    await fillEmail(page, account.email);
    await fillPassword(page, TEST_PASSWORD);
    await expectPage(page, 'Enter the security code from your authenticator app');
    await record.check(page, 'enter-authenticator-code');
    // The next step's code: the one used to set the app up cannot be used again.
    await fillSecurityCode(page, await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await expectPage(page, 'Your account');

    await followLink(page, 'Remove authenticator app');
    await expectPage(page, 'Remove your authenticator app');
    await record.check(page, 'account-remove-authenticator-app');
    await clickButton(page, 'Remove authenticator app');
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.include('Your authenticator app has been removed');

    expect(errors, 'no page errors').to.deep.equal([]);
  });
});
