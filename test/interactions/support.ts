import { randomUUID } from 'node:crypto';
import { generate } from 'otplib';
import type { Account } from '../../entities/account.js';
import { normaliseEmail } from '../../entities/account.js';
import type { TestIdp } from '../helpers/idp.js';
import { SoftwareAuthenticator } from '../helpers/software-authenticator.js';
import { Browser, findForm, pageText, type Page } from '../helpers/browser.js';
import type { AuthorizationRequest, TestRp } from '../helpers/relying-party.js';

/** Helpers shared by the interaction tests. Real services only: no stand-ins for our own code. */

export const TEST_PASSWORD = 'correct horse battery staple';

let accounts = 0;

/**
 * A real account (not a persona, so it gets random security codes, read from the outbox), with a
 * verified mobile unless `mobile: false`.
 */
export async function createAccount(test: TestIdp, options: { mobile?: boolean; proofingLevel?: 'P0' | 'P5' | 'P9'; password?: string } = {}): Promise<Account> {
  accounts += 1;
  const email = `patient-${accounts}-${randomUUID().slice(0, 8)}@example.test`;
  const hash = await test.idp.services.hasher.hash(options.password ?? TEST_PASSWORD);
  const mobile = options.mobile === false ? null : `+44790${String(Math.floor(Math.random() * 10_000_000)).padStart(7, '0')}`;
  await test.idp.db.dataSource.query(
    `INSERT INTO account (email, email_normalised, email_verified_at, password_hash, mobile_number, mobile_verified_at, proofing_level, status)
     VALUES ($1, $2, now(), $3, $4, $5, $6, 'active')`,
    [email, normaliseEmail(email), hash, mobile, mobile ? new Date() : null, options.proofingLevel ?? 'P0'],
  );
  const account = await test.idp.services.accounts.findByEmail(email);
  if (!account) throw new Error('account was not created');
  return account;
}

/** The newest sign-in code texted to this mobile number, from the outbox. */
export async function latestSmsCode(test: TestIdp, mobile: string): Promise<string> {
  const rows: { body: string }[] = await test.idp.db.dataSource.query(
    `SELECT body FROM outbox_message WHERE recipient = $1 AND channel = 'sms' ORDER BY created_at DESC, id DESC LIMIT 1`,
    [mobile],
  );
  const match = /\b(\d{6})\b/.exec(rows[0]?.body ?? '');
  if (!match) throw new Error(`no security code in the outbox for ${mobile}`);
  return match[1]!;
}

export async function smsCount(test: TestIdp, mobile: string): Promise<number> {
  const rows: { n: string | number }[] = await test.idp.db.dataSource.query(`SELECT count(*) AS n FROM outbox_message WHERE recipient = $1`, [mobile]);
  return Number(rows[0]!.n);
}

/** A code that is not `code` (same length, all digits). */
export function wrongCode(code: string): string {
  return code === '000000' ? '111111' : '000000';
}

export interface Journey {
  readonly browser: Browser;
  readonly request: AuthorizationRequest;
  /** The first page of the journey (the email address step). */
  readonly page: Page;
  readonly uid: string;
}

let addresses = 0;

/**
 * Starts an authorization request in a fresh browser. Each browser gets its own client address
 * (the test IdP trusts X-Forwarded-For) so the per-IP throttle of one test never leaks into another.
 */
export async function startJourney(test: TestIdp, options: { rp?: TestRp; params?: Record<string, string>; browser?: Browser } = {}): Promise<Journey> {
  const rp = options.rp ?? test.rp;
  addresses += 1;
  const browser = options.browser ?? new Browser({ stopAt: rp.redirectUri, headers: { 'x-forwarded-for': `198.51.100.${addresses % 250}, 10.0.0.${Math.floor(addresses / 250)}` } });
  const request = await rp.authorize({ scope: 'openid', vtr: '["P0.Cp.Cd"]', ...options.params });
  const page = await browser.get(request.url);
  const uid = /\/interaction\/([^/]+)/.exec(page.url)?.[1];
  if (!uid) throw new Error(`not an interaction page: ${page.url} ${pageText(page).slice(0, 300)}`);
  return { browser, request, page, uid };
}

/** The journey step a page shows (its form posts to /interaction/:uid/:step). */
export function stepOf(page: Page): string {
  const action = findForm(page).action;
  return action.split('/').slice(3).join('/');
}

/** Submits the page's main (first) form. */
export function submit(journey: Journey, page: Page, fields: Record<string, string>, options: { headers?: Record<string, string> } = {}): Promise<Page> {
  return journey.browser.submit(page, fields, options);
}

