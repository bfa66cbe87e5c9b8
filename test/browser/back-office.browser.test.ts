/**
 * The back office in a real browser: the seeded reviewer persona signs in with its password and a
 * code from its authenticator app (the documented fixed key), starts the next identity check, sees
 * the photo, tries to decline without a reason (the error), re-checks the NHS record (the P5
 * persona is not in the fake register, so Approve needs a confirmation), then approves; puts a
 * second check on hold, releases it, meets another reviewer's assignment, sees the first check once its
 * evidence is past retention ("Evidence deleted on …"), and signs out; hands a check to a named
 * reviewer and returns one handed to it (D28). The support persona disables and enables an account,
 * removes a mobile number and meets the look-up cap. Every page is screenshotted and scanned with
 * axe-core (WCAG 2.2 A/AA).
 */
import { disableAccount, enableAccount } from '../../src/accounts/account-status.js';
import { expect } from 'chai';
import { generate } from 'otplib';
import type { Page as BrowserPage } from 'playwright-core';
import sharp from 'sharp';
import { PERSONAS, REVIEWER_PERSONA, SUPPORT_PERSONA, type BackOfficePersona } from '../../src/accounts/personas.js';
import { createCaseQueue } from '../../src/back-office/case-queue.js';
import { lockoutKeys } from '../../src/security/attempt-counters.js';
import { addAuthenticatorApp, createAccount } from '../interactions/support.js';
import { JourneyRecorder } from './helpers/browser.js';
import { clickButton, expectFocusedErrorSummary, expectPage, fillEmail, fillPassword, fillSecurityCode, followLink, latestOutboxMessage } from './helpers/pages.js';
import { useBrowserSuite, type BrowserSuite } from './helpers/servers.js';

/** Enough of an MP4's first box (ftyp) to look like one; the browser need not be able to play it. */
const TINY_MP4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom'), Buffer.alloc(12)]);

/**
 * Signs a back-office persona in with its password and a code from its authenticator app, then
 * expects the page it lands on. A code is accepted once (X5), so a second sign-in within the same
 * 30 seconds uses the next step's code, as a person waiting for the app's next code would.
 */
