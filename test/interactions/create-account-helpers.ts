import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Page } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import type { TestRp } from '../helpers/relying-party.js';
import { heading, startJourney, submit, type Journey } from './support.js';

/** Helpers for the create-account tests: a registration driven through its real pages. */

export const NEW_PASSWORD = 'tractor lemon harbour';

let registrations = 0;

/** A fresh address no test has used. */
export function newEmail(): string {
  registrations += 1;
  return `new-${registrations}-${randomUUID().slice(0, 8)}@example.test`;
}

/** A UK mobile number libphonenumber accepts (07900–07909: every number valid; 07911… is not), unique enough per test run. */
export function newMobile(): string {
  return `0790${String(Math.floor(Math.random() * 10_000_000)).padStart(7, '0')}`;
}

/** The newest email confirmation code queued to `email` (compared case-insensitively, as stored). */
export async function emailCode(test: TestIdp, email: string): Promise<string> {
  const rows: { body: string }[] = await test.idp.db.dataSource.query(
    `SELECT body FROM outbox_message WHERE lower(recipient) = lower($1) AND template = 'email-confirmation-code' ORDER BY created_at DESC, id DESC LIMIT 1`,
    [email.trim()],
  );
  const match = /\b(\d{6})\b/.exec(rows[0]?.body ?? '');
  if (!match) throw new Error(`no email confirmation code in the outbox for ${email}`);
  return match[1]!;
}

/** How many messages of `template` were queued to `recipient`. */
export async function outboxCount(test: TestIdp, recipient: string, template: string): Promise<number> {
  const rows: { n: string | number }[] = await test.idp.db.dataSource.query(
    'SELECT count(*) AS n FROM outbox_message WHERE lower(recipient) = lower($1) AND template = $2',
    [recipient.trim(), template],
  );
  return Number(rows[0]!.n);
}

/** Starts a sign-in at the RP and presses "Create an account" on the email page. */
export async function startRegistration(test: TestIdp, options: { rp?: TestRp; params?: Record<string, string> } = {}): Promise<{ journey: Journey; page: Page }> {
  const journey = await startJourney(test, options);
  const page = await journey.browser.submit(journey.page, {}, { actionContains: '/create-account' });
  expect(heading(page)).to.equal('Create your carelogin account');
  return { journey, page };
}

/** The first page, filled in and submitted. */
export function enterDetails(journey: Journey, page: Page, details: { email: string; password?: string; terms?: boolean }): Promise<Page> {
  return submit(journey, page, { email: details.email, password: details.password ?? NEW_PASSWORD, ...(details.terms === false ? {} : { terms: 'agreed' }) });
}

/** Every step from "Create an account" to the consent page (or the RP), reading codes from the outbox. */
export async function registerThrough(test: TestIdp, options: { email?: string; mobile?: string; params?: Record<string, string>; rp?: TestRp } = {}): Promise<{ journey: Journey; page: Page; email: string; mobile: string }> {
  const email = options.email ?? newEmail();
  const mobile = options.mobile ?? newMobile();
  const { journey, page: first } = await startRegistration(test, { params: options.params, rp: options.rp });
  let page = await enterDetails(journey, first, { email });
  expect(heading(page)).to.equal('Check your email');
  page = await submit(journey, page, { code: await emailCode(test, email) });
  expect(heading(page)).to.equal('Enter your mobile phone number');
  page = await submit(journey, page, { mobile });
  expect(heading(page)).to.equal('Check your mobile phone');
  page = await submit(journey, page, { code: await smsCodeTo(test, mobile) });
  return { journey, page, email, mobile };
}

/** The newest code texted to a number as typed (the outbox holds E.164). */
export async function smsCodeTo(test: TestIdp, typed: string): Promise<string> {
  const e164 = `+44${typed.replace(/\D/g, '').replace(/^0/, '')}`;
  const rows: { body: string }[] = await test.idp.db.dataSource.query(
    `SELECT body FROM outbox_message WHERE recipient = $1 AND channel = 'sms' ORDER BY created_at DESC, id DESC LIMIT 1`,
    [e164],
  );
  const match = /\b(\d{6})\b/.exec(rows[0]?.body ?? '');
  if (!match) throw new Error(`no security code in the outbox for ${e164}`);
  return match[1]!;
}
