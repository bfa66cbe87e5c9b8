import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { PERSONAS, REVIEWER_PERSONA } from '../../src/accounts/personas.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { Browser, pageText, type Page } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { signIn } from '../helpers/journeys.js';
import { startFakeNotify, type FakeNotify } from '../notifications/fakes/fake-notify.js';

/**
 * security-bar A8: no default accounts and no development features when CARELOGIN_ENV=production.
 * The production IdP's issuer is https (production requires it); the test's fetch reaches it over
 * plain http with X-Forwarded-Proto, as behind a TLS-terminating proxy (TRUST_PROXY=true).
 */
const ISSUER = 'https://carelogin.test';
const PRODUCTION_BASE = { CARELOGIN_ENV: 'production', ISSUER: 'https://auth.example.org', DATABASE_URL: 'postgres://db/idp', KEYSTORE_FILE: '/run/secrets/keystore.json', NOTIFY_API_KEY: 'key' };

/** oidc-provider's published development signing keys, as text (its quick-start keystore). */
function devKeystoreText(): string {
  const require = createRequire(import.meta.url);
  const packageDir = path.dirname(require.resolve('oidc-provider/package.json'));
  return readFileSync(path.join(packageDir, 'lib', 'consts', 'dev_keystore.js'), 'utf8');
}

/** The production environment for a test database: PGlite is handed over in-process, so its URL is never dialled. */
function productionEnv(db: TestDatabase, notify: FakeNotify): Record<string, string> {
  return {
    CARELOGIN_ENV: 'production',
    ISSUER,
    TRUST_PROXY: 'true',
    SEED_PERSONAS: 'false',
    DATABASE_URL: db.env.DATABASE_URL ?? 'postgres://pglite.invalid/handed-over-in-process',
    NOTIFY_API_KEY: notify.apiKey,
    NOTIFY_BASE_URL: notify.baseUrl,
    NOTIFY_EMAIL_TEMPLATE_ID: '11111111-1111-4111-8111-111111111111',
    NOTIFY_SMS_TEMPLATE_ID: '22222222-2222-4222-8222-222222222222',
  };
}

