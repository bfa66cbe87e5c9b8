import type { DataSource, EntityManager } from 'typeorm';
import { normaliseEmail, type ProofingLevel } from '../../entities/account.js';
import type { PasswordHasher } from '../accounts/password-hasher.js';
import { PERSONA_PASSWORD, TEST_USER_FIXED_CODE_MARK, TEST_USER_MARK } from '../accounts/personas.js';
import { deleteAccountRows } from '../account/store.js';
import type { Config } from '../config/index.js';
import { isUniqueViolation, queryRows } from '../db/sql.js';
import type { PatientRecord } from '../demographics/patient-demographics.js';
import { ConfigError } from '../errors.js';
import { lockoutKeys } from '../security/attempt-counters.js';
import type { Audit } from '../security/audit.js';
import type { KeyedDigest } from '../security/keyed-digest.js';
import {
  randomBirthdate,
  randomFamilyName,
  randomGivenName,
  randomGpOdsCode,
  randomGpOnlineCredentials,
  randomPostcode,
  testUserEmail,
  unusedDramaMobile,
  unusedTestNhsNumber,
  DRAMA_MOBILE_PREFIX,
} from './generate.js';
import { TEST_USER_MESSAGES, TestUserRequestError, type TestUserRequest } from './request.js';

/**
 * Test users on request (NHS login's test-data request tool, nhs-login.md §5.5 and §7; decisions
 * D27): the one implementation behind `npm run test-users` and /dev/test-users. A test user is an
 * ordinary account marked as test data (test_persona, as the personas are) plus its test_user row,
 * the details it was made with. Never in production: the factory refuses, as persona seeding does.
 */
export interface TestUserDetails {
  /** The account's id: the `sub` services receive. */
  readonly id: string;
  readonly email: string;
  /** The level the account has now (`set-level` changes it). */
  readonly level: ProofingLevel;
  /** The level it was made at (`reset` goes back to it). */
  readonly createdLevel: ProofingLevel;
  readonly nhsNumber: string;
  readonly givenName: string;
  readonly familyName: string;
  readonly birthdate: string;
  readonly postcode: string;
  readonly mobile: string;
  readonly gpOdsCode: string;
  readonly gpUserId: string | null;
  readonly gpLinkageKey: string | null;
  readonly phonePdsMatched: boolean;
  readonly fixedCode: boolean;
  readonly inRegister: boolean;
  readonly status: 'active' | 'disabled';
  readonly createdAt: string;
}

/** Who asked, for the audit trail: the operator at the command line, or the development page or API (with the client's IP). */
export type TestUserActor = { readonly by: 'operator' } | { readonly by: 'dev-page' | 'dev-api'; readonly ip: string };

export interface TestUsers {
  /** Makes a test user; the password is returned once (it is stored only as a hash). */
  add(request: TestUserRequest, actor: TestUserActor): Promise<{ testUser: TestUserDetails; password: string }>;
  list(): Promise<TestUserDetails[]>;
  /** The test user with this email address; undefined for no account or an account that is not a test user. */
  find(email: string): Promise<TestUserDetails | undefined>;
  /** NHS login's "New Level": the account's level and the details that level releases, up or down. */
  setLevel(email: string, level: ProofingLevel, actor: TestUserActor): Promise<TestUserDetails | undefined>;
  /** Back to how it was made: level, details, mobile, password; no app, passkeys or recovery codes; locks lifted; enabled. */
  reset(email: string, actor: TestUserActor): Promise<TestUserDetails | undefined>;
  /** Deletes the account and everything it holds (as "Delete your account" does); the audit trail stays. */
  remove(email: string, actor: TestUserActor): Promise<boolean>;
}

export interface TestUsersDeps {
  readonly dataSource: DataSource;
  readonly config: Config;
  readonly hasher: PasswordHasher;
  readonly audit: Audit;
  readonly digest: KeyedDigest;
  /** The fake register's own patients (FAKE_PDS_FILE or the built-in ones): their NHS numbers are taken. */
  readonly registerPatients: readonly PatientRecord[];
}

