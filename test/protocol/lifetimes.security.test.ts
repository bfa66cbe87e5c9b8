import { expect } from 'chai';
import { PERSONAS } from '../../src/accounts/personas.js';
import type { Browser } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';

const p5 = PERSONAS.find((p) => p.key === 'p5')!;
const credentials = { email: p5.email, password: p5.password, code: '190696' };
const VTR = { vtr: '["P5.Cp.Cd"]' };
const HOUR = 3600;

interface StoredRow {
  payload: { iat?: number; exp?: number; loginTs?: number; accountId?: string };
  /** expires_at - now(), in seconds, as the database sees it. */
  remaining: number;
}

async function storedRow(test: TestIdp, model: string, id: string): Promise<StoredRow> {
  const rows: { payload: StoredRow['payload'] | string; remaining: string | number }[] = await test.idp.db.dataSource.query(
    `SELECT payload, extract(epoch FROM expires_at - now()) AS remaining FROM oidc_model WHERE model = $1 AND id = $2`,
    [model, id],
  );
  expect(rows, `${model} row ${id}`).to.have.length(1);
  const payload = typeof rows[0]!.payload === 'string' ? JSON.parse(rows[0]!.payload) : rows[0]!.payload;
  return { payload, remaining: Number(rows[0]!.remaining) };
}

function sessionId(test: TestIdp, browser: Browser): string {
  const jar = (browser as unknown as { jar: Map<string, { name: string; value: string }> }).jar;
  const value = jar.get(`${new URL(test.url).host}|/|carelogin-session`)?.value;
  if (!value) throw new Error('the browser has no session cookie');
  return value;
}

function codeOf(callbackUrl: string): string {
  const code = new URL(callbackUrl).searchParams.get('code');
  if (!code) throw new Error(`no code in ${callbackUrl}`);
  return code;
}

/** prompt=none for the test RP in a signed-in browser: the callback's query parameters. */
async function silentAuthorize(test: TestIdp, browser: Browser): Promise<URLSearchParams> {
  const request = await test.rp.authorize({ scope: 'openid', ...VTR, prompt: 'none' });
  const page = await browser.get(request.url);
  if (!page.callbackUrl) throw new Error(`prompt=none did not return to the relying party: ${page.status} ${page.url}`);
  return new URL(page.callbackUrl).searchParams;
}

/** Decision X11: authorization codes live 60 seconds (AUTHORIZATION_CODE_TTL_SECONDS). */
describe('authorization code lifetime (X11)', () => {
  it('stores a new code for 60 seconds by default', async () => {
    const test = await startTestIdp();
    try {
      const { callbackUrl } = await signIn(test, credentials, { params: VTR });
      const row = await storedRow(test, 'AuthorizationCode', codeOf(callbackUrl));
      expect(row.payload.exp! - row.payload.iat!, 'exp - iat').to.equal(60);
      expect(row.remaining, 'expires_at - now()').to.be.within(58, 61);
    } finally {
      await test.close();
    }
  });

  it('stores it for AUTHORIZATION_CODE_TTL_SECONDS when that is set', async () => {
    const test = await startTestIdp({ env: { AUTHORIZATION_CODE_TTL_SECONDS: '300' } });
    try {
      const { callbackUrl } = await signIn(test, credentials, { params: VTR });
      const row = await storedRow(test, 'AuthorizationCode', codeOf(callbackUrl));
      expect(row.payload.exp! - row.payload.iat!, 'exp - iat').to.equal(300);
      expect(row.remaining, 'expires_at - now()').to.be.within(298, 301);
    } finally {
      await test.close();
    }
  });
});

