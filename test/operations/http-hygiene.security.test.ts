import http from 'node:http';
import { expect } from 'chai';
import { Browser, findForm, pageText, type Page } from '../helpers/browser.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { bogusCodeTokenRequest, leakContext, leaks, persona, timedFetch } from './support.js';

/**
 * security-bar F3 (error hygiene), G2 (resource limits, prototype pollution) and C6 (headers):
 * what any client, well-behaved or not, gets back at the HTTP level.
 */
describe('HTTP hygiene: headers, caching, errors and hostile input (F3, G2, C6)', function () {
  this.timeout(30000);

  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test.close());

  /** The IdP is still up and serving after something hostile. */
  async function stillServing(): Promise<void> {
    expect((await timedFetch(`${test.url}/health/live`)).status).to.equal(200);
    expect((await timedFetch(`${test.url}/.well-known/openid-configuration`)).status).to.equal(200);
  }

  /** A fresh interaction: its first page, and the browser holding its cookies. */
  async function interaction(): Promise<{ browser: Browser; page: Page }> {
    const browser = new Browser({ stopAt: test.rp.redirectUri });
    const request = await test.rp.authorize({ scope: 'openid' });
    const page = await browser.get(request.url);
    expect(page.status, pageText(page).slice(0, 300)).to.equal(200);
    return { browser, page };
  }

  function expectSecurityHeaders(headers: Headers, where: string): void {
    const csp = headers.get('content-security-policy') ?? '';
    const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values.join(' ')]));
    expect(directives.get('frame-ancestors'), `${where}: ${csp}`).to.equal("'none'");
    expect(directives.get('object-src'), `${where}: ${csp}`).to.equal("'none'");
    expect(directives.get('base-uri'), `${where}: ${csp}`).to.equal("'none'");
    expect(directives.get('script-src') ?? directives.get('default-src'), `${where}: ${csp}`).not.to.match(/unsafe-inline|unsafe-eval|\*/);
    expect(headers.get('x-content-type-options'), where).to.equal('nosniff');
    expect(headers.get('referrer-policy'), where).to.match(/^(no-referrer|strict-origin|same-origin|strict-origin-when-cross-origin)$/);
    expect(headers.get('x-powered-by'), where).to.equal(null);
    expect(headers.get('server'), where).to.equal(null);
  }

  it('sends the security headers on HTML pages (start page, sign-in page, error page)', async () => {
    const home = await timedFetch(`${test.url}/`, { headers: { accept: 'text/html' } });
    expect(home.status).to.equal(200);
    expectSecurityHeaders(home.headers, 'GET /');

    const { page } = await interaction();
    expectSecurityHeaders(page.headers, 'sign-in page');

    const missing = await timedFetch(`${test.url}/no-such-page`, { headers: { accept: 'text/html' } });
    expectSecurityHeaders(missing.headers, '404 page');
  });

  it('marks sign-in pages and every /token answer Cache-Control: no-store', async () => {
    const { page } = await interaction();
    expect(page.headers.get('cache-control'), page.url).to.match(/no-store/);

    const refused = await timedFetch(`${test.url}/token`, await bogusCodeTokenRequest(test.rp, test.url));
    expect(refused.status).to.equal(400);
    expect(refused.headers.get('cache-control'), '/token error').to.match(/no-store/);

    // A successful answer: watch it on the wire as the relying party receives it.
    const realFetch = globalThis.fetch;
    const tokenAnswers: Headers[] = [];
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const response = await realFetch(input, init);
      if (String(input instanceof Request ? input.url : input).endsWith('/token')) tokenAnswers.push(response.headers);
      return response;
    }) as typeof fetch;
    try {
      const { request, callbackUrl } = await signIn(test, persona('p0'), { params: { vtr: '["P0.Cp.Cd"]' } });
      await test.rp.exchange(callbackUrl, request);
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(tokenAnswers).to.have.length(1);
    expect(tokenAnswers[0]!.get('cache-control'), '/token success').to.match(/no-store/);
  });

  it('answers an unknown route 404 with a plain page or JSON: no stack trace, no library names or versions', async () => {
    for (const accept of ['text/html', 'application/json']) {
      for (const route of ['/no-such-page', '/interaction', '/.well-known/nothing', '/assets/../package.json', '/assets/%2e%2e/package.json']) {
        const answer = await timedFetch(`${test.url}${route}`, { headers: { accept } });
        expect(answer.status, `${route} (${accept})`).to.equal(404);
        expect(leaks(answer.text), `${route} (${accept}) shows internals`).to.deep.equal([]);
        expect(answer.text, route).not.to.match(/"name":\s*"carelogin"|"version"/);
        expect(answer.headers.get('x-powered-by')).to.equal(null);
      }
    }
  });

  it('refuses a 2 MB form body to an interaction step with 413 (or 400), without crashing', async () => {
    const { page } = await interaction();
    const body = `_csrf=x&email=${'a'.repeat(2 * 1024 * 1024)}`;
    const answer = await new Promise<{ status: number; text: string } | { error: string }>((resolve) => {
      // The step's own form action: the page may be shown at the interaction's URL.
      const target = new URL(findForm(page).action, page.url);
      const request = http.request(
        { host: target.hostname, port: target.port, method: 'POST', path: target.pathname, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), accept: 'text/html', origin: test.url } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      request.on('error', (error) => resolve({ error: error.message }));
      request.end(body);
    });
    expect(answer, 'no answer to the oversized form').to.have.property('status');
    const { status, text } = answer as { status: number; text: string };
    expect(status, `answered ${status}: "${/<title>([^<]*)/.exec(text)?.[1] ?? text.slice(0, 200)}"`).to.be.oneOf([413, 400]);
    expect(leaks(text)).to.deep.equal([]);
    await stillServing();
  });

  it('refuses a 2 MB body to /token with 413 (or 400), without crashing', async () => {
    const answer = await timedFetch(`${test.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: `grant_type=authorization_code&code=${'c'.repeat(2 * 1024 * 1024)}`,
    });
    expect(answer.status, answer.text.slice(0, 200)).to.be.oneOf([413, 400]);
    expect(leaks(answer.text)).to.deep.equal([]);
    await stillServing();
  });

  it('refuses a 64 KB header with 431, and malformed JSON to /token with a 4xx, without internals', async () => {
    const header = await new Promise<number>((resolve, reject) => {
      const request = http.get(`${test.url}/.well-known/openid-configuration`, { headers: { 'x-filler': 'x'.repeat(64 * 1024) }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      request.on('error', reject);
    });
    expect(header).to.equal(431);

    const malformed = await timedFetch(`${test.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{"grant_type": "authorization_code", ' });
    expect(malformed.status).to.be.within(400, 499);
    expect(leaks(malformed.text)).to.deep.equal([]);
    await stillServing();
  });

  it('is not polluted by __proto__ in a JSON /token body or in form fields', async () => {
    const probe = (): unknown => (({}) as Record<string, unknown>).polluted;
    const json = await timedFetch(`${test.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"grant_type":"authorization_code"}',
    });
    expect(json.status, json.text).to.be.within(400, 499);
    expect(probe()).to.equal(undefined);

    const form = await timedFetch(`${test.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: '__proto__[polluted]=true&constructor[prototype][polluted]=true&grant_type=authorization_code',
    });
    expect(form.status, form.text).to.be.within(400, 499);
    expect(probe()).to.equal(undefined);

    const { browser, page } = await interaction();
    const step = await browser.post(new URL(findForm(page).action, page.url).href, { '__proto__[polluted]': 'true', 'constructor[prototype][polluted]': 'true', email: 'x@example.test' }, { origin: test.url });
    // Reached the step's form parser (refused for its CSRF token), not a 404.
    expect(step.status).to.equal(403);
    expect(probe()).to.equal(undefined);
    expect(Object.prototype).not.to.have.property('polluted');
  });

  it('answers malformed percent-encoding with a 4xx (or an OAuth error to the client), never a 500', async () => {
    const { page } = await interaction();
    const valid = new URL((await test.rp.authorize({ scope: 'openid' })).url).searchParams.toString();
    const targets: Record<string, string> = {
      'client_id on /authorize': `${test.url}/authorize?client_id=%ZZ&response_type=code`,
      'scope on /authorize': `${test.url}/authorize?${valid.replace('scope=openid', 'scope=%E0%A4%A')}`,
      'unused parameter on /authorize': `${test.url}/authorize?${valid}&claims=%E0%A4%A`,
      'discovery query': `${test.url}/.well-known/openid-configuration?x=%E0%A4%A`,
      'interaction page query': `${page.url}?step=%ZZ`,
      'interaction path': `${test.url}/interaction/%E0%A4%A`,
      'start page query': `${test.url}/?q=%`,
    };
    const outcomes: Record<string, string> = {};
    for (const [name, target] of Object.entries(targets)) {
      const answer = await timedFetch(target, { headers: { accept: 'text/html' } });
      const location = answer.headers.get('location');
      outcomes[name] = location ? `${answer.status} ${new URL(location, test.url).searchParams.get('error') ?? 'redirect'}` : String(answer.status);
      expect(leaks(answer.text), `${target}: …${leakContext(answer.text)}…`).to.deep.equal([]);
    }
    expect(Object.entries(outcomes).filter(([, outcome]) => outcome.startsWith('5')), JSON.stringify(outcomes)).to.deep.equal([]);
    // Where the broken parameter matters: a 400 page when the client is unknown, an OAuth error to a known client.
    expect(outcomes['client_id on /authorize']).to.equal('400');
    expect(outcomes['scope on /authorize']).to.equal('303 invalid_scope');
    await stillServing();
  });
});
