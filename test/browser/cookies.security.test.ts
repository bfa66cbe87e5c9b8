/**
 * C1 (security-bar.md): the cookies a real browser holds for the IdP after signing in. Every
 * cookie the IdP sets is HttpOnly (no page script needs one), has a deliberate SameSite, carries no
 * email address, NHS number or phone number, and fits in 4096 bytes. `Secure` (and `__Host-`) can
 * only hold on an https issuer: on http://localhost Chromium would drop a Secure cookie, so there
 * the test lists the cookies without it and asserts the https rules only when the issuer is https.
 */
import { expect } from 'chai';
import type { Browser, BrowserContext, Cookie } from 'playwright-core';
import { PERSONAS } from '../../src/accounts/personas.js';
import { acquireChromium, newContext, releaseChromium, requireChromium } from './helpers/browser.js';
import { clickButton, continueFromDemoRp, expectPage, fillEmail, fillPassword } from './helpers/pages.js';
import { startIdpWithDemoRp, type IdpWithDemoRp } from './helpers/servers.js';

const p9 = PERSONAS.find((p) => p.key === 'p9')!;

/** Values that must never sit in a cookie, in the forms they could take. */
function personalValues(): string[] {
  const mobile = p9.mobileNumber; // +447912345900
  return [p9.email, p9.email.split('@')[0]!, p9.nhsNumber!, mobile, mobile.replace('+44', '0'), mobile.slice(1), p9.familyName!, p9.givenName!, p9.postcode!];
}

/** A cookie value as text, and decoded where it may be base64url/base64 or a JWT/JSON (so a hidden email is found too). */
function readings(value: string): string[] {
  const texts = [value];
  try {
    texts.push(decodeURIComponent(value));
  } catch {
    // not URI-encoded
  }
  for (const part of value.split(/[.:|]/)) {
    if (part.length < 8) continue;
    texts.push(Buffer.from(part, 'base64url').toString('utf8'), Buffer.from(part, 'base64').toString('utf8'));
  }
  return texts;
}

