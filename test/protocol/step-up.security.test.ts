import { decodeJwt } from 'jose';
import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import { Browser, findForm, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { addAuthenticatorApp, appCode, createAccount, heading, latestSmsCode, TEST_PASSWORD } from '../interactions/support.js';

/**
 * security-bar B10: step-up never claims more than was proven. A `vtr` the session does not meet
 * is stepped up or refused, never answered with a token claiming it; `max_age` forces a new sign-in
 * and a new `auth_time`; P9 only after proofing; `vot`, `amr` and `auth_time` agree with the event log.
 */
const p5 = PERSONAS.find((p) => p.key === 'p5')!;
const p5Credentials = { email: p5.email, password: p5.password, code: '190696' };

describe('B10: step-up and honest assurance claims', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  const now = () => Math.floor(Date.now() / 1000);

  function sessionId(browser: Browser): string {
    const value = /(?:^|; )carelogin-session=([^;]+)/.exec(browser.cookiesFor(`${test.url}/authorize`))?.[1];
    if (!value) throw new Error('no session cookie');
    return value;
  }

  /** An authorization request in a signed-in browser; the page it ends on (a callback or an interaction page). */
  async function authorize(browser: Browser, params: Record<string, string>): Promise<{ page: Page; request: Awaited<ReturnType<TestIdp['rp']['authorize']>> }> {
    const request = await test.rp.authorize({ scope: 'openid', ...params });
    return { page: await browser.get(request.url), request };
  }

  it('B10: a session made with a text message code asking for Cm (passkey) gets no code: sso_login_required silently, and never a Cm token', async () => {
    const { browser } = await signIn(test, p5Credentials, { params: { vtr: '["P5.Cp.Cd"]' } });
    const silent = await authorize(browser, { vtr: '["P5.Cm"]', prompt: 'none' });
    const params = new URL(silent.page.callbackUrl!).searchParams;
    expect(params.get('code'), 'no code claiming Cm').to.equal(null);
    expect(params.get('error')).to.equal('sso_login_required');

    // Interactively, the patient is asked to step up (this account has no passkey), and no code is issued.
    const interactive = await authorize(browser, { vtr: '["P5.Cm"]' });
    expect(interactive.page.callbackUrl, 'no return to the service yet').to.equal(undefined);
    expect(heading(interactive.page)).to.equal('You cannot sign in to this service in this way');
    const back = await browser.submit(interactive.page, {}, { button: 'Continue' });
    const returned = new URL(back.callbackUrl!).searchParams;
    expect(returned.get('code'), 'no code claiming Cm').to.equal(null);
    expect(returned.get('error')).to.equal('access_denied');
  });

  it('B10: a text-message session asking for Ck is stepped up to the authenticator app, and only then gets a token saying Ck', async () => {
    const account = await createAccount(test);
    const secret = await addAuthenticatorApp(test, account);
    // First sign-in with a text message code (the service accepts only Cd).
    const browser = new Browser({ stopAt: test.rp.redirectUri });
    let { page } = await authorize(browser, { vtr: '["P0.Cp.Cd"]' });
    page = await browser.submit(page, { email: account.email });
    page = await browser.submit(page, { password: TEST_PASSWORD });
    page = await browser.submit(page, { code: await latestSmsCode(test, account.mobileNumber!) });
    if (!page.callbackUrl) page = await browser.submit(page, {}, { button: 'Continue' });
    expect(page.callbackUrl, pageText(page).slice(0, 300)).to.be.a('string');

    const silent = await authorize(browser, { vtr: '["P0.Cp.Ck"]', prompt: 'none' });
    expect(new URL(silent.page.callbackUrl!).searchParams.get('error'), 'Cd does not satisfy Ck silently').to.equal('sso_login_required');

    const stepUp = await authorize(browser, { vtr: '["P0.Cp.Ck"]' });
    expect(stepUp.page.callbackUrl, 'no code before the app code').to.equal(undefined);
    expect(heading(stepUp.page)).to.match(/authenticator app/i);
    let done = await browser.submit(stepUp.page, { code: await appCode(secret) });
    if (!done.callbackUrl) done = await browser.submit(done, {}, { button: 'Continue' });
    expect(done.callbackUrl, pageText(done).slice(0, 300)).to.be.a('string');
    const tokens = await test.rp.exchange(done.callbackUrl!, stepUp.request);
    const claims = tokens.claims()!;
    expect(claims.vot).to.equal('P0.Cp.Ck');
    expect(decodeJwt(tokens.access_token).vot).to.equal('P0.Cp.Ck');
  });

  it('B10: max_age=60 with a 2-minute-old sign-in forces a new sign-in and a new auth_time', async () => {
    const first = await signIn(test, p5Credentials, { params: { vtr: '["P5.Cp.Cd"]' } });
    const firstTokens = await test.rp.exchange(first.callbackUrl, first.request);
    const firstAuthTime = firstTokens.claims()!.auth_time as number;
    expect(firstAuthTime).to.be.within(now() - 30, now() + 1);
    // Two minutes pass.
    await test.idp.db.dataSource.query(
      `UPDATE oidc_model SET payload = jsonb_set(payload, '{loginTs}', to_jsonb((payload->>'loginTs')::bigint - 120)) WHERE model = 'Session' AND id = $1`,
      [sessionId(first.browser)],
    );
    const silent = await authorize(first.browser, { vtr: '["P5.Cp.Cd"]', max_age: '60', prompt: 'none' });
    const silentParams = new URL(silent.page.callbackUrl!).searchParams;
    expect(silentParams.get('code'), 'no silent code past max_age').to.equal(null);
    expect(silentParams.get('error')).to.match(/login_required/);

    const again = await signIn(test, p5Credentials, { browser: first.browser, params: { vtr: '["P5.Cp.Cd"]', max_age: '60' } });
    expect(again.pages.map((p) => findForm(p).action).join(' '), 'the password was asked again').to.match(/password/);
    const claims = (await test.rp.exchange(again.callbackUrl, again.request)).claims()!;
    expect(claims.auth_time, 'auth_time is present with max_age').to.be.a('number');
    expect(claims.auth_time as number, 'a new auth_time').to.be.within(now() - 10, now() + 2);
    expect((claims.auth_time as number) - (firstAuthTime - 120)).to.be.at.least(100);
  });

  it('B10: P9 is never claimed for a P5 account: silently refused, interactively an identity check and no code', async () => {
    const { browser } = await signIn(test, p5Credentials, { params: { vtr: '["P5.Cp.Cd"]' } });
    const silent = await authorize(browser, { vtr: '["P9.Cp.Cd"]', prompt: 'none' });
    const params = new URL(silent.page.callbackUrl!).searchParams;
    expect(params.get('code')).to.equal(null);
    expect(params.get('error')).to.equal('sso_login_required');

    const interactive = await authorize(browser, { vtr: '["P9.Cp.Cd"]' });
    expect(interactive.page.callbackUrl, 'no return to the service without proofing').to.equal(undefined);
    expect(interactive.page.url).to.match(/\/interaction\//);
    expect(pageText(interactive.page)).to.match(/GP|identity|photo/i);
  });

  it('B10: vot, amr and auth_time in the tokens agree with the sign-in the audit trail recorded', async () => {
    const account = await createAccount(test, { proofingLevel: 'P5' });
    const browser = new Browser({ stopAt: test.rp.redirectUri });
    const started = await authorize(browser, { vtr: '["P5.Cp.Cd"]' });
    const request = started.request;
    let page = await browser.submit(started.page, { email: account.email });
    page = await browser.submit(page, { password: TEST_PASSWORD });
    page = await browser.submit(page, { code: await latestSmsCode(test, account.mobileNumber!) });
    if (!page.callbackUrl) page = await browser.submit(page, {}, { button: 'Continue' });
    const tokens = await test.rp.exchange(page.callbackUrl!, request);
    const claims = tokens.claims()!;
    const [event]: { detail: { amr?: string[] }; at: Date }[] = await test.idp.db.dataSource.query(
      `SELECT detail, at FROM audit_event WHERE type = 'account.signed_in' AND account_id = $1 ORDER BY at DESC LIMIT 1`,
      [account.id],
    );
    expect(event, 'the sign-in is in the audit trail').to.not.equal(undefined);
    expect([...(event!.detail.amr ?? [])].sort(), 'what was proven').to.deep.equal(['pwd', 'sms']);
    // pwd + sms is Cp.Cd, no more: not Ck, not Cm.
    expect(claims.vot).to.equal('P5.Cp.Cd');
    expect(decodeJwt(tokens.access_token).vot).to.equal('P5.Cp.Cd');
    const [session]: { payload: { loginTs: number; amr: string[] } | string }[] = await test.idp.db.dataSource.query(
      `SELECT payload FROM oidc_model WHERE model = 'Session' AND id = $1`,
      [sessionId(browser)],
    );
    const stored = typeof session!.payload === 'string' ? JSON.parse(session!.payload) : session!.payload;
    expect(claims.auth_time, 'auth_time is the session sign-in').to.equal(stored.loginTs);
    expect([...stored.amr].sort()).to.deep.equal(['pwd', 'sms']);
    expect(Math.abs(stored.loginTs - Math.floor(new Date(event!.at).getTime() / 1000)), 'the audit event is the same sign-in').to.be.at.most(2);
  });
});
