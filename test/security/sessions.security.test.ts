import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import type { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';

/**
 * security-bar C3 and the "Sessions" decision: the single sign-on session ends after 1 hour idle and
 * 12 hours from sign-in, enforced by the server whatever the browser keeps. Time is moved by ageing
 * the stored session (its iat, exp, loginTs and row expiry), as the clock passing would.
 */
const p5 = PERSONAS.find((p) => p.key === 'p5')!;
const credentials = { email: p5.email, password: p5.password, code: '190696' };
const VTR = '["P5.Cp.Cd"]';
const MINUTE = 60;
const HOUR = 3600;

function sessionCookieValue(test: TestIdp, browser: Browser): string {
  const header = browser.cookiesFor(`${test.url}/authorize`);
  const value = /(?:^|; )carelogin-session=([^;]+)/.exec(header)?.[1];
  if (!value) throw new Error(`no session cookie in ${header}`);
  return value;
}

/** As if `seconds` passed since the session was last saved: every time in it moves back. */
async function passTime(test: TestIdp, sessionId: string, seconds: number): Promise<void> {
  await test.idp.db.dataSource.query(
    `UPDATE oidc_model SET
       payload = payload
         || jsonb_build_object('iat', (payload->>'iat')::bigint - $2::bigint)
         || jsonb_build_object('exp', (payload->>'exp')::bigint - $2::bigint)
         || jsonb_build_object('loginTs', (payload->>'loginTs')::bigint - $2::bigint),
       expires_at = expires_at - make_interval(secs => $2::int)
     WHERE model = 'Session' AND id = $1`,
    [sessionId, seconds],
  );
}

/** A raw authorization request carrying exactly `cookie`, as a replay would: the callback's parameters. */
async function authorizeWith(test: TestIdp, cookie: string, params: Record<string, string> = { prompt: 'none' }): Promise<{ status: number; location: URL }> {
  const request = await test.rp.authorize({ scope: 'openid', vtr: VTR, ...params });
  const response = await fetch(request.url, { redirect: 'manual', headers: { cookie } });
  await response.arrayBuffer();
  return { status: response.status, location: new URL(response.headers.get('location') ?? '/', test.url) };
}

describe('C3: session timeouts are enforced by the server (1 hour idle, 12 hours absolute)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  async function signedIn(): Promise<{ browser: Browser; id: string; cookie: string }> {
    const { browser } = await signIn(test, credentials, { params: { vtr: VTR } });
    return { browser, id: sessionCookieValue(test, browser), cookie: browser.cookiesFor(`${test.url}/authorize`) };
  }

  it('C3: 59 minutes idle still signs in silently; 61 minutes idle is refused (sso_login_required) and the sign-in pages come back', async () => {
    const { id, cookie } = await signedIn();
    await passTime(test, id, 59 * MINUTE);
    const within = await authorizeWith(test, cookie);
    expect(within.location.searchParams.get('code'), 'used within the hour').to.be.a('string');

    // That use started the idle hour again; now 61 minutes pass without a request.
    await passTime(test, id, 61 * MINUTE);
    const idle = await authorizeWith(test, cookie);
    expect(idle.location.searchParams.get('code'), 'no code after 61 minutes idle').to.equal(null);
    expect(idle.location.searchParams.get('error')).to.equal('sso_login_required');

    const interactive = await authorizeWith(test, cookie, {});
    expect(interactive.location.pathname, 'asked to sign in again').to.match(/^\/interaction\//);
  });

  it('C3: with continuous activity (a use every 50 minutes) the session still ends 12 hours after sign-in', async () => {
    const { id, cookie } = await signedIn();
    let uses = 0;
    for (let elapsed = 50 * MINUTE; elapsed < 12 * HOUR; elapsed += 50 * MINUTE) {
      await passTime(test, id, 50 * MINUTE);
      const used = await authorizeWith(test, cookie);
      expect(used.location.searchParams.get('code'), `a use ${elapsed / MINUTE} minutes after sign-in`).to.be.a('string');
      uses += 1;
    }
    expect(uses, 'silent sign-ins for almost 12 hours').to.equal(14);
    // 14 × 50 minutes = 11 h 40 min; 50 more minutes take it past 12 hours, though never idle for an hour.
    await passTime(test, id, 50 * MINUTE);
    const ended = await authorizeWith(test, cookie);
    expect(ended.location.searchParams.get('code'), 'no code 12 h 30 min after sign-in').to.equal(null);
    expect(ended.location.searchParams.get('error')).to.equal('sso_login_required');
  });

  it('C3: a replayed session cookie with no client-side expiry is refused once the session has ended, in the protocol and in Your account', async () => {
    const { browser, id, cookie } = await signedIn();
    // Your account shares the carelogin session: it works while the session lives.
    const before = await fetch(`${test.url}/account`, { redirect: 'manual', headers: { cookie: browser.cookiesFor(`${test.url}/account`), accept: 'text/html' } });
    expect(before.status, 'Your account opens with the live session').to.equal(200);
    expect(await before.text()).to.include('Your account');

    await passTime(test, id, 61 * MINUTE);
    // The same cookie header, sent as an attacker who kept it would, long after the browser would have dropped it.
    const replay = await authorizeWith(test, cookie);
    expect(replay.location.searchParams.get('error')).to.equal('sso_login_required');
    const account = await fetch(`${test.url}/account`, { redirect: 'manual', headers: { cookie: browser.cookiesFor(`${test.url}/account`), accept: 'text/html' } });
    const accountPage = await account.text();
    expect(accountPage, 'Your account is not shown to the replayed cookie').not.to.match(/<h1[^>]*>\s*Your account\s*</);
    expect(accountPage, 'it says the session ended').to.match(/You have been signed out/);

    // Even if the stored row were still there, its 12 hours from sign-in are checked on their own.
    const fresh = await signedIn();
    await test.idp.db.dataSource.query(
      `UPDATE oidc_model SET payload = jsonb_set(payload, '{loginTs}', to_jsonb((payload->>'loginTs')::bigint - $2::bigint)) WHERE model = 'Session' AND id = $1`,
      [fresh.id, 12 * HOUR + MINUTE],
    );
    const outlived = await authorizeWith(test, fresh.cookie);
    expect(outlived.location.searchParams.get('code'), 'a live row past 12 hours from sign-in gives no code').to.equal(null);
    expect(outlived.location.searchParams.get('error')).to.equal('sso_login_required');
    const outlivedAccount = await fresh.browser.get(`${test.url}/account`);
    expect(outlivedAccount.url, 'Your account sends the browser to sign in again').to.match(/\/interaction\//);
    expect(outlivedAccount.html).to.match(/name="(email|password)"/);
  });
});

describe('C3: the configured limits are the ones enforced (SESSION_IDLE_SECONDS, SESSION_ABSOLUTE_SECONDS)', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp({ env: { SESSION_IDLE_SECONDS: '600', SESSION_ABSOLUTE_SECONDS: '1800' } });
  });
  after(async () => test?.close());

  it('C3: 10 minutes idle and 30 minutes absolute when so configured', async () => {
    const { browser } = await signIn(test, credentials, { params: { vtr: VTR } });
    const id = sessionCookieValue(test, browser);
    const cookie = browser.cookiesFor(`${test.url}/authorize`);
    const [row]: { remaining: string | number }[] = await test.idp.db.dataSource.query(
      `SELECT extract(epoch FROM expires_at - now()) AS remaining FROM oidc_model WHERE model = 'Session' AND id = $1`,
      [id],
    );
    expect(Number(row!.remaining), 'stored for the idle limit').to.be.within(597, 601);

    await passTime(test, id, 9 * MINUTE);
    expect((await authorizeWith(test, cookie)).location.searchParams.get('code'), '9 minutes idle').to.be.a('string');
    await passTime(test, id, 9 * MINUTE);
    expect((await authorizeWith(test, cookie)).location.searchParams.get('code'), '9 more minutes idle').to.be.a('string');
    await passTime(test, id, 9 * MINUTE);
    expect((await authorizeWith(test, cookie)).location.searchParams.get('code'), '27 minutes from sign-in').to.be.a('string');
    // 27 minutes in, the row may live only 3 more minutes (absolute), not another 10.
    const [capped]: { remaining: string | number }[] = await test.idp.db.dataSource.query(
      `SELECT extract(epoch FROM expires_at - now()) AS remaining FROM oidc_model WHERE model = 'Session' AND id = $1`,
      [id],
    );
    expect(Number(capped!.remaining), 'capped by the absolute limit').to.be.within(170, 181);
    await passTime(test, id, 4 * MINUTE);
    expect((await authorizeWith(test, cookie)).location.searchParams.get('error'), '31 minutes from sign-in').to.equal('sso_login_required');
  });
});
