import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { normaliseEmail, type BackOfficeRole } from '../../entities/account.js';
import { lockoutKeys } from '../security/attempt-counters.js';
import type { HmacKeys } from '../security/hmac-key-ring.js';
import { openAuthenticatorSecret, sealAuthenticatorSecret } from './authenticator-app.js';
import type { PasswordHasher } from './password-hasher.js';

/**
 * Development and test personas, one per proofing level, in the spirit of NHS login's sandpit
 * users (nhs-login.md §5.5). Never seeded in production (config refuses SEED_PERSONAS there, and
 * seedPersonas refuses again). docs/personas.md documents them; keep the two in step.
 *
 * All the data is fictional and safe to publish: .test email addresses (RFC 2606), NHS numbers
 * from the 999 test range with valid check digits, UK mobile numbers that libphonenumber accepts
 * as mobiles (test/accounts/personas.test.ts checks every field).
 */
export interface Persona {
  key: 'p0' | 'p5' | 'p9';
  email: string;
  password: string;
  proofingLevel: 'P0' | 'P5' | 'P9';
  mobileNumber: string;
  /** E.164; released with the `landline` scope. */
  landlineNumber?: string;
  nhsNumber?: string;
  givenName?: string;
  familyName?: string;
  birthdate?: string;
  postcode?: string;
  gpOdsCode?: string;
  gpUserId?: string;
  gpLinkageKey?: string;
  phoneNumberPdsMatched?: boolean;
  description: string;
}

/**
 * test_persona of a test user made on request (`npm run test-users`, /dev/test-users; src/test-users,
 * decisions D27): test data like the personas (production refuses a database holding any, A8), but
 * never reset by seeding. The fixed security code is theirs only when they were made with it, which
 * the second mark says, so the sign-in reads it from the account row it already has (D9).
 */
export const TEST_USER_MARK = 'test-user';
export const TEST_USER_FIXED_CODE_MARK = 'test-user-fixed-code';

/** Whether an account with this test_persona may be sent the fixed security code (outside production only; callers check that). */
export function acceptsFixedCode(testPersona: string | null | undefined): boolean {
  return Boolean(testPersona) && testPersona !== TEST_USER_MARK;
}

/** The one documented persona password: passes the password policy, printed in docs/personas.md. */
export const PERSONA_PASSWORD = 'kettle-meadow-lantern-7';

export const PERSONAS: readonly Persona[] = Object.freeze([
  {
    key: 'p0',
    email: 'p0.persona@carelogin.test',
    password: PERSONA_PASSWORD,
    proofingLevel: 'P0',
    mobileNumber: '+447912345100',
    description: 'P0: confirmed email address and mobile number only; no identity checks. Gets openid, email and phone claims.',
  },
  {
    key: 'p5',
    email: 'p5.persona@carelogin.test',
    password: PERSONA_PASSWORD,
    proofingLevel: 'P5',
    mobileNumber: '+447912345500',
    nhsNumber: '9990005001',
    familyName: 'Okafor',
    birthdate: '1985-07-14',
    postcode: 'LS1 4AP',
    gpOdsCode: 'B85036',
    description: 'P5: claimed identity matched on NHS number, family name, date of birth and postcode. Adds profile, basic_demographics and gp_registration_details.',
  },
  {
    key: 'p9',
    email: 'p9.persona@carelogin.test',
    password: PERSONA_PASSWORD,
    proofingLevel: 'P9',
    mobileNumber: '+447912345900',
    // Ofcom's range for drama (01632 960xxx): never a real line.
    landlineNumber: '+441632960123',
    nhsNumber: '9990009007',
    givenName: 'Eleanor',
    familyName: 'Whitfield',
    birthdate: '1962-03-21',
    postcode: 'NE1 7RU',
    gpOdsCode: 'A20047',
    gpUserId: '9422356112',
    gpLinkageKey: 'Hf3kPzQ9mWd2T',
    phoneNumberPdsMatched: true,
    description: 'P9: verified identity with GP online (IM1) credentials and a PDS-matched mobile. Adds profile_extended and gp_integration_credentials.',
  },
].map((persona) => Object.freeze(persona as Persona)));

/**
 * The back office's staff personas (docs/back-office.md): accounts with a back_office_role and an
 * authenticator app whose key is fixed and published in docs/personas.md, so a developer can add it
 * to any authenticator app and sign in to /back-office. Not patients: no identity details.
 */
export interface BackOfficePersona {
  readonly key: BackOfficeRole;
  readonly role: BackOfficeRole;
  readonly email: string;
  readonly password: string;
  readonly mobileNumber: string;
  readonly givenName: string;
  readonly familyName: string;
  /** Base32 TOTP key (SHA-1, 6 digits, 30 seconds), as an authenticator app takes it. */
  readonly authenticatorSecret: string;
  readonly description: string;
}

export type ReviewerPersona = BackOfficePersona;

