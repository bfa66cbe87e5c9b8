import { expect } from 'chai';
import { Browser, findForm, pageText, type Page } from './browser.js';
import type { TestIdp } from './idp.js';

/** What signIn needs: a relying party, and (for codes that are not fixed) the IdP to read the outbox from. */
export type SignInTarget = Pick<TestIdp, 'rp'> & Partial<Pick<TestIdp, 'idp'>>;
import type { AuthorizationRequest, TestRp } from './relying-party.js';

export interface PersonaCredentials {
  readonly email: string;
  readonly password: string;
  /** The security code to enter; default: read the newest one sent to the account from the outbox. */
  readonly code?: string;
}

export interface SignInResult {
  readonly browser: Browser;
  readonly request: AuthorizationRequest;
  readonly callbackUrl: string;
  readonly pages: Page[];
}

/**
 * Drives the real sign-in pages the way a person would: each page's form is filled from what it
 * asks for (email, password, security code), consent is given, until the IdP redirects to the RP.
 */
export async function signIn(test: SignInTarget, persona: PersonaCredentials, options: { rp?: TestRp; params?: Record<string, string>; browser?: Browser; consent?: 'give' | 'decline' } = {}): Promise<SignInResult> {
  const rp = options.rp ?? test.rp;
  const browser = options.browser ?? new Browser({ stopAt: rp.redirectUri });
  const request = await rp.authorize({ scope: 'openid', ...options.params });
  const pages: Page[] = [];
  let page = await browser.get(request.url);
  for (let step = 0; step < 12 && !page.callbackUrl; step++) {
    pages.push(page);
    expect(page.status, `unexpected status on ${page.url}: ${pageText(page).slice(0, 500)}`).to.be.oneOf([200]);
    const form = findForm(page);
    const fields: Record<string, string> = {};
    for (const name of Object.keys(form.fields).concat(inputNames(page.html))) {
      if (/email/i.test(name)) fields[name] = persona.email;
      else if (/password/i.test(name)) fields[name] = persona.password;
      else if (/code/i.test(name)) fields[name] = persona.code ?? (await latestCode(test, persona.email));
    }
    const isConsent = parseFormsHaveDecline(page);
    if (isConsent && options.consent === 'decline') {
      page = await browser.submit(page, {}, { button: 'Do not continue', actionContains: findDeclineAction(page) });
    } else {
      page = await browser.submit(page, fields, isConsent ? { button: 'Continue' } : {});
    }
  }
  if (!page.callbackUrl) throw new Error(`sign-in did not return to the relying party; last page ${page.url}: ${pageText(page).slice(0, 800)}`);
  return { browser, request, callbackUrl: page.callbackUrl, pages };
}

/** The consent page is the one offering "Do not continue" (in any of its forms). */
function parseFormsHaveDecline(page: Page): boolean {
  return /<button\b[^>]*>\s*Do not continue\s*<\/button>/i.test(page.html);
}

function inputNames(html: string): string[] {
  return [...html.matchAll(/<input\b[^>]*\bname="([^"]+)"/g)].map((m) => m[1]!);
}

function findDeclineAction(page: Page): string | undefined {
  const match = /<form\b[^>]*action="([^"]*)"[^>]*>(?:(?!<\/form>)[\s\S])*Do not continue/i.exec(page.html);
  return match?.[1];
}

/** The newest security code sent to the account with this email (SMS to its mobile, or email). */
export async function latestCode(test: SignInTarget, email: string): Promise<string> {
  if (!test.idp) throw new Error('reading security codes needs the IdP (or a fixed code)');
  const rows = await test.idp.db.dataSource.query(
    `SELECT o.body FROM outbox_message o JOIN account a ON (o.recipient = a.mobile_number OR o.recipient = a.email)
     WHERE a.email_normalised = lower($1) ORDER BY o.created_at DESC LIMIT 5`,
    [email.trim()],
  );
  for (const row of rows) {
    const match = /\b(\d{6})\b/.exec(row.body);
    if (match) return match[1]!;
  }
  throw new Error(`no security code found in the outbox for ${email}`);
}
