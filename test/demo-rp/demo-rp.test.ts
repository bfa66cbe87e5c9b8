import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Writable } from 'node:stream';
import path from 'node:path';
import { createDemoRp, DEMO_RP_COOKIES, type DemoRp } from '../../src/demo-rp/app.js';
import { ensureDemoRpRegistered, type DemoRpCredentials } from '../../src/demo-rp/registration.js';
import { createLogger } from '../../src/logger.js';
import type { Config } from '../../src/config/index.js';
import { PERSONAS } from '../../src/accounts/personas.js';
import { testConfig } from '../helpers/database.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { Browser, findForm, pageText, type Page } from '../helpers/browser.js';

const silent = createLogger({ level: 'silent' });

function demoConfig(dir: string, rpUrl = 'http://localhost:3001'): Config {
  return testConfig({ DATA_DIR: dir, CLIENTS_FILE: path.join(dir, 'clients.json'), DEMO_RP_URL: rpUrl });
}

/** Starts the demo RP on an ephemeral port, registers it, then starts a real IdP that reads that registration. */
async function startDemoAgainstIdp(logger = silent): Promise<{ dir: string; rpUrl: string; idp: TestIdp; demo: DemoRp; credentials: DemoRpCredentials; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-demo-rp-e2e-'));
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const rpUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
  const config = demoConfig(dir, rpUrl);
  const credentials = await ensureDemoRpRegistered(config, silent);
  const idp = await startTestIdp({ env: { CLIENTS_FILE: config.clientsFile, DATA_DIR: dir } });
  const demo = await createDemoRp({ config, logger, credentials, issuer: idp.url });
  server.on('request', demo.app.callback());
  return {
    dir,
    rpUrl,
    idp,
    demo,
    credentials,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await demo.close();
      await idp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('demo relying party: pages and the authorization request', () => {
  let env: Awaited<ReturnType<typeof startDemoAgainstIdp>>;
  before(async () => {
    env = await startDemoAgainstIdp();
  });
  after(async () => env?.close());

  /** A browser that stops when it is sent to the IdP's authorization endpoint, so the request can be inspected. */
  const stoppingBrowser = (): Browser => new Browser({ stopAt: `${env.idp.url}/authorize` });

  it('renders the start page with the "Continue with carelogin" button, the vtr choices and the default scopes', async () => {
    const page = await stoppingBrowser().get(`${env.rpUrl}/`);
    expect(page.status).to.equal(200);
    const text = pageText(page);
    expect(text).to.include('carelogin demo service');
    const form = findForm(page, '/login');
    expect(form.method.toLowerCase()).to.equal('post');
    expect(form.buttons.map((b) => b.text)).to.include('Continue with carelogin');
    const vtrValues = [...page.html.matchAll(/name="vtr"[^>]*value="([^"]+)"/g)].map((m) => m[1]);
    expect(vtrValues).to.deep.equal(['P0.Cp.Cd', 'P5.Cp.Cd', 'P9.Cp.Cd', 'P9.Cp.Ck', 'P9.Cm', 'default']);
    expect(form.fields.vtr).to.equal('P9.Cp.Cd');
    expect(text).to.include('["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]');
    expect(form.fields._csrf).to.match(/^[\w-]{43}$/);
    // The checked scopes (the form parser keeps the last value of a repeated name, so read the HTML).
    const checkedScopes = [...page.html.matchAll(/<input[^>]*name="scope"[^>]*value="([^"]+)"[^>]*checked/g)].map((m) => m[1]);
    expect(checkedScopes).to.deep.equal(['profile', 'email', 'phone', 'gp_registration_details']);
    expect(text).to.match(/profile.{0,20}and.{0,20}basic_demographics.{0,20}cannot be asked for together/);
    const csrfCookie = page.setCookies.find((c) => c.startsWith(`${DEMO_RP_COOKIES.csrf}=`));
    expect(csrfCookie).to.match(/httponly/i).and.to.match(/samesite=lax/i);
  });

  it('refuses POST /login without the CSRF token, or with the wrong one, and does not redirect', async () => {
    const browser = stoppingBrowser();
    const home = await browser.get(`${env.rpUrl}/`);
    const missing = await browser.submit(home, {}, { actionContains: '/login', omit: ['_csrf'] });
    expect(missing.status).to.equal(403);
    expect(missing.callbackUrl).to.equal(undefined);
    expect(pageText(missing)).to.include('this form was sent from another site');

    const forged = await browser.submit(home, { _csrf: 'A'.repeat(43) }, { actionContains: '/login' });
    expect(forged.status).to.equal(403);

    // A browser without the cookie (a cross-site form post) is refused even with a well-formed token.
    const stranger = stoppingBrowser();
    const crossSite = await stranger.post(`${env.rpUrl}/login`, { _csrf: findForm(home, '/login').fields._csrf!, vtr: 'P9.Cp.Cd' });
    expect(crossSite.status).to.equal(403);
  });

  it('redirects POST /login to the IdP /authorize with PKCE S256, state, nonce, vtr, scopes and client_id (303)', async () => {
    const browser = stoppingBrowser();
    const home = await browser.get(`${env.rpUrl}/`);
    const response = await fetch(`${env.rpUrl}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(home) },
      body: new URLSearchParams([['_csrf', findForm(home, '/login').fields._csrf!], ['vtr', 'P5.Cp.Cd'], ['scope', 'profile'], ['scope', 'email'], ['prompt', 'login']]).toString(),
    });
    expect(response.status).to.equal(303);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).to.equal(`${env.idp.url}/authorize`);
    const q = location.searchParams;
    expect(q.get('client_id')).to.equal('carelogin-demo-rp');
    expect(q.get('redirect_uri')).to.equal(`${env.rpUrl}/callback`);
    expect(q.get('response_type')).to.equal('code');
    expect(q.get('code_challenge_method')).to.equal('S256');
    expect(q.get('code_challenge')).to.match(/^[\w-]{43}$/);
    expect(q.get('state')).to.match(/^[\w-]{20,}$/);
    expect(q.get('nonce')).to.match(/^[\w-]{20,}$/);
    expect(q.get('state')).not.to.equal(q.get('nonce'));
    expect(JSON.parse(q.get('vtr')!)).to.deep.equal(['P5.Cp.Cd']);
    expect(q.get('scope')).to.equal('openid profile email');
    expect(q.get('prompt')).to.equal('login');
    const pendingCookie = response.headers.getSetCookie().find((c) => c.startsWith(`${DEMO_RP_COOKIES.pending}=`));
    expect(pendingCookie).to.match(/httponly/i).and.to.match(/samesite=lax/i).and.not.to.match(/secure/i);
  });

  it('sends no vtr for the NHS login default choice, so the IdP applies ["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]', async () => {
    const browser = stoppingBrowser();
    const home = await browser.get(`${env.rpUrl}/`);
    const redirected = await browser.submit(home, { vtr: 'default' }, { actionContains: '/login' });
    const location = new URL(redirected.callbackUrl!);
    expect(location.searchParams.has('vtr')).to.equal(false);
    expect(location.searchParams.get('code_challenge_method')).to.equal('S256');
  });

  it('shows an error, not a redirect, when profile and basic_demographics are both chosen', async () => {
    const browser = stoppingBrowser();
    const home = await browser.get(`${env.rpUrl}/`);
    const csrf = findForm(home, '/login').fields._csrf!;
    const response = await browser.post(`${env.rpUrl}/login`, { _csrf: csrf, vtr: 'P9.Cp.Cd', scope: 'profile' });
    expect(response.callbackUrl, 'a single scope is fine').to.be.a('string');
    const both = await fetch(`${env.rpUrl}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(home) },
      body: new URLSearchParams([['_csrf', csrf], ['vtr', 'P9.Cp.Cd'], ['scope', 'profile'], ['scope', 'basic_demographics']]).toString(),
    });
    expect(both.status).to.equal(400);
    const html = await both.text();
    expect(html).to.include('There is a problem');
    expect(html).to.include('Select either profile or basic_demographics, not both');
    expect(html).to.match(/<title>\s*Error: /);
  });

  it('shows the no-consent screen for access_denied / ConsentNotGiven, and the error for other errors', async () => {
    const consent = await startedSignIn();
    const declined = await consent.browser.get(`${env.rpUrl}/callback?error=access_denied&error_description=ConsentNotGiven&state=${consent.state}`);
    expect(declined.status).to.equal(400);
    const text = pageText(declined);
    expect(text).to.include('You cannot use this service');
    expect(text).to.include('You chose not to share your carelogin information');

    const other = await startedSignIn();
    const failed = await other.browser.get(`${env.rpUrl}/callback?error=invalid_scope&error_description=${encodeURIComponent('profile and basic_demographics cannot be requested together')}&state=${other.state}`);
    expect(failed.status).to.equal(400);
    expect(pageText(failed)).to.include('invalid_scope').and.include('profile and basic_demographics cannot be requested together');
  });

  it('refuses a callback with no pending sign-in, or whose state does not match', async () => {
    const fresh = await stoppingBrowser().get(`${env.rpUrl}/callback?code=abc&state=xyz`);
    expect(fresh.status).to.equal(400);
    expect(pageText(fresh)).to.include('has expired or has already been used');

    const started = await startedSignIn();
    const mismatched = await started.browser.get(`${env.rpUrl}/callback?code=abc&state=not-${started.state}`);
    expect(mismatched.status).to.equal(400);
    expect(pageText(mismatched)).to.include('does not belong to the sign-in this browser started');
    // The pending sign-in was used up by that attempt: the genuine state no longer works either.
    const replay = await started.browser.get(`${env.rpUrl}/callback?code=abc&state=${started.state}`);
    expect(pageText(replay)).to.include('has expired or has already been used');
  });

  it('answers an oversized form with 413 and its own error page', async () => {
    const response = await fetch(`${env.rpUrl}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: `scope=${'x'.repeat(20_000)}`,
    });
    expect(response.status).to.equal(413);
    expect(await response.text()).to.include('The demo service could not accept this request');
  });

  it('serves the NHS design system assets itself (it is on its own origin)', async () => {
    const css = await fetch(`${env.rpUrl}/assets/nhsuk-frontend.min.css`);
    expect(css.status).to.equal(200);
    expect(css.headers.get('content-type')).to.match(/css/);
    expect((await css.text()).length).to.be.greaterThan(1000);
  });

  /** Starts a sign-in in a fresh browser and returns the browser (holding the pending cookie) and the state sent. */
  async function startedSignIn(): Promise<{ browser: Browser; state: string }> {
    const browser = stoppingBrowser();
    const home = await browser.get(`${env.rpUrl}/`);
    const redirected = await browser.submit(home, {}, { actionContains: '/login' });
    return { browser, state: new URL(redirected.callbackUrl!).searchParams.get('state')! };
  }
});

describe('demo relying party: end to end with the real IdP', () => {
  let env: Awaited<ReturnType<typeof startDemoAgainstIdp>>;
  /** Everything the demo RP logs, at debug level, to check that no token or claim reaches a log line. */
  const logLines: string[] = [];
  before(async () => {
    const capture = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    env = await startDemoAgainstIdp(createLogger({ level: 'debug' }, capture));
  });
  after(async () => env?.close());

  const p9 = () => PERSONAS.find((p) => p.key === 'p9')!;

  it('signs the P9 persona in and shows the validated claims, vot P9.Cp.Cd and the NHS number; refreshes; signs out', async () => {
    const browser = new Browser();
    const home = await browser.get(`${env.rpUrl}/`);
    const scopes = ['profile', 'email', 'phone', 'gp_registration_details', 'offline_access'].map((scope): [string, string] => ['scope', scope]);
    const atIdp = await postLogin(browser, home, [['vtr', 'P9.Cp.Cd'], ...scopes]);
    expect(atIdp.url.startsWith(env.idp.url)).to.equal(true);
    const signedIn = await clickThroughIdp(browser, atIdp, { email: p9().email, password: p9().password, code: '190696' });

    expect(signedIn.url).to.equal(`${env.rpUrl}/signed-in`);
    expect(signedIn.status).to.equal(200);
    const text = pageText(signedIn);
    expect(text).to.include('You are signed in to the demo service');
    expect(text).to.match(/Achieved \(vot\)\s+P9\.Cp\.Cd/);
    expect(text).to.match(/Matches the request\s+Yes/);
    expect(text).not.to.include('does not match the request');
    expect(text).to.include(p9().nhsNumber!);
    expect(text).to.match(/nhs_number\s+\d{10}/);
    expect(text).to.match(/identity_proofing_level\s+P9/);
    expect(text).to.match(/iss\s+http:\/\/localhost:\d+/);
    expect(text).to.match(/aud\s+carelogin-demo-rp/);
    expect(text).to.include(`"email": "${p9().email}"`);
    expect(text).to.match(/Access token lifetime\s+300 seconds/);
    expect(text).to.match(/Refresh token\s+Issued/);
    const jtiBefore = /jti\s+(\S+)/.exec(text)?.[1];
    const accessJtiBefore = /"jti": "([^"]+)"/.exec(text)?.[1];
    expect(accessJtiBefore).to.be.a('string');

    // The session's forms are CSRF-protected too.
    expect((await browser.post(`${env.rpUrl}/refresh`, {})).status).to.equal(403);
    expect((await browser.post(`${env.rpUrl}/logout`, {})).status).to.equal(403);

    const refreshed = await browser.submit(signedIn, {}, { actionContains: '/refresh' });
    expect(refreshed.url).to.equal(`${env.rpUrl}/signed-in`);
    const afterRefresh = pageText(refreshed);
    expect(afterRefresh).to.match(/Times refreshed\s+1 \(last at/);
    expect(afterRefresh).to.match(/Achieved \(vot\)\s+P9\.Cp\.Cd/);
    // As at NHS login, a refresh brings a new access token but no new ID token (EIS Table 8).
    expect(/jti\s+(\S+)/.exec(afterRefresh)?.[1], 'the ID token is the one from the sign-in').to.equal(jtiBefore);
    expect(/"jti": "([^"]+)"/.exec(afterRefresh)?.[1], 'the access token is a new one').to.be.a('string').and.not.equal(accessJtiBefore);

    const signedOut = await browser.submit(refreshed, {}, { actionContains: '/logout' });
    expect(signedOut.url).to.equal(`${env.rpUrl}/signed-out`);
    expect(pageText(signedOut)).to.include('NHS login has no way for a service to sign someone out');
    const afterSignOut = await browser.get(`${env.rpUrl}/signed-in`);
    expect(afterSignOut.url).to.equal(`${env.rpUrl}/`);

    // Never a token, a code or a claim in the logs (the sign-in was logged, so the capture works).
    const logs = logLines.join('');
    expect(logs).to.include('demo RP sign-in completed').and.include('demo RP tokens refreshed');
    for (const secret of [p9().nhsNumber!, p9().email, p9().familyName!, 'eyJ', 'code=', jtiBefore!]) {
      expect(logs, `logs contain ${secret}`).not.to.include(secret);
    }
  });

  it('ends its session when carelogin says so (back-channel logout), and can sign the person out of carelogin too', async () => {
    const browser = new Browser();
    const signIn = async (): Promise<Page> => {
      const home = await browser.get(`${env.rpUrl}/`);
      const atIdp = await browser.submit(home, { vtr: 'P9.Cp.Cd', scope: 'profile' }, { actionContains: '/login' });
      return clickThroughIdp(browser, atIdp, { email: p9().email, password: p9().password, code: '190696' });
    };
    const signedIn = await signIn();
    expect(signedIn.url).to.equal(`${env.rpUrl}/signed-in`);

    // "Sign out" in Your account at carelogin: the demo service hears of it and forgets the person.
    const account = await browser.get(`${env.idp.url}/account`);
    await browser.submit(account, {}, { actionContains: '/account/sign-out' });
    const home = await browser.get(`${env.rpUrl}/signed-in`);
    expect(home.url, 'the demo session ended by back-channel logout').to.equal(`${env.rpUrl}/`);
    expect(pageText(home)).to.include('carelogin told the demo service that your carelogin sign-in ended');
    expect(pageText(await browser.get(`${env.rpUrl}/`)), 'said once').not.to.include('carelogin told the demo service');

    // Signed in again (the password is asked for: the carelogin session ended), then out of both.
    const again = await signIn();
    const confirm = await browser.submit(again, {}, { actionContains: '/logout', button: 'Sign out of the demo service and carelogin' });
    expect(confirm.url.startsWith(`${env.idp.url}/logout`)).to.equal(true);
    expect(pageText(confirm)).to.include('You have signed out of carelogin demo service');
    const back = await browser.submit(confirm, {}, { button: 'Sign out of carelogin' });
    expect(back.url.startsWith(`${env.rpUrl}/signed-out?state=`)).to.equal(true);
    expect(pageText(back)).to.include('You came back from carelogin');
    const atIdp = await browser.get(`${env.idp.url}/account`);
    expect(pageText(atIdp), 'carelogin asks for the email address again').to.include('Email address');
  });

  it('makes a single sign-on link (asserted_login_identity) that signs another browser in without a password, once', async () => {
    const browser = new Browser();
    const home = await browser.get(`${env.rpUrl}/`);
    const atIdp = await browser.submit(home, { vtr: 'P9.Cp.Cd', scope: 'profile' }, { actionContains: '/login' });
    const signedIn = await clickThroughIdp(browser, atIdp, { email: p9().email, password: p9().password, code: '190696' });
    const linkPage = await browser.submit(signedIn, {}, { actionContains: '/sso-link' });
    const link = /href="([^"]+)" id="sso-link"/.exec(linkPage.html)?.[1]?.replaceAll('&amp;', '&');
    expect(link, pageText(linkPage).slice(0, 300)).to.match(new RegExp(`^${env.rpUrl}/sso\\?`));

    // Another browser, with no carelogin session: a button (never an automatic sign-in), then straight back signed in.
    const other = new Browser();
    const landing = await other.get(link!);
    expect(pageText(landing)).to.include('Continue with single sign-on');
    const done = await other.submit(landing, {}, { actionContains: '/sso' });
    expect(done.url, pageText(done).slice(0, 400)).to.equal(`${env.rpUrl}/signed-in`);
    expect(pageText(done)).to.match(/Achieved \(vot\)\s+P9\.Cp\.Cd/);

    // The same link in a third browser: the assertion is spent, so carelogin answers sso_login_required.
    const third = new Browser();
    const again = await third.submit(await third.get(link!), {}, { actionContains: '/sso' });
    expect(pageText(again)).to.include('sso_login_required');
  });

  it('refuses a logout token that is not carelogin\'s, with 400', async () => {
    const forged = ['eyJhbGciOiJub25lIn0', Buffer.from(JSON.stringify({ iss: env.idp.url, aud: 'carelogin-demo-rp', sub: 'x', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })).toString('base64url'), ''].join('.');
    for (const body of [{ logout_token: forged }, {}] as Record<string, string>[]) {
      const response = await fetch(`${env.rpUrl}/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });
      expect(response.status).to.equal(400);
      expect(await response.json()).to.include({ error: 'invalid_request' });
    }
  });

  it('shows the no-consent screen when the person declines to share their information at the IdP', async () => {
    const browser = new Browser();
    const home = await browser.get(`${env.rpUrl}/`);
    // A scope set this person has not agreed to yet, so the IdP asks for consent again.
    const start = await browser.submit(home, { scope: 'landline' }, { actionContains: '/login' });
    const page = await clickThroughIdp(browser, start, { email: p9().email, password: p9().password, code: '190696' }, { decline: true });
    expect(page.url.startsWith(`${env.rpUrl}/callback`)).to.equal(true);
    expect(pageText(page)).to.include('You chose not to share your carelogin information');
  });

  /**
   * POST /login with repeated scope fields (the test browser's form parser keeps one value per name),
   * then follows the redirect in the browser, carrying the cookies the demo RP set.
   */
  async function postLogin(browser: Browser, home: Page, pairs: [string, string][]): Promise<Page> {
    const response = await fetch(`${env.rpUrl}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(home) },
      body: new URLSearchParams([['_csrf', findForm(home, '/login').fields._csrf!], ...pairs]).toString(),
    });
    expect(response.status, await response.clone().text()).to.equal(303);
    for (const header of response.headers.getSetCookie()) {
      const pair = header.split(';')[0]!;
      browser.setCookie(env.rpUrl, pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
    }
    return browser.get(response.headers.get('location')!);
  }

  /** Fills each IdP page (email, password, security code, consent) until the browser is back on the demo RP. */
  async function clickThroughIdp(browser: Browser, first: Page, persona: { email: string; password: string; code: string }, options: { decline?: boolean } = {}): Promise<Page> {
    let page = first;
    for (let step = 0; step < 12 && page.url.startsWith(env.idp.url); step++) {
      expect(page.status, `unexpected status on ${page.url}: ${pageText(page).slice(0, 500)}`).to.equal(200);
      const form = findForm(page);
      const fields: Record<string, string> = {};
      for (const name of Object.keys(form.fields).concat([...page.html.matchAll(/<input\b[^>]*\bname="([^"]+)"/g)].map((m) => m[1]!))) {
        if (/email/i.test(name)) fields[name] = persona.email;
        else if (/password/i.test(name)) fields[name] = persona.password;
        else if (/code/i.test(name)) fields[name] = persona.code;
      }
      const isConsent = /share/i.test(pageText(page)) && /do not continue/i.test(page.html);
      if (isConsent && options.decline) {
        const declineAction = /<form\b[^>]*action="([^"]*)"[^>]*>(?:(?!<\/form>)[\s\S])*Do not continue/i.exec(page.html)?.[1];
        page = await browser.submit(page, {}, { button: 'Do not continue', actionContains: declineAction });
      } else {
        page = await browser.submit(page, fields, isConsent ? { button: 'Continue' } : {});
      }
    }
    if (page.url.startsWith(env.idp.url)) throw new Error(`sign-in did not return to the demo RP; last page ${page.url}: ${pageText(page).slice(0, 800)}`);
    return page;
  }
});

function cookieHeader(page: Page): string {
  return page.setCookies.map((c) => c.split(';')[0]).join('; ');
}
