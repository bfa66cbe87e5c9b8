import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { Account } from '../../entities/account.js';
import { createPasswordReset } from '../../src/accounts/password-reset.js';
import type { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn, type SignInResult } from '../helpers/journeys.js';
import { createAccount, heading } from '../interactions/support.js';
import { newBrowser, signInToAccount, TEST_PASSWORD } from './support.js';

const NEW_PASSWORD = 'violet-harbour-compass-42';
const VTR = { vtr: '["P0.Cp.Cd"]' };

/**
 * Revocation that a request in flight cannot undo (security-bar C4): oidc-provider reads a session at
 * the start of a request and saves it at the end, and a refresh grant saves its new refresh token
 * after checking the old one, so a request straddling "sign out everywhere" or a password change
 * writes back a row the revocation deleted. The tests put such a row back with plain SQL, as the
 * straggling request would, and check that nothing resting on the old sign-in works.
 */
describe('Your account: revocation survives requests in flight', function () {
  this.timeout(60_000);
  let test: TestIdp;

  before(async () => {
    test = await startTestIdp({ rp: { refreshTokens: true } });
  });
  after(async () => {
    await test?.close();
  });

  type Row = Record<string, unknown>;

  /** The account's oidc_model rows of one model, whole, to be put back later. */
  async function rowsOf(model: string, accountId: string, clientId?: string): Promise<Row[]> {
    const rows: { r: Row }[] = await test.idp.db.dataSource.query(
      `SELECT row_to_json(o) AS r FROM oidc_model o WHERE model = $1 AND payload->>'accountId' = $2 AND ($3::text IS NULL OR payload->>'clientId' = $3)`,
      [model, accountId, clientId ?? null],
    );
    return rows.map((row) => row.r);
  }

  /** What a request in flight does after the revocation: saves the row it read before it (an upsert). */
  async function putBack(rows: Row[]): Promise<void> {
    for (const row of rows) {
      await test.idp.db.dataSource.query(
        `INSERT INTO oidc_model SELECT * FROM json_populate_record(NULL::oidc_model, $1::json) ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at, consumed_at = EXCLUDED.consumed_at`,
        [JSON.stringify(row)],
      );
    }
  }

  /** Signs in to "Your account", then with the same browser (single sign-on) to the relying party, consent given. */
  async function signedInEverywhere(account: Account): Promise<Browser> {
    const { browser } = await signInToAccount(test, account);
    await signIn(test, { email: account.email, password: TEST_PASSWORD }, { browser, params: VTR });
    return browser;
  }

  async function promptNone(browser: Browser): Promise<URLSearchParams> {
    const request = await test.rp.authorize({ scope: 'openid', ...VTR, prompt: 'none' });
    const page = await browser.get(request.url);
    expect(page.callbackUrl, `no redirect to the relying party from ${page.url}`).to.be.a('string');
    return new URL(page.callbackUrl!).searchParams;
  }

  async function changePassword(account: Account): Promise<Browser> {
    const { browser } = await signInToAccount(test, account);
    const form = await browser.get(`${test.url}/account/password`);
    const done = await browser.submit(form, { currentPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD });
    expect(heading(done)).to.equal('Your account');
    return browser;
  }

  async function refreshError(refreshToken: string): Promise<string | undefined> {
    try {
      await oidc.refreshTokenGrant(await test.rp.configuration(), refreshToken);
      return undefined;
    } catch (error) {
      return (error as { error?: string }).error;
    }
  }

  async function exchangeError(signedIn: SignInResult): Promise<string | undefined> {
    try {
      await test.rp.exchange(signedIn.callbackUrl, signedIn.request);
      return undefined;
    } catch (error) {
      return (error as { error?: string }).error;
    }
  }

  it('a session saved back after "sign out everywhere" is signed out: prompt=none answers sso_login_required, and Your account is not shown', async () => {
    const account = await createAccount(test);
    const stolen = await signedInEverywhere(account);
    expect((await promptNone(stolen)).get('code'), 'single sign-on works before').to.be.a('string');
    const sessions = await rowsOf('Session', account.id);
    expect(sessions).to.have.length(1);

    const { browser: victim } = await signInToAccount(test, account);
    const overview = await victim.get(`${test.url}/account`);
    expect(heading(await victim.submit(overview, {}, { actionContains: '/account/sign-out-everywhere' }))).to.equal('You have signed out');
    expect(await rowsOf('Session', account.id)).to.have.length(0);

    await putBack(sessions);
    const answer = await promptNone(stolen);
    expect(answer.get('code'), 'no code from the revoked session').to.equal(null);
    expect(answer.get('error')).to.equal('sso_login_required');
    const page = await stolen.get(`${test.url}/account`);
    expect(heading(page)).not.to.equal('Your account');
    expect(heading(page)).to.equal('You have been signed out');
    // Nor is it listed among the signed-in browsers once the patient signs in again.
    await putBack(sessions);
    const { browser } = await signInToAccount(test, account);
    const listed = await browser.get(`${test.url}/account`);
    expect(listed.html.match(/<strong>(This|Another) device<\/strong>/g), 'only this browser is listed').to.deep.equal(['<strong>This device</strong>']);
  });

  it('a refresh token, code or access token obtained before a password change is refused after it, even if saved back', async () => {
    const account = await createAccount(test);
    const withTokens = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: VTR });
    const tokens = await test.rp.exchange(withTokens.callbackUrl, withTokens.request);
    expect(tokens.refresh_token).to.be.a('string');
    // A code obtained just before the change, redeemed after it.
    const withCode = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: VTR, browser: withTokens.browser });
    const refreshTokens = await rowsOf('RefreshToken', account.id);
    const accessTokens = await rowsOf('AccessToken', account.id);
    const codes = await rowsOf('AuthorizationCode', account.id);
    expect(refreshTokens).to.have.length(1);

    const stays = await changePassword(account);
    // A refresh grant in flight during the change saves its new refresh token (and access token) afterwards.
    await putBack([...refreshTokens, ...accessTokens, ...codes]);

    expect(await refreshError(tokens.refresh_token!)).to.equal('invalid_grant');
    expect(await exchangeError(withCode)).to.equal('invalid_grant');
    const userinfo = await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).to.equal(401);

    // The browser that changed the password stays signed in, and its single sign-on gives live tokens.
    expect(heading(await stays.get(`${test.url}/account`))).to.equal('Your account');
    const fresh = await signIn(test, { email: account.email, password: NEW_PASSWORD }, { params: VTR, browser: stays });
    const live = await test.rp.exchange(fresh.callbackUrl, fresh.request);
    expect((await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${live.access_token}` } })).status).to.equal(200);
    expect(await refreshError(live.refresh_token!)).to.equal(undefined);
  });

  it('a session and refresh token saved back after a password reset are refused', async () => {
    const account = await createAccount(test);
    const stolen = await signedInEverywhere(account);
    const signedIn = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: VTR, browser: stolen });
    const tokens = await test.rp.exchange(signedIn.callbackUrl, signedIn.request);
    const sessions = await rowsOf('Session', account.id);
    const refreshTokens = await rowsOf('RefreshToken', account.id);

    const resets = createPasswordReset(test.idp.services);
    await resets.request(account.email, {});
    const [link] = await test.idp.db.dataSource.query(`SELECT body FROM outbox_message WHERE recipient = $1 AND template = 'password-reset-link'`, [account.email]);
    const token = /\/reset-password\/([A-Za-z0-9_-]{43})/.exec(link.body as string)![1]!;
    expect((await resets.complete(token, NEW_PASSWORD, {})).ok).to.equal(true);

    await putBack([...sessions, ...refreshTokens]);
    expect((await promptNone(stolen)).get('error')).to.equal('sso_login_required');
    expect(await refreshError(tokens.refresh_token!)).to.equal('invalid_grant');
    // Without prompt=none the browser is asked to sign in, and with the new password it can.
    const again = await signIn(test, { email: account.email, password: NEW_PASSWORD }, { params: VTR, browser: stolen });
    expect(again.pages.length, 'the sign-in pages were shown').to.be.greaterThan(0);
    await test.rp.exchange(again.callbackUrl, again.request);
  });

  it('a sign-in completed after a revocation counts, even within the revocation\'s second', async () => {
    const account = await createAccount(test);
    // Stamped by a clock a little ahead: every sign-in below completes in (or before) the stamp's second
    // by the application's clock, yet after the revocation was written, so it must count.
    const stamp = new Date(Date.now() + 5_000);
    await test.idp.db.dataSource.query(`UPDATE account SET sessions_valid_after = $2 WHERE id = $1`, [account.id, stamp]);
    const revokedSecond = Math.floor(stamp.getTime() / 1000);

    const { browser } = await signInToAccount(test, account);
    expect(heading(await browser.get(`${test.url}/account`))).to.equal('Your account');
    const signedIn = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: VTR, browser });
    const tokens = await test.rp.exchange(signedIn.callbackUrl, signedIn.request);
    expect(tokens.claims()!.auth_time).to.be.greaterThan(revokedSecond);
    expect((await fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).to.equal(200);
    expect(await refreshError(tokens.refresh_token!)).to.equal(undefined);
    expect((await promptNone(browser)).get('code')).to.be.a('string');
    expect(decodeJwt(tokens.access_token).auth_time).to.equal(tokens.claims()!.auth_time);
  });

  it('"sign out everywhere" also deletes the account\'s unredeemed authorization codes', async () => {
    const account = await createAccount(test);
    const signedIn = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: VTR, browser: newBrowser(test) });
    expect(await rowsOf('AuthorizationCode', account.id, test.rp.clientId)).to.have.length(1);
    const { browser } = await signInToAccount(test, account);
    const overview = await browser.get(`${test.url}/account`);
    await browser.submit(overview, {}, { actionContains: '/account/sign-out-everywhere' });
    expect(await rowsOf('AuthorizationCode', account.id)).to.have.length(0);
    expect(await exchangeError(signedIn)).to.equal('invalid_grant');
  });
});
