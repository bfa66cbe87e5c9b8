import { expect } from 'chai';
import { createRememberedDevices } from '../../src/accounts/remembered-devices.js';
import { findGrantId } from '../../src/provider/adapter.js';
import { Browser, pageText, type Page } from '../helpers/browser.js';
import type { TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { createAccount, heading, latestSmsCode } from '../interactions/support.js';
import { ageSignIn, csrfOf, newBrowser, signInToAccount, startAccountTestIdp, TEST_PASSWORD } from './support.js';

const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

describe('Your account: security regressions', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startAccountTestIdp();
  });
  after(async () => {
    await test?.close();
  });

  async function deviceCount(accountId: string): Promise<number> {
    const rows: { n: string | number }[] = await test.idp.db.dataSource.query(`SELECT count(*) AS n FROM remembered_device WHERE account_id = $1`, [accountId]);
    return Number(rows[0]!.n);
  }

  async function signedInWithDevice(): Promise<{ browser: Browser; page: Page; accountId: string }> {
    const account = await createAccount(test);
    await createRememberedDevices(test.idp.db.dataSource, test.idp.config).remember(account.id, CHROME_LINUX);
    const { browser, page } = await signInToAccount(test, account);
    return { browser, page, accountId: account.id };
  }

  describe('CSRF (C5)', () => {
    it('refuses a form without a token, with a wrong token, or with another session\'s token: 403 and nothing changes', async () => {
      const { browser, page, accountId } = await signedInWithDevice();
      const other = await signedInWithDevice();
      const url = `${test.url}/account/devices/remove-all`;
      expect((await browser.post(url, {})).status).to.equal(403);
      expect((await browser.post(url, { _csrf: 'A'.repeat(43) })).status).to.equal(403);
      expect((await browser.post(url, { _csrf: csrfOf(other.page) })).status).to.equal(403);
      expect(await deviceCount(accountId)).to.equal(1);
      // The right token works, so the refusals above are about the token.
      expect((await browser.post(url, { _csrf: csrfOf(page) })).status).to.equal(200);
      expect(await deviceCount(accountId)).to.equal(0);
    });

    it('refuses a cross-site post (Origin or Sec-Fetch-Site) even with a valid token', async () => {
      const { browser, page, accountId } = await signedInWithDevice();
      const url = `${test.url}/account/devices/remove-all`;
      expect((await browser.post(url, { _csrf: csrfOf(page) }, { origin: 'https://evil.example' })).status).to.equal(403);
      expect((await browser.post(url, { _csrf: csrfOf(page) }, { 'sec-fetch-site': 'cross-site' })).status).to.equal(403);
      expect((await browser.post(`${test.url}/account/delete`, { _csrf: csrfOf(page) }, { origin: 'https://evil.example' })).status).to.equal(403);
      expect(await deviceCount(accountId)).to.equal(1);
    });
  });

  describe('signed out', () => {
    it('every page sends a signed-out browser to sign in, and a post changes nothing', async () => {
      const browser = new Browser();
      for (const path of ['/account', '/account/password', '/account/email', '/account/mobile', '/account/delete']) {
        const page = await browser.get(`${test.url}${path}`);
        expect(page.url, path).to.match(/\/interaction\//);
      }
      const account = await createAccount(test);
      const post = await fetch(`${test.url}/account/delete`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '_csrf=x' });
      expect(post.status).to.equal(303);
      expect(post.headers.get('location')).to.match(/^\/account\/signin/);
      const rows = await test.idp.db.dataSource.query(`SELECT 1 FROM account WHERE id = $1`, [account.id]);
      expect(rows).to.have.length(1);
    });

    it('the sign-in return address is only ever an account page (no open redirect)', async () => {
      for (const target of ['https://evil.example/', '//evil.example', '/account/../authorize', '/dev/outbox']) {
        const response = await fetch(`${test.url}/account/signin?return=${encodeURIComponent(target)}`, { redirect: 'manual' });
        const cookie = response.headers.getSetCookie().find((c) => c.startsWith('carelogin-account-signin='));
        expect(decodeURIComponent(cookie ?? ''), target).to.include('|/account');
        expect(decodeURIComponent(cookie ?? ''), target).not.to.include('evil');
      }
    });

    it('the sign-in round trip\'s cookie is HttpOnly, SameSite=Lax and signed, and holds no personal data (C1)', async () => {
      const response = await fetch(`${test.url}/account/signin?return=/account/email`, { redirect: 'manual' });
      const cookies = response.headers.getSetCookie().filter((c) => c.startsWith('carelogin-account-signin'));
      const value = cookies.find((c) => c.startsWith('carelogin-account-signin='))!;
      expect(value).to.match(/; httponly/i);
      expect(value).to.match(/; samesite=lax/i);
      expect(value).to.match(/; path=\/;/i);
      expect(cookies.some((c) => c.startsWith('carelogin-account-signin.sig=')), 'signed with the cookie keys').to.equal(true);
      expect(decodeURIComponent(value)).not.to.match(/@/);
      expect(response.headers.get('location')).to.match(/^\/authorize\?client_id=carelogin-account&/);
    });

    it('a callback without the state this browser started with signs nobody in', async () => {
      const account = await createAccount(test);
      const { browser } = await signInToAccount(test, account);
      const page = await browser.get(`${test.url}/account/callback?code=x&state=forged`);
      expect(page.status).to.equal(400);
      expect(heading(page)).to.equal('You are not signed in');
    });
  });

  describe('session lifetime (1 hour idle, 12 hours absolute)', () => {
    it('12 hours after signing in the account area asks for a sign-in, however active the session was', async () => {
      const account = await createAccount(test);
      const { browser } = await signInToAccount(test, account);
      await ageSignIn(test, account.id, test.idp.config.ttl.sessionAbsolute + 1);
      expect((await browser.get(`${test.url}/account`)).url).to.match(/\/interaction\//);
    });

    it('an idle session (expired in storage) asks for a sign-in; using the account area extends the idle limit', async () => {
      const account = await createAccount(test);
      const { browser } = await signInToAccount(test, account);
      const expiry = async (): Promise<number> => {
        const [row] = await test.idp.db.dataSource.query(`SELECT expires_at FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]);
        return new Date(row.expires_at).getTime();
      };
      await test.idp.db.dataSource.query(`UPDATE oidc_model SET expires_at = now() + interval '10 minutes' WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]);
      const before = await expiry();
      expect(heading(await browser.get(`${test.url}/account`))).to.equal('Your account');
      expect(await expiry()).to.be.greaterThan(before + 40 * 60 * 1000);
      await test.idp.db.dataSource.query(`UPDATE oidc_model SET expires_at = now() - interval '1 second' WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]);
      // Once, the browser is told why; then it is simply asked to sign in.
      const ended = await browser.get(`${test.url}/account/email`);
      expect(heading(ended)).to.equal('You have been signed out');
      expect(pageText(ended)).to.include('you have not used it for 1 hour');
      expect(ended.html).to.include('href="/account/signin?return=%2Faccount%2Femail"');
      expect((await browser.get(`${test.url}/account`)).url).to.match(/\/interaction\//);
    });

    it('a browser signed out elsewhere (sign out on all devices) is told why once; one that signed itself out is not', async () => {
      const account = await createAccount(test);
      const elsewhere = await signInToAccount(test, account);
      const here = await signInToAccount(test, account);
      const overview = await here.browser.get(`${test.url}/account`);
      const signedOut = await here.browser.submit(overview, {}, { actionContains: '/account/sign-out-everywhere' });
      expect(heading(signedOut)).to.equal('You have signed out');
      const ended = await elsewhere.browser.get(`${test.url}/account`);
      expect(heading(ended)).to.equal('You have been signed out');
      expect(pageText(ended)).to.include('you signed out on all your devices');
      expect((await elsewhere.browser.get(`${test.url}/account`)).url, 'told once').to.match(/\/interaction\//);
      expect((await here.browser.get(`${test.url}/account`)).url, 'this browser signed out itself').to.match(/\/interaction\//);
    });
  });

  describe('re-authentication within 15 minutes (security-bar Sessions; ASVS 7.5.1)', () => {
    for (const path of ['/account/password', '/account/email', '/account/mobile', '/account/delete']) {
      it(`GET ${path} after 15 minutes asks for the password again (prompt=login)`, async () => {
        const account = await createAccount(test);
        const { browser } = await signInToAccount(test, account);
        expect(heading(await browser.get(`${test.url}${path}`))).not.to.equal('Your account');
        await ageSignIn(test, account.id);
        const response = await fetch(`${test.url}${path}`, { redirect: 'manual', headers: { cookie: cookieHeader(browser, `${test.url}${path}`) } });
        expect(response.status).to.equal(303);
        expect(response.headers.get('location')).to.equal(`/account/signin?reauth=1&return=${encodeURIComponent(path)}`);
        const challenged = await browser.get(`${test.url}${path}`);
        expect(challenged.url).to.match(/\/interaction\//);
      });
    }

    it('a stale session posting a change (password) is sent to sign in again and nothing changes', async () => {
      const account = await createAccount(test);
      const { browser } = await signInToAccount(test, account);
      const form = await browser.get(`${test.url}/account/password`);
      await ageSignIn(test, account.id);
      const [before] = await test.idp.db.dataSource.query(`SELECT password_hash FROM account WHERE id = $1`, [account.id]);
      const page = await browser.submit(form, { currentPassword: TEST_PASSWORD, newPassword: 'violet-harbour-compass-42' });
      expect(page.url).to.match(/\/interaction\//);
      const [after] = await test.idp.db.dataSource.query(`SELECT password_hash FROM account WHERE id = $1`, [account.id]);
      expect(after.password_hash).to.equal(before.password_hash);
    });
  });

  it('wrong current passwords on "Change your password" share the sign-in lockout: after the limit even the right one is refused', async () => {
    const account = await createAccount(test);
    const { browser } = await signInToAccount(test, account);
    let page = await browser.get(`${test.url}/account/password`);
    for (let i = 0; i < test.idp.config.limits.passwordAttempts; i++) {
      page = await browser.submit(page, { currentPassword: `wrong password ${i}`, newPassword: 'violet-harbour-compass-42' });
      expect(page.status).to.equal(400);
    }
    const locked = await browser.submit(page, { currentPassword: TEST_PASSWORD, newPassword: 'violet-harbour-compass-42' });
    expect(locked.status).to.equal(429);
    expect(pageText(locked)).to.include('wrong password too many times');
    const [row] = await test.idp.db.dataSource.query(`SELECT password_hash FROM account WHERE id = $1`, [account.id]);
    expect(await test.idp.services.hasher.verify(row.password_hash, TEST_PASSWORD)).to.equal(true);
  });

  describe('another account\'s things (IDOR)', () => {
    it('withdrawing another account\'s consent is 404 and the grant stays', async () => {
      const victim = await createAccount(test);
      await signIn(test, { email: victim.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
      const victimGrant = await findGrantId(test.idp.db.dataSource, victim.id, test.rp.clientId);
      expect(victimGrant).to.be.a('string');
      const attacker = await createAccount(test);
      const { browser, page } = await signInToAccount(test, attacker);
      const response = await browser.post(`${test.url}/account/services/${victimGrant}/withdraw`, { _csrf: csrfOf(page) });
      expect(response.status).to.equal(404);
      expect(await findGrantId(test.idp.db.dataSource, victim.id, test.rp.clientId)).to.equal(victimGrant);
      expect((await browser.post(`${test.url}/account/services/not-a-grant-at-all/withdraw`, { _csrf: csrfOf(page) })).status).to.equal(404);
    });

    it('signing out another account\'s session is 404 and that session stays', async () => {
      const victim = await createAccount(test);
      const victimSignIn = await signInToAccount(test, victim);
      const [session] = await test.idp.db.dataSource.query(`SELECT uid FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [victim.id]);
      const attacker = await createAccount(test);
      const { browser, page } = await signInToAccount(test, attacker);
      expect((await browser.post(`${test.url}/account/sessions/${session.uid}/end`, { _csrf: csrfOf(page) })).status).to.equal(404);
      expect(heading(await victimSignIn.browser.get(`${test.url}/account`))).to.equal('Your account');
    });

    it('removing another account\'s device is 404 and the device stays', async () => {
      const victim = await createAccount(test);
      const { id } = await createRememberedDevices(test.idp.db.dataSource, test.idp.config).remember(victim.id, CHROME_LINUX);
      const attacker = await createAccount(test);
      const { browser, page } = await signInToAccount(test, attacker);
      expect((await browser.post(`${test.url}/account/devices/${id}/remove`, { _csrf: csrfOf(page) })).status).to.equal(404);
      expect(await deviceCount(victim.id)).to.equal(1);
    });
  });

  it('account pages are never cached and never show the full mobile number', async () => {
    const account = await createAccount(test);
    const { page } = await signInToAccount(test, account);
    expect(page.headers.get('cache-control')).to.equal('no-store');
    expect(page.html).not.to.include(account.mobileNumber!);
    expect(pageText(page)).to.include('Ending in');
  });

  it('the sign-in round trip does not ask the patient to "share" with carelogin itself once they are known', async () => {
    const account = await createAccount(test);
    const browser = newBrowser(test);
    // Signed in at a service first: the account area's own consent is recorded without a page.
    await signIn(test, { email: account.email, password: TEST_PASSWORD }, { browser, params: { vtr: '["P0.Cp.Cd"]' } });
    await ageSignIn(test, account.id);
    let page = await browser.get(`${test.url}/account/signin?reauth=1&return=/account`);
    const seen: string[] = [];
    for (let step = 0; step < 6 && page.url.includes('/interaction/'); step++) {
      seen.push(heading(page));
      const names = [...page.html.matchAll(/<input\b[^>]*\bname="([^"]+)"/g)].map((m) => m[1]!);
      const fields: Record<string, string> = {};
      for (const name of names) {
        if (name === 'email') fields[name] = account.email;
        if (name === 'password') fields[name] = TEST_PASSWORD;
        if (name === 'code') fields[name] = await latestSmsCode(test, account.mobileNumber!);
      }
      page = await browser.submit(page, fields);
    }
    expect(heading(page)).to.equal('Your account');
    expect(seen, 'prompt=login asks for the password again').to.include('Enter your password');
    expect(seen.join(' | ')).not.to.match(/share|consent/i);
  });
});

/** The Cookie header the browser would send to `url` (to look at one response without following it). */
function cookieHeader(browser: Browser, url: string): string {
  return (browser as unknown as { cookieHeader(url: string): string }).cookieHeader.call(browser, url);
}
