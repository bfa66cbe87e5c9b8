import { expect } from 'chai';
import * as oidc from 'openid-client';
import { PERSONAS } from '../../src/accounts/personas.js';
import { Browser, findForm, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import type { AuthorizationRequest, TestRp } from '../helpers/relying-party.js';

/**
 * security-bar C1 and C6 on an https issuer. Every other test IdP is http://localhost, where Secure,
 * the __Host- prefix and HSTS are off. This one's issuer is https://carelogin.test behind a trusted
 * proxy (TRUST_PROXY=true): the test's fetch sends https://carelogin.test/... over plain http to the
 * local port with X-Forwarded-Proto: https and X-Forwarded-Host, as a TLS-terminating load balancer does.
 */
const ISSUER = 'https://carelogin.test';
const p5 = PERSONAS.find((p) => p.key === 'p5')!;
const CODE = '190696';

interface SetCookie {
  readonly name: string;
  readonly value: string;
  /** Attribute names in lower case, with their values (flags map to ''). */
  readonly attributes: Map<string, string>;
}

function parseSetCookie(header: string): SetCookie {
  const [pair, ...rest] = header.split(';').map((part) => part.trim());
  const index = pair!.indexOf('=');
  const attributes = new Map<string, string>();
  for (const attribute of rest) {
    const eq = attribute.indexOf('=');
    attributes.set((eq < 0 ? attribute : attribute.slice(0, eq)).toLowerCase(), eq < 0 ? '' : attribute.slice(eq + 1));
  }
  return { name: pair!.slice(0, index), value: pair!.slice(index + 1), attributes };
}

describe('cookies and HSTS on an https issuer (C1, C6)', () => {
  let test: TestIdp;
  const realFetch = globalThis.fetch;
  /** Every Set-Cookie header the IdP sent during the sign-in, and every response's headers. */
  const setCookies: SetCookie[] = [];
  const responses: { url: string; headers: Headers }[] = [];

  before(async () => {
    test = await startTestIdp({ env: { ISSUER, TRUST_PROXY: 'true' } });
    expect(test.idp.config.issuer).to.equal(ISSUER);
    globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      if (url.origin !== ISSUER) return realFetch(input, init);
      const headers = new Headers(init?.headers);
      headers.set('x-forwarded-proto', 'https');
      headers.set('x-forwarded-host', url.host);
      const response = await realFetch(new URL(`${url.pathname}${url.search}`, test.url), { ...init, headers });
      for (const header of response.headers.getSetCookie()) setCookies.push(parseSetCookie(header));
      responses.push({ url: url.toString(), headers: response.headers });
      return response;
    };
  });
  after(async () => {
    globalThis.fetch = realFetch;
    await test?.close();
  });

  /** The test RP's authorization request, addressed to the https issuer (discovery would check the issuer against test.url). */
  async function authorizationRequest(rp: TestRp, params: Record<string, string>): Promise<AuthorizationRequest> {
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = new URL(`${ISSUER}/authorize`);
    for (const [key, value] of Object.entries({
      client_id: rp.clientId, redirect_uri: rp.redirectUri, response_type: 'code', scope: 'openid', state, nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256', ...params,
    })) url.searchParams.set(key, value);
    return { url: url.toString(), state, nonce, codeVerifier };
  }

  /** Email, password, the security code with "Remember this device" ticked, consent: back at the RP. */
  async function signInRemembering(browser: Browser): Promise<Page[]> {
    const request = await authorizationRequest(test.rp, { vtr: '["P5.Cp.Cd"]' });
    const pages: Page[] = [];
    let page = await browser.get(request.url);
    for (let step = 0; step < 8 && !page.callbackUrl; step++) {
      pages.push(page);
      expect(page.status, `${page.url}: ${pageText(page).slice(0, 400)}`).to.equal(200);
      const form = findForm(page);
      const names = new Set([...Object.keys(form.fields), ...[...page.html.matchAll(/<input\b[^>]*\bname="([^"]+)"/g)].map((m) => m[1]!)]);
      if (/<button\b[^>]*>\s*Do not continue\s*<\/button>/i.test(page.html)) {
        page = await browser.submit(page, {}, { button: 'Continue' });
        continue;
      }
      const fields: Record<string, string> = {};
      if (names.has('email')) fields.email = p5.email;
      if (names.has('password')) fields.password = p5.password;
      if (names.has('code')) {
        fields.code = CODE;
        fields.rememberDevice = 'yes';
      }
      page = await browser.submit(page, fields);
    }
    if (!page.callbackUrl) throw new Error(`the sign-in did not return to the relying party: ${page.url} ${pageText(page).slice(0, 400)}`);
    expect(new URL(page.callbackUrl).searchParams.get('code'), 'signed in: a code for the RP').to.be.a('string');
    return pages;
  }

  it('signs in over the proxied https origin, setting only Secure cookies, with __Host- session and device cookies', async function () {
    this.timeout(60_000);
    const browser = new Browser({ stopAt: test.rp.redirectUri, headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0' } });
    const pages = await signInRemembering(browser);
    expect(pages[0]!.url, 'the journey stays on the issuer origin').to.match(new RegExp(`^${ISSUER}/interaction/`));

    const names = [...new Set(setCookies.map((c) => c.name))].sort();
    expect(names, 'cookies set').to.include.members(['__Host-carelogin-session', '__Host-carelogin-device', 'carelogin-interaction', 'carelogin-resume']);

    // C1: every cookie the IdP sets on https is Secure and HttpOnly, SameSite=Lax.
    for (const cookie of setCookies) {
      expect(cookie.attributes.has('secure'), `${cookie.name} is Secure`).to.equal(true);
      expect(cookie.attributes.has('httponly'), `${cookie.name} is HttpOnly`).to.equal(true);
      expect(cookie.attributes.get('samesite')?.toLowerCase(), `${cookie.name} is SameSite=Lax`).to.equal('lax');
    }

    // The session cookie (and its signature): __Host- so Path=/ and no Domain, as the prefix requires.
    const session = setCookies.filter((c) => c.name === '__Host-carelogin-session' && c.value !== '');
    expect(session, 'the session cookie was set').to.have.length.greaterThan(0);
    for (const cookie of setCookies.filter((c) => c.name.startsWith('__Host-'))) {
      expect(cookie.attributes.get('path'), `${cookie.name} Path`).to.equal('/');
      expect(cookie.attributes.has('domain'), `${cookie.name} has no Domain`).to.equal(false);
    }
    expect(setCookies.some((c) => c.name === 'carelogin-session' || c.name === 'carelogin-device'), 'no cookie without the __Host- prefix for session or device').to.equal(false);

    // The remembered device: __Host-, Secure, for 180 days.
    const device = setCookies.find((c) => c.name === '__Host-carelogin-device' && c.value !== '');
    expect(device, 'the remembered-device cookie was set').to.not.equal(undefined);
    expect(device!.attributes.get('max-age')).to.equal(String(180 * 86400));

    // The interaction cookies oidc-provider sets (they guard the journey against CSRF and mix-ups): Secure.
    for (const name of ['carelogin-interaction', 'carelogin-resume']) {
      const cookie = setCookies.find((c) => c.name === name && c.value !== '');
      expect(cookie, `${name} was set`).to.not.equal(undefined);
      expect(cookie!.attributes.has('secure'), `${name} is Secure`).to.equal(true);
    }
  });

  it('sends Strict-Transport-Security (max-age of at least a year, includeSubDomains) on pages and protocol endpoints', async () => {
    const discovery = await fetch(`${ISSUER}/.well-known/openid-configuration`);
    expect(((await discovery.json()) as { issuer: string }).issuer).to.equal(ISSUER);
    const page = await fetch(`${ISSUER}/help`);
    await page.arrayBuffer();
    expect(responses.length).to.be.at.least(2);
    for (const { url, headers } of responses) {
      const hsts = headers.get('strict-transport-security');
      expect(hsts, `HSTS on ${url}`).to.be.a('string');
      const maxAge = Number(/max-age=(\d+)/i.exec(hsts!)?.[1]);
      expect(maxAge, `HSTS max-age on ${url}`).to.be.at.least(31_536_000);
      expect(hsts!.toLowerCase(), `HSTS on ${url}`).to.contain('includesubdomains');
    }
  });
});
