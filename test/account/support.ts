import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createIdp } from '../../src/app.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import type { Logger } from '../../src/logger.js';
import type { Account } from '../../entities/account.js';
import { accountClientEntry } from '../../src/account/internal-client.js';
import { Browser, findForm, pageText, type Page } from '../helpers/browser.js';
import { createTestDatabase, testConfig } from '../helpers/database.js';
import type { TestIdp } from '../helpers/idp.js';
import { createTestRp } from '../helpers/relying-party.js';
import { TEST_PASSWORD, heading, latestSmsCode } from '../interactions/support.js';

/** Helpers for the "Your account" tests (a module of its own so importing it runs no tests). */

const TEST_KEYSTORE = path.join(PROJECT_ROOT, '.cache', 'test-keystore.json');

/**
 * A test IdP like startTestIdp(), with the account area's internal client registered too. Its
 * redirect URI holds the issuer, so the clients file is written once the port is known.
 * (When the composition root registers `carelogin-account` itself, this becomes startTestIdp().)
 */
export async function startAccountTestIdp(options: { logger?: Logger } = {}): Promise<TestIdp> {
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-account-test-'));
  const issuerRef: { url?: string } = {};
  const rp = await createTestRp(issuerRef);
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  issuerRef.url = url;
  const clientsFile = path.join(dataDir, 'clients.json');
  writeFileSync(clientsFile, JSON.stringify({ clients: [rp.entry, accountClientEntry(url)] }, null, 2));
  mkdirSync(path.dirname(TEST_KEYSTORE), { recursive: true });
  const config = testConfig({ ...db.env, ISSUER: url, DATA_DIR: dataDir, CLIENTS_FILE: clientsFile, KEYSTORE_FILE: TEST_KEYSTORE, SEED_PERSONAS: 'true' });
  const idp = await createIdp(config, { pglite: db.pglite, background: false, logger: options.logger });
  server.on('request', idp.callback);
  return {
    url,
    idp,
    db,
    rp,
    rps: new Map(),
    dataDir,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await idp.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
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
export async function completeSignIn(test: TestIdp, account: Pick<Account, 'email' | 'mobileNumber'>, browser: Browser, first: Page, password = TEST_PASSWORD): Promise<Page> {
  let page = first;
  for (let step = 0; step < 8 && page.url.includes('/interaction/'); step++) {
    expect(page.status, `${page.url}: ${pageText(page).slice(0, 400)}`).to.equal(200);
    const form = findForm(page);
    const fields: Record<string, string> = {};
    const names = [...page.html.matchAll(/<input\b[^>]*\bname="([^"]+)"/g)].map((m) => m[1]!);
    for (const name of names) {
      if (/email/i.test(name)) fields[name] = account.email;
      else if (/password/i.test(name)) fields[name] = password;
      else if (/code/i.test(name)) fields[name] = await latestSmsCode(test, account.mobileNumber!);
    }
    const consent = form.buttons.some((b) => /do not continue/i.test(b.text));
    page = await browser.submit(page, fields, consent ? { button: 'Continue' } : {});
  }
  return page;
}

/** Signs in to "Your account" from scratch in a new browser; returns the browser and the overview page. */
export async function signInToAccount(test: TestIdp, account: Account): Promise<{ browser: Browser; page: Page }> {
  const browser = newBrowser(test);
  const page = await completeSignIn(test, account, browser, await browser.get(`${test.url}/account`));
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
