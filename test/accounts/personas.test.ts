import { expect } from 'chai';
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config/index.js';
import { createPasswordHasher } from '../../src/accounts/password-hasher.js';
import { checkPassword } from '../../src/accounts/password-policy.js';
import { isTestNhsNumber } from '../../src/accounts/nhs-number.js';
import { BACK_OFFICE_PERSONAS, PERSONA_PASSWORD, PERSONAS, REVIEWER_PERSONA, SUPPORT_PERSONA, seedPersonas } from '../../src/accounts/personas.js';
import { openAuthenticatorSecret } from '../../src/accounts/authenticator-app.js';
import { generate } from 'otplib';
import { createAccountService } from '../../src/accounts/account-service.js';
import { createAttemptCounters, lockoutKeys, passwordPolicy } from '../../src/security/attempt-counters.js';
import type { Database } from '../../src/db/data-source.js';
import { createLogger } from '../../src/logger.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../helpers/database.js';

/** The keystore's HMAC secret stands in for the authenticator app's sealing key. */
const HMAC_KEYS = 'personas-test-hmac-secret-0123456789';

describe('personas', () => {
  const byKey = (key: 'p0' | 'p5' | 'p9') => PERSONAS.find((p) => p.key === key)!;

  describe('data', () => {
    it('has one persona per proofing level with .test emails and one shared password that passes the policy', () => {
      expect(PERSONAS.map((p) => [p.key, p.proofingLevel])).to.deep.equal([['p0', 'P0'], ['p5', 'P5'], ['p9', 'P9']]);
      for (const persona of PERSONAS) {
        expect(persona.email).to.equal(`${persona.key}.persona@carelogin.test`);
        expect(persona.password).to.equal(PERSONA_PASSWORD);
        expect(checkPassword(persona.password, { email: persona.email }), persona.key).to.equal(null);
        expect(persona.description).to.match(new RegExp(`^${persona.proofingLevel}:`));
      }
    });

    it('uses UK numbers that libphonenumber classifies as MOBILE, outside the Ofcom drama range', () => {
      for (const persona of PERSONAS) {
        const phone = parsePhoneNumberWithError(persona.mobileNumber);
        expect(phone.number, persona.key).to.equal(persona.mobileNumber); // E.164 as stored
        expect(phone.country).to.equal('GB');
        expect(phone.isValid()).to.equal(true);
        expect(phone.getType(), persona.key).to.equal('MOBILE');
        expect(persona.mobileNumber).to.not.match(/^\+447700900/);
      }
      expect(new Set(PERSONAS.map((p) => p.mobileNumber)).size).to.equal(3);
    });

    it('gives P0 only an email and a mobile', () => {
      const p0 = byKey('p0');
      for (const field of ['nhsNumber', 'givenName', 'familyName', 'birthdate', 'postcode', 'gpOdsCode', 'gpUserId', 'gpLinkageKey'] as const) {
        expect(p0[field], field).to.equal(undefined);
      }
      expect(p0.phoneNumberPdsMatched ?? false).to.equal(false);
    });

    it('gives P5 a test-range NHS number, family name, birth date, postcode and GP ODS code, but no GP credentials', () => {
      const p5 = byKey('p5');
      expect(isTestNhsNumber(p5.nhsNumber)).to.equal(true);
      expect(p5.familyName).to.be.a('string').and.not.equal('');
      expect(p5.birthdate).to.match(/^\d{4}-\d{2}-\d{2}$/);
      expect(p5.postcode).to.match(/^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$/);
      expect(p5.gpOdsCode).to.match(/^[A-Z]\d{5}$/);
      expect(p5.gpUserId).to.equal(undefined);
      expect(p5.gpLinkageKey).to.equal(undefined);
    });

    it('gives P9 everything P5 has plus a given name, GP user id, a 13-character linkage key and a PDS-matched phone', () => {
      const p9 = byKey('p9');
      expect(isTestNhsNumber(p9.nhsNumber)).to.equal(true);
      expect(p9.nhsNumber).to.not.equal(byKey('p5').nhsNumber);
      expect(p9.givenName).to.be.a('string').and.not.equal('');
      expect(p9.familyName).to.be.a('string').and.not.equal('');
      expect(p9.birthdate).to.match(/^\d{4}-\d{2}-\d{2}$/);
      expect(p9.postcode).to.match(/^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$/);
      expect(p9.gpOdsCode).to.match(/^[A-Z]\d{5}$/);
      expect(p9.gpUserId).to.match(/^\d{10}$/);
      expect(p9.gpLinkageKey).to.match(/^[A-Za-z0-9]{13}$/);
      expect(p9.phoneNumberPdsMatched).to.equal(true);
    });

    it('is documented in docs/personas.md (emails, password, fixed code, NHS numbers)', () => {
      const doc = readFileSync(path.join(PROJECT_ROOT, 'docs', 'personas.md'), 'utf8');
      expect(doc).to.include(PERSONA_PASSWORD);
      expect(doc).to.include('190696');
      for (const persona of PERSONAS) {
        expect(doc).to.include(persona.email);
        if (persona.nhsNumber) expect(doc).to.include(persona.nhsNumber);
        if (persona.gpLinkageKey) expect(doc).to.include(persona.gpLinkageKey);
      }
      for (const staff of BACK_OFFICE_PERSONAS) {
        expect(doc).to.include(staff.email);
        expect(doc).to.include(staff.authenticatorSecret);
      }
    });

    it('gives the reviewer a .test email, a mobile, the shared password and a base32 authenticator key of 160 bits', () => {
      expect(REVIEWER_PERSONA.email).to.equal('reviewer.persona@carelogin.test');
      expect(REVIEWER_PERSONA.password).to.equal(PERSONA_PASSWORD);
      expect(parsePhoneNumberWithError(REVIEWER_PERSONA.mobileNumber).getType()).to.equal('MOBILE');
      expect(PERSONAS.map((p) => p.mobileNumber)).to.not.include(REVIEWER_PERSONA.mobileNumber);
      expect(REVIEWER_PERSONA.authenticatorSecret).to.match(/^[A-Z2-7]{32}$/);
    });

    it('gives the support persona the support role, its own mobile and its own base32 authenticator key of 160 bits', () => {
      expect(SUPPORT_PERSONA).to.deep.include({ email: 'support.persona@carelogin.test', role: 'support', password: PERSONA_PASSWORD });
      expect(parsePhoneNumberWithError(SUPPORT_PERSONA.mobileNumber).getType()).to.equal('MOBILE');
      expect([...PERSONAS.map((p) => p.mobileNumber), REVIEWER_PERSONA.mobileNumber]).to.not.include(SUPPORT_PERSONA.mobileNumber);
      expect(SUPPORT_PERSONA.authenticatorSecret).to.match(/^[A-Z2-7]{32}$/).and.not.equal(REVIEWER_PERSONA.authenticatorSecret);
    });
  });

  describe('seeding', () => {
    let testDb: TestDatabase;
    let db: Database;
    let config: Config;
    const logger = createLogger({ level: 'silent' });

    before(async () => {
      testDb = await createTestDatabase();
      config = testConfig(testDb.env);
      db = await testDb.open(config);
    });

    after(async () => {
      await db?.close();
      await testDb?.drop();
    });

    it('creates the three personas, the reviewer and the support persona, verified, with a working password, and is idempotent', async () => {
      const hasher = createPasswordHasher(config);
      await seedPersonas({ dataSource: db.dataSource, hasher, config, logger, hmacKeys: HMAC_KEYS });
      const first: Record<string, unknown>[] = await db.dataSource.query('SELECT * FROM account ORDER BY test_persona');
      await seedPersonas({ dataSource: db.dataSource, hasher, config, logger, hmacKeys: HMAC_KEYS });
      const second: Record<string, unknown>[] = await db.dataSource.query('SELECT * FROM account ORDER BY test_persona');

      expect(second).to.have.length(5);
      expect(second.map((r) => r.id)).to.deep.equal(first.map((r) => r.id));
      expect(second.map((r) => r.password_hash)).to.deep.equal(first.map((r) => r.password_hash));
      expect(second.map((r) => String(r.email_verified_at))).to.deep.equal(first.map((r) => String(r.email_verified_at)));

      const accounts = createAccountService(db.dataSource);
      for (const persona of PERSONAS) {
        const account = await accounts.findByEmail(persona.email);
        expect(account, persona.key).to.not.equal(null);
        expect(account!.testPersona).to.equal(persona.key);
        expect(account!.proofingLevel).to.equal(persona.proofingLevel);
        expect(account!.emailVerifiedAt).to.be.instanceOf(Date);
        expect(account!.mobileVerifiedAt).to.be.instanceOf(Date);
        expect(account!.mobileNumber).to.equal(persona.mobileNumber);
        expect(account!.nhsNumber).to.equal(persona.nhsNumber ?? null);
        expect(account!.givenName).to.equal(persona.givenName ?? null);
        expect(account!.familyName).to.equal(persona.familyName ?? null);
        expect(account!.birthdate).to.equal(persona.birthdate ?? null);
        expect(account!.postcode).to.equal(persona.postcode ?? null);
        expect(account!.gpOdsCode).to.equal(persona.gpOdsCode ?? null);
        expect(account!.gpUserId).to.equal(persona.gpUserId ?? null);
        expect(account!.gpLinkageKey).to.equal(persona.gpLinkageKey ?? null);
        expect(account!.phoneNumberPdsMatched).to.equal(persona.phoneNumberPdsMatched ?? false);
        expect(account!.status).to.equal('active');
        expect(await hasher.verify(account!.passwordHash, PERSONA_PASSWORD)).to.equal(true);
      }
    });

    it('seeds the reviewer with the reviewer role and the documented authenticator key, sealed, kept across restarts', async () => {
      const hasher = createPasswordHasher(config);
      const reviewer = async () => (await createAccountService(db.dataSource).findByEmail(REVIEWER_PERSONA.email))!;
      const first = await reviewer();
      expect(first.backOfficeRole).to.equal('reviewer');
      expect(first.testPersona).to.equal('reviewer');
      expect(first.authenticatorSecret).to.be.a('string').and.not.include(REVIEWER_PERSONA.authenticatorSecret);
      expect(openAuthenticatorSecret(HMAC_KEYS, first.id, first.authenticatorSecret!)).to.equal(REVIEWER_PERSONA.authenticatorSecret);
      expect(await hasher.verify(first.passwordHash, PERSONA_PASSWORD)).to.equal(true);
      expect(await generate({ secret: REVIEWER_PERSONA.authenticatorSecret })).to.match(/^\d{6}$/);
      // A restart keeps the app as it is (the step last used still counts); a lost role or app comes back.
      await db.dataSource.query(`UPDATE account SET authenticator_last_step = 42 WHERE id = $1`, [first.id]);
      await seedPersonas({ dataSource: db.dataSource, hasher, config, logger, hmacKeys: HMAC_KEYS });
      expect(await reviewer()).to.deep.include({ authenticatorSecret: first.authenticatorSecret, authenticatorLastStep: 42 });
      await db.dataSource.query(`UPDATE account SET back_office_role = NULL, authenticator_secret = NULL, authenticator_added_at = NULL WHERE id = $1`, [first.id]);
      await seedPersonas({ dataSource: db.dataSource, hasher, config, logger, hmacKeys: HMAC_KEYS });
      const again = await reviewer();
      expect(again.backOfficeRole).to.equal('reviewer');
      expect(openAuthenticatorSecret(HMAC_KEYS, again.id, again.authenticatorSecret!)).to.equal(REVIEWER_PERSONA.authenticatorSecret);
    });

    it('seeds the support persona with the support role and its documented authenticator key, and puts a lost role back', async () => {
      const hasher = createPasswordHasher(config);
      const support = async () => (await createAccountService(db.dataSource).findByEmail(SUPPORT_PERSONA.email))!;
      const first = await support();
      expect(first).to.deep.include({ backOfficeRole: 'support', testPersona: 'support', status: 'active' });
      expect(openAuthenticatorSecret(HMAC_KEYS, first.id, first.authenticatorSecret!)).to.equal(SUPPORT_PERSONA.authenticatorSecret);
      await db.dataSource.query(`UPDATE account SET back_office_role = 'reviewer' WHERE id = $1`, [first.id]);
      await seedPersonas({ dataSource: db.dataSource, hasher, config, logger, hmacKeys: HMAC_KEYS });
      expect((await support()).backOfficeRole).to.equal('support');
    });

    it('puts a changed persona back to its documented state and lifts its lockouts', async () => {
      const p9 = byKey('p9');
      await db.dataSource.query(`UPDATE account SET proofing_level = 'P0', nhs_number = NULL, status = 'disabled' WHERE email_normalised = $1`, [p9.email]);
      const [{ id }]: { id: string }[] = await db.dataSource.query('SELECT id FROM account WHERE email_normalised = $1', [p9.email]);
      const counters = createAttemptCounters(db.dataSource, config);
      for (let i = 0; i < config.limits.passwordAttempts; i++) await counters.recordFailure(lockoutKeys.password(id), passwordPolicy(config));
      expect((await counters.status(lockoutKeys.password(id))).locked).to.equal(true);

      await seedPersonas({ dataSource: db.dataSource, hasher: createPasswordHasher(config), config, logger, hmacKeys: HMAC_KEYS });
      const account = await createAccountService(db.dataSource).findById(id);
      expect(account!.proofingLevel).to.equal('P9');
      expect(account!.nhsNumber).to.equal(p9.nhsNumber);
      expect(account!.status).to.equal('active');
      expect((await counters.status(lockoutKeys.password(id))).locked).to.equal(false);
    });

    it('does nothing when seeding is switched off', async () => {
      const off = testConfig({ ...testDb.env, SEED_PERSONAS: 'false' });
      await db.dataSource.query('DELETE FROM account');
      await seedPersonas({ dataSource: db.dataSource, hasher: createPasswordHasher(off), config: off, logger, hmacKeys: HMAC_KEYS });
      expect(await db.dataSource.query('SELECT id FROM account')).to.have.length(0);
    });

    it('refuses to run in production', async () => {
      const production: Config = { ...config, mode: 'production', personas: { seed: true } };
      let error: unknown;
      try {
        await seedPersonas({ dataSource: db.dataSource, hasher: createPasswordHasher(config), config: production, logger, hmacKeys: HMAC_KEYS });
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(Error);
      expect(await db.dataSource.query('SELECT id FROM account')).to.have.length(0);
    });
  });
});
