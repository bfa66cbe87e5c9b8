/**
 * What a person does on each carelogin page, in Chromium: find fields by their accessible names
 * (label text), the way assistive technology does, so a page whose label breaks fails here too.
 */
import { expect } from 'chai';
import type { Locator, Page } from 'playwright-core';

/** The page's h1 (there must be exactly one), trimmed. */
export async function heading(page: Page): Promise<string> {
  const h1 = page.getByRole('heading', { level: 1 });
  await h1.first().waitFor({ timeout: 5000 }).catch(async () => {
    const body = await page.locator('body').innerText().catch(() => '');
    throw new Error(`no h1 on ${page.url()} (${await page.title()}): ${body.slice(0, 400)}`);
  });
  expect(await h1.count(), `one h1 on ${page.url()}`).to.equal(1);
  return (await h1.innerText()).trim();
}

/** Asserts the page's h1 and that the <title> contains it (GOV.UK/NHS pattern: "[Error: ]h1 – service"). */
export async function expectPage(page: Page, expected: string | RegExp): Promise<void> {
  const text = await heading(page);
  if (typeof expected === 'string') expect(text, `h1 on ${page.url()}`).to.equal(expected);
  else expect(text, `h1 on ${page.url()}`).to.match(expected);
  const title = await page.title();
  expect(title, `<title> on ${page.url()}`).to.include(text);
}

/** Clicks a button by its accessible name and waits for the navigation it causes. */
export async function clickButton(page: Page, name: string | RegExp): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name, exact: typeof name === 'string' }).click()]);
}

/** The demo service's start page → "Continue with carelogin" (with its default choices: vtr P9.Cp.Cd). */
export async function continueFromDemoRp(page: Page, rpUrl: string): Promise<void> {
  await clickButton(page, 'Continue with carelogin');
  expect(page.url(), 'the demo service sends the browser to the IdP').not.to.match(new RegExp(`^${rpUrl}`));
}

export async function fillEmail(page: Page, email: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Email address' }).fill(email);
  await clickButton(page, 'Continue');
}

export async function fillPassword(page: Page, password: string, label = 'Password'): Promise<void> {
  await page.getByRole('textbox', { name: label, exact: true }).fill(password);
  await clickButton(page, 'Continue');
}

export async function fillSecurityCode(page: Page, code: string, options: { remember?: boolean } = {}): Promise<void> {
  await page.getByRole('textbox', { name: 'Security code' }).fill(code);
  if (options.remember) await page.getByRole('checkbox', { name: /Remember this device/ }).check();
  await clickButton(page, 'Continue');
}

/** The value of the first summary-list row with this key on the demo service's signed-in page. */
export async function summaryValue(page: Page, key: string): Promise<string> {
  const row = page.locator('.nhsuk-summary-list__row').filter({ has: page.locator('.nhsuk-summary-list__key', { hasText: new RegExp(`^\\s*${escapeRegExp(key)}\\s*$`) }) });
  expect(await row.count(), `a summary row "${key}" on ${page.url()}`).to.be.greaterThan(0);
  return (await row.first().locator('.nhsuk-summary-list__value').innerText()).trim();
}

/** The NHS error summary once it is announced (role="alert") and has taken keyboard focus. */
export async function focusedErrorSummary(page: Page): Promise<Locator> {
  const summary = page.locator('.nhsuk-error-summary');
  await summary.waitFor();
  expect(await summary.locator('[role="alert"]').count(), 'the error summary is announced (role="alert")').to.equal(1);
  // nhsuk-frontend's ErrorSummary moves focus to itself when its script initialises.
  await page.waitForFunction(() => {
    const doc = (globalThis as unknown as { document: { activeElement: { closest(selector: string): unknown } | null } }).document;
    return Boolean(doc.activeElement?.closest('.nhsuk-error-summary'));
  }, undefined, { timeout: 5000 });
  return summary;
}

/** Asserts that keyboard focus is inside the NHS error summary and that it links to the field in error. */
export async function expectFocusedErrorSummary(page: Page, fieldId: string, message: string | RegExp): Promise<void> {
  const summary = await focusedErrorSummary(page);
  const link = summary.locator(`a[href="#${fieldId}"]`);
  expect(await link.count(), `one error summary link to #${fieldId}`).to.equal(1);
  const linkText = (await link.innerText()).trim();
  if (typeof message === 'string') expect(linkText).to.equal(message);
  else expect(linkText).to.match(message);
  // The field carries the message too, and is associated with it (aria-describedby).
  const field = page.locator(`#${fieldId}`);
  const describedBy = (await field.getAttribute('aria-describedby')) ?? '';
  const errorId = describedBy.split(/\s+/).find((id) => id.endsWith('-error'));
  expect(errorId, `#${fieldId} is described by its error message`).to.be.a('string');
  expect(await page.locator(`#${errorId}`).innerText()).to.match(typeof message === 'string' ? new RegExp(escapeRegExp(message)) : message);
  // Following the summary's link puts focus on the field.
  await link.click();
  expect(await focusedId(page), 'focus after following the error summary link').to.equal(fieldId);
}

/** The id of the element with keyboard focus. */
export function focusedId(page: Page): Promise<string | undefined> {
  return page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One message from the development outbox's JSON (`GET /dev/outbox/latest`), the test-automation contract. */
export interface OutboxMessage {
  readonly recipient: string;
  readonly template: string;
  readonly body: string;
  readonly code: string | null;
  readonly createdAt: string;
}

/** The newest message to `to` (optionally of one template), waiting briefly for it to be queued. */
export async function latestOutboxMessage(idpUrl: string, to: string, template?: string, options: { after?: string } = {}): Promise<OutboxMessage> {
  const query = new URLSearchParams({ to, ...(template ? { template } : {}) });
  const deadline = Date.now() + 5000;
  for (;;) {
    const response = await fetch(`${idpUrl}/dev/outbox/latest?${query}`, { headers: { accept: 'application/json' } });
    if (response.status === 200) {
      const message = (await response.json()) as OutboxMessage;
      if (!options.after || message.createdAt > options.after) return message;
    } else {
      await response.arrayBuffer();
      expect(response.status, `GET /dev/outbox/latest?${query}`).to.equal(404);
    }
    if (Date.now() > deadline) throw new Error(`no ${template ?? ''} message to ${to} in the development outbox`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The security code in the newest message to `to` (optionally of one template): six digits, or the test fails. */
export async function outboxCode(idpUrl: string, to: string, template?: string): Promise<string> {
  const message = await latestOutboxMessage(idpUrl, to, template);
  expect(message.code, `a code in: ${message.body}`).to.match(/^\d{6}$/);
  return message.code!;
}

/** Signs `account` (password and a texted code from the outbox) in to Your account in this page. */
export async function signInToYourAccount(page: Page, idpUrl: string, account: { email: string; mobileNumber: string | null }, password: string): Promise<void> {
  await page.goto(`${idpUrl}/account`);
  await fillEmail(page, account.email);
  await fillPassword(page, password);
  await fillSecurityCode(page, await outboxCode(idpUrl, account.mobileNumber!, 'sign-in-security-code'));
  await expectPage(page, 'Your account');
}

/** Follows a link by its accessible name and waits for the page it opens. */
export async function followLink(page: Page, name: string | RegExp): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name }).first().click()]);
}
