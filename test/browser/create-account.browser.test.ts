/**
 * A new patient creates an account in a real browser, starting from the demo service's button:
 * email, password and terms; the code emailed to them (read from the development outbox JSON);
 * their mobile number and the code texted to it; consent; back at the service with a validated
 * ID token (P0.Cp.Cd). Every page is screenshotted and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectFocusedErrorSummary, expectPage, outboxCode, summaryValue } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';
import { newMobile } from '../interactions/create-account-helpers.js';

const PASSWORD = 'orchard-pebble-lantern-31';

describe('browser: a new patient creates an account from a service (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);

  const suite = useBrowserSuite();

  it('demo service → "Create an account" → details and terms → email code → mobile → text code → consent → the service has a validated ID token (P0.Cp.Cd)', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('create-account');
    const email = `new-patient-${randomUUID().slice(0, 8)}@example.test`;
    const mobile = newMobile();
    const mobileE164 = `+44${mobile.slice(1)}`;

    await page.goto(`${suite.env.rpUrl}/`);
    // A new account has no identity checks: the service asks for P0.
    await page.getByRole('radio', { name: /^P0\.Cp\.Cd/ }).check();
    await continueFromDemoRp(page, suite.env.rpUrl);
    await expectPage(page, 'Enter your email address');
    await clickButton(page, 'Create an account');

    await expectPage(page, 'Create your carelogin account');
    await record.check(page, 'create-account');
    await clickButton(page, 'Continue');
    await expectPage(page, 'Create your carelogin account');
    expect(await page.title()).to.match(/^Error: /);
    await record.check(page, 'create-account-errors');
    await expectFocusedErrorSummary(page, 'email', /.+/);

    await page.getByRole('textbox', { name: 'Email address' }).fill(email);
    await page.getByRole('textbox', { name: 'Create a password', exact: true }).fill(PASSWORD);
    await page.getByRole('checkbox', { name: 'I agree to the terms of use' }).check();
    await clickButton(page, 'Continue');

    await expectPage(page, 'Check your email');
    await record.check(page, 'confirm-email');
    const emailedCode = await outboxCode(suite.env.idp.url, email);
    await page.getByRole('textbox', { name: 'Security code' }).fill(emailedCode);
    await clickButton(page, 'Continue');

    await expectPage(page, 'Enter your mobile phone number');
    await record.check(page, 'enter-mobile-number');
    await page.getByRole('textbox', { name: 'UK mobile phone number' }).fill(mobile);
    await clickButton(page, 'Continue');

    await expectPage(page, 'Check your mobile phone');
    await record.check(page, 'confirm-mobile');
    const textedCode = await outboxCode(suite.env.idp.url, mobileE164);
    await page.getByRole('textbox', { name: 'Security code' }).fill(textedCode === '000000' ? '111111' : '000000');
    await clickButton(page, 'Continue');
    await expectPage(page, 'Check your mobile phone');
    await record.check(page, 'confirm-mobile-error');
    await expectFocusedErrorSummary(page, 'code', /.+/);
    await page.getByRole('textbox', { name: 'Security code' }).fill(textedCode);
    await clickButton(page, 'Continue');

    await expectPage(page, /^Share your information with /);
    await record.check(page, 'consent');
    await clickButton(page, 'Continue');

    expect(page.url()).to.equal(`${suite.env.rpUrl}/signed-in`);
    await record.check(page, 'demo-rp-signed-in');
    expect(await summaryValue(page, 'Achieved (vot)')).to.equal('P0.Cp.Cd');
    expect(await summaryValue(page, 'Matches the request')).to.equal('Yes');
    expect(await summaryValue(page, 'email')).to.equal(email);
    expect(await summaryValue(page, 'iss')).to.equal(suite.env.idp.url);

    expect(record.scanned).to.deep.equal([
      'create-account',
      'create-account-errors',
      'confirm-email',
      'enter-mobile-number',
      'confirm-mobile',
      'confirm-mobile-error',
      'consent',
      'demo-rp-signed-in',
    ]);
    expect(errors).to.deep.equal([]);
  });
});
