/**
 * P9 by photo ID, end to end in a real browser: the P5 persona at a P9 service chooses photo ID on
 * the GP details page, sends a photo and a video (after the page's own errors), and is told it is
 * being checked; the reviewer persona approves the check in the back office; back at the service,
 * single sign-on now gives P9. Every patient page is screenshotted and scanned with axe-core.
 */
import { expect } from 'chai';
import { generate } from 'otplib';
import sharp from 'sharp';
import { PERSONAS, REVIEWER_PERSONA } from '../../src/accounts/personas.js';
import { mp4 } from '../photo-id/fixtures.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectPage, focusedErrorSummary, fillEmail, fillPassword, fillSecurityCode, summaryValue } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

const FIXED_CODE = '190696';
const p5 = PERSONAS.find((p) => p.key === 'p5')!;

describe('browser: proving who you are with photo ID, P9 (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(90_000);
  const suite = useBrowserSuite();

  it('P5 persona at a P9.Cp.Cd service: GP details page → photo ID (errors, then a photo and a video) → "we are checking"; the reviewer approves; back at the service, vot P9.Cp.Cd', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('photo-id');
    const { rpUrl, idp } = suite.env;

    await page.goto(`${rpUrl}/`);
    await page.getByRole('radio', { name: /^P9\.Cp\.Cd/ }).check();
    await continueFromDemoRp(page, rpUrl);
    await fillEmail(page, p5.email);
    await fillPassword(page, p5.password);
    await fillSecurityCode(page, FIXED_CODE);

    await expectPage(page, 'Enter your GP online registration details');
    await record.check(page, 'enter-gp-details');
    await clickButton(page, 'I do not have these details: use photo ID instead');

    await expectPage(page, 'Prove who you are with photo ID');
    await record.check(page, 'provide-photo-id');
    const digits = (await page.locator('#digits').innerText()).replace(/\D/g, '');
    expect(digits).to.match(/^\d{4}$/);

    // Nothing chosen: the error summary takes focus and links to each field (the radios by their first one).
    await clickButton(page, 'Send photo ID and video');
    await expectPage(page, 'Prove who you are with photo ID');
    const summary = await focusedErrorSummary(page);
    const links = await summary.locator('a').evaluateAll((anchors) => anchors.map((a) => a.getAttribute('href')));
    expect(links).to.deep.equal(['#document', '#photo', '#video']);
    await record.check(page, 'provide-photo-id-errors');

    const photo = await sharp({ create: { width: 640, height: 400, channels: 3, background: { r: 0, g: 94, b: 184 } } }).jpeg().toBuffer();
    await page.getByRole('radio', { name: 'Passport', exact: true }).check();
    await page.locator('#photo').setInputFiles({ name: 'passport.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.locator('#video').setInputFiles({ name: 'video.mp4', mimeType: 'video/mp4', buffer: mp4(6) });
    await clickButton(page, 'Send photo ID and video');
    await expectPage(page, 'We are checking your photo ID');
    await record.check(page, 'identity-check-pending');
    const patient = (await idp.idp.services.accounts.findByEmail(p5.email))!;
    const open = (await idp.idp.services.photoIdCases.openCaseFor(patient.id))!;
    expect((await idp.idp.services.photoIdCases.get(open.id))!.spokenDigits).to.equal(digits);

    // Continue: the service hears access_denied, and says so.
    await clickButton(page, 'Continue');
    await expectPage(page, 'You could not be signed in');
    expect(await page.locator('main').innerText()).to.include('access_denied');

    // The reviewer, in a browser of their own.
    const reviewer = await suite.openPage();
    await reviewer.page.goto(`${idp.url}/back-office`);
    await fillEmail(reviewer.page, REVIEWER_PERSONA.email);
    await fillPassword(reviewer.page, REVIEWER_PERSONA.password);
    await fillSecurityCode(reviewer.page, await generate({ secret: REVIEWER_PERSONA.authenticatorSecret }));
    await expectPage(reviewer.page, 'Identity checks');
    await Promise.all([reviewer.page.waitForNavigation({ waitUntil: 'load' }), reviewer.page.getByRole('button', { name: 'Start next check' }).click()]);
    await expectPage(reviewer.page, 'Check this identity');
    expect(await reviewer.page.getByText(`Can you clearly see and hear the numbers ${digits.split('').join(' ')}?`).count()).to.equal(1);
    await clickButton(reviewer.page, 'Approve');
    await expectPage(reviewer.page, 'Identity check approved');

    // Back at the service: the carelogin session is still there, and now meets P9.
    await page.goto(`${rpUrl}/`);
    await page.getByRole('radio', { name: /^P9\.Cp\.Cd/ }).check();
    await continueFromDemoRp(page, rpUrl);
    if ((await page.locator('h1').innerText()).startsWith('Share your information')) await clickButton(page, 'Continue');
    await expectPage(page, 'You are signed in to the demo service');
    expect(await summaryValue(page, 'Achieved (vot)')).to.equal('P9.Cp.Cd');

    expect(record.scanned).to.deep.equal(['enter-gp-details', 'provide-photo-id', 'provide-photo-id-errors', 'identity-check-pending']);
    expect(errors, 'script errors or CSP violations in the pages').to.deep.equal([]);
    expect(reviewer.errors).to.deep.equal([]);
  });
});
