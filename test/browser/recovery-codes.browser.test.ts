/**
 * Recovery codes in a real browser (decisions D21): get a set in "Your account", sign in again with
 * one of them instead of the authenticator app (a wrong code first), get a new set on the page after,
 * and turn them off. Every new page is screenshotted and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import { generate } from 'otplib';
import { addAuthenticatorApp, createAccount, TEST_PASSWORD } from '../interactions/support.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, followLink } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

describe('browser: recovery codes (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(90_000);
  const suite = useBrowserSuite();

  it('got in Your account, used to sign in instead of the app, replaced on the page after, then turned off', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('recovery-codes');
    const account = await createAccount(suite.env.idp);
    const secret = await addAuthenticatorApp(suite.env.idp, account);
    const now = Math.floor(Date.now() / 1000);

    await page.goto(`${suite.env.idp.url}/account`);
    await fillEmail(page, account.email);
    await fillPassword(page, TEST_PASSWORD);
    await expectPage(page, 'Enter the security code from your authenticator app');
    // Not offered yet: the account has no codes.
    expect(await page.getByRole('button', { name: 'Use a recovery code' }).count()).to.equal(0);
    await fillSecurityCode(page, await generate({ secret, epoch: now }));
    await expectPage(page, 'Your account');

    await followLink(page, 'Set up recovery codes');
    await expectPage(page, 'Recovery codes');
    await record.check(page, 'account-recovery-codes');
    await clickButton(page, 'Get recovery codes');
    await expectPage(page, 'Save your recovery codes');
    const codes = await page.getByRole('list', { name: 'Your recovery codes' }).getByRole('listitem').allInnerTexts();
    expect(codes).to.have.length(10);
    await record.check(page, 'account-new-recovery-codes');
    await followLink(page, 'I have saved my codes, go back to your account');
    await expectPage(page, 'Your account');

    // Signing in again, without the app.
    await clickButton(page, 'Sign out');
    await page.goto(`${suite.env.idp.url}/account`);
    await fillEmail(page, account.email);
    await fillPassword(page, TEST_PASSWORD);
    await expectPage(page, 'Enter the security code from your authenticator app');
    await clickButton(page, 'Use a recovery code');
    await expectPage(page, 'Enter a recovery code');
    await record.check(page, 'enter-recovery-code');
    await page.getByRole('textbox', { name: 'Recovery code' }).fill('0000 0000 0000 0000');
    await clickButton(page, 'Continue');
    await expectFocusedErrorSummary(page, 'code', /The recovery code is not correct/);
    await record.check(page, 'enter-recovery-code-error');
    await page.getByRole('textbox', { name: 'Recovery code' }).fill(codes[0]!);
    await clickButton(page, 'Continue');
    await expectPage(page, 'You signed in with a recovery code');
    expect(await page.locator('main').innerText()).to.contain('You have 9 recovery codes left');
    await record.check(page, 'recovery-code-used');
    await clickButton(page, 'Get new recovery codes');
    await expectPage(page, 'Save your new recovery codes');
    await record.check(page, 'new-recovery-codes');
    await clickButton(page, 'I have saved my codes, continue');

    // Your account needs a second factor, which a recovery code is not (D21): the app is asked for.
    await expectPage(page, 'Enter the security code from your authenticator app');
    expect(await page.getByRole('button', { name: 'Use a recovery code' }).count(), 'not offered in a step-up').to.equal(0);
    await fillSecurityCode(page, await generate({ secret, epoch: now + 30 }));
    await expectPage(page, 'Your account');

    await followLink(page, 'Manage recovery codes');
    await followLink(page, 'Turn off recovery codes');
    await expectPage(page, 'Turn off recovery codes');
    await record.check(page, 'account-turn-off-recovery-codes');
    await clickButton(page, 'Turn off recovery codes');
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.include('Your recovery codes have been turned off');

    expect(errors, 'no page errors').to.deep.equal([]);
  });
  it('lost the phone with the app: a recovery code, then a new authenticator app on the page after, and Your account opens', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('recovery-codes-new-app');
    const account = await createAccount(suite.env.idp);
    await addAuthenticatorApp(suite.env.idp, account);
    const codes = await suite.env.idp.idp.services.recoveryCodes.generate(account, { ip: '127.0.0.1' });

    await page.goto(`${suite.env.idp.url}/account`);
    await fillEmail(page, account.email);
    await fillPassword(page, TEST_PASSWORD);
    await clickButton(page, 'Use a recovery code');
    await page.getByRole('textbox', { name: 'Recovery code' }).fill(codes[0]!);
    await clickButton(page, 'Continue');
    await expectPage(page, 'You signed in with a recovery code');
    await clickButton(page, 'Set up a new authenticator app');
    await expectPage(page, 'Set up a new authenticator app');
    await page.getByText('I cannot scan the QR code').click();
    const key = (await page.locator('#secret-key').innerText()).replace(/\s/g, '');
    await record.check(page, 'set-up-authenticator-app');
    await page.getByRole('textbox', { name: 'Security code' }).fill('000000');
    await clickButton(page, 'Continue');
    await expectFocusedErrorSummary(page, 'code', /The security code is not correct/);
    await record.check(page, 'set-up-authenticator-app-error');
    await page.getByRole('textbox', { name: 'Security code' }).fill(await generate({ secret: key, epoch: Math.floor(Date.now() / 1000) }));
    await clickButton(page, 'Continue');
    // The new app proved a second factor: Your account needs nothing more.
    await expectPage(page, 'Your account');
    expect(errors, 'no page errors').to.deep.equal([]);
  });
});
