import { expect } from 'chai';
import * as oidc from 'openid-client';
import { isDatabaseConnectionError } from '../../src/errors.js';
import { createAccessTokenJwt } from '../../src/provider/access-token-jwt.js';
import { ROUTES } from '../../src/provider/provider.js';
import { Browser, pageText } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { databaseTarget, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { bogusCodeTokenRequest, leaks, persona, timedFetch, waitFor } from './support.js';

/** security-bar decision: "fail fast with 503 within 5 s, never crash, recover within 10 s of the database returning". */
const ANSWER_WITHIN_MS = 5000;
const RECOVER_WITHIN_MS = 10000;
/** Timers and sockets are not exact: a bound of 5 s is checked as 5 s plus this much. */
const JITTER_MS = 300;

const DATABASE_URL = process.env.DATABASE_URL;

/**
 * security-bar G1 (and the outage half of F3): PostgreSQL disappears under a running IdP.
 * The IdP reaches PostgreSQL through a TCP proxy the test can cut; the schema is created
 * through the direct URL beforehand.
 */
describe('database outage (PostgreSQL behind a TCP proxy)', function () {
  this.timeout(60000);

  let proxy: TcpProxy;
  let db: TestDatabase;
  let test: TestIdp;

  /**
   * A well-formed access-token JWT with our signature: /userinfo must look its stored token up in the
   * database (a token that is not our JWT is refused without one, so it would not test the outage).
   */
  async function accessTokenNeedingTheDatabase(fill: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return createAccessTokenJwt({ issuer: test.url, keystore: test.idp.keystore, routes: ROUTES }).sign({ jti: fill.repeat(43), iat: now, exp: now + 300 });
  }
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };

  before(async function () {
    // PGlite runs inside this process and has no connection that can be lost: these tests need
    // a real PostgreSQL server (set DATABASE_URL).
    if (!DATABASE_URL) this.skip();
    proxy = await startTcpProxy(databaseTarget(DATABASE_URL));
    db = await createTestDatabase();
    test = await startTestIdp({ db, env: { DATABASE_URL: proxy.url(DATABASE_URL) } });
    process.on('unhandledRejection', onRejection);
  });

  afterEach(async function () {
    if (!DATABASE_URL) return;
    proxy.restore();
    await waitFor(async () => (await fetch(`${test.url}/health/ready`)).status === 200, RECOVER_WITHIN_MS);
  });

  after(async () => {
    process.off('unhandledRejection', onRejection);
    await test?.close();
    await db?.drop();
    await proxy?.close();
  });

  const ready = (): Promise<number> => fetch(`${test.url}/health/ready`).then((r) => r.status);

  /** An authorization request whose interaction page loaded: a page that reads the database on every GET. */
  async function startInteraction(): Promise<{ browser: Browser; interactionUrl: string }> {
    const browser = new Browser({ stopAt: test.rp.redirectUri });
    const request = await test.rp.authorize({ scope: 'openid' });
    const page = await browser.get(request.url);
    expect(page.status, pageText(page).slice(0, 300)).to.equal(200);
    expect(page.url).to.match(/\/interaction\//);
    return { browser, interactionUrl: page.url };
  }

  it('serves discovery, readiness and the authorization endpoint through the proxy', async () => {
    const discovery = await timedFetch(`${test.url}/.well-known/openid-configuration`);
    expect(discovery.status).to.equal(200);
    expect(await ready()).to.equal(200);
    await startInteraction();
    // Proves the IdP really talks to PostgreSQL through the proxy (otherwise cutting it proves nothing).
    expect(proxy.openConnections).to.be.greaterThan(0);
  });

  it('while the database is down: live 200, ready 503, pages and protocol endpoints 503 within 5 s, no crash, then recovers', async () => {
    const { browser, interactionUrl } = await startInteraction();
    const tokenRequest = await bogusCodeTokenRequest(test.rp, test.url);
    rejections.length = 0;

    proxy.cut();

    const live = await timedFetch(`${test.url}/health/live`);
    expect(live.status).to.equal(200);

    const readiness = await timedFetch(`${test.url}/health/ready`);
    expect(readiness.status).to.equal(503);
    expect(readiness.ms).to.be.below(ANSWER_WITHIN_MS + JITTER_MS);

    // An HTML page that needs the database: the person gets a friendly 503 page, no internals.
    const started = performance.now();
    const page = await browser.get(interactionUrl);
    const pageMs = performance.now() - started;
    expect(page.status, pageText(page).slice(0, 300)).to.equal(503);
    expect(pageMs).to.be.below(ANSWER_WITHIN_MS + JITTER_MS);
    expect(page.headers.get('content-type')).to.match(/text\/html/);
    expect(page.headers.get('retry-after')).to.match(/^\d+$/);
    expect(pageText(page)).to.match(/unavailable|try again/i);
    expect(leaks(page.html), 'the outage page shows internals').to.deep.equal([]);

    // The protocol endpoints answer JSON a relying party can act on.
    const [token, userinfo, authorize] = await Promise.all([
      timedFetch(`${test.url}/token`, tokenRequest),
      timedFetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${await accessTokenNeedingTheDatabase('a')}`, accept: 'application/json' } }),
      timedFetch((await test.rp.authorize({ scope: 'openid' })).url, { headers: { accept: 'text/html' } }),
    ]);
    for (const [name, response] of [['/token', token], ['/userinfo', userinfo]] as const) {
      expect(response.status, `${name}: ${response.text}`).to.equal(503);
      expect(response.ms, name).to.be.below(ANSWER_WITHIN_MS + JITTER_MS);
      expect(response.headers.get('content-type'), name).to.match(/json/);
      expect(JSON.parse(response.text).error, name).to.equal('temporarily_unavailable');
      expect(response.headers.get('cache-control'), name).to.match(/no-store/);
      expect(leaks(response.text), `${name} leaks internals`).to.deep.equal([]);
    }
    // A new authorization request cannot be stored: it fails fast too, and never as a 500.
    expect(authorize.status, authorize.text.slice(0, 300)).to.equal(503);
    expect(authorize.ms).to.be.below(ANSWER_WITHIN_MS + JITTER_MS);
    // A person's browser arrives at /authorize: it gets the same friendly page, not JSON.
    expect(authorize.headers.get('content-type'), `/authorize answered: ${authorize.text.slice(0, 200)}`).to.match(/text\/html/);
    expect(leaks(authorize.text)).to.deep.equal([]);

    // A burst bigger than the pool (10) still fails fast rather than queueing.
    const burst = await Promise.all(Array.from({ length: 25 }, () => timedFetch(`${test.url}/health/ready`)));
    for (const response of burst) {
      expect(response.status).to.equal(503);
      expect(response.ms).to.be.below(ANSWER_WITHIN_MS + JITTER_MS);
    }

    // Still alive, and nothing escaped as an unhandled rejection.
    expect((await timedFetch(`${test.url}/health/live`)).status).to.equal(200);
    expect(rejections, 'unhandled rejections during the outage').to.deep.equal([]);

    proxy.restore();
    const recoveredIn = await waitFor(async () => (await ready()) === 200, RECOVER_WITHIN_MS);
    expect(recoveredIn).to.be.below(RECOVER_WITHIN_MS);
    const after = await browser.get(interactionUrl);
    expect(after.status, 'the interaction survives the outage').to.equal(200);
  });

  it('after the database returns: a code issued before the outage is still redeemable and a full sign-in works', async () => {
    // Acknowledged before the outage: the relying party holds this code.
    const pending = await signIn(test, persona('p9'), { params: { scope: 'openid profile' } });

    proxy.cut();
    let failedDuringOutage: unknown;
    try {
      await test.rp.exchange(pending.callbackUrl, pending.request);
    } catch (error) {
      failedDuringOutage = error;
    }
    // openid-client reports a 5xx as "not a conform response", with the Response as the cause.
    expect(failedDuringOutage, 'the exchange should fail while the database is down').to.be.instanceOf(Error);
    const response = (failedDuringOutage as { cause?: unknown }).cause;
    expect(response, String(failedDuringOutage)).to.be.instanceOf(Response);
    expect((response as Response).status).to.equal(503);
    expect(((await (response as Response).json()) as { error?: string }).error).to.equal('temporarily_unavailable');

    proxy.restore();
    const recoveredIn = await waitFor(async () => (await ready()) === 200, RECOVER_WITHIN_MS);
    expect(recoveredIn).to.be.below(RECOVER_WITHIN_MS);

    // The failed attempt did not use the code up; the retry succeeds.
    const tokens = await test.rp.exchange(pending.callbackUrl, pending.request);
    expect(tokens.claims()?.sub).to.be.a('string');

    const fresh = await signIn(test, persona('p5'), { params: { scope: 'openid profile', vtr: '["P5.Cp.Cd"]' } });
    const freshTokens = await test.rp.exchange(fresh.callbackUrl, fresh.request);
    const sub = freshTokens.claims()!.sub;
    const userinfo = await oidc.fetchUserInfo(await test.rp.configuration(), freshTokens.access_token, sub);
    expect(userinfo.sub).to.equal(sub);
    expect(rejections).to.deep.equal([]);
  });

  it('when the database stops answering (a black hole, not a reset), requests still fail within 5 s', async () => {
    const { browser, interactionUrl } = await startInteraction();
    const tokenRequest = await bogusCodeTokenRequest(test.rp, test.url);
    // Several pooled connections, idle and apparently healthy, when the network goes quiet.
    await Promise.all(Array.from({ length: 6 }, () => ready()));
    rejections.length = 0;

    proxy.stall();

    // Each answer summarised as "<status> fast" or "<status|hung> after <ms>", so one failure shows them all.
    const HUNG_AFTER_MS = 12000;
    const outcome = async (load: () => Promise<{ status: number }>): Promise<string> => {
      const started = performance.now();
      const answer = await Promise.race([load().catch(() => ({ status: -1 })), new Promise<undefined>((resolve) => setTimeout(resolve, HUNG_AFTER_MS))]);
      const ms = performance.now() - started;
      const status = answer === undefined ? 'hung' : answer.status === -1 ? 'network error' : String(answer.status);
      return ms < ANSWER_WITHIN_MS + JITTER_MS ? `${status} fast` : `${status} after ${Math.round(ms)} ms`;
    };
    const outcomes = await Promise.all([
      outcome(() => fetch(`${test.url}/health/ready`)),
      outcome(() => browser.get(interactionUrl)),
      outcome(() => fetch(`${test.url}/token`, tokenRequest)),
      outcome(async () => fetch(`${test.url}/userinfo`, { headers: { authorization: `Bearer ${await accessTokenNeedingTheDatabase('b')}`, accept: 'application/json' } })),
    ]);
    expect({ ready: outcomes[0], interactionPage: outcomes[1], token: outcomes[2], userinfo: outcomes[3] }).to.deep.equal({
      ready: '503 fast',
      interactionPage: '503 fast',
      token: '503 fast',
      userinfo: '503 fast',
    });
    expect((await timedFetch(`${test.url}/health/live`)).status).to.equal(200);
    expect(rejections).to.deep.equal([]);

    proxy.restore();
    const recoveredIn = await waitFor(async () => (await ready()) === 200, RECOVER_WITHIN_MS);
    expect(recoveredIn).to.be.below(RECOVER_WITHIN_MS);
  });

  it('starting while the database is down either fails fast with a clear database error or waits and starts once it returns', async () => {
    proxy.cut();
    const started = performance.now();
    const starting = startTestIdp({ db, dataDir: test.dataDir, env: { DATABASE_URL: proxy.url(DATABASE_URL!) } }).then(
      (second) => ({ second, ms: performance.now() - started }),
      (error: unknown) => ({ error, ms: performance.now() - started }),
    );
    const early = await Promise.race([starting, new Promise<undefined>((resolve) => setTimeout(resolve, ANSWER_WITHIN_MS + JITTER_MS))]);
    if (early && 'error' in early) {
      // What carelogin does today: createIdp rejects with the driver's connection error.
      expect(isDatabaseConnectionError(early.error), String(early.error)).to.equal(true);
      expect(early.ms).to.be.below(ANSWER_WITHIN_MS + JITTER_MS);
      return;
    }
    // Otherwise it must be waiting for the database (G1), and start by itself once it is back.
    expect(early, 'createIdp started although the database was down').to.equal(undefined);
    proxy.restore();
    const outcome = await starting;
    if ('error' in outcome) throw new Error(`the waiting start failed after the database returned: ${String(outcome.error)}`);
    try {
      expect(outcome.ms).to.be.below(ANSWER_WITHIN_MS + JITTER_MS + RECOVER_WITHIN_MS);
      expect((await fetch(`${outcome.second.url}/health/ready`)).status).to.equal(200);
    } finally {
      await outcome.second.close();
    }
  });
});
