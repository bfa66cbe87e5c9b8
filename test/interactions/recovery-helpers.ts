import { expect } from 'chai';
import { createPasswordResetRouter } from '../../src/web/password-reset-routes.js';
import { Browser, type Page } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';

/** Helpers for the recovery tests (a module of its own so importing it runs no tests). */

/**
 * The reset routes live outside /interaction and are mounted by src/app.ts. Until the composition
 * root mounts them, mount them here (koa-compose reads the middleware array per request).
 */
export async function ensureResetRoutes(test: TestIdp): Promise<void> {
  const probe = await fetch(`${test.url}/forgotten-password`);
  await probe.arrayBuffer();
  if (probe.status === 404) test.idp.provider.use(createPasswordResetRouter(test.idp.services).routes());
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
