import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { PERSONA_PASSWORD, TEST_USER_MARK } from '../../src/accounts/personas.js';
import { runTestUsersCli } from '../../src/cli/test-users.js';
import { loadConfig } from '../../src/config/index.js';
import { fakeRegisterPatients } from '../../src/demographics/index.js';
import { ConfigError } from '../../src/errors.js';
import type { AppServices } from '../../src/services.js';
import { parseTestUserRequest } from '../../src/test-users/request.js';
import { createTestUsersRouter } from '../../src/test-users/router.js';
import { createTestUsers } from '../../src/test-users/test-users.js';
import { Browser, pageText } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { errorSummary, heading, startJourney, submit } from '../interactions/support.js';
import { startFakeNotify, type FakeNotify } from '../notifications/fakes/fake-notify.js';

/**
 * Test users on request are test data in every sense (security-bar A8: no default accounts and no
 * development features in production): refused by configuration, the command, the service and the
 * page in production; a database holding one does not start in production; the fixed security code
 * only for test users made with it. The page's forms are cross-site protected (C5).
 */
const PRODUCTION_BASE = { CARELOGIN_ENV: 'production', ISSUER: 'https://auth.example.org', DATABASE_URL: 'postgres://db.invalid/idp', KEYSTORE_FILE: '/run/secrets/keystore.json', NOTIFY_API_KEY: 'key' };

function productionEnv(db: TestDatabase, notify: FakeNotify): Record<string, string> {
  return {
    CARELOGIN_ENV: 'production',
    ISSUER: 'https://carelogin.test',
    TRUST_PROXY: 'true',
    SEED_PERSONAS: 'false',
    DATABASE_URL: db.env.DATABASE_URL ?? 'postgres://pglite.invalid/handed-over-in-process',
    NOTIFY_API_KEY: notify.apiKey,
    NOTIFY_BASE_URL: notify.baseUrl,
    NOTIFY_EMAIL_TEMPLATE_ID: '11111111-1111-4111-8111-111111111111',
    NOTIFY_SMS_TEMPLATE_ID: '22222222-2222-4222-8222-222222222222',
  };
}

