/**
 * security-bar G3 in Debian's Chromium: with the text message provider failing (a fake GOV.UK
 * Notify answering 500, the edge we do not own), a persona signing in at the demo service is told
 * at once that no security code could be sent (503, CL1080), offered "Try again" and the other ways
 * on, and, once the provider is back, "Try again" sends a code that signs them in. The page is
 * screenshotted and scanned with axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import type { Browser, BrowserContext, Response } from 'playwright-core';
import { PERSONAS } from '../../src/accounts/personas.js';
import { startFakeNotify, type FakeNotify } from '../notifications/fakes/fake-notify.js';
import { acquireChromium, collectPageErrors, JourneyRecorder, newContext, releaseChromium, requireChromium } from './helpers/browser.js';
import { continueFromDemoRp, expectPage, fillEmail, fillSecurityCode } from './helpers/pages.js';
import { startIdpWithDemoRp, type IdpWithDemoRp } from './helpers/servers.js';

describe('browser: the text message provider is down (G3) (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(90_000);
  let browser: Browser;
  let env: IdpWithDemoRp;
  let notify: FakeNotify;
  let context: BrowserContext | undefined;

  before(async function () {
    const executable = requireChromium(this);
    notify = await startFakeNotify();
    [browser, env] = await Promise.all([
      acquireChromium(executable),
      startIdpWithDemoRp({ env: { SMS_ADAPTER: 'notify', NOTIFY_API_KEY: notify.apiKey, NOTIFY_BASE_URL: notify.baseUrl, NOTIFY_SMS_TEMPLATE_ID: '22222222-2222-4222-8222-222222222222' } }),
    ]);
  });
  after(async () => {
    await context?.close();
    if (browser) await releaseChromium();
    await env?.close();
    await notify?.close();
  });

  it('says at once that no code could be sent, offers "Try again" and the other ways on, and "Try again" works once the provider is back', async () => {
    const p9 = PERSONAS.find((persona) => persona.key === 'p9')!;
    context = await newContext(browser);
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    const record = new JourneyRecorder('code-not-sent');
    notify.mode = 'server-error';

    await page.goto(`${env.rpUrl}/`);
    await continueFromDemoRp(page, env.rpUrl);
    await fillEmail(page, p9.email);
    const [answer] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }) as Promise<Response | null>,
      page.getByRole('textbox', { name: 'Password', exact: true }).fill(p9.password).then(() => page.getByRole('button', { name: 'Continue', exact: true }).click()),
    ]);
    expect(answer?.status()).to.equal(503);
    await expectPage(page, 'Sorry, we could not send you a security code');
    const text = await page.locator('main').innerText();
    expect(text).to.include('ending in 5900');
    expect(text).to.include('Reference: CL1080');
    expect(await page.getByRole('button', { name: 'I cannot access my mobile' }).count()).to.equal(1);
    expect(await page.getByRole('textbox').count(), 'no code to enter').to.equal(0);
    await record.check(page, 'code-not-sent');

    notify.mode = 'ok';
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: 'Try again', exact: true }).click()]);
    await expectPage(page, 'Check your mobile phone');
    expect(notify.received.filter((message) => message.to === '+447912345900'), 'the new code reached the phone').to.have.length(1);
    await fillSecurityCode(page, '190696');
    await expectPage(page, /^Share your information with /);
    expect(record.scanned).to.deep.equal(['code-not-sent']);
    expect(errors).to.deep.equal([]);
  });
});
