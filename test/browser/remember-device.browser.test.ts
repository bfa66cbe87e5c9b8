/**
 * "Remember this device" in a real browser: a patient ticks it with their security code; when they
 * come back (their carelogin session over, the device cookie kept) they sign in with their password
 * alone, and the service still gets Cd (security-bar X2). Another browser still gets the code page.
 */
import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectPage, fillEmail, fillPassword, fillSecurityCode, summaryValue } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;

describe('browser: a returning patient on a remembered device (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);

  const suite = useBrowserSuite();


  it('ticks "Remember this device", then signs in again with the password alone and still gets P9.Cp.Cd; another browser is asked for a code', async () => {
    const { context, page, errors } = await suite.openPage();
    const record = new JourneyRecorder('remember-device');

    await page.goto(`${suite.env.rpUrl}/`);
    await continueFromDemoRp(page, suite.env.rpUrl);
    await fillEmail(page, p9.email);
    await fillPassword(page, p9.password);
    await expectPage(page, 'Check your mobile phone');
    await record.check(page, 'enter-security-code');
    await fillSecurityCode(page, '190696', { remember: true });
    await expectPage(page, /^Share your information with /);
    await clickButton(page, 'Continue');
    expect(page.url()).to.equal(`${suite.env.rpUrl}/signed-in`);

    const device = (await context.cookies(suite.env.idp.url)).find((c) => /carelogin-device$/.test(c.name));
    expect(device, 'the remembered-device cookie').to.not.equal(undefined);
    expect(device!.httpOnly).to.equal(true);

    // The patient comes back later: their carelogin and demo-service sessions are over, the device cookie is not.
    await context.clearCookies({ name: /carelogin-session|demo-rp-session/ });
    await page.goto(`${suite.env.rpUrl}/`);
    await expectPage(page, 'Sign in to the demo service');
    await continueFromDemoRp(page, suite.env.rpUrl);
    await expectPage(page, 'Enter your email address');
    await fillEmail(page, p9.email);
    await expectPage(page, 'Enter your password');
    await record.check(page, 'enter-password-returning');
    await fillPassword(page, p9.password);

    // No security code page: straight back to the service (consent was given last time).
    expect(page.url(), 'no security code page').to.equal(`${suite.env.rpUrl}/signed-in`);
    await record.check(page, 'demo-rp-signed-in');
    expect(await summaryValue(page, 'Achieved (vot)')).to.equal('P9.Cp.Cd');
    expect(errors).to.deep.equal([]);

    // A different browser (no device cookie) still has to enter a security code.
    const other = await suite.openPage();
    await other.page.goto(`${suite.env.rpUrl}/`);
    await continueFromDemoRp(other.page, suite.env.rpUrl);
    await fillEmail(other.page, p9.email);
    await fillPassword(other.page, p9.password);
    await expectPage(other.page, 'Check your mobile phone');
  });
});
