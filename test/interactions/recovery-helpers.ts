import { expect } from 'chai';
import type { Logger } from '../../src/logger.js';
import { Browser, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import type { Account } from '../../entities/account.js';
import { TEST_PASSWORD, heading, startJourney, submit, type Journey } from './support.js';

/** Helpers for the recovery tests (a module of its own so importing it runs no tests). */

/** A test IdP that trusts X-Forwarded-For, so each simulated person can have their own address. */
export async function startRecoveryIdp(options: { logger?: Logger } = {}): Promise<TestIdp> {
  return startTestIdp({ env: { TRUST_PROXY: 'true' }, logger: options.logger });
}


let addresses = 0;

export function recoveryBrowser(test: TestIdp): Browser {
  addresses += 1;
  return new Browser({ stopAt: test.rp.redirectUri, headers: { 'x-forwarded-for': `203.0.113.${addresses % 250}` } });
}

export async function outboxCount(test: TestIdp): Promise<number> {
  const [row] = await test.idp.db.dataSource.query(`SELECT count(*)::int AS n FROM outbox_message`);
  return Number(row.n);
}

/** The newest reset link emailed to this address. */
export async function latestResetLink(test: TestIdp, email: string): Promise<string> {
  const rows: { body: string }[] = await test.idp.db.dataSource.query(
    `SELECT body FROM outbox_message WHERE recipient = $1 AND template = 'password-reset-link' ORDER BY created_at DESC, id DESC LIMIT 1`,
    [email],
  );
  const match = /(\S+\/reset-password\/[A-Za-z0-9_-]+)/.exec(rows[0]?.body ?? '');
  if (!match) throw new Error(`no reset link in the outbox for ${email}`);
  return match[1]!;
}

export async function templatesSentTo(test: TestIdp, recipient: string): Promise<string[]> {
  const rows: { template: string }[] = await test.idp.db.dataSource.query(`SELECT template FROM outbox_message WHERE recipient = $1 ORDER BY created_at, id`, [recipient]);
  return rows.map((r) => r.template);
}

/** Asks for a reset link from the "Forgotten your password?" page. */
export async function requestReset(test: TestIdp, browser: Browser, email: string, from?: Page): Promise<Page> {
  let page: Page;
  if (from) {
    const href = /href="([^"]*forgotten-password[^"]*)"/.exec(from.html)?.[1];
    expect(href, 'the "Forgotten your password?" link').to.be.a('string');
    page = await browser.get(new URL(href!.replace(/&amp;/g, '&'), from.url).toString());
  } else {
    page = await browser.get(`${test.url}/forgotten-password`);
  }
  expect(page.status).to.equal(200);
  return browser.submit(page, { email });
}

/** The newest 6-digit code emailed to this address. */
export async function latestEmailCode(test: TestIdp, email: string): Promise<string> {
  const rows: { body: string }[] = await test.idp.db.dataSource.query(
    `SELECT body FROM outbox_message WHERE recipient = $1 AND channel = 'email' ORDER BY created_at DESC, id DESC LIMIT 1`,
    [email],
  );
  const match = /\b(\d{6})\b/.exec(rows[0]?.body ?? '');
  if (!match) throw new Error(`no security code emailed to ${email}`);
  return match[1]!;
}

let numbers = 0;
/** A UK mobile nobody else in the run has. */
export function newUkMobile(): { typed: string; e164: string } {
  numbers += 1;
  const digits = `74002${String(numbers).padStart(3, '0')}${String(Math.floor(Math.random() * 100)).padStart(2, '0')}`;
  return { typed: `0${digits.slice(0, 4)} ${digits.slice(4)}`, e164: `+44${digits}` };
}

/** Email, password, then "I cannot access my mobile": the page that asks for the emailed code. */
export async function toCannotAccessMobile(test: TestIdp, account: Account, params?: Record<string, string>): Promise<{ journey: Journey; page: Page }> {
  const journey = await startJourney(test, { params });
  let page = await submit(journey, journey.page, { email: account.email });
  page = await submit(journey, page, { password: TEST_PASSWORD });
  expect(heading(page)).to.equal('Check your mobile phone');
  page = await journey.browser.submit(page, {}, { actionContains: '/cannot-access-mobile' });
  return { journey, page };
}