describe('C1 cookie attributes in a real browser after sign-in (Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let env: IdpWithDemoRp;
  let context: BrowserContext;
  /** Raw Set-Cookie headers the IdP origin sent, by cookie name (the last one wins, as in the browser). */
  const setByIdp = new Map<string, string>();
  let idpCookies: Cookie[] = [];

  before(async function () {
    const executable = requireChromium(this);
    [browser, env] = await Promise.all([acquireChromium(executable), startIdpWithDemoRp()]);
    context = await newContext(browser);
    const page = await context.newPage();
    const pending: Promise<unknown>[] = [];
    page.on('response', (response) => {
      if (!response.url().startsWith(`${env.idp.url}/`)) return;
      const read = response.headersArray().then((headers) => {
        for (const header of headers) {
          if (header.name.toLowerCase() !== 'set-cookie') continue;
          for (const line of header.value.split('\n')) setByIdp.set(line.slice(0, line.indexOf('=')).trim(), line);
        }
      });
      pending.push(read.catch(() => undefined));
    });

    await page.goto(`${env.rpUrl}/`);
    await continueFromDemoRp(page, env.rpUrl);
    await fillEmail(page, p9.email);
    await fillPassword(page, p9.password);
    await expectPage(page, 'Check your mobile phone');
    await page.getByRole('textbox', { name: 'Security code' }).fill('190696');
    // Include the remembered-device cookie when the page offers it.
    const remember = page.getByRole('checkbox', { name: /Remember this device/ });
    if ((await remember.count()) > 0) await remember.check();
    await clickButton(page, 'Continue');
    await expectPage(page, /^Share your information with /);
    await clickButton(page, 'Continue');
    expect(page.url()).to.equal(`${env.rpUrl}/signed-in`);

    // The other cookies the IdP sets: "Your account" asking to sign in again (its own state cookie,
    // Path=/account), and "Forgotten your password?" (the cookie naming this browser's sign-in).
    await page.goto(`${env.idp.url}/account/signin?reauth=1&return=/account`);
    await expectPage(page, 'Enter your email address');
    await fillEmail(page, p9.email);
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Forgotten your password?' }).click()]);
    await expectPage(page, 'Reset your password');
    await page.getByRole('textbox', { name: 'Email address' }).fill(p9.email);
    await clickButton(page, 'Send reset link');
    await expectPage(page, 'Check your email');

    // Cookies are not isolated by port: the jar for localhost holds the demo service's cookies too,
    // so keep those the IdP itself set (on any path).
    await Promise.all(pending);
    const idpHost = new URL(env.idp.url).hostname;
    idpCookies = (await context.cookies()).filter((c) => c.domain === idpHost && setByIdp.has(c.name));
  });
  after(async () => {
    await context?.close();
    if (browser) await releaseChromium();
    await env?.close();
  });

  it('the IdP set its session cookie, signed, and the browser still holds it', () => {
    expect(setByIdp.size, 'Set-Cookie headers from the IdP').to.be.greaterThan(0);
    const names = idpCookies.map((c) => c.name);
    const session = names.find((n) => /carelogin-session$/.test(n));
    expect(session, `session cookie among ${names.join(', ')}`).to.be.a('string');
    // Signed with the keystore's cookie keys (oidc-provider's .sig companion).
    expect(names, 'the session cookie is signed').to.include(`${session}.sig`);
  });

  it('every IdP cookie is HttpOnly (no page script needs any of them)', () => {
    const readable = idpCookies.filter((c) => !c.httpOnly).map((c) => c.name);
    expect(readable, 'cookies readable by page scripts').to.deep.equal([]);
    // Also the short-lived ones (interaction, resume) that are gone by the end of the sign-in.
    expect([...setByIdp.keys()], 'cookies the IdP set').to.include.members(['carelogin-interaction', 'carelogin-resume', 'carelogin-account-signin', 'carelogin-reset']);
    for (const [name, header] of setByIdp) expect(header, `${name}: ${header}`).to.match(/;\s*httponly/i);
  });

  it('every IdP cookie declares SameSite in its Set-Cookie header (Lax for the protocol cookies, which a cross-site redirect must carry)', () => {
    for (const [name, header] of setByIdp) {
      expect(header, `${name}: ${header}`).to.match(/;\s*samesite=(lax|strict)/i);
    }
    for (const cookie of idpCookies) expect(cookie.sameSite, cookie.name).to.be.oneOf(['Lax', 'Strict']);
  });

  it('no IdP cookie carries the email address, NHS number, phone number, name or postcode (even encoded)', () => {
    const forbidden = personalValues().map((v) => v.toLowerCase());
    for (const cookie of idpCookies) {
      for (const text of readings(cookie.value)) {
        const lower = text.toLowerCase();
        for (const value of forbidden) expect(lower.includes(value), `cookie ${cookie.name} contains ${value}`).to.equal(false);
      }
    }
  });

  it('every IdP cookie is under 4096 bytes (name and value)', () => {
    for (const cookie of idpCookies) {
      expect(Buffer.byteLength(`${cookie.name}=${cookie.value}`), cookie.name).to.be.lessThan(4096);
    }
  });

  it('Secure and __Host-: required on an https issuer; on http://localhost, listed (a browser drops Secure cookies there)', () => {
    const insecure = idpCookies.filter((c) => !c.secure).map((c) => c.name);
    if (env.idp.url.startsWith('https://')) {
      expect(insecure, 'cookies without Secure on an https issuer').to.deep.equal([]);
      expect(idpCookies.find((c) => /carelogin-session$/.test(c.name))?.name).to.equal('__Host-carelogin-session');
      return;
    }
    // The test IdP runs on http://localhost: Secure cannot be set, so nothing is Secure here; the
    // https behaviour (Secure, __Host- names) is decided from the issuer in src/provider/provider.ts
    // and src/accounts/remembered-devices.ts.
    expect(insecure.sort(), 'on http every IdP cookie lacks Secure (expected)').to.deep.equal(idpCookies.map((c) => c.name).sort());
    expect(idpCookies.some((c) => c.name.startsWith('__Host-') || c.name.startsWith('__Secure-')), 'no __Host-/__Secure- names on http').to.equal(false);
    console.log(`      note: on ${env.idp.url} these IdP cookies are not Secure (expected without https): ${[...new Set(insecure)].sort().join(', ')}`);
  });
});
