import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Account } from '../../entities/account.js';
import type { Evidence } from '../../src/photo-id/cases.js';
import { formatNhsNumber, nhsNumberCheckDigit } from '../../src/accounts/nhs-number.js';
import type { Browser, Page } from '../helpers/browser.js';
import { pageText } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { completeSignIn, newBrowser } from '../account/support.js';
import { TEST_PASSWORD, addAuthenticatorApp, createAccount, heading, startJourney } from '../interactions/support.js';

/** Helpers for the back-office tests (a module of its own so importing it runs no tests). */

export const PHOTO: Evidence = { contentType: 'image/jpeg', content: Buffer.from('a re-encoded jpeg stands here') };
export const VIDEO: Evidence = { contentType: 'video/mp4', content: Buffer.from('an mp4 stands here') };

/** An account with the reviewer role, and (unless `app: false`) an authenticator app: its secret. */
export async function createReviewer(test: TestIdp, options: { app?: boolean } = {}): Promise<{ account: Account; secret?: string }> {
  const account = await createAccount(test);
  await test.idp.db.dataSource.query(`UPDATE account SET back_office_role = 'reviewer' WHERE id = $1`, [account.id]);
  const secret = options.app === false ? undefined : await addAuthenticatorApp(test, account);
  return { account: (await test.idp.services.accounts.findById(account.id))!, secret };
}

/** A fresh NHS number from the 999 test range with a valid check digit. */
export function testNhsNumber(): string {
  for (;;) {
    const nine = `999${String(Math.floor(Math.random() * 1_000_000)).padStart(6, '0')}`;
    const check = nhsNumberCheckDigit(nine);
    if (check !== null) return `${nine}${check}`;
  }
}

/** A P5 patient with details matched at P5 and a case awaiting review. */
export async function patientWithCase(test: TestIdp, options: { accountId?: string } = {}): Promise<{ accountId: string; caseId: string; email: string; nhsNumber?: string }> {
  let accountId = options.accountId;
  let nhsNumber: string | undefined;
  if (!accountId) {
    const account = await createAccount(test, { proofingLevel: 'P5' });
    nhsNumber = testNhsNumber();
    await test.idp.db.dataSource.query(`UPDATE account SET given_name = 'Ada', family_name = 'Lovelace', birthdate = '1985-12-10', nhs_number = $2 WHERE id = $1`, [account.id, nhsNumber]);
    accountId = account.id;
  }
  const submitted = await test.idp.services.photoIdCases.submit({ accountId, documentType: 'uk-driving-licence', spokenDigits: '7156', photo: PHOTO, video: VIDEO });
  const [row]: { email: string }[] = await test.idp.db.dataSource.query(`SELECT email FROM account WHERE id = $1`, [accountId]);
  return { accountId, caseId: submitted.caseId, email: row!.email, ...(nhsNumber ? { nhsNumber } : {}) };
}

/** A P5 patient whose account holds these register details (a fake PDS patient's, or changed ones), with a case awaiting review. */
export async function patientWithDetails(test: TestIdp, details: { nhsNumber: string; givenName: string; familyName: string; birthdate: string; postcode: string }): Promise<{ accountId: string; caseId: string; email: string }> {
  const account = await createAccount(test, { proofingLevel: 'P5' });
  await test.idp.db.dataSource.query(
    `UPDATE account SET nhs_number = $2, given_name = $3, family_name = $4, birthdate = $5, postcode = $6 WHERE id = $1`,
    [account.id, details.nhsNumber, details.givenName, details.familyName, details.birthdate, details.postcode],
  );
  return patientWithCase(test, { accountId: account.id });
}

/** Decides every case still awaiting review (held ones too), so a test's "Start next check" sees only its own cases. */
export async function emptyQueue(test: TestIdp): Promise<void> {
  await test.idp.db.dataSource.query(`UPDATE identity_check_case SET assigned_to = NULL, assigned_at = NULL, assigned_by = NULL WHERE status = 'awaiting_review'`);
  const janitor = randomUUID();
  for (const c of await test.idp.services.photoIdCases.queue(1000)) await test.idp.services.photoIdCases.decide({ caseId: c.id, reviewerAccountId: janitor, decision: 'declined', reason: 'image-blurred' });
}