/** Email, password and the code from the outbox: a journey through to the consent page (or the RP). */
export async function signInThroughCode(test: TestIdp, account: Account, options: { params?: Record<string, string>; password?: string } = {}): Promise<{ journey: Journey; page: Page }> {
  const journey = await startJourney(test, { params: options.params });
  let page = await submit(journey, journey.page, { email: account.email });
  page = await submit(journey, page, { password: options.password ?? TEST_PASSWORD });
  page = await submit(journey, page, { code: await latestSmsCode(test, account.mobileNumber!) });
  return { journey, page };
}

/** The error and description a finished request took back to the relying party. */
export function callbackError(page: Page): { error: string | null; description: string | null } {
  if (!page.callbackUrl) throw new Error(`expected a redirect to the relying party, got ${page.status} ${page.url}: ${pageText(page).slice(0, 300)}`);
  const params = new URL(page.callbackUrl).searchParams;
  return { error: params.get('error'), description: params.get('error_description') };
}

/** The error summary's messages, in order. */
export function errorSummary(page: Page): string[] {
  const summary = /<div class="nhsuk-error-summary"[\s\S]*?<\/ul>/.exec(page.html)?.[0] ?? '';
  return [...summary.matchAll(/<a href="#[^"]*">\s*([\s\S]*?)\s*<\/a>/g)].map((m) => m[1]!.replace(/\s+/g, ' ').trim());
}

export function heading(page: Page): string {
  return (/<h1[^>]*>([\s\S]*?)<\/h1>/.exec(page.html)?.[1] ?? '').replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * Gives `account` an authenticator app through the real service, as if set up two minutes ago (so
 * the codes of now have not been used), and returns its secret for the test to make codes with.
 */
export async function addAuthenticatorApp(test: TestIdp, account: Pick<Account, 'id' | 'email'>): Promise<string> {
  const apps = test.idp.services.authenticatorApps;
  const then = Math.floor(Date.now() / 1000) - 120;
  const { secret } = apps.begin(account.id, 'test', then);
  const added = await apps.add(account, secret, await generate({ secret, epoch: then }), { ip: '127.0.0.1' }, then);
  if (!added) throw new Error('the authenticator app was not added');
  return secret;
}

/** The code an authenticator app with `secret` shows now (or `offsetSeconds` from now). */
export function appCode(secret: string, offsetSeconds = 0): Promise<string> {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSeconds });
}

/** Gives `account` a passkey through the real service; returns the software authenticator that holds it. */
export async function addPasskey(test: TestIdp, account: Pick<Account, 'id' | 'email'>): Promise<SoftwareAuthenticator> {
  const authenticator = new SoftwareAuthenticator(new URL(test.url).origin);
  const { passkeys } = test.idp.services;
  const { options, token } = await passkeys.registrationOptions(account, 'test');
  const added = await passkeys.register(account, 'test', token, authenticator.register(options as never), 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36', { ip: '127.0.0.1' });
  if (added !== 'added') throw new Error(`the passkey was not added: ${added}`);
  return authenticator;
}

/** The WebAuthn options a passkey page carries (its <script type="application/json" id="passkey-options">). */
export function passkeyOptionsOn(page: Page): { challenge: string; rpId?: string; rp?: { id?: string }; user?: { id: string } } {
  const json = /<script type="application\/json" id="passkey-options"[^>]*>([\s\S]*?)<\/script>/.exec(page.html)?.[1];
  if (!json) throw new Error(`no passkey options on ${page.url}`);
  return JSON.parse(json) as { challenge: string };
}

/** What a journey proved (the login's amr), as the journey recorded it. */
export async function journeyAmr(test: TestIdp, uid: string): Promise<string[]> {
  const [row] = (await test.idp.db.dataSource.query('SELECT facts FROM journey_state WHERE uid = $1', [uid])) as { facts: { amr?: string[] } }[];
  return row?.facts.amr ?? [];
}

/** The codes a "Save your new recovery codes" page shows, without the spaces. */
export function codesOn(page: Page): string[] {
  return [...page.html.matchAll(/<li><code>([0-9A-Z ]+)<\/code><\/li>/g)].map((m) => m[1]!.replace(/ /g, ''));
}

/** The page's form posting to the step itself (not one of its actions such as /generate). */
export function submitStepForm(journey: Journey, page: Page, fields: Record<string, string> = {}): Promise<Page> {
  const withoutActions = page.html.replace(/<form method="post" action="[^"]*\/interaction\/[^/"]+\/[a-z-]+\/[a-z-]+"[\s\S]*?<\/form>/g, '');
  return journey.browser.submit({ ...page, html: withoutActions }, fields);
}
