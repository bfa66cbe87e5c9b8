import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { Browser, pageText, type Page } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { createTestRp, type TestRp } from '../helpers/relying-party.js';
import { persona } from './support.js';

type Instance = 'A' | 'B';

/**
 * A load balancer in front of two instances, as production has: one origin (the issuer), and the
 * test decides per request which instance answers. The browser and the relying party only ever see
 * the balancer, so cookies, redirects and the issuer are exactly what they would be in production;
 * nothing in the browser has to be rewritten.
 */
interface Balancer {
  readonly url: string;
  /** Which instance gets a request; change it between steps. */
  route: (method: string, path: string) => Instance;
  /** Which instance served each request, in order ("A POST /token"). */
  readonly served: string[];
  close(): Promise<void>;
}

async function startBalancer(backends: Record<Instance, () => string>): Promise<Balancer> {
  const served: string[] = [];
  const balancer: Balancer = {
    url: '',
    route: () => 'A',
    served,
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const pathOnly = (req.url ?? '/').split('?')[0]!;
    const instance = balancer.route(req.method ?? 'GET', pathOnly);
    served.push(`${instance} ${req.method} ${pathOnly}`);
    const target = new URL(backends[instance]());
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(balancer, {
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return balancer;
}

/**
 * security-bar G7 and oidc-provider pitfall 3: two instances share one database, one keystore
 * (signing keys and cookie keys) and one clients file, and behave as one IdP whichever instance
 * answers each step.
 */
describe('two instances behind one issuer (G7)', function () {
  this.timeout(60000);

  let db: TestDatabase;
  let dataDir: string;
  let a: TestIdp;
  let b: TestIdp;
  let lb: Balancer;
  let rp: TestRp;

  before(async () => {
    db = await createTestDatabase();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'carelogin-instances-'));
    // The relying party knows only the balancer's address, which is the issuer of both instances.
    const issuerRef: { url?: string } = {};
    rp = await createTestRp(issuerRef, { refreshTokens: true });
    writeFileSync(path.join(dataDir, 'clients.json'), JSON.stringify({ clients: [rp.entry] }));
    lb = await startBalancer({ A: () => a.url, B: () => b.url });
    issuerRef.url = lb.url;
    // 4 wrong passwords lock the account: 2 on A plus 2 on B must reach it.
    const env = { ISSUER: lb.url, PASSWORD_MAX_ATTEMPTS: '4' };
    a = await startTestIdp({ db, dataDir, env });
    b = await startTestIdp({ db, dataDir, env });
  });

  after(async () => {
    await lb?.close();
    await a?.close();
    await b?.close();
    await db?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    lb.served.length = 0;
    lb.route = () => 'A';
  });

  const target = () => ({ rp, idp: a.idp });

  it('authorize on A, sign-in pages on B, token on A, userinfo on B: one journey', async () => {
    lb.route = (_method, pathname) => (pathname.startsWith('/interaction/') || pathname === '/userinfo' ? 'B' : 'A');
    const p9 = persona('p9');
    const { request, callbackUrl } = await signIn(target(), p9, { params: { scope: 'openid profile email' } });
    const tokens = await rp.exchange(callbackUrl, request);
    const sub = tokens.claims()!.sub;
    const userinfo = await oidc.fetchUserInfo(await rp.configuration(), tokens.access_token, sub);
    expect(userinfo.nhs_number).to.equal(p9.data.nhsNumber);
    expect(userinfo.email).to.equal(p9.email);

    // The routing really happened as intended.
    expect(lb.served.filter((s) => / \/authorize$/.test(s))).to.deep.equal(['A GET /authorize']);
    expect(lb.served.filter((s) => s.includes('/interaction/')).length).to.be.greaterThan(3);
    expect(lb.served.filter((s) => s.includes('/interaction/') && !s.startsWith('B '))).to.deep.equal([]);
    expect(lb.served.filter((s) => s.endsWith(' /token'))).to.deep.equal(['A POST /token']);
    expect(lb.served.filter((s) => s.endsWith(' /userinfo'))).to.deep.equal(['B GET /userinfo']);
  });

  it('alternates instances on every request of a sign-in and still completes it', async () => {
    let next: Instance = 'B';
    lb.route = () => (next = next === 'A' ? 'B' : 'A');
    const { request, callbackUrl } = await signIn(target(), persona('p5'), { params: { scope: 'openid profile', vtr: '["P5.Cp.Cd"]' } });
    const tokens = await rp.exchange(callbackUrl, request);
    expect(tokens.claims()!.vot).to.equal('P5.Cp.Cd');
    const config = await rp.configuration();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).to.be.a('string');
    expect(new Set(lb.served.map((s) => s[0]))).to.deep.equal(new Set(['A', 'B']));
  });

  it('a code redeemed on A cannot be redeemed on B, and the replay revokes what A issued', async () => {
    const { request, callbackUrl } = await signIn(target(), persona('p9'), { params: { scope: 'openid profile' } });
    lb.route = () => 'A';
    const tokens = await rp.exchange(callbackUrl, request);
    const config = await rp.configuration();
    const sub = tokens.claims()!.sub;
    expect((await oidc.fetchUserInfo(config, tokens.access_token, sub)).sub).to.equal(sub);

    lb.route = () => 'B';
    let replay: unknown;
    try {
      await rp.exchange(callbackUrl, request);
    } catch (error) {
      replay = error;
    }
    expect(replay, 'the second redemption succeeded on B').to.be.instanceOf(oidc.ResponseBodyError);
    expect((replay as oidc.ResponseBodyError).error).to.equal('invalid_grant');
    expect(lb.served.filter((s) => s.endsWith(' /token'))).to.deep.equal(['A POST /token', 'B POST /token']);

    // ASVS 10.4.2: the replay revokes the tokens issued for the code (checked on the other instance).
    lb.route = () => 'A';
    let revoked: unknown;
    try {
      await oidc.fetchUserInfo(config, tokens.access_token, sub);
    } catch (error) {
      revoked = error;
    }
    expect(revoked, 'the access token still works after the code was replayed').to.be.instanceOf(Error);
    expect((revoked as { status?: number }).status).to.equal(401);
  });

  it('wrong passwords on A and on B add up to one lockout', async () => {
    const p0 = persona('p0');
    const browser = new Browser({ stopAt: rp.redirectUri });
    const request = await rp.authorize({ scope: 'openid', vtr: '["P0.Cp.Cd"]' });
    let page = await browser.get(request.url);
    page = await browser.submit(page, { email: p0.email });
    expect(page.html, pageText(page).slice(0, 300)).to.match(/name="password"/);

    const attempt = async (instance: Instance, password: string): Promise<Page> => {
      lb.route = () => instance;
      const answer = await browser.submit(page, { password });
      expect(answer.status, pageText(answer).slice(0, 300)).to.be.oneOf([200, 400, 429]);
      return answer;
    };
    for (const instance of ['A', 'A', 'B', 'B'] as const) {
      page = await attempt(instance, `not-the-password-${instance}`);
      expect(page.html, 'a wrong password moved the journey on').to.match(/name="password"/);
    }
    // The fifth attempt, with the right password, on A: locked by the failures counted on both.
    page = await attempt('A', p0.password);
    expect(page.callbackUrl, 'signed in despite 4 failures across the instances').to.equal(undefined);
    expect(page.html, 'the right password was accepted after 4 failures across the instances').to.match(/name="password"/);
    expect(lb.served.filter((s) => s.startsWith('B POST'))).to.have.length(2);

    // Both instances see the same lock.
    const [row] = await b.idp.db.dataSource.query(
      `SELECT consecutive_failures, locked_until > now() AS locked FROM attempt_counter
       WHERE key = 'password:' || (SELECT id FROM account WHERE email_normalised = lower($1))::text`,
      [p0.email],
    );
    expect({ failures: Number(row?.consecutive_failures), locked: Boolean(row?.locked) }).to.deep.equal({ failures: 4, locked: true });
  });
});
