import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import pg from 'pg';
import { generate } from 'otplib';
import { Browser } from '../helpers/browser.js';
import { signIn } from '../helpers/journeys.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import type { TestDatabase } from '../helpers/database.js';
import { enterDetails, newEmail, startRegistration } from '../interactions/create-account-helpers.js';
import { addAuthenticatorApp, appCode, createAccount, heading, TEST_PASSWORD } from '../interactions/support.js';
import { createReviewer, patientWithCase } from '../back-office/support.js';

const run = promisify(execFile);

/**
 * security-bar H2 (atomic multi-row changes, durable writes) and H3 (an append-only audit trail; a
 * backup restored into a fresh database still serves existing people). Faults are injected by the
 * database itself: a trigger, installed by the test, that raises when the last write of a change
 * arrives, so every write before it in the transaction must roll back. Our own code is not replaced.
 */
describe('H2 and H3: data integrity', function () {
  this.timeout(60_000);
  let test: TestIdp;
  before(async () => {
    test = await startTestIdp();
  });
  after(async () => test?.close());

  const query = <T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> => test.idp.db.dataSource.query(sql, params);
  const count = async (sql: string, params: unknown[]): Promise<number> => Number((await query<{ n: string | number }>(sql, params))[0]!.n);

  /** While `work` runs, inserting an audit row of `type` for `accountId` (any account when null) fails. */
  async function withAuditFault<T>(type: string, accountId: string | null, work: () => Promise<T>): Promise<T> {
    const name = `h2_fault_${randomBytes(4).toString('hex')}`;
    await query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = '${type}' AND (${accountId === null ? 'true' : `NEW.account_id = '${accountId}'`}) THEN
          RAISE EXCEPTION 'simulated failure after the first write';
        END IF;
        RETURN NEW;
      END $$`);
    await query(`CREATE TRIGGER ${name} BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION ${name}()`);
    try {
      return await work();
    } finally {
      await query(`DROP TRIGGER ${name} ON audit_event`);
      await query(`DROP FUNCTION ${name}()`);
    }
  }

  describe('H2: a failure after the first write leaves nothing behind', () => {
    it('H2: registration: no account, no code, no email when its last write fails', async () => {
      const email = newEmail();
      const journeyId = await withAuditFault('account.created', null, async () => {
        const { journey, page } = await startRegistration(test);
        const failed = await enterDetails(journey, page, { email });
        expect(failed.status).to.be.at.least(500);
        return journey.uid;
      });
      expect(await count('SELECT count(*) AS n FROM account WHERE email_normalised = lower($1)', [email]), 'account rows').to.equal(0);
      expect(await count('SELECT count(*) AS n FROM outbox_message WHERE lower(recipient) = lower($1)', [email]), 'outbox rows').to.equal(0);
      expect(await count('SELECT count(*) AS n FROM security_code WHERE journey_id = $1', [journeyId]), 'no confirmation code').to.equal(0);

      // Without the fault the same address registers normally.
      const { journey, page } = await startRegistration(test);
      expect(heading(await enterDetails(journey, page, { email }))).to.equal('Check your email');
      expect(await count('SELECT count(*) AS n FROM account WHERE email_normalised = lower($1)', [email])).to.equal(1);
    });

    it('H2: MFA change: adding or removing an authenticator app is all or nothing', async () => {
      const account = await createAccount(test);
      const apps = test.idp.services.authenticatorApps;
      const then = Math.floor(Date.now() / 1000) - 120;
      const { secret } = apps.begin(account.id, 'test', then);
      const code = await generate({ secret, epoch: then });
      const added = await withAuditFault('authenticator_app.added', account.id, () => apps.add(account, secret, code, { ip: '127.0.0.1' }, then).then(() => 'added', (error: Error) => error.message));
      expect(added).to.include('simulated failure');
      const [row] = await query<{ authenticator_secret: string | null }>('SELECT authenticator_secret FROM account WHERE id = $1', [account.id]);
      expect(row!.authenticator_secret, 'no half-added app').to.equal(null);
      expect(await count(`SELECT count(*) AS n FROM outbox_message WHERE account_id = $1 AND template LIKE 'authenticator%'`, [account.id]), 'no "app added" email').to.equal(0);

      // Added for real, then a failed removal leaves it in place.
      const kept = await addAuthenticatorApp(test, account);
      const removed = await withAuditFault('authenticator_app.removed', account.id, () => apps.remove(account, { ip: '127.0.0.1' }).then(() => 'removed', (error: Error) => error.message));
      expect(removed).to.include('simulated failure');
      const [after] = await query<{ authenticator_secret: string | null }>('SELECT authenticator_secret FROM account WHERE id = $1', [account.id]);
      expect(after!.authenticator_secret, 'the app is still there').to.be.a('string');
      expect(await appCode(kept)).to.match(/^\d{6}$/);
      expect(await count(`SELECT count(*) AS n FROM outbox_message WHERE account_id = $1 AND template = 'authenticator-app-removed'`, [account.id])).to.equal(0);
    });

    it('H2: proofing decision: no P9 without its case decision, audit rows and email', async () => {
      const { account: reviewer } = await createReviewer(test);
      const patient = await patientWithCase(test);
      const result = await withAuditFault('identity.proofed', patient.accountId, () =>
        test.idp.services.photoIdCases.decide({ caseId: patient.caseId, reviewerAccountId: reviewer.id, decision: 'approved' }).then((r) => r, (error: Error) => error.message),
      );
      expect(result).to.include('simulated failure');
      const [account] = await query<{ proofing_level: string }>('SELECT proofing_level FROM account WHERE id = $1', [patient.accountId]);
      expect(account!.proofing_level, 'the level did not change').to.equal('P5');
      expect((await test.idp.services.photoIdCases.get(patient.caseId))!.status, 'the case is still awaiting review').to.equal('awaiting_review');
      expect(await count(`SELECT count(*) AS n FROM audit_event WHERE account_id = $1 AND type = 'identity.case_approved'`, [patient.accountId])).to.equal(0);
      expect(await count(`SELECT count(*) AS n FROM outbox_message WHERE account_id = $1 AND template = 'identity-check-outcome'`, [patient.accountId])).to.equal(0);

      // Decided again without the fault: all of it at once.
      expect(await test.idp.services.photoIdCases.decide({ caseId: patient.caseId, reviewerAccountId: reviewer.id, decision: 'approved' })).to.equal('decided');
      const [raised] = await query<{ proofing_level: string }>('SELECT proofing_level FROM account WHERE id = $1', [patient.accountId]);
      expect(raised!.proofing_level).to.equal('P9');
      expect(await count(`SELECT count(*) AS n FROM audit_event WHERE account_id = $1 AND type IN ('identity.case_approved', 'identity.proofed')`, [patient.accountId])).to.equal(2);
    });

    it('H2: account deletion over HTTP: a failure at its last write keeps the account, its sessions and its sign-in whole', async () => {
      const account = await createAccount(test);
      const { browser } = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
      const sessionsBefore = await count(`SELECT count(*) AS n FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]);
      expect(sessionsBefore).to.be.at.least(1);
      const confirm = await browser.get(`${test.url}/account/delete`);
      expect(heading(confirm)).to.equal('Delete your carelogin account');
      const failed = await withAuditFault('account.deleted', account.id, () => browser.submit(confirm, { password: TEST_PASSWORD }));
      expect(failed.status).to.be.at.least(500);

      expect(await count('SELECT count(*) AS n FROM account WHERE id = $1', [account.id]), 'the account is still there').to.equal(1);
      expect(await count(`SELECT count(*) AS n FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [account.id]), 'its sessions too').to.equal(sessionsBefore);
      expect(await count(`SELECT count(*) AS n FROM outbox_message WHERE lower(recipient) = lower($1) AND template = 'account-deleted'`, [account.email]), 'no goodbye email for a deletion that did not happen').to.equal(0);
      // And the person still signs in.
      const again = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
      expect(new URL(again.callbackUrl).searchParams.get('code')).to.be.a('string');
    });

    it('H2: acknowledged writes are durable: synchronous_commit and fsync are on, and the schema is never synchronised by TypeORM', async function () {
      expect(test.idp.db.dataSource.options.synchronize, 'TypeORM synchronize').to.equal(false);
      if (test.db.kind !== 'postgres') this.skip(); // PGlite is for development: no server settings to check
      const [commit] = await query<{ synchronous_commit: string }>('SHOW synchronous_commit');
      const [fsync] = await query<{ fsync: string }>('SHOW fsync');
      expect(commit!.synchronous_commit).to.equal('on');
      expect(fsync!.fsync).to.equal('on');
    });
  });

  describe('H3: the audit trail is append-only', () => {
    it('H3: deleting an account keeps its audit rows, and the application can neither change nor delete them', async () => {
      const account = await createAccount(test);
      const { browser } = await signIn(test, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]' } });
      const confirm = await browser.get(`${test.url}/account/delete`);
      const done = await browser.submit(confirm, { password: TEST_PASSWORD });
      expect(heading(done)).to.equal('Your account has been deleted');
      const kept = await query<{ type: string }>('SELECT type FROM audit_event WHERE account_id = $1 ORDER BY id', [account.id]);
      expect(kept.map((r) => r.type), 'the trail outlives the account').to.include.members(['account.signed_in', 'account.deleted']);

      for (const statement of [
        `UPDATE audit_event SET type = 'account.rewritten' WHERE account_id = '${account.id}'`,
        `DELETE FROM audit_event WHERE account_id = '${account.id}'`,
        'TRUNCATE audit_event',
      ]) {
        const refused = await query(statement).then(() => undefined, (error: Error) => error);
        expect(refused, statement).to.be.instanceOf(Error);
        expect(String(refused?.message), statement).to.include('append-only');
      }
      expect((await query<{ type: string }>('SELECT type FROM audit_event WHERE account_id = $1 ORDER BY id', [account.id])).map((r) => r.type)).to.deep.equal(kept.map((r) => r.type));
    });
  });
});

/**
 * H3's backup and restore drill, on PostgreSQL only (PGlite is for development and has no pg_dump):
 * pg_dump the test schema, restore it into a new database, start carelogin on the copy with the same
 * keystore and clients file, and check that existing people and services carry on.
 */
describe('H3: backup and restore drill (PostgreSQL)', function () {
  this.timeout(120_000);
  const url = process.env.DATABASE_URL;

  it('H3: after pg_dump and a restore into a fresh database, a person signs in with password and authenticator app, a refresh token works and the JWKS matches', async function () {
    if (!url) this.skip(); // PostgreSQL only
    const original = await startTestIdp({ rp: { refreshTokens: true } });
    const restoredDatabase = `carelogin_restore_${randomBytes(4).toString('hex')}`;
    let restored: TestIdp | undefined;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // Someone with an authenticator app, and a service holding a refresh token, before the backup.
      const account = await createAccount(original);
      const secret = await addAuthenticatorApp(original, account);
      const before = await signIn(original, { email: account.email, password: TEST_PASSWORD }, { params: { vtr: '["P0.Cp.Cd"]', scope: 'openid offline_access' } });
      const tokens = await original.rp.exchange(before.callbackUrl, before.request);
      expect(tokens.refresh_token).to.be.a('string');
      const jwksBefore = await (await fetch(`${original.url}/.well-known/jwks.json`)).json();

      const schema = original.db.env.DATABASE_SCHEMA!;
      const dumpFile = path.join(original.dataDir, 'backup.sql');
      await run('pg_dump', ['--dbname', url, '--schema', schema, '--no-owner', '--no-privileges', '--file', dumpFile]);
      expect(readFileSync(dumpFile, 'utf8')).to.include('audit_event');

      await admin.query(`CREATE DATABASE ${restoredDatabase}`);
      const restoredUrl = new URL(url);
      restoredUrl.pathname = `/${restoredDatabase}`;
      await run('psql', ['--dbname', restoredUrl.toString(), '--set', 'ON_ERROR_STOP=1', '--quiet', '--file', dumpFile]);

      // A new instance on the copy (migrations run again and find nothing to do), the same keystore and clients.
      const restoredDb: TestDatabase = { env: { DATABASE_URL: restoredUrl.toString(), DATABASE_SCHEMA: schema }, kind: 'postgres', open: original.db.open, drop: async () => undefined };
      restored = await startTestIdp({ db: restoredDb, dataDir: original.dataDir, env: { SEED_PERSONAS: 'false' } });
      await original.close();
      expect(await (await fetch(`${restored.url}/.well-known/jwks.json`)).json(), 'the JWKS matches').to.deep.equal(jwksBefore);

      // Password and authenticator app (its sealed secret opens with the restored keystore).
      const journeyRp = original.rp;
      const request = await journeyRp.authorize({ scope: 'openid', vtr: '["P0.Cp.Ck"]' });
      const browser = new Browser({ stopAt: journeyRp.redirectUri });
      const target = new URL(request.url);
      let page = await browser.get(new URL(`${target.pathname}${target.search}`, restored.url).toString());
      page = await browser.submit(page, { email: account.email });
      page = await browser.submit(page, { password: TEST_PASSWORD });
      expect(heading(page)).to.match(/authenticator app/i);
      page = await browser.submit(page, { code: await appCode(secret) });
      if (!page.callbackUrl) page = await browser.submit(page, {}, { button: 'Continue' });
      expect(page.callbackUrl, 'signed in on the restored copy').to.be.a('string');
      expect(new URL(page.callbackUrl!).searchParams.get('code')).to.be.a('string');

      // The refresh token issued before the backup still works against the copy.
      const config = await oidc.discovery(new URL(restored.url), journeyRp.clientId, { id_token_signed_response_alg: 'RS512', token_endpoint_auth_signing_alg: 'RS512' },
        oidc.PrivateKeyJwt({ key: journeyRp.privateKey, kid: journeyRp.kid }, { [oidc.modifyAssertion]: (_header, payload) => { payload.aud = `${restored!.url}/token`; } }),
        { execute: [oidc.allowInsecureRequests] });
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.access_token).to.be.a('string');
      expect(refreshed.refresh_token).to.be.a('string').and.not.equal(tokens.refresh_token);
    } finally {
      await restored?.close();
      await original.close().catch(() => undefined);
      await original.db.drop();
      await admin.query(`DROP DATABASE IF EXISTS ${restoredDatabase} WITH (FORCE)`);
      await admin.end();
    }
  });
});