interface TestUserRow {
  id: string;
  email: string;
  proofing_level: ProofingLevel;
  test_persona: string;
  status: 'active' | 'disabled';
  level: ProofingLevel;
  nhs_number: string;
  given_name: string;
  family_name: string;
  birthdate: string;
  postcode: string;
  gp_ods_code: string;
  gp_user_id: string | null;
  gp_linkage_key: string | null;
  mobile_number: string;
  phone_number_pds_matched: boolean;
  in_register: boolean;
  created_at: Date | string;
}

const SELECT_TEST_USERS = `SELECT a.id, a.email, a.proofing_level, a.test_persona, a.status, t.level, t.nhs_number, t.given_name, t.family_name,
    to_char(t.birthdate, 'YYYY-MM-DD') AS birthdate, t.postcode, t.gp_ods_code, t.gp_user_id, t.gp_linkage_key, t.mobile_number,
    t.phone_number_pds_matched, t.in_register, t.created_at
  FROM test_user t JOIN account a ON a.id = t.account_id`;

function toDetails(row: TestUserRow): TestUserDetails {
  return {
    id: row.id,
    email: row.email,
    level: row.proofing_level,
    createdLevel: row.level,
    nhsNumber: row.nhs_number,
    givenName: row.given_name,
    familyName: row.family_name,
    birthdate: String(row.birthdate),
    postcode: row.postcode,
    mobile: row.mobile_number,
    gpOdsCode: row.gp_ods_code,
    gpUserId: row.gp_user_id,
    gpLinkageKey: row.gp_linkage_key,
    phonePdsMatched: row.phone_number_pds_matched,
    fixedCode: row.test_persona === TEST_USER_FIXED_CODE_MARK,
    inRegister: row.in_register,
    status: row.status,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

/**
 * The account's identity columns at a level: none at P0; the patient's details at P5 (and the
 * PDS-matched mobile, which needs a record to match); GP online credentials only at P9, where
 * NHS login releases them.
 */
const SET_LEVEL_SQL = `UPDATE account a SET
    proofing_level = $2::varchar,
    nhs_number = CASE WHEN $2::varchar = 'P0' THEN NULL ELSE t.nhs_number END,
    given_name = CASE WHEN $2::varchar = 'P0' THEN NULL ELSE t.given_name END,
    family_name = CASE WHEN $2::varchar = 'P0' THEN NULL ELSE t.family_name END,
    birthdate = CASE WHEN $2::varchar = 'P0' THEN NULL ELSE t.birthdate END,
    postcode = CASE WHEN $2::varchar = 'P0' THEN NULL ELSE t.postcode END,
    gp_ods_code = CASE WHEN $2::varchar = 'P0' THEN NULL ELSE t.gp_ods_code END,
    gp_user_id = CASE WHEN $2::varchar = 'P9' THEN t.gp_user_id END,
    gp_linkage_key = CASE WHEN $2::varchar = 'P9' THEN t.gp_linkage_key END,
    phone_number_pds_matched = $2::varchar <> 'P0' AND t.phone_number_pds_matched,
    updated_at = now()
  FROM test_user t WHERE t.account_id = a.id AND a.id = $1`;

export function createTestUsers(deps: TestUsersDeps): TestUsers {
  const { dataSource, config, hasher, audit, digest } = deps;
  if (config.mode === 'production') throw new ConfigError('test users are for development and test only; carelogin never makes them in production');
  const registerNhsNumbers = new Set(deps.registerPatients.map((p) => p.nhsNumber));

  async function nhsNumberTaken(nhsNumber: string): Promise<boolean> {
    if (registerNhsNumbers.has(nhsNumber)) return true;
    const rows = await queryRows(dataSource, `SELECT 1 FROM account WHERE nhs_number = $1 UNION ALL SELECT 1 FROM test_user WHERE nhs_number = $1`, [nhsNumber]);
    return rows.length > 0;
  }

  async function findById(db: Pick<EntityManager, 'query'>, id: string): Promise<TestUserDetails | undefined> {
    const [row] = await queryRows<TestUserRow>(db, `${SELECT_TEST_USERS} WHERE a.id = $1`, [id]);
    return row ? toDetails(row) : undefined;
  }

  async function idOf(email: string): Promise<string | undefined> {
    const [row] = await queryRows<{ id: string }>(dataSource, `SELECT a.id FROM account a JOIN test_user t ON t.account_id = a.id WHERE a.email_normalised = $1`, [normaliseEmail(email)]);
    return row?.id;
  }

  function auditDetail(actor: TestUserActor): { by: string } {
    return { by: actor.by };
  }

  function ipOf(actor: TestUserActor): string | null {
    return 'ip' in actor ? actor.ip : null;
  }

  return {
    async add(request, actor) {
      const givenName = request.givenName ?? randomGivenName();
      const familyName = request.familyName ?? randomFamilyName();
      const email = request.email ?? testUserEmail(givenName, familyName);
      const [existing] = await queryRows(dataSource, `SELECT 1 FROM account WHERE email_normalised = $1`, [normaliseEmail(email)]);
      if (existing) throw new TestUserRequestError([{ field: 'email', text: TEST_USER_MESSAGES.emailTaken }]);
      let nhsNumber = request.nhsNumber;
      if (nhsNumber !== undefined && (await nhsNumberTaken(nhsNumber))) throw new TestUserRequestError([{ field: 'nhsNumber', text: TEST_USER_MESSAGES.nhsNumberTaken }]);
      nhsNumber ??= (await unusedTestNhsNumber(nhsNumberTaken)) ?? undefined;
      if (!nhsNumber) throw new TestUserRequestError([{ field: 'nhsNumber', text: 'Could not find an unused test NHS number; give one with --nhs-number' }]);
      const usedMobiles = await queryRows<{ mobile_number: string }>(dataSource, `SELECT DISTINCT mobile_number FROM account WHERE mobile_number LIKE $1`, [`${DRAMA_MOBILE_PREFIX}%`]);
      const mobile = request.mobile ?? unusedDramaMobile(new Set(usedMobiles.map((r) => r.mobile_number)));
      const gpOnline = request.gpUserId !== undefined || (request.gpOnline ?? request.level === 'P9');
      const credentials = request.gpUserId !== undefined ? { gpUserId: request.gpUserId, gpLinkageKey: request.gpLinkageKey! } : gpOnline ? randomGpOnlineCredentials() : undefined;
      const password = request.password ?? PERSONA_PASSWORD;
      // Hashed before the transaction, so the slow hash never holds it open.
      const passwordHash = await hasher.hash(password);
      const inRegister = request.level !== 'P0' || request.inRegister;

      try {
        const id = await dataSource.transaction(async (manager) => {
          const [account] = await queryRows<{ id: string }>(
            manager,
            `INSERT INTO account (email, email_normalised, email_verified_at, password_hash, mobile_number, mobile_verified_at, proofing_level, test_persona, status)
             VALUES ($1, $2, now(), $3, $4, now(), 'P0', $5, 'active') RETURNING id`,
            [email, normaliseEmail(email), passwordHash, mobile, request.fixedCode ? TEST_USER_FIXED_CODE_MARK : TEST_USER_MARK],
          );
          await queryRows(
            manager,
            `INSERT INTO test_user (account_id, level, nhs_number, given_name, family_name, birthdate, postcode, gp_ods_code, gp_user_id, gp_linkage_key,
               mobile_number, phone_number_pds_matched, password_hash, in_register)
             VALUES ($1, $2, $3, $4, $5, $6::date, $7, $8, $9, $10, $11, $12, $13, $14)`,
            [
              account!.id, request.level, nhsNumber, givenName, familyName, request.birthdate ?? randomBirthdate(), request.postcode ?? randomPostcode(),
              request.gpOdsCode ?? randomGpOdsCode(), credentials?.gpUserId ?? null, credentials?.gpLinkageKey ?? null, mobile, request.phonePdsMatched, passwordHash, inRegister,
            ],
          );
          await queryRows(manager, SET_LEVEL_SQL, [account!.id, request.level]);
          await audit.record('test_user.created', { accountId: account!.id, ip: ipOf(actor), detail: { ...auditDetail(actor), level: request.level, inRegister, fixedCode: request.fixedCode } }, manager);
          return account!.id;
        });
        return { testUser: (await findById(dataSource, id))!, password };
      } catch (error) {
        // Another request took the address or the number between the check and the insert.
        if (!isUniqueViolation(error)) throw error;
        const text = String((error as { constraint?: string }).constraint ?? '').includes('nhs_number') ? { field: 'nhsNumber', text: TEST_USER_MESSAGES.nhsNumberTaken } : { field: 'email', text: TEST_USER_MESSAGES.emailTaken };
        throw new TestUserRequestError([text]);
      }
    },

    async list() {
      const rows = await queryRows<TestUserRow>(dataSource, `${SELECT_TEST_USERS} ORDER BY t.created_at, a.email`);
      return rows.map(toDetails);
    },

    async find(email) {
      const id = await idOf(email);
      return id ? findById(dataSource, id) : undefined;
    },

    async setLevel(email, level, actor) {
      const id = await idOf(email);
      if (!id) return undefined;
      return dataSource.transaction(async (manager) => {
        const [before] = await queryRows<{ proofing_level: ProofingLevel }>(manager, `SELECT proofing_level FROM account WHERE id = $1 FOR UPDATE`, [id]);
        try {
          await queryRows(manager, SET_LEVEL_SQL, [id, level]);
        } catch (error) {
          // Another account proved itself as this patient while the test user was below P5.
          if (isUniqueViolation(error)) throw new TestUserRequestError([{ field: 'level', text: 'Another account now holds this test user\'s NHS number, so it cannot be raised to P5 or P9' }]);
          throw error;
        }
        await audit.record('test_user.level_set', { accountId: id, ip: ipOf(actor), detail: { ...auditDetail(actor), from: before?.proofing_level ?? null, to: level } }, manager);
        return findById(manager, id);
      });
    },

    async reset(email, actor) {
      const id = await idOf(email);
      if (!id) return undefined;
      return dataSource.transaction(async (manager) => {
        const [made] = await queryRows<{ level: ProofingLevel }>(
          manager,
          `UPDATE account a SET password_hash = t.password_hash, mobile_number = t.mobile_number, mobile_verified_at = now(), status = 'active',
             authenticator_secret = NULL, authenticator_added_at = NULL, authenticator_last_step = NULL, recovery_codes_left = 0, recovery_codes_created_at = NULL
           FROM test_user t WHERE t.account_id = a.id AND a.id = $1 RETURNING t.level`,
          [id],
        );
        try {
          await queryRows(manager, SET_LEVEL_SQL, [id, made!.level]);
        } catch (error) {
          if (isUniqueViolation(error)) throw new TestUserRequestError([{ field: 'level', text: 'Another account now holds this test user\'s NHS number, so it cannot go back to its level' }]);
          throw error;
        }
        await manager.query(`DELETE FROM passkey WHERE account_id = $1`, [id]);
        await manager.query(`DELETE FROM recovery_code WHERE account_id = $1`, [id]);
        await manager.query(`DELETE FROM remembered_device WHERE account_id = $1`, [id]);
        await manager.query(`DELETE FROM mobile_change WHERE account_id = $1`, [id]);
        // Every lock a developer ran into, hard caps included (as a restart does for the personas).
        const keys = lockoutKeys.ofAccount(id);
        const cleared = await queryRows(manager, `DELETE FROM attempt_counter WHERE key = ANY($1::text[]) OR key LIKE $2 RETURNING key`, [keys.exact, keys.pattern]);
        await audit.record('test_user.reset', { accountId: id, ip: ipOf(actor), detail: { ...auditDetail(actor), level: made!.level, counters: cleared.length } }, manager);
        return findById(manager, id);
      });
    },

    async remove(email, actor) {
      const id = await idOf(email);
      if (!id) return false;
      await dataSource.transaction(async (manager) => {
        await deleteAccountRows(manager, id, digest);
        await audit.record('test_user.removed', { accountId: id, ip: ipOf(actor), detail: auditDetail(actor) }, manager);
      });
      return true;
    },
  };
}