export const REVIEWER_PERSONA: BackOfficePersona = Object.freeze({
  key: 'reviewer',
  role: 'reviewer',
  email: 'reviewer.persona@carelogin.test',
  password: PERSONA_PASSWORD,
  mobileNumber: '+447912345700',
  givenName: 'Rowan',
  familyName: 'Reviewer',
  authenticatorSecret: 'MNQXEZLMN5TWS3RNOJSXM2LFO5SXELJR',
  description: 'Back office reviewer: signs in to /back-office with the password and a code from the authenticator app (fixed key).',
});

/** The support desk's persona (/back-office/accounts): finds accounts, lifts locks, disables and enables them. */
export const SUPPORT_PERSONA: BackOfficePersona = Object.freeze({
  key: 'support',
  role: 'support',
  email: 'support.persona@carelogin.test',
  password: PERSONA_PASSWORD,
  mobileNumber: '+447912345701',
  givenName: 'Sasha',
  familyName: 'Support',
  authenticatorSecret: 'MNQXEZLMN5TWS3RNON2XA4DPOJ2C2MBR',
  description: 'Support desk: signs in to /back-office/accounts with the password and a code from the authenticator app (fixed key).',
});

export const BACK_OFFICE_PERSONAS: readonly BackOfficePersona[] = [REVIEWER_PERSONA, SUPPORT_PERSONA];

/** Idempotently creates/updates the three personas (test_persona = key); never in production. */
export async function seedPersonas(deps: { dataSource: DataSource; hasher: PasswordHasher; config: Config; logger: Logger; hmacKeys: HmacKeys }): Promise<void> {
  const { dataSource, hasher, config, logger } = deps;
  if (config.mode === 'production') throw new ConfigError('personas are never seeded in production');
  if (!config.personas.seed) {
    logger.debug('persona seeding is switched off');
    return;
  }

  // Keep an existing hash when it still matches: re-seeding on every start should not churn
  // rows, and a hash made with today's parameters stays put. Done before the transaction so the
  // slow hashing never holds it open.
  const existing: { email_normalised: string; password_hash: string | null }[] = await dataSource.query(
    'SELECT email_normalised, password_hash FROM account WHERE email_normalised = ANY($1::text[])',
    [PERSONAS.map((p) => normaliseEmail(p.email))],
  );
  const hashes = new Map<string, string>();
  for (const persona of PERSONAS) {
    const key = normaliseEmail(persona.email);
    const stored = existing.find((row) => row.email_normalised === key)?.password_hash ?? null;
    hashes.set(persona.key, stored !== null && (await hasher.verify(stored, persona.password)) ? stored : await hasher.hash(persona.password));
  }

  const staffHashes = new Map<string, string>();
  for (const persona of BACK_OFFICE_PERSONAS) {
    const [row]: { password_hash: string | null }[] = await dataSource.query('SELECT password_hash FROM account WHERE email_normalised = $1', [normaliseEmail(persona.email)]);
    staffHashes.set(persona.key, row?.password_hash && (await hasher.verify(row.password_hash, persona.password)) ? row.password_hash : await hasher.hash(persona.password));
  }

  await dataSource.transaction(async (manager) => {
    for (const persona of PERSONAS) {
      // Every persona field is reset to its documented value (like NHS login's "New Level" reset of
      // test accounts), so a persona changed while testing comes back as the docs describe it.
      const [row]: { id: string }[] = await manager.query(
        `INSERT INTO account (email, email_normalised, email_verified_at, password_hash, mobile_number, mobile_verified_at,
           phone_number_pds_matched, proofing_level, nhs_number, given_name, family_name, birthdate, postcode,
           gp_ods_code, gp_user_id, gp_linkage_key, test_persona, landline_number, landline_verified_at, status)
         VALUES ($1, $2, now(), $3, $4, now(), $5, $6, $7, $8, $9, $10::date, $11, $12, $13, $14, $15, $16, CASE WHEN $16::varchar IS NULL THEN NULL ELSE now() END, 'active')
         ON CONFLICT (email_normalised) DO UPDATE SET
           email = EXCLUDED.email,
           email_verified_at = COALESCE(account.email_verified_at, EXCLUDED.email_verified_at),
           password_hash = EXCLUDED.password_hash,
           mobile_number = EXCLUDED.mobile_number,
           mobile_verified_at = CASE WHEN account.mobile_number = EXCLUDED.mobile_number AND account.mobile_verified_at IS NOT NULL
                                     THEN account.mobile_verified_at ELSE EXCLUDED.mobile_verified_at END,
           phone_number_pds_matched = EXCLUDED.phone_number_pds_matched,
           proofing_level = EXCLUDED.proofing_level,
           nhs_number = EXCLUDED.nhs_number,
           given_name = EXCLUDED.given_name,
           family_name = EXCLUDED.family_name,
           birthdate = EXCLUDED.birthdate,
           postcode = EXCLUDED.postcode,
           gp_ods_code = EXCLUDED.gp_ods_code,
           gp_user_id = EXCLUDED.gp_user_id,
           gp_linkage_key = EXCLUDED.gp_linkage_key,
           test_persona = EXCLUDED.test_persona,
           landline_number = EXCLUDED.landline_number,
           landline_verified_at = EXCLUDED.landline_verified_at,
           status = 'active',
           updated_at = now()
         RETURNING id`,
        [
          persona.email,
          normaliseEmail(persona.email),
          hashes.get(persona.key),
          persona.mobileNumber,
          persona.phoneNumberPdsMatched ?? false,
          persona.proofingLevel,
          persona.nhsNumber ?? null,
          persona.givenName ?? null,
          persona.familyName ?? null,
          persona.birthdate ?? null,
          persona.postcode ?? null,
          persona.gpOdsCode ?? null,
          persona.gpUserId ?? null,
          persona.gpLinkageKey ?? null,
          persona.key,
          persona.landlineNumber ?? null,
        ],
      );
      // A restart also lifts lockouts a developer ran into while testing with the persona.
      // An authenticator app set up on a persona is kept (it lives on the developer's phone).
      const keys = lockoutKeys.ofAccount(row.id);
      await manager.query(`DELETE FROM attempt_counter WHERE key = ANY($1::text[]) OR key LIKE $2`, [keys.exact, keys.pattern]);
    }
    for (const persona of BACK_OFFICE_PERSONAS) await seedBackOfficePersona(manager, deps.hmacKeys, persona, staffHashes.get(persona.key)!);
  });
  logger.info({ personas: [...PERSONAS.map((p) => p.key), ...BACK_OFFICE_PERSONAS.map((p) => p.key)] }, 'test personas seeded (development and test only)');
}