describe('A8: no default accounts and no development features in production', () => {
  it('A8: configuration refuses every development convenience in production', () => {
    for (const [setting, value, message] of [
      ['SEED_PERSONAS', 'true', /SEED_PERSONAS cannot be enabled in production/],
      ['PERSONA_SECURITY_CODE', '190696', /PERSONA_SECURITY_CODE cannot be set in production/],
      ['DEV_OUTBOX', 'true', /DEV_OUTBOX cannot be enabled in production/],
      ['DEMO_RP_ENABLED', 'true', /DEMO_RP_ENABLED cannot be enabled in production/],
      ['EMAIL_ADAPTER', 'dev-outbox', /dev-outbox adapter cannot deliver messages in production/],
      ['SMS_ADAPTER', 'dev-outbox', /dev-outbox adapter cannot deliver messages in production/],
      ['DEMOGRAPHICS_SOURCE', 'fake-pds', /DEMOGRAPHICS_SOURCE=fake-pds is for development and testing only/],
      ['GP_ONLINE_SOURCE', 'fake-im1', /GP_ONLINE_SOURCE=fake-im1 is for development and testing only/],
    ] as const) {
      expect(() => loadConfig({ ...PRODUCTION_BASE, [setting]: value }), setting).to.throw(ConfigError, message);
    }
    const config = loadConfig(PRODUCTION_BASE);
    expect(config.personas, 'no personas, no fixed security code').to.deep.equal({ seed: false, securityCode: undefined });
    expect(config.notifications.devOutbox).to.equal(false);
    expect(config.identityChecks.demographics.source, 'no fake patient register').to.equal('none');
    expect(config.identityChecks.gpOnline.source, 'no fake GP system').to.equal('none');
    expect(config.demoRp.enabled, 'no demo relying party').to.equal(false);
    expect(config.keystore.generateIfMissing, 'no keys made up at start').to.equal(false);
  });

  describe('a production IdP over HTTP', () => {
    let notify: FakeNotify;
    let test: TestIdp;
    const realFetch = globalThis.fetch;

    before(async function () {
      this.timeout(60_000);
      notify = await startFakeNotify();
      // A test-mode start first makes sure the shared test keystore exists (production never generates one).
      const warmUp = await startTestIdp();
      await warmUp.close();
      const db = await createTestDatabase();
      try {
        test = await startTestIdp({ db, env: productionEnv(db, notify) });
      } catch (error) {
        await db.drop();
        throw error;
      }
      expect(test.idp.config.mode).to.equal('production');
      globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
        const url = new URL(input instanceof Request ? input.url : input.toString());
        if (url.origin !== ISSUER) return realFetch(input, init);
        const headers = new Headers(init?.headers);
        headers.set('x-forwarded-proto', 'https');
        headers.set('x-forwarded-host', url.host);
        return realFetch(new URL(`${url.pathname}${url.search}`, test.url), { ...init, headers });
      };
    });
    after(async () => {
      globalThis.fetch = realFetch;
      await test?.close();
      await test?.db.drop();
      await notify?.close();
    });

    async function authorizationUrl(): Promise<string> {
      const url = new URL(`${ISSUER}/authorize`);
      const verifier = oidc.randomPKCECodeVerifier();
      for (const [key, value] of Object.entries({
        client_id: test.rp.clientId, redirect_uri: test.rp.redirectUri, response_type: 'code', scope: 'openid', vtr: '["P0.Cp.Cd"]',
        state: oidc.randomState(), nonce: oidc.randomNonce(), code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      })) url.searchParams.set(key, value);
      return url.toString();
    }

    /** Email, then password, on the real pages: the page that follows the password. */
    async function tryPassword(email: string, password: string): Promise<Page> {
      const browser = new Browser({ stopAt: test.rp.redirectUri });
      let page = await browser.get(await authorizationUrl());
      expect(page.url, pageText(page).slice(0, 300)).to.match(/\/interaction\//);
      page = await browser.submit(page, { email });
      return browser.submit(page, { password });
    }

    it('A8: no persona or default account exists, and none signs in (personas, admin/admin, test/test)', async function () {
      this.timeout(60_000);
      const personas: { n: string | number }[] = await test.idp.db.dataSource.query('SELECT count(*) AS n FROM account WHERE test_persona IS NOT NULL');
      expect(Number(personas[0]!.n), 'persona rows').to.equal(0);
      const all: { n: string | number }[] = await test.idp.db.dataSource.query('SELECT count(*) AS n FROM account');
      expect(Number(all[0]!.n), 'no account exists before anyone registers').to.equal(0);
      for (const [email, password] of [
        ...PERSONAS.map((p) => [p.email, p.password]),
        [REVIEWER_PERSONA.email, REVIEWER_PERSONA.password],
        ['admin', 'admin'], ['admin@carelogin.test', 'admin'], ['test', 'test'], ['test@carelogin.test', 'test'],
      ] as const) {
        const page = await tryPassword(email, password);
        expect(page.callbackUrl, `${email}: no way back to the service`).to.equal(undefined);
        expect(page.html, `${email}: no security code step`).not.to.match(/name="code"/);
      }
      const outbox: { n: string | number }[] = await test.idp.db.dataSource.query('SELECT count(*) AS n FROM outbox_message WHERE channel = $1', ['sms']);
      expect(Number(outbox[0]!.n), 'no security code was sent for any of them').to.equal(0);
    });

    it('A8: the development outbox, debug, API documentation and metrics paths are absent', async () => {
      for (const probe of ['/dev/outbox', '/dev/outbox/messages', '/dev/test-users', '/dev/test-users/api', '/metrics', '/debug', '/debug/vars', '/swagger', '/swagger.json', '/api-docs', '/openapi.json', '/admin', '/actuator', '/.env', '/graphql']) {
        const response = await fetch(`${ISSUER}${probe}`, { redirect: 'manual' });
        const body = await response.text();
        expect(response.status, probe).to.equal(404);
        expect(body, `${probe} shows no codes`).not.to.match(/\b\d{6}\b.*security code/i);
      }
    });

    it('A8: oidc-provider\'s development login form is off, and its quick-start keys are not in the JWKS', async () => {
      const browser = new Browser({ stopAt: test.rp.redirectUri });
      const page = await browser.get(await authorizationUrl());
      expect(page.status).to.equal(200);
      // devInteractions renders a form with "login" and "password" fields and the word "devInteractions"-style title "Sign-in".
      expect(page.html, 'our email step, not the development form').to.match(/name="email"/);
      expect(page.html).not.to.match(/name="login"/);

      const { keys } = (await (await fetch(`${ISSUER}/.well-known/jwks.json`)).json()) as { keys: { kid: string; n?: string; x?: string }[] };
      expect(keys.length).to.be.greaterThan(0);
      const devKeys = devKeystoreText();
      for (const key of keys) {
        const material = key.n ?? key.x;
        expect(material, `${key.kid} has public key material`).to.be.a('string');
        expect(devKeys.includes(material!), `${key.kid} is not one of oidc-provider's development keys`).to.equal(false);
      }
    });

    it('A8: the patient register and GP system fakes are not wired in production', () => {
      expect(test.idp.config.identityChecks.demographics.source).to.equal('none');
      expect(test.idp.config.identityChecks.gpOnline.source).to.equal('none');
      expect(test.idp.config.personas.securityCode, 'no fixed security code').to.equal(undefined);
    });
  });

  it('A8: production refuses to start on a database that holds the published test personas', async function () {
    this.timeout(60_000);
    const notify = await startFakeNotify();
    const db = await createTestDatabase();
    try {
      // A database a development instance seeded (personas with published passwords and a fixed authenticator key).
      const development = await startTestIdp({ db });
      await development.close();
      const refused = await startTestIdp({ db, env: productionEnv(db, notify) }).then(
        async (started) => {
          await started.close();
          return undefined;
        },
        (error: Error) => error,
      );
      expect(refused, 'the production start was refused').to.be.instanceOf(ConfigError);
      expect(refused!.message).to.match(/test persona account/);

      // Once the personas are deleted, the same database starts in production.
      const cleaner = await db.open();
      await cleaner.dataSource.query('DELETE FROM account WHERE test_persona IS NOT NULL');
      await cleaner.close();
      const started = await startTestIdp({ db, env: productionEnv(db, notify) });
      await started.close();
    } finally {
      await db.drop();
      await notify.close();
    }
  });

  it('A8: the storage adapter is the database, not memory: a session survives the instance that made it', async function () {
    this.timeout(60_000);
    const db = await createTestDatabase();
    const first = await startTestIdp({ db });
    let second: TestIdp | undefined;
    try {
      const p5 = PERSONAS.find((p) => p.key === 'p5')!;
      const { browser } = await signIn(first, { email: p5.email, password: p5.password, code: '190696' }, { params: { vtr: '["P5.Cp.Cd"]' } });
      // A fresh process (same database, keystore and clients), then the first one stops.
      second = await startTestIdp({ db, dataDir: first.dataDir });
      const cookies = browser.cookiesFor(first.url);
      const request = await first.rp.authorize({ scope: 'openid', vtr: '["P5.Cp.Cd"]', prompt: 'none' });
      await first.close();
      const url = new URL(request.url);
      const response = await fetch(new URL(`${url.pathname}${url.search}`, second.url), { redirect: 'manual', headers: { cookie: cookies } });
      expect(response.status).to.be.oneOf([302, 303]);
      const location = new URL(response.headers.get('location')!, second.url);
      expect(location.searchParams.get('error'), location.toString()).to.equal(null);
      expect(location.searchParams.get('code'), 'single sign-on from the session the stopped instance stored').to.be.a('string');
    } finally {
      await second?.close();
      await first.close().catch(() => undefined);
      await db.drop();
    }
  });
});
