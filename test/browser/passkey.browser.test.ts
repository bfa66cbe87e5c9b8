/**
 * Passkeys in a real browser, with Chromium's virtual authenticator (DevTools protocol, WebAuthn
 * domain) standing in for a fingerprint reader: create one in "Your account", sign in with it alone
 * from the email address page, and remove it. This runs /assets/passkey.js and
 * @simplewebauthn/browser against the server's real checks. Every page is screenshotted and scanned
 * with axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { createAccount, TEST_PASSWORD } from '../interactions/support.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, expectPage, followLink, signInToYourAccount } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

/** A platform authenticator that holds discoverable credentials and always verifies the user. */
async function addVirtualAuthenticator(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
}

describe('browser: passkeys (Chromium virtual authenticator, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);
  const suite = useBrowserSuite();

  it('create a passkey in Your account, sign in with it alone, then remove it', async () => {
    const { page, errors } = await suite.openPage();
    await addVirtualAuthenticator(page);
    const record = new JourneyRecorder('passkey');
    const account = await createAccount(suite.env.idp);

    await signInToYourAccount(page, suite.env.idp.url, account, TEST_PASSWORD);

    await followLink(page, 'Manage passkeys');
    await expectPage(page, 'Passkeys');
    // The script showed the form and hid the "you need a browser that supports passkeys" note.
    expect(await page.getByRole('button', { name: 'Create a passkey' }).isVisible()).to.equal(true);
    expect(await page.getByText('you need a browser that supports passkeys').isVisible()).to.equal(false);
    await record.check(page, 'account-passkeys');
    await clickButton(page, 'Create a passkey');
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.include('Your passkey has been created');
    await record.check(page, 'account-passkey-created');

    // A new sign-in: no email address, password or code, only the passkey.
    await clickButton(page, 'Sign out');
    await page.goto(`${suite.env.idp.url}/account`);
    await expectPage(page, 'Enter your email address');
    await clickButton(page, 'Sign in with a passkey');
    await expectPage(page, 'Sign in with a passkey');
    await record.check(page, 'use-passkey');
    await clickButton(page, 'Use a passkey');
    await expectPage(page, 'Your account');
    expect(await page.getByText(account.email).count()).to.be.greaterThan(0);

    await followLink(page, 'Manage passkeys');
    await expectPage(page, 'Passkeys');
    await record.check(page, 'account-passkeys-listed');
    await clickButton(page, /^Remove the passkey /);
    await expectPage(page, 'Your account');
    expect(await page.getByRole('status').innerText()).to.include('The passkey has been removed');

    expect(errors, 'no page errors').to.deep.equal([]);
  });
});
