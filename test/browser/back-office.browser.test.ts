/**
 * The back office in a real browser: the seeded reviewer persona signs in with its password and a
 * code from its authenticator app (the documented fixed key), starts the next identity check, sees
 * the photo, tries to decline without a reason (the error), then approves; once the evidence is past
 * its retention the case says when it was deleted. Every page is screenshotted and scanned with
 * axe-core (WCAG 2.2 A/AA).
 */
import { expect } from 'chai';
import { generate } from 'otplib';
import sharp from 'sharp';
import { PERSONAS, REVIEWER_PERSONA } from '../../src/accounts/personas.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, latestOutboxMessage } from './helpers/pages.js';
import { useBrowserSuite } from './helpers/servers.js';

/** Enough of an MP4's first box (ftyp) to look like one; the browser need not be able to play it. */
const TINY_MP4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(12)]);

describe('browser: back office (Chromium, axe WCAG 2.2 AA)', function () {
  this.timeout(60_000);
  const suite = useBrowserSuite();

  it('the reviewer persona signs in with its authenticator app, opens the next check, sees the photo ID and approves it', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('back-office');
    const test = suite.env.idp;
    const p5 = PERSONAS.find((p) => p.key === 'p5')!;
    const patient = (await test.idp.services.accounts.findByEmail(p5.email))!;
    const photo = await sharp({ create: { width: 320, height: 200, channels: 3, background: { r: 0, g: 94, b: 184 } } }).jpeg().toBuffer();
    const submitted = await test.idp.services.photoIdCases.submit({ accountId: patient.id, documentType: 'passport', spokenDigits: '7156', photo: { contentType: 'image/jpeg', content: photo }, video: { contentType: 'video/mp4', content: TINY_MP4 } });
    expect(submitted.kind).to.equal('submitted');

    await page.goto(`${test.url}/back-office`);
    await fillEmail(page, REVIEWER_PERSONA.email);
    await fillPassword(page, REVIEWER_PERSONA.password);
    await expectPage(page, 'Enter the security code from your authenticator app');
    await fillSecurityCode(page, await generate({ secret: REVIEWER_PERSONA.authenticatorSecret }));
    await expectPage(page, 'Identity checks');
    expect(await page.getByRole('cell', { name: 'Passport' }).count()).to.equal(1);
    await record.check(page, 'back-office-queue');

    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: 'Start next check' }).click()]);
    await expectPage(page, 'Check this identity');
    const image = page.getByRole('img', { name: /photo of the Passport/ });
    expect(await image.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), 'the photo loads').to.equal(320);
    expect(await page.locator('video[controls]').count()).to.equal(1);
    expect(await page.getByText('Can you clearly see and hear the numbers 7 1 5 6?').count()).to.equal(1);
    await record.check(page, 'back-office-case');

    await clickButton(page, 'Decline');
    await expectPage(page, 'Check this identity');
    await expectFocusedErrorSummary(page, 'reason', 'Select why you are declining this check');
    await record.check(page, 'back-office-case-error');

    await clickButton(page, 'Approve');
    await expectPage(page, 'Identity check approved');
    await record.check(page, 'back-office-approved');
    expect((await test.idp.services.accounts.findById(patient.id))!.proofingLevel).to.equal('P9');
    expect((await latestOutboxMessage(test.url, p5.email, 'identity-check-outcome')).body).to.include('confirmed who you are');

    // Past the retention period (a clock 30 days on) the case page says when the evidence was deleted.
    const decidedAt = (await test.idp.services.photoIdCases.get(submitted.caseId))!.decidedAt!;
    await test.idp.services.evidenceRetention.purge(new Date(decidedAt.getTime() + 30 * 24 * 3600 * 1000));
    await page.goto(`${test.url}/back-office/cases/${submitted.caseId}`);
    await expectPage(page, 'Identity check decided');
    expect(await page.getByText(/Evidence deleted on \d{1,2} \w+ \d{4}/).count()).to.equal(1);
    expect(await page.locator('img, video').count()).to.equal(0);
    await record.check(page, 'back-office-evidence-deleted');

    expect(record.scanned).to.deep.equal(['back-office-queue', 'back-office-case', 'back-office-case-error', 'back-office-approved', 'back-office-evidence-deleted']);
    expect(errors, 'no page errors').to.deep.equal([]);
  });
});
