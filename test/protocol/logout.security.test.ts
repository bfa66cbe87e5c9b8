import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import { validateClientEntry } from '../../src/clients/registry.js';
import { ClientRegistrationError } from '../../src/errors.js';
import { Browser, pageText } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { startLogoutReceiver, type LogoutReceiver } from '../helpers/logout-receiver.js';

const p5 = PERSONAS.find((p) => p.key === 'p5')!;
const credentials = { email: p5.email, password: p5.password, code: '190696' };
const RP_ORIGIN = 'http://localhost:9';
const POST_LOGOUT = `${RP_ORIGIN}/signed-out`;
const ELSEWHERE = 'https://attacker.example/phish';

/** security-bar X13: logout is per client and never an open redirect; the confirmation is CSRF-protected. */
describe('logout security (X13)', () => {
  let test: TestIdp;
  let receiver: LogoutReceiver;
  before(async () => {
    receiver = await startLogoutReceiver();
    test = await startTestIdp({
      rp: { redirectUri: `${RP_ORIGIN}/callback`, postLogoutRedirectUris: [POST_LOGOUT] },
      // A second client with no logout registration at all.
      extraClients: [{ clientId: 'no-logout-rp', redirectUri: `${RP_ORIGIN}/other-callback` }],
    });
  });
  after(async () => {
    await test.close();
    await receiver.close();
  });

  async function signedIn(rp = test.rp): Promise<{ browser: Browser; idToken: string }> {
    const browser = new Browser({ stopAt: RP_ORIGIN });
    const result = await signIn(test, credentials, { rp, browser, params: { vtr: '["P5.Cp.Cd"]' } });
    const tokens = await rp.exchange(result.callbackUrl, result.request);
    return { browser, idToken: tokens.id_token! };
  }

  async function stillSignedIn(browser: Browser): Promise<boolean> {
    const request = await test.rp.authorize({ vtr: '["P5.Cp.Cd"]', prompt: 'none' });
    const page = await browser.get(request.url);
    return new URL(page.callbackUrl!).searchParams.has('code');
  }

  const logoutUrl = (params: Record<string, string>): string => `${test.url}/logout?${new URLSearchParams(params)}`;

  it('refuses a post_logout_redirect_uri the client did not register, with an error page and no redirect', async () => {
    const { browser, idToken } = await signedIn();
    for (const uri of [ELSEWHERE, `${POST_LOGOUT}/`, `${POST_LOGOUT}?next=${encodeURIComponent(ELSEWHERE)}`, 'http://localhost:9/SIGNED-OUT']) {
      const page = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: uri }));
      expect(page.status, uri).to.equal(400);
      expect(page.callbackUrl, uri).to.equal(undefined);
      expect(pageText(page)).to.include('an address we do not recognise');
    }
    expect(await stillSignedIn(browser)).to.equal(true);
  });

  it("does not let one client's registered URI serve another client's logout", async () => {
    const other = test.rps.get('no-logout-rp')!;
    const { browser, idToken } = await signedIn(other);
    const page = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT }));
    expect(page.status).to.equal(400);
    expect(page.callbackUrl).to.equal(undefined);
    const mismatch = await browser.get(logoutUrl({ id_token_hint: idToken, client_id: test.rp.clientId, post_logout_redirect_uri: POST_LOGOUT }));
    expect(mismatch.status).to.equal(400);
    expect(mismatch.callbackUrl).to.equal(undefined);
  });

  it('ignores a post_logout_redirect_uri that comes without id_token_hint or client_id, ending on carelogin', async () => {
    const { browser } = await signedIn();
    const confirm = await browser.get(logoutUrl({ post_logout_redirect_uri: POST_LOGOUT, state: 'x' }));
    expect(confirm.status).to.equal(200);
    const done = await browser.submit(confirm, {}, { button: 'Sign out of carelogin' });
    expect(done.callbackUrl).to.equal(undefined);
    expect(new URL(done.url).origin).to.equal(test.url);
    expect(pageText(done)).to.include('You have signed out');
  });

  it('refuses an id_token_hint whose signature does not verify', async () => {
    const { browser, idToken } = await signedIn();
    const [header, payload, signature] = idToken.split('.');
    const tampered = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    const page = await browser.get(logoutUrl({ id_token_hint: tampered, post_logout_redirect_uri: POST_LOGOUT }));
    expect(page.status).to.equal(400);
    expect(page.callbackUrl).to.equal(undefined);
    expect(await stillSignedIn(browser)).to.equal(true);
  });

  it('does not end the session on a GET alone, nor on a confirmation without this session\'s secret (logout CSRF)', async () => {
    const { browser, idToken } = await signedIn();
    const confirm = await browser.get(logoutUrl({ id_token_hint: idToken }));
    expect(confirm.status).to.equal(200);
    expect(await stillSignedIn(browser), 'a GET only asks').to.equal(true);
    const forged = await browser.submit(confirm, { xsrf: 'not-the-secret' }, { button: 'Sign out of carelogin' });
    expect(forged.status).to.equal(400);
    const missing = await browser.post(`${test.url}/logout/confirm`, { logout: 'yes' });
    expect(missing.status).to.equal(400);
    expect(await stillSignedIn(browser)).to.equal(true);
  });

  it('sends no logout token to a client that registered no back-channel URI', async () => {
    const { browser, idToken } = await signedIn();
    const confirm = await browser.get(logoutUrl({ id_token_hint: idToken }));
    await browser.submit(confirm, {}, { button: 'Sign out of carelogin' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.tokens).to.deep.equal([]);
  });

  it('refuses logout registrations that would be unsafe, naming the client and the field', () => {
    const base = {
      client_id: 'bad-logout', client_name: 'Bad', redirect_uris: ['https://rp.example/cb'],
      jwks: { keys: [test.rp.publicJwk] },
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ post_logout_redirect_uris: ['http://rp.example/out'] }, 'post_logout_redirect_uris[0]'],
      [{ post_logout_redirect_uris: ['https://rp.example/*'] }, 'post_logout_redirect_uris[0]'],
      [{ post_logout_redirect_uris: ['https://rp.example/out#x'] }, 'post_logout_redirect_uris[0]'],
      [{ post_logout_redirect_uris: [] }, 'post_logout_redirect_uris'],
      [{ backchannel_logout_uri: 'http://rp.example/bc' }, 'backchannel_logout_uri'],
      [{ backchannel_logout_session_required: true }, 'backchannel_logout_session_required'],
      [{ backchannel_logout_uri: 'https://rp.example/bc', backchannel_logout_session_required: 'yes' }, 'backchannel_logout_session_required'],
    ];
    for (const [extra, field] of cases) {
      expect(() => validateClientEntry({ ...base, ...extra }), JSON.stringify(extra)).to.throw(ClientRegistrationError).with.property('message').that.includes(field).and.includes('bad-logout');
    }
  });
});

/** oidc-provider's server-side request forgery guard stays on unless PRIVATE_NETWORK_FETCH says otherwise. */
describe('back-channel logout to a private address (SSRF guard)', () => {
  let test: TestIdp;
  let receiver: LogoutReceiver;
  before(async () => {
    receiver = await startLogoutReceiver();
    test = await startTestIdp({
      rp: { redirectUri: `${RP_ORIGIN}/callback`, backchannelLogoutUri: receiver.uri },
      env: { PRIVATE_NETWORK_FETCH: 'false' },
    });
  });
  after(async () => {
    await test.close();
    await receiver.close();
  });

  it('is not delivered to a loopback address, and the patient is still signed out', async () => {
    const browser = new Browser({ stopAt: RP_ORIGIN });
    const result = await signIn(test, credentials, { browser, params: { vtr: '["P5.Cp.Cd"]' } });
    const tokens = await test.rp.exchange(result.callbackUrl, result.request);
    const confirm = await browser.get(`${test.url}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token! })}`);
    const done = await browser.submit(confirm, {}, { button: 'Sign out of carelogin' });
    expect(pageText(done)).to.include('You have signed out');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.tokens).to.deep.equal([]);
  });
});
