/**
 * "I cannot access my mobile" in a real browser: from the security code page, a code to the email
 * address, a new UK mobile number and the code texted to it, then on to the service with the
 * second factor actually proven (P9.Cp.Cd). Codes are read from the development outbox JSON.
 * Every page is screenshotted and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, outboxCode, summaryValue } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';
import { newMobile } from '../interactions/create-account-helpers.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;

describe('browser: signing in without the old mobile, adding a new one (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);

  const suite = useBrowserSuite();

  it('security code page → "I cannot access my mobile" → email code → new mobile → its code → the service gets P9.Cp.Cd', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('lost-mobile');
    const mobile = newMobile();

    await page.goto(`${suite.env.rpUrl}/`);
    await continueFromDemoRp(page, suite.env.rpUrl);
    await fillEmail(page, p9.email);
    await fillPassword(page, p9.password);
    await expectPage(page, 'Check your mobile phone');
    await clickButton(page, 'I cannot access my mobile');

    await expectPage(page, 'Check your email');
    await record.check(page, 'confirm-email-code');
    const emailedCode = await outboxCode(suite.env.idp.url, p9.email, 'sign-in-email-code');
    await page.getByRole('textbox', { name: 'Security code' }).fill(emailedCode);
    await clickButton(page, 'Continue');

    await expectPage(page, 'Enter your new mobile phone number');
    await record.check(page, 'enter-new-mobile');
    await page.getByRole('textbox', { name: 'UK mobile phone number' }).fill('01632 960 001');
    await clickButton(page, 'Continue');
    await expectPage(page, 'Enter your new mobile phone number');
    await record.check(page, 'enter-new-mobile-error');
    await expectFocusedErrorSummary(page, 'mobile', /.+/);
    await page.getByRole('textbox', { name: 'UK mobile phone number' }).fill(mobile);
    await clickButton(page, 'Continue');

    await expectPage(page, 'Check your new mobile phone');
    await record.check(page, 'confirm-new-mobile');
    const textedCode = await outboxCode(suite.env.idp.url, `+44${mobile.slice(1)}`, 'mobile-confirmation-code');
    await page.getByRole('textbox', { name: 'Security code' }).fill(textedCode);
    await clickButton(page, 'Continue');

    // The service asked for P9 with a code; consent was not given before in this database.
    await expectPage(page, /^Share your information with /);
    await clickButton(page, 'Continue');
    expect(page.url()).to.equal(`${suite.env.rpUrl}/signed-in`);
    await record.check(page, 'demo-rp-signed-in');
    expect(await summaryValue(page, 'Achieved (vot)')).to.equal('P9.Cp.Cd');

    expect(record.scanned).to.deep.equal(['confirm-email-code', 'enter-new-mobile', 'enter-new-mobile-error', 'confirm-new-mobile', 'demo-rp-signed-in']);
    expect(errors).to.deep.equal([]);
  });
});