/** Moves a case's assignment back in time (the database's clock is the one that counts, D23). */
export async function ageAssignment(test: TestIdp, caseId: string, seconds: number): Promise<void> {
  await test.idp.db.dataSource.query(`UPDATE identity_check_case SET assigned_at = assigned_at - $2::int * interval '1 second' WHERE id = $1`, [caseId, seconds]);
}

/** The case id a page is about (after "Start next check"), or undefined for the queue. */
export function caseIdOf(page: Page): string | undefined {
  return /\/back-office\/cases\/([0-9a-f-]{36})/.exec(page.url)?.[1];
}

/** Signs in to the back office in a new browser (password and an app code); returns the queue page. */
export async function signInToBackOffice(test: TestIdp, account: Account, secret: string | undefined): Promise<{ browser: Browser; page: Page }> {
  const browser = newBrowser(test);
  const page = await completeSignIn(test, account, browser, await browser.get(`${test.url}/back-office`), TEST_PASSWORD, secret);
  return { browser, page };
}

export async function signedInReviewer(test: TestIdp): Promise<{ account: Account; browser: Browser; page: Page }> {
  const { account, secret } = await createReviewer(test);
  const { browser, page } = await signInToBackOffice(test, account, secret);
  expect(heading(page), pageText(page).slice(0, 400)).to.equal('Identity checks');
  return { account, browser, page };
}

/** Presses "Start next check" on the queue (a form POST): the case page it leads to, or the queue again when none is left. */
export async function startNextCheck(browser: Browser, test: TestIdp): Promise<Page> {
  const queue = await browser.get(`${test.url}/back-office`);
  const token = /name="_csrf" value="([^"]+)"/.exec(queue.html)?.[1] ?? '';
  return browser.post(`${test.url}/back-office/next`, { _csrf: token }, { origin: test.url });
}

/** Evidence link paths on a case page, by kind. */
export function evidenceLinks(page: Page): { photo: string; video: string } {
  const photo = /<img[^>]*src="([^"]+)"/.exec(page.html)?.[1];
  const video = /<video[^>]*src="([^"]+)"/.exec(page.html)?.[1];
  if (!photo || !video) throw new Error(`no evidence on ${page.url}`);
  return { photo: photo.replace(/&amp;/g, '&'), video: video.replace(/&amp;/g, '&') };
}

export async function auditTypes(test: TestIdp, accountId: string, prefix = 'back_office.'): Promise<{ type: string; detail: Record<string, unknown> }[]> {
  return test.idp.db.dataSource.query(`SELECT type, detail FROM audit_event WHERE account_id = $1 AND type LIKE $2 ORDER BY id`, [accountId, `${prefix}%`]);
}

export { formatNhsNumber };

/** An account with the support role and an authenticator app (its secret). */
export async function createSupportStaff(test: TestIdp): Promise<{ account: Account; secret: string }> {
  const account = await createAccount(test);
  await test.idp.db.dataSource.query(`UPDATE account SET back_office_role = 'support' WHERE id = $1`, [account.id]);
  const secret = await addAuthenticatorApp(test, account);
  return { account: (await test.idp.services.accounts.findById(account.id))!, secret };
}

/** Support staff signed in to the back office; they land on "Find an account". */
export async function signedInSupport(test: TestIdp): Promise<{ account: Account; browser: Browser; page: Page }> {
  const { account, secret } = await createSupportStaff(test);
  const { browser, page } = await signInToBackOffice(test, account, secret);
  expect(heading(page), pageText(page).slice(0, 400)).to.equal('Find an account');
  return { account, browser, page };
}

/** Searches the support desk for `query` giving `reason`; the answer page. */
export async function findOnDesk(test: TestIdp, browser: Browser, query: string, reason: string): Promise<Page> {
  const form = await browser.get(`${test.url}/back-office/accounts`);
  return browser.submit(form, { query, reason }, { actionContains: '/back-office/accounts' });
}

/** A patient's answer to one password attempt on a new sign-in journey (the page after the password). */
export async function passwordAnswer(test: TestIdp, email: string, password: string): Promise<Page> {
  const journey = await startJourney(test);
  const passwordPage = await journey.browser.submit(journey.page, { email });
  return journey.browser.submit(passwordPage, { password });
}