describe('A8: test users are never made, kept or let in with the fixed code in production', function () {
  this.timeout(60_000);

  it('A8: configuration refuses DEV_TEST_USERS in production, where the page is off by default', () => {
    expect(() => loadConfig({ ...PRODUCTION_BASE, DEV_TEST_USERS: 'true' })).to.throw(ConfigError, /DEV_TEST_USERS cannot be enabled in production/);
    expect(loadConfig(PRODUCTION_BASE).devTestUsers).to.equal(false);
    expect(loadConfig({ CARELOGIN_ENV: 'development' }).devTestUsers).to.equal(true);
  });

  it('A8: the service and the page refuse to be built with a production configuration', () => {
    const config = loadConfig(PRODUCTION_BASE);
    expect(() => createTestUsers({ config } as Parameters<typeof createTestUsers>[0])).to.throw(ConfigError, /never makes them in production/);
    expect(() => createTestUsersRouter({ config } as AppServices, {} as Parameters<typeof createTestUsersRouter>[1])).to.throw(ConfigError, /cannot be used in production/);
  });

  it('A8: npm run test-users refuses in production before it opens any database', async () => {
    const saved = { ...process.env };
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      Object.assign(process.env, PRODUCTION_BASE);
      delete process.env.DATABASE_SCHEMA;
      // The database address does not resolve: a command that tried to open it would fail differently, or hang.
      for (const argv of [['list'], ['add', '--level', 'P9'], ['remove', '--email', 'someone@example.test']]) {
        expect(await runTestUsersCli(argv), argv.join(' ')).to.equal(1);
      }
    } finally {
      process.stderr.write = write;
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
    expect(written.join('')).to.match(/refuses to make or change them when CARELOGIN_ENV=production/);
  });

  it('A8: production refuses to start on a database that holds a test user, even with every persona gone', async () => {
    const notify = await startFakeNotify();
    const db = await createTestDatabase();
    try {
      const development = await startTestIdp({ db });
      const made = await fetch(`${development.url}/dev/test-users/api`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ level: 'P9' }) });
      expect(made.status).to.equal(201);
      await development.idp.db.dataSource.query(`DELETE FROM account WHERE test_persona IS NOT NULL AND test_persona NOT LIKE 'test-user%'`);
      await development.close();

      const refused = await startTestIdp({ db, env: productionEnv(db, notify) }).then(
        async (started) => {
          await started.close();
          return undefined;
        },
        (error: Error) => error,
      );
      expect(refused, 'the production start was refused').to.be.instanceOf(ConfigError);
      expect(refused!.message).to.match(/1 test persona account\(s\) \(personas and test users\)/);

      // Deleting the test user's record alone is not enough either: the account still carries the mark.
      const cleaner = await db.open();
      await cleaner.dataSource.query('DELETE FROM test_user');
      await cleaner.close();
      const stillRefused = await startTestIdp({ db, env: productionEnv(db, notify) }).then(async (started) => started.close(), (error: Error) => error);
      expect(stillRefused).to.be.instanceOf(ConfigError);

      const cleaner2 = await db.open();
      await cleaner2.dataSource.query('DELETE FROM account WHERE test_persona IS NOT NULL');
      await cleaner2.close();
      const started = await startTestIdp({ db, env: productionEnv(db, notify) });
      await started.close();
    } finally {
      await db.drop();
      await notify.close();
    }
  });

  describe('in development', () => {
    let test: TestIdp;
    before(async () => {
      test = await startTestIdp();
    });
    after(async () => test?.close());

    function service() {
      const { services, config, db } = test.idp;
      return createTestUsers({ dataSource: db.dataSource, config, hasher: services.hasher, audit: services.audit, digest: services.digest, registerPatients: fakeRegisterPatients(config) });
    }

    it('A8: a test user made without --fixed-code is never sent or let in with the fixed code', async () => {
      const { testUser } = await service().add(parseTestUserRequest({ level: 'P9' }), { by: 'operator' });
      const journey = await startJourney(test);
      let page = await submit(journey, journey.page, { email: testUser.email });
      page = await submit(journey, page, { password: PERSONA_PASSWORD });
      expect(heading(page)).to.equal('Check your mobile phone');
      const sent: { body: string }[] = await test.idp.db.dataSource.query(`SELECT body FROM outbox_message WHERE recipient = $1 AND channel = 'sms'`, [testUser.mobile]);
      expect(sent).to.have.length(1);
      // A random code (one chance in a million of being 190696 by luck).
      expect(/\b(\d{6})\b/.exec(sent[0]!.body)![1], 'the code texted').to.not.equal('190696');
      const refused = await submit(journey, page, { code: '190696' });
      expect(errorSummary(refused), pageText(refused).slice(0, 200)).to.have.length(1);
      // The service that issues codes refuses the fixed code for such an account, whoever asks.
      const issuing = test.idp.db.dataSource.transaction((manager) =>
        test.idp.services.codes.issue(manager, { accountId: testUser.id, purpose: 'sign-in', journeyId: randomUUID(), channel: 'sms', destination: testUser.mobile, ip: '192.0.2.1', fixedCode: '190696', testPersona: TEST_USER_MARK }),
      );
      await issuing.then(() => expect.fail('the fixed code was issued'), (error: { code?: string }) => expect(error.code).to.equal('fixed_code_refused'));
    });

    it('C5: the page refuses a cross-site form post and one without its CSRF token, and makes nothing', async () => {
      const before = (await service().list()).length;
      const browser = new Browser();
      const page = await browser.get(`${test.url}/dev/test-users`);
      expect(page.status).to.equal(200);
      const forged = await browser.submit(page, { level: 'P9' }, { actionContains: '/dev/test-users/new', headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
      expect(forged.status).to.equal(403);
      const tokenless = await fetch(`${test.url}/dev/test-users/new`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'level=P9' });
      expect(tokenless.status).to.equal(403);
      expect((await service().list()).length).to.equal(before);
    });
  });
});
