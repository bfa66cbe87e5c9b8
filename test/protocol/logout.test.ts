import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { PERSONAS } from '../../src/accounts/personas.js';
import { Browser, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { startLogoutReceiver, verifyLogoutToken, type LogoutReceiver } from '../helpers/logout-receiver.js';
import { createPasswordReset } from '../../src/accounts/password-reset.js';
import { createAccount, TEST_PASSWORD } from '../interactions/support.js';
import { latestResetLink } from '../interactions/recovery-helpers.js';
import { completeSignIn } from '../account/support.js';

const p5 = PERSONAS.find((p) => p.key === 'p5')!;
const credentials = { email: p5.email, password: p5.password, code: '190696' };
const RP_ORIGIN = 'http://localhost:9';
const POST_LOGOUT = `${RP_ORIGIN}/signed-out`;

/**
 * Logout beyond NHS login (security-bar X13): RP-initiated logout at /logout and back-channel logout
 * tokens, for a client that registered for them.
 */
describe('logout: RP-initiated and back-channel (X13)', () => {
  let test: TestIdp;
  let receiver: LogoutReceiver;
  before(async () => {
    receiver = await startLogoutReceiver();
    test = await startTestIdp({
      rp: { redirectUri: `${RP_ORIGIN}/callback`, postLogoutRedirectUris: [POST_LOGOUT], backchannelLogoutUri: receiver.uri, backchannelLogoutSessionRequired: true },
      // A service that wants logout tokens naming the person only (no sid), and one that wants none.
      extraClients: [
        { clientId: 'sub-only-rp', redirectUri: `${RP_ORIGIN}/sub-only`, backchannelLogoutUri: receiver.uri },
        { clientId: 'quiet-rp', redirectUri: `${RP_ORIGIN}/quiet` },
      ],
    });
  });
  after(async () => {
    await test.close();
    await receiver.close();
  });
  beforeEach(() => {
    receiver.tokens.length = 0;
  });

  /** Signs the persona in to the RP; the browser stops at anything on the RP's origin. */
  async function signedIn(): Promise<{ browser: Browser; idToken: string; sub: string; sid: string }> {
    const browser = new Browser({ stopAt: RP_ORIGIN });
    const result = await signIn(test, credentials, { browser, params: { vtr: '["P5.Cp.Cd"]' } });
    const tokens = await test.rp.exchange(result.callbackUrl, result.request);
    const claims = decodeJwt(tokens.id_token!);
    expect(claims.sid, 'a client registered for back-channel logout with sessions gets sid').to.be.a('string');
    return { browser, idToken: tokens.id_token!, sub: claims.sub!, sid: claims.sid as string };
  }

  async function stillSignedIn(browser: Browser): Promise<boolean> {
    const request = await test.rp.authorize({ vtr: '["P5.Cp.Cd"]', prompt: 'none' });
    const page = await browser.get(request.url);
    return new URL(page.callbackUrl!).searchParams.has('code');
  }

  function logoutUrl(params: Record<string, string>): string {
    return `${test.url}/logout?${new URLSearchParams(params)}`;
  }

  function heading(page: Page): string {
    return /<h1[^>]*>([\s\S]*?)<\/h1>/.exec(page.html)?.[1]?.trim() ?? '';
  }

  it('asks, signs the patient out of carelogin, sends the service a logout token and returns to its registered URI with state', async () => {
    const { browser, idToken, sub, sid } = await signedIn();
    const confirm = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT, state: 'rp-state-1' }));
    expect(confirm.status).to.equal(200);
    expect(heading(confirm)).to.equal('Do you want to sign out of carelogin?');
    expect(pageText(confirm)).to.include('You have signed out of Test patient portal');

    const back = await browser.submit(confirm, {}, { button: 'Sign out of carelogin' });
    expect(back.callbackUrl).to.equal(`${POST_LOGOUT}?state=rp-state-1`);
    expect(await stillSignedIn(browser)).to.equal(false);

    const [token] = await receiver.waitFor(1);
    const claims = await verifyLogoutToken(token!, test.url, test.rp.clientId);
    expect(claims.sub).to.equal(sub);
    expect(claims.sid).to.equal(sid);
  });

  it('"Stay signed in" ends only this service\'s part of the session', async () => {
    const { browser, idToken } = await signedIn();
    const confirm = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT, state: 'rp-state-2' }));
    const back = await browser.submit(confirm, {}, { button: 'Stay signed in' });
    expect(back.callbackUrl).to.equal(`${POST_LOGOUT}?state=rp-state-2`);
    expect(await stillSignedIn(browser), 'carelogin still knows the patient').to.equal(true);
    // The service that asked is still told: its sid is over.
    await receiver.waitFor(1);
  });

  it('accepts client_id in place of id_token_hint for the post-logout URI', async () => {
    const { browser } = await signedIn();
    const confirm = await browser.get(logoutUrl({ client_id: test.rp.clientId, post_logout_redirect_uri: POST_LOGOUT }));
    const back = await browser.submit(confirm, {}, { button: 'Sign out of carelogin' });
    expect(back.callbackUrl).to.equal(POST_LOGOUT);
  });

  it('with no session, skips the question and still returns to the registered URI (the page works under our CSP)', async () => {
    const { idToken } = await signedIn();
    const stranger = new Browser({ stopAt: RP_ORIGIN });
    const page = await stranger.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT, state: 's3' }));
    // oidc-provider's self-submitting form: its inline script must be allowed by the page's policy.
    const script = /<script>([\s\S]*?)<\/script>/.exec(page.html)?.[1];
    expect(script, pageText(page).slice(0, 300)).to.be.a('string');
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(script!).digest('base64');
    expect(page.headers.get('content-security-policy')).to.include(`'sha256-${digest}'`);
    const back = await stranger.submit(page, {});
    expect(back.callbackUrl).to.equal(`${POST_LOGOUT}?state=s3`);
  });

  it('"Sign out" in Your account sends a logout token to each service that browser signed in to', async () => {
    const { browser, sub, sid } = await signedIn();
    const account = await browser.get(`${test.url}/account`);
    expect(heading(account), pageText(account).slice(0, 300)).to.equal('Your account');
    const out = await browser.submit(account, {}, { actionContains: '/account/sign-out' });
    expect(out.status).to.equal(200);
    const [token] = await receiver.waitFor(1);
    const claims = await verifyLogoutToken(token!, test.url, test.rp.clientId);
    expect(claims).to.include({ sub, sid });
  });

  it('"Sign out everywhere" tells the services signed in from other browsers too', async () => {
    const first = await signedIn();
    const second = await signedIn();
    const account = await second.browser.get(`${test.url}/account`);
    await second.browser.submit(account, {}, { actionContains: '/account/sign-out-everywhere' });
    // (Sessions the persona kept from the tests before are ended and reported too.)
    const tokens = await receiver.waitFor(2);
    const sids = await Promise.all(tokens.map(async (t) => (await verifyLogoutToken(t, test.url, test.rp.clientId)).sid));
    expect(sids).to.include.members([first.sid, second.sid]);
    expect(await stillSignedIn(first.browser)).to.equal(false);
  });

  it('withdrawing consent in Your account tells that service, which has lost access', async () => {
    const { browser, sub, sid } = await signedIn();
    const account = await browser.get(`${test.url}/account`);
    const withdrawn = await browser.submit(account, {}, { actionContains: '/withdraw' });
    expect(pageText(withdrawn)).to.include('You have withdrawn your consent');
    const [token] = await receiver.waitFor(1);
    expect(await verifyLogoutToken(token!, test.url, test.rp.clientId)).to.include({ sub, sid });
  });

  it('changing the password, then deleting the account, tells the services signed in from other browsers', async () => {
    const account = await createAccount(test);
    const person = { email: account.email, password: TEST_PASSWORD };
    const elsewhere = new Browser({ stopAt: RP_ORIGIN });
    const first = await signIn(test, person, { browser: elsewhere, params: { vtr: '["P0.Cp.Cd"]' } });
    const sid = decodeJwt((await test.rp.exchange(first.callbackUrl, first.request)).id_token!).sid;
    await signIn(test, person, { rp: test.rps.get('sub-only-rp')!, browser: elsewhere, params: { vtr: '["P0.Cp.Cd"]' } });

    // Your account in another browser: a new password ends the first browser's session.
    const here = new Browser({ stopAt: RP_ORIGIN });
    const page = await completeSignIn(test, account, here, await here.get(`${test.url}/account`));
    expect(heading(page)).to.equal('Your account');
    const changedPage = await here.submit(await here.get(`${test.url}/account/password`), { currentPassword: TEST_PASSWORD, newPassword: 'a brand new long passphrase' });
    expect(pageText(changedPage)).to.include('Your password has been changed');
    const changed = await receiver.waitFor(2);
    const audiences = changed.map((t) => decodeJwt(t).aud);
    expect(audiences).to.have.members([test.rp.clientId, 'sub-only-rp']);
    expect(await verifyLogoutToken(changed[audiences.indexOf(test.rp.clientId)]!, test.url, test.rp.clientId)).to.include({ sub: account.id, sid });

    // Deleting the account: services the person consented to hear of it even with no session left,
    // by `sub` (a service that asked for sids gets none: it cannot be sent a token without one).
    receiver.tokens.length = 0;
    await here.submit(await here.get(`${test.url}/account/delete`), { password: 'a brand new long passphrase' });
    const [deleted] = await receiver.waitFor(1);
    const claims = await verifyLogoutToken(deleted!, test.url, 'sub-only-rp');
    expect(claims.sub).to.equal(account.id);
    expect(claims).not.to.have.property('sid');
  });

  it('a password reset tells every service the person has consented to, even with no session left (sub only)', async () => {
    const account = await createAccount(test);
    const person = { email: account.email, password: TEST_PASSWORD };
    for (const rp of [test.rps.get('sub-only-rp')!, test.rps.get('quiet-rp')!]) {
      await signIn(test, person, { rp, browser: new Browser({ stopAt: RP_ORIGIN }), params: { vtr: '["P0.Cp.Cd"]' } });
    }
    // The sessions have expired; the consents (grants) remain.
    await test.idp.db.dataSource.query(`DELETE FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]);

    const resets = createPasswordReset(test.idp.services);
    await resets.request(account.email, {});
    const token = (await latestResetLink(test, account.email)).split('/').pop()!;
    expect(await resets.complete(token, 'a brand new long passphrase', {})).to.include({ ok: true });

    const [logout] = await receiver.waitFor(1);
    const claims = await verifyLogoutToken(logout!, test.url, 'sub-only-rp');
    expect(claims.sub).to.equal(account.id);
    expect(claims).not.to.have.property('sid');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.tokens, 'one token, to the one service that registered for them').to.have.length(1);
  });
});
