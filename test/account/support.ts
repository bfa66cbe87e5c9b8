import { expect } from 'chai';
import type { Logger } from '../../src/logger.js';
import type { Account } from '../../entities/account.js';
import { Browser, findForm, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { TEST_PASSWORD, appCode, heading, latestSmsCode } from '../interactions/support.js';

/** Helpers for the "Your account" tests (a module of its own so importing it runs no tests). */

/** A test IdP; the app registers the account area's own client itself (src/account/internal-client.ts). */
export async function startAccountTestIdp(options: { logger?: Logger } = {}): Promise<TestIdp> {
  return startTestIdp({ logger: options.logger });
}

let addresses = 0;

/** A fresh browser with its own client address (so throttles of one test never reach another). */
export function newBrowser(test: TestIdp): Browser {
  addresses += 1;
  return new Browser({ stopAt: test.rp.redirectUri, headers: { 'x-forwarded-for': `203.0.113.${addresses % 250}` } });
}

/**
 * Completes whatever sign-in pages come (email, password, security code from the outbox, consent)
 * until the browser is back on an account page.
 */
export async function completeSignIn(test: TestIdp, account: Pick<Account, 'email' | 'mobileNumber'>, browser: Browser, first: Page, password = TEST_PASSWORD, appSecret?: string): Promise<Page> {
  let page = first;
  for (let step = 0; step < 8 && page.url.includes('/interaction/'); step++) {
    expect(page.status, `${page.url}: ${pageText(page).slice(0, 400)}`).to.equal(200);
    const form = findForm(page);
    const fields: Record<string, string> = {};
    const names = [...page.html.matchAll(/<input\b[^>]*\bname="([^"]+)"/g)].map((m) => m[1]!);
    for (const name of names) {
      if (/email/i.test(name)) fields[name] = account.email;
      else if (/password/i.test(name)) fields[name] = password;
      else if (/code/i.test(name)) fields[name] = appSecret && /authenticator app/.test(heading(page)) ? await appCode(appSecret) : await latestSmsCode(test, account.mobileNumber!);
    }
    const consent = form.buttons.some((b) => /do not continue/i.test(b.text));
    page = await browser.submit(page, fields, consent ? { button: 'Continue' } : {});
  }
  return page;
}

/** Signs in to "Your account" from scratch in a new browser; returns the browser and the overview page. */
export async function signInToAccount(test: TestIdp, account: Account, options: { appSecret?: string } = {}): Promise<{ browser: Browser; page: Page }> {
  const browser = newBrowser(test);
  const page = await completeSignIn(test, account, browser, await browser.get(`${test.url}/account`), TEST_PASSWORD, options.appSecret);
  expect(heading(page), pageText(page).slice(0, 400)).to.equal('Your account');
  return { browser, page };
}

/** Makes the account's sign-in older than the re-authentication window (oidc-provider's session `loginTs`). */
export async function ageSignIn(test: TestIdp, accountId: string, seconds = 16 * 60): Promise<void> {
  await test.idp.db.dataSource.query(
    `UPDATE oidc_model SET payload = jsonb_set(payload, '{loginTs}', to_jsonb((payload->>'loginTs')::bigint - $2::bigint))
      WHERE model = 'Session' AND payload->>'accountId' = $1`,
    [accountId, seconds],
  );
}

/** The form on a page whose action contains `action`, with its CSRF token. */
export function csrfOf(page: Page): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(page.html)?.[1];
  if (!token) throw new Error(`no CSRF token on ${page.url}`);
  return token;
}

/** Messages in the outbox to a recipient with a template, newest first. */
export async function outbox(test: TestIdp, recipient: string, template: string): Promise<{ body: string; account_id: string | null }[]> {
  return test.idp.db.dataSource.query(`SELECT body, account_id FROM outbox_message WHERE recipient = $1 AND template = $2 ORDER BY created_at DESC`, [recipient, template]);
}

export { TEST_PASSWORD };