/**
 * Production refuses to start on a database holding persona accounts (security-bar A8: no default
 * accounts). Their passwords, and the back-office personas' authenticator keys, are published in
 * docs/personas.md, so a database once used in development must not carry them into production.
 */
export async function refusePersonasInProduction(dataSource: DataSource, config: Config): Promise<void> {
  if (config.mode !== 'production') return;
  // Test users (D27) carry the mark too; a test user's record left without its marked account counts as well.
  const rows: { n: string | number }[] = await dataSource.query(
    `SELECT (SELECT count(*) FROM account WHERE test_persona IS NOT NULL)
          + (SELECT count(*) FROM test_user t WHERE NOT EXISTS (SELECT 1 FROM account a WHERE a.id = t.account_id AND a.test_persona IS NOT NULL)) AS n`,
  );
  const count = Number(rows[0]?.n ?? 0);
  if (count > 0) {
    throw new ConfigError(`this database holds ${count} test persona account(s) (personas and test users), whose credentials are published or known; delete them (DELETE FROM test_user; DELETE FROM account WHERE test_persona IS NOT NULL) before running in production`);
  }
}

/**
 * A back-office persona: reset to its documented values like the others, with its role and its
 * fixed authenticator app. An app already holding the fixed key is kept as it is (across restarts,
 * as for the other personas), so the step it last accepted still refuses a replayed code.
 */
async function seedBackOfficePersona(manager: EntityManager, hmacKeys: HmacKeys, persona: BackOfficePersona, passwordHash: string): Promise<void> {
  const [row]: { id: string; authenticator_secret: string | null }[] = await manager.query(
    `INSERT INTO account (email, email_normalised, email_verified_at, password_hash, mobile_number, mobile_verified_at, proofing_level,
       given_name, family_name, test_persona, back_office_role, status)
     VALUES ($1, $2, now(), $3, $4, now(), 'P0', $5, $6, $7, $8, 'active')
     ON CONFLICT (email_normalised) DO UPDATE SET
       email = EXCLUDED.email,
       email_verified_at = COALESCE(account.email_verified_at, EXCLUDED.email_verified_at),
       password_hash = EXCLUDED.password_hash,
       mobile_number = EXCLUDED.mobile_number,
       mobile_verified_at = COALESCE(account.mobile_verified_at, EXCLUDED.mobile_verified_at),
       given_name = EXCLUDED.given_name,
       family_name = EXCLUDED.family_name,
       test_persona = EXCLUDED.test_persona,
       back_office_role = EXCLUDED.back_office_role,
       status = 'active',
       updated_at = now()
     RETURNING id, authenticator_secret`,
    [persona.email, normaliseEmail(persona.email), passwordHash, persona.mobileNumber, persona.givenName, persona.familyName, persona.key, persona.role],
  );
  if (!row) throw new ConfigError(`the ${persona.key} persona was not seeded`);
  const held = row.authenticator_secret ? openAuthenticatorSecret(hmacKeys, row.id, row.authenticator_secret) : undefined;
  if (held !== persona.authenticatorSecret) {
    await manager.query(`UPDATE account SET authenticator_secret = $2, authenticator_added_at = now(), authenticator_last_step = NULL WHERE id = $1`, [row.id, sealAuthenticatorSecret(hmacKeys, row.id, persona.authenticatorSecret)]);
  }
  const keys = lockoutKeys.ofAccount(row.id);
  await manager.query(`DELETE FROM attempt_counter WHERE key = ANY($1::text[]) OR key LIKE $2`, [keys.exact, keys.pattern]);
}
