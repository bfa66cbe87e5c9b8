import { expect } from 'chai';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { createLogger } from '../../src/logger.js';
import { Browser, findForm, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import type { TestRp } from '../helpers/relying-party.js';
import { persona } from './support.js';

/**
 * security-bar F4 (ASVS 16.2–16.4): a whole sign-in, with a wrong password and a wrong security code
 * on the way, a token exchange, a refresh and a userinfo call, against an IdP whose logger writes to
 * memory at debug level. No secret or personal datum may reach a log line; the security events must.
 */
describe('logs: no secrets or personal data, security events with a request id (F4)', function () {
  this.timeout(60000);

  const WRONG_PASSWORD = 'wrong-horse-battery-staple-41';
  const WRONG_CODE = '482913';
  const FORGED = 'FORGED-LOG-LINE';

  let capture: LogCapture;
  let test: TestIdp;
  let rp: TestRp;
  const realFetch = globalThis.fetch;
  /** Every credential that crossed the wire during the journey, collected by the fetch spy below. */
  const seen = { cookies: new Map<string, string>(), assertions: new Set<string>(), verifiers: new Set<string>(), csrf: new Set<string>(), paths: new Set<string>(), requestIds: new Set<string>() };

  before(async () => {
    capture = createLogCapture();
    test = await startTestIdp({ rp: { refreshTokens: true }, logger: createLogger({ level: 'debug' }, capture) });
    ({ rp } = test);

    // A spy on fetch (the edge between the test's browser/RP and the network): it records what was
    // sent and set, so the test knows every cookie value and client assertion to look for in the logs.
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const target = new URL(input instanceof Request ? input.url : String(input));
      seen.paths.add(target.pathname);
      const body = init?.body;
      if (typeof body === 'string' || body instanceof URLSearchParams) {
        const params = new URLSearchParams(body);
        const assertion = params.get('client_assertion');
        if (assertion) seen.assertions.add(assertion);
        const verifier = params.get('code_verifier');
        if (verifier) seen.verifiers.add(verifier);
        const csrf = params.get('_csrf');
        if (csrf) seen.csrf.add(csrf);
      }
      const response = await realFetch(input, init);
      const requestId = response.headers.get('x-request-id');
      if (requestId) seen.requestIds.add(requestId);
      for (const header of response.headers.getSetCookie()) {
        const pair = header.split(';')[0]!;
        const index = pair.indexOf('=');
        const value = pair.slice(index + 1);
        if (value) seen.cookies.set(`${pair.slice(0, index)}#${seen.cookies.size}`, value);
      }
      return response;
    }) as typeof fetch;
  });

  after(async () => {
    globalThis.fetch = realFetch;
    await test?.close();
  });

  /** Submits the page's form after checking it asks for `field`. */
  async function answer(browser: Browser, page: Page, field: string, value: string): Promise<Page> {
    expect(Object.keys(findForm(page).fields).concat([...page.html.matchAll(/<input\b[^>]*\bname="([^"]+)"/g)].map((m) => m[1]!)), `expected a "${field}" field on ${page.url}: ${pageText(page).slice(0, 300)}`).to.include(field);
    return browser.submit(page, { [field]: value });
  }

  let journey: { callbackUrl: string; tokens: oidc.TokenEndpointResponse; refreshed: oidc.TokenEndpointResponse; code: string; userinfo: oidc.UserInfoResponse } | undefined;

  it('runs a whole journey with mistakes on the way (the material for the checks below)', async () => {
    const p9 = persona('p9');
    const browser = new Browser({ stopAt: rp.redirectUri });
    const request = await rp.authorize({ scope: 'openid profile profile_extended email phone gp_integration_credentials' });

    let page = await browser.get(request.url);
    // A log-injection attempt: a newline and a fake JSON record inside the email address.
    page = await answer(browser, page, 'email', `${p9.email}\n{"level":"info","msg":"${FORGED}"}`);
    expect(page.status).to.be.oneOf([200, 400]);
    if (/name="email"/.test(page.html)) page = await answer(browser, page, 'email', p9.email);
    page = await answer(browser, page, 'password', WRONG_PASSWORD);
    page = await answer(browser, page, 'password', p9.password);
    page = await answer(browser, page, 'code', WRONG_CODE);
    page = await answer(browser, page, 'code', p9.code);
    for (let step = 0; step < 3 && !page.callbackUrl; step++) page = await browser.submit(page, {}, { button: 'Continue' });
    expect(page.callbackUrl, `the journey did not reach the relying party: ${pageText(page).slice(0, 300)}`).to.be.a('string');

    const code = new URL(page.callbackUrl!).searchParams.get('code')!;
    const tokens = await rp.exchange(page.callbackUrl!, request);
    const config = await rp.configuration();
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.nhs_number).to.equal(p9.data.nhsNumber);
    expect(tokens.refresh_token).to.be.a('string');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    journey = { callbackUrl: page.callbackUrl!, tokens, refreshed, code, userinfo };
  });

  it('never logs a password, security code, token, code, cookie, client assertion or personal datum', function () {
    if (!journey) this.skip(); // the journey above failed; its failure is the report
    const p9 = persona('p9');
    const secrets: Record<string, string> = {
      'persona password': p9.password,
      'wrong password': WRONG_PASSWORD,
      'security code': p9.code,
      'wrong security code': WRONG_CODE,
      'email address': p9.email,
      'mobile number (E.164)': p9.data.mobileNumber,
      'mobile number (national)': `0${p9.data.mobileNumber.slice(3)}`,
      'NHS number': p9.data.nhsNumber!,
      'GP linkage key': p9.data.gpLinkageKey!,
      'family name': p9.data.familyName!,
      'date of birth': p9.data.birthdate!,
      'postcode': p9.data.postcode!,
      'authorization code': journey!.code,
      'access token': journey!.tokens.access_token,
      'ID token': journey!.tokens.id_token!,
      'ID token signature': journey!.tokens.id_token!.split('.')[2]!,
      'refresh token': journey!.tokens.refresh_token!,
      'rotated refresh token': journey!.refreshed.refresh_token!,
      'refreshed access token': journey!.refreshed.access_token,
      // The stored token inside each access token JWT is a bearer credential of its own.
      'access token jti': String(decodeJwt(journey!.tokens.access_token).jti),
      'access token signature': journey!.tokens.access_token.split('.')[2]!,
      'refreshed access token jti': String(decodeJwt(journey!.refreshed.access_token).jti),
    };
    for (const [index, assertion] of [...seen.assertions].entries()) secrets[`client assertion ${index}`] = assertion;
    for (const [index, verifier] of [...seen.verifiers].entries()) secrets[`PKCE verifier ${index}`] = verifier;
    for (const [index, token] of [...seen.csrf].entries()) secrets[`CSRF token ${index}`] = token;
    // A cookie whose value is also in a URL path (the interaction id in /interaction/<uid>) is not a
    // secret on its own: the signature cookie beside it is. Every other cookie value is.
    const inPaths = [...seen.paths].join(' ');
    for (const [name, value] of seen.cookies) if (value.length >= 8 && !inPaths.includes(value)) secrets[`cookie ${name}`] = value;
    expect(Object.keys(secrets).filter((k) => k.startsWith('client assertion')), 'the spy saw no client assertion').to.have.length.greaterThan(0);
    expect(Object.keys(secrets).filter((k) => k.startsWith('cookie')), 'the spy saw no cookies').to.have.length.greaterThan(0);

    const text = capture.text();
    expect(capture.lines.length, 'nothing was logged at debug level').to.be.greaterThan(20);
    const found = Object.entries(secrets)
      .filter(([, value]) => text.includes(value) || text.includes(JSON.stringify(value).slice(1, -1)))
      .map(([name, value]) => `${name}: ${capture.lines.find((l) => l.raw.includes(value) || l.raw.includes(JSON.stringify(value).slice(1, -1)))?.raw.slice(0, 400)}`);
    expect(found, 'secrets in the logs').to.deep.equal([]);
  });

  it('logs the security events, each with a UTC timestamp and the request id of the request that caused it', function () {
    if (!journey) this.skip(); // the journey above failed; its failure is the report
    const records = capture.lines.map((l) => l.record).filter((r): r is Record<string, unknown> => r !== undefined);
    const events: Record<string, string> = {};
    for (const type of ['password.failed', 'password.verified', 'security_code.failed', 'security_code.verified', 'account.signed_in']) {
      const lines = records.filter((r) => r.audit === type || r.event === type);
      const withId = lines.find((r) => typeof r.requestId === 'string' && seen.requestIds.has(r.requestId));
      events[type] = lines.length === 0 ? 'not logged' : withId ? 'logged with request id' : 'logged without request id';
      for (const line of lines) expect(String(line.time), type).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    }
    expect(events).to.deep.equal({
      'password.failed': 'logged with request id',
      'password.verified': 'logged with request id',
      'security_code.failed': 'logged with request id',
      'security_code.verified': 'logged with request id',
      'account.signed_in': 'logged with request id',
    });
  });

  it('cannot be forged into an extra log line by a newline in the email field (every line is one JSON record)', function () {
    if (!journey) this.skip(); // the journey above failed; its failure is the report
    const notJson = capture.lines.filter((l) => l.record === undefined).map((l) => l.raw.slice(0, 200));
    expect(notJson, 'lines that are not JSON records').to.deep.equal([]);
    const forged = capture.lines.filter((l) => l.record?.msg === FORGED);
    expect(forged, 'a forged record').to.deep.equal([]);

    // The journey never logs the address at all, so also hand the injection straight to the logger
    // the product uses, as a message, a field value and a nested field value.
    const direct = createLogCapture();
    const logger = createLogger({ level: 'info' }, direct);
    const injected = `someone@example.test\n{"level":"info","msg":"${FORGED}"}\r\n`;
    logger.info({ detail: injected, nested: { value: injected } }, `sign-in by ${injected}`);
    expect(direct.lines.map((l) => l.raw), 'one call, one line').to.have.length(1);
    expect(direct.lines[0]!.record?.detail).to.equal(injected);
    expect(direct.lines.filter((l) => l.record?.msg === FORGED)).to.deep.equal([]);
  });
});

describe('logs: errors after a response has started', function () {
  this.timeout(30000);
  let capture: LogCapture;
  let test: TestIdp;

  before(async () => {
    capture = createLogCapture();
    test = await startTestIdp({ logger: createLogger({ level: 'debug' }, capture) });
  });
  after(() => test?.close());

  it('logs a browser that went away at debug level, anything else as an error, and never prints to stderr', () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      // What Koa does when a response stream fails: app.emit('error', error, ctx).
      const emitter = test.idp.provider as unknown as NodeJS.EventEmitter;
      emitter.emit('error', Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      emitter.emit('error', new Error('template exploded'));
    } finally {
      process.stderr.write = write;
    }
    expect(written.join('')).to.equal('');
    const [goneAway] = capture.find('client went away before the response was sent');
    expect(goneAway).to.include({ level: 'debug', reason: 'ERR_STREAM_PREMATURE_CLOSE' });
    const [failed] = capture.find('response error');
    expect(failed?.level).to.equal('error');
  });
});