async function signInAsStaff(page: BrowserPage, test: BrowserSuite['env']['idp'], persona: BackOfficePersona, landing: string): Promise<void> {
  await page.goto(`${test.url}/back-office`);
  await fillEmail(page, persona.email);
  await fillPassword(page, persona.password);
  await expectPage(page, 'Enter the security code from your authenticator app');
  const [row]: { last: number | null }[] = await test.idp.db.dataSource.query(`SELECT authenticator_last_step AS last FROM account WHERE email = $1`, [persona.email]);
  const now = Math.floor(Date.now() / 1000);
  const used = row?.last !== null && row?.last !== undefined && Number(row.last) >= Math.floor(now / 30);
  await fillSecurityCode(page, await generate({ secret: persona.authenticatorSecret, epoch: now + (used ? 30 : 0) }));
  await expectPage(page, landing);
}

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

    await signInAsStaff(page, test, REVIEWER_PERSONA, 'Identity checks');
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

    await clickButton(page, 'Check the NHS record');
    await expectPage(page, 'Check this identity');
    expect(await page.getByText('The patient register has no record for this NHS number').count()).to.be.greaterThan(0);
    await record.check(page, 'back-office-case-rechecked');
    await clickButton(page, 'Approve');
    await expectFocusedErrorSummary(page, 'confirmRecord', 'Confirm that you have seen what the NHS record says, or do not approve this check');
    await record.check(page, 'back-office-confirm-error');
    await page.getByRole('checkbox', { name: 'I have seen what the NHS record says and still want to approve' }).check();

    await clickButton(page, 'Approve');
    await expectPage(page, 'Identity check approved');
    await record.check(page, 'back-office-approved');
    expect((await test.idp.services.accounts.findById(patient.id))!.proofingLevel).to.equal('P9');
    expect((await latestOutboxMessage(test.url, p5.email, 'identity-check-outcome')).body).to.include('confirmed who you are');

    // A second check: put on hold (first without a reason), released, then another reviewer's.
    const p0 = (await test.idp.services.accounts.findByEmail(PERSONAS.find((p) => p.key === 'p0')!.email))!;
    const second = await test.idp.services.photoIdCases.submit({ accountId: p0.id, documentType: 'uk-driving-licence', spokenDigits: '2468', photo: { contentType: 'image/jpeg', content: photo }, video: { contentType: 'video/mp4', content: TINY_MP4 } });
    await clickButton(page, 'Start next check');
    await expectPage(page, 'Check this identity');
    expect(page.url()).to.include(second.caseId);
    await clickButton(page, 'Put on hold');
    await expectFocusedErrorSummary(page, 'holdReason', 'Select why you are putting this check on hold');
    await record.check(page, 'back-office-hold-error');
    await page.getByRole('radio', { name: 'Needs a second opinion' }).check();
    await page.getByRole('textbox', { name: 'Note for the next reviewer' }).fill('Is the hologram right?');
    await clickButton(page, 'Put on hold');
    await expectPage(page, 'Checks on hold');
    await record.check(page, 'back-office-on-hold');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('link', { name: /Open/ }).click()]);
    await expectPage(page, 'Check this identity');
    await record.check(page, 'back-office-case-held');
    await clickButton(page, 'Release to the queue');
    await expectPage(page, 'Identity checks');

    await page.goto(`${test.url}/back-office/cases/${second.caseId}`);
    const other = (await test.idp.services.accounts.findByEmail(PERSONAS.find((p) => p.key === 'p9')!.email))!;
    await test.idp.db.dataSource.query(`UPDATE identity_check_case SET assigned_to = $2, assigned_at = now() WHERE id = $1`, [second.caseId, other.id]);
    await clickButton(page, 'Approve');
    await expectPage(page, 'Another reviewer is working on this check');
    await record.check(page, 'back-office-assigned-elsewhere');

    // The support desk disables the second case's account: the case warns, and approving is refused.
    await test.idp.db.dataSource.query(`UPDATE identity_check_case SET assigned_to = NULL, assigned_at = NULL WHERE id = $1`, [second.caseId]);
    await disableAccount(test.idp.services, { accountId: p0.id, supportAccountId: other.id, reason: 'INC-7' });
    await page.goto(`${test.url}/back-office/cases/${second.caseId}`);
    expect(await page.getByText('The support desk has disabled this account').count()).to.equal(1);
    await record.check(page, 'back-office-case-account-disabled');
    await clickButton(page, 'Approve');
    await expectPage(page, 'This account has been disabled');
    await record.check(page, 'back-office-approve-refused');
    await enableAccount(test.idp.services, { accountId: p0.id, supportAccountId: other.id, reason: 'INC-7' });

    // Past the retention period (a clock 30 days on) the case page says when the evidence was deleted.
    const decidedAt = (await test.idp.services.photoIdCases.get(submitted.caseId))!.decidedAt!;
    await test.idp.services.evidenceRetention.purge(new Date(decidedAt.getTime() + 30 * 24 * 3600 * 1000));
    await page.goto(`${test.url}/back-office/cases/${submitted.caseId}`);
    await expectPage(page, 'Identity check decided');
    expect(await page.getByText(/Evidence deleted on \d{1,2} \w+ \d{4}/).count()).to.equal(1);
    expect(await page.locator('img, video').count()).to.equal(0);
    await record.check(page, 'back-office-evidence-deleted');

    await clickButton(page, 'Sign out');
    await expectPage(page, 'You have signed out');
    await record.check(page, 'back-office-signed-out');
    await page.goto(`${test.url}/back-office`);
    expect(await page.getByRole('textbox', { name: 'Email address' }).count(), 'signed out: the sign-in asks again').to.equal(1);

    expect(record.scanned).to.deep.equal([
      'back-office-queue', 'back-office-case', 'back-office-case-error', 'back-office-case-rechecked', 'back-office-confirm-error', 'back-office-approved',
      'back-office-hold-error', 'back-office-on-hold', 'back-office-case-held', 'back-office-assigned-elsewhere', 'back-office-case-account-disabled', 'back-office-approve-refused', 'back-office-evidence-deleted', 'back-office-signed-out',
    ]);
    expect(errors, 'no page errors').to.deep.equal([]);
  });

  it('the support persona finds a patient, disables the account (the patient sees CID2012), then enables it again', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('support-desk');
    const test = suite.env.idp;
    const p0 = PERSONAS.find((p) => p.key === 'p0')!;

    await signInAsStaff(page, test, SUPPORT_PERSONA, 'Find an account');
    await record.check(page, 'support-find');

    await page.getByRole('textbox', { name: 'Email address, NHS number or account ID' }).fill(p0.email);
    await clickButton(page, 'Find account');
    await expectPage(page, 'Find an account');
    await expectFocusedErrorSummary(page, 'reason', 'Enter a reason or ticket number');
    await record.check(page, 'support-find-error');

    await page.getByRole('textbox', { name: 'Reason or ticket number' }).fill('Browser test, ticket 1');
    await clickButton(page, 'Find account');
    await expectPage(page, 'Account details');
    expect(await page.getByText(p0.email).count()).to.be.greaterThan(0);
    await record.check(page, 'support-account');

    await followLink(page, 'Disable this account');
    await expectPage(page, 'Disable this account');
    await record.check(page, 'support-disable');
    await page.getByRole('textbox', { name: 'Reason or ticket number' }).fill('Browser test, INC-1');
    await clickButton(page, 'Disable account');
    await expectPage(page, 'Account disabled');
    await record.check(page, 'support-disabled');
    expect((await latestOutboxMessage(test.url, p0.email, 'account-disabled')).body).to.include('CID2012');

    // The patient, in a browser of their own, gives the right password.
    const patient = await suite.openPage();
    await patient.page.goto(`${test.url}/account`);
    await fillEmail(patient.page, p0.email);
    await fillPassword(patient.page, p0.password);
    await expectPage(patient.page, 'Your account has been disabled');
    expect(await patient.page.getByText('Reference: CID2012').count()).to.equal(1);
    await record.check(patient.page, 'account-disabled');

    await followLink(page, 'Open this account again');
    await expectPage(page, 'Why are you opening this account?');
    await record.check(page, 'support-reason');
    await page.getByRole('textbox', { name: 'Reason or ticket number' }).fill('Browser test, INC-1');
    await clickButton(page, 'Open account');
    await expectPage(page, 'Account details');
    await followLink(page, 'Enable this account again');
    await page.getByRole('textbox', { name: 'Reason or ticket number' }).fill('Browser test, INC-1 closed');
    await clickButton(page, 'Enable account');
    await expectPage(page, 'Account enabled');
    expect((await test.idp.services.accounts.findByEmail(p0.email))!.status).to.equal('active');

    expect(record.scanned).to.deep.equal(['support-find', 'support-find-error', 'support-account', 'support-disable', 'support-disabled', 'account-disabled', 'support-reason']);
    expect(errors, 'no page errors').to.deep.equal([]);
    expect(patient.errors, 'no page errors').to.deep.equal([]);
  });

  it('the reviewer persona hands a check to a named reviewer (first without choosing one), finds one handed to them under "Assigned to you", and returns it to the queue', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('back-office-hand-over');
    const test = suite.env.idp;
    const colleague = await createAccount(test);
    await test.idp.db.dataSource.query(`UPDATE account SET back_office_role = 'reviewer' WHERE id = $1`, [colleague.id]);
    await addAuthenticatorApp(test, colleague);
    const photo = await sharp({ create: { width: 320, height: 200, channels: 3, background: { r: 0, g: 94, b: 184 } } }).jpeg().toBuffer();
    const submit = async (): Promise<string> => {
      const patient = await createAccount(test, { proofingLevel: 'P5' });
      return (await test.idp.services.photoIdCases.submit({ accountId: patient.id, documentType: 'passport', spokenDigits: '1357', photo: { contentType: 'image/jpeg', content: photo }, video: { contentType: 'video/mp4', content: TINY_MP4 } })).caseId;
    };
    await submit();

    await signInAsStaff(page, test, REVIEWER_PERSONA, 'Identity checks');
    await clickButton(page, 'Start next check');
    await expectPage(page, 'Check this identity');
    const handedCase = /\/cases\/([0-9a-f-]{36})/.exec(page.url())![1]!;
    await record.check(page, 'back-office-case-yours');
    await clickButton(page, 'Hand over');
    await expectFocusedErrorSummary(page, 'handOverTo', 'Select the reviewer to hand this check to');
    await record.check(page, 'back-office-hand-over-error');
    await page.getByRole('combobox', { name: 'Reviewer' }).selectOption({ label: colleague.email });
    await page.getByRole('textbox', { name: 'Note (optional)' }).last().fill('Second opinion on the hologram, please');
    await clickButton(page, 'Hand over');
    await expectPage(page, 'Identity checks');
    expect(await page.getByText('You handed the check to another reviewer.').count()).to.equal(1);
    await record.check(page, 'back-office-handed-over');
    const [row]: { assigned_to: string }[] = await test.idp.db.dataSource.query(`SELECT assigned_to FROM identity_check_case WHERE id = $1`, [handedCase]);
    expect(row!.assigned_to).to.equal(colleague.id);

    // The colleague hands another check to the persona: it is at the top of their queue.
    const reviewer = (await test.idp.services.accounts.findByEmail(REVIEWER_PERSONA.email))!;
    const other = await submit();
    await test.idp.db.dataSource.query(`UPDATE identity_check_case SET assigned_to = $2, assigned_at = now() WHERE id = $1`, [other, colleague.id]);
    expect(await createCaseQueue({ dataSource: test.idp.db.dataSource, audit: test.idp.services.audit, assignmentSeconds: test.idp.config.backOffice.assignmentSeconds }).handOver({ caseId: other, fromAccountId: colleague.id, toAccountId: reviewer.id })).to.equal('handed-over');
    await page.goto(`${test.url}/back-office`);
    await expectPage(page, 'Identity checks');
    expect(await page.getByRole('heading', { name: 'Assigned to you' }).count()).to.equal(1);
    expect(await page.getByText(`Handed to you by ${colleague.email}`).count()).to.equal(1);
    await record.check(page, 'back-office-assigned-to-you');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('link', { name: /Open your check/ }).click()]);
    await expectPage(page, 'Check this identity');
    expect(await page.getByText(`${colleague.email} handed this check to you.`).count()).to.equal(1);
    await clickButton(page, 'Return to the queue');
    await expectPage(page, 'Identity checks');
    expect(await page.getByText('You returned the check to the queue.').count()).to.equal(1);
    await record.check(page, 'back-office-returned');

    expect(record.scanned).to.deep.equal(['back-office-case-yours', 'back-office-hand-over-error', 'back-office-handed-over', 'back-office-assigned-to-you', 'back-office-returned']);
    expect(errors, 'no page errors').to.deep.equal([]);
  });

  it('the support persona removes a patient\'s mobile number (cleanse) from its own page, and meets the look-up cap', async () => {
    const { page, errors } = await suite.openPage();
    const record = new JourneyRecorder('support-desk-cleanse');
    const test = suite.env.idp;
    const patient = await createAccount(test);

    await signInAsStaff(page, test, SUPPORT_PERSONA, 'Find an account');
    await page.getByRole('textbox', { name: 'Email address, NHS number or account ID' }).fill(patient.email);
    await page.getByRole('textbox', { name: 'Reason or ticket number' }).fill('Number recycled, INC-9');
    await clickButton(page, 'Find account');
    await expectPage(page, 'Account details');
    await followLink(page, 'Remove the mobile phone number');
    await expectPage(page, 'Remove the mobile phone number from this account');
    expect(await page.getByText(`Mobile phone number: Ending in ${patient.mobileNumber!.slice(-3)}`).count()).to.equal(1);
    await record.check(page, 'support-cleanse');
    await clickButton(page, 'Remove mobile number');
    await expectFocusedErrorSummary(page, 'reason', 'Enter a reason or ticket number');
    await record.check(page, 'support-cleanse-error');
    await page.getByRole('textbox', { name: 'Reason or ticket number' }).fill('Number recycled, INC-9');
    await clickButton(page, 'Remove mobile number');
    await expectPage(page, 'Mobile phone number removed');
    await record.check(page, 'support-cleansed');
    expect((await test.idp.services.accounts.findById(patient.id))!.mobileNumber).to.equal(null);
    expect((await latestOutboxMessage(test.url, patient.email, 'mobile-removed')).body).to.include('removed the mobile phone number');

    // The hour's look-ups used up (as the counter would be after SUPPORT_LOOKUPS_PER_HOUR of them).
    const support = (await test.idp.services.accounts.findByEmail(SUPPORT_PERSONA.email))!;
    await test.idp.db.dataSource.query(
      `INSERT INTO attempt_counter (key, failures, window_started_at, consecutive_failures, updated_at) VALUES ($1, $2, now(), 0, now())
       ON CONFLICT (key) DO UPDATE SET failures = EXCLUDED.failures, window_started_at = now()`,
      [lockoutKeys.supportLookups(support.id), test.idp.config.backOffice.lookupsPerHour],
    );
    await followLink(page, 'Find another account');
    await page.getByRole('textbox', { name: 'Email address, NHS number or account ID' }).fill(patient.email);
    await page.getByRole('textbox', { name: 'Reason or ticket number' }).fill('Browsing, INC-10');
    await clickButton(page, 'Find account');
    await expectPage(page, 'You have looked up too many accounts');
    expect(await page.getByText('Reference: CL1070').count()).to.equal(1);
    await record.check(page, 'support-too-many-lookups');
    await test.idp.db.dataSource.query(`DELETE FROM attempt_counter WHERE key = $1`, [lockoutKeys.supportLookups(support.id)]);

    expect(record.scanned).to.deep.equal(['support-cleanse', 'support-cleanse-error', 'support-cleansed', 'support-too-many-lookups']);
    expect(errors, 'no page errors').to.deep.equal([]);
  });
});