/** security-bar "Sessions": the SSO session lasts 1 hour idle, and never more than 12 hours from sign-in. */
describe('single sign-on session lifetime', () => {
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  const query = (sql: string, params: unknown[]): Promise<unknown> => test.idp.db.dataSource.query(sql, params);
  const setLoginTs = (id: string, loginTs: number) =>
    query(`UPDATE oidc_model SET payload = jsonb_set(payload, '{loginTs}', to_jsonb($2::bigint)) WHERE model = 'Session' AND id = $1`, [id, loginTs]);
  const now = () => Math.floor(Date.now() / 1000);

  it('stores the session for 1 hour after sign-in, and each use starts the hour again (idle timeout)', async () => {
    const { browser } = await signIn(test, credentials, { params: VTR });
    const id = sessionId(test, browser);
    let row = await storedRow(test, 'Session', id);
    expect(row.remaining, 'expires_at - now() after sign-in').to.be.within(HOUR - 3, HOUR + 1);
    expect(row.payload.exp! - now(), 'payload exp - now').to.be.within(HOUR - 3, HOUR + 1);

    // 50 minutes idle: a use of the session gives it a full hour again.
    await query(`UPDATE oidc_model SET expires_at = now() + interval '600 seconds' WHERE model = 'Session' AND id = $1`, [id]);
    expect((await silentAuthorize(test, browser)).get('code')).to.be.a('string');
    row = await storedRow(test, 'Session', id);
    expect(row.remaining, 'expires_at - now() after a use').to.be.within(HOUR - 3, HOUR + 1);
  });

  it('never stores the session past 12 hours from sign-in, however recently it was used (absolute timeout)', async () => {
    const { browser } = await signIn(test, credentials, { params: VTR });
    const id = sessionId(test, browser);
    // Signed in 11 hours 59 minutes 30 seconds ago: a use now keeps it for 30 seconds, not an hour.
    await setLoginTs(id, now() - 12 * HOUR + 30);
    expect((await silentAuthorize(test, browser)).get('code')).to.be.a('string');
    const row = await storedRow(test, 'Session', id);
    expect(row.remaining, 'expires_at - now() near the absolute limit').to.be.within(26, 31);
  });

  // The row's expiry alone would let a live row past 12 hours give a code; the login prompt
  // (src/provider/policy.ts) checks loginTs against config.ttl.sessionAbsolute as well.
  it('answers prompt=none with sso_login_required once the sign-in is more than 12 hours old', async () => {
    const { browser } = await signIn(test, credentials, { params: VTR });
    const id = sessionId(test, browser);
    // Within the idle hour, but signed in 12 hours and 1 minute ago.
    await setLoginTs(id, now() - 12 * HOUR - 60);
    const params = await silentAuthorize(test, browser);
    expect(params.get('code'), 'no code from a session past its absolute lifetime').to.equal(null);
    expect(params.get('error')).to.equal('sso_login_required');
  });

  it('asks a browser whose sign-in is more than 12 hours old to sign in again, and then gives a code', async () => {
    const { browser } = await signIn(test, credentials, { params: VTR });
    const id = sessionId(test, browser);
    await setLoginTs(id, now() - 12 * HOUR - 60);
    const again = await signIn(test, credentials, { browser, params: VTR });
    expect(again.pages.length, 'sign-in pages were shown again').to.be.greaterThan(0);
    expect(codeOf(again.callbackUrl)).to.be.a('string');
    const row = await storedRow(test, 'Session', sessionId(test, browser));
    expect(now() - row.payload.loginTs!, 'a fresh sign-in time').to.be.below(60);
  });

  it('does not use a session whose stored row has expired', async () => {
    const { browser } = await signIn(test, credentials, { params: VTR });
    const id = sessionId(test, browser);
    expect((await silentAuthorize(test, browser)).get('code'), 'the session works before it expires').to.be.a('string');
    await query(`UPDATE oidc_model SET expires_at = now() - interval '1 second' WHERE model = 'Session' AND id = $1`, [id]);
    const params = await silentAuthorize(test, browser);
    expect(params.get('code'), 'no code from an expired session').to.equal(null);
    expect(params.get('error')).to.equal('sso_login_required');
  });
});
