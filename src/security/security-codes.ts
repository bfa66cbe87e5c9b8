import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config/index.js';
import { acceptsFixedCode } from '../accounts/personas.js';
import { CareloginError } from '../errors.js';
import { capRetryAfter, countFailureSql, countWithinCaps, lockoutKeys, policyParameters, securityCodePolicy, toFailureResult, type CounterRow } from './attempt-counters.js';
import { queryRows } from '../db/sql.js';
import type { Audit } from './audit.js';
import { hmacKeyRing, ringSecrets, type HmacKeys } from './hmac-key-ring.js';
import { smsSendCaps } from './sms-throttle.js';

/**
 * One-time 6-digit security codes sent by text or email (security-bar X4, X8, B1–B4; NIST
 * 800-63B §3.1.3; ASVS 6.5.x, 6.6.2). A code is random (CSPRNG), lives config.ttl.securityCode
 * (10 minutes), is bound to one journey, one purpose, one account and one destination, is
 * accepted once, and is stored only as a keyed hash.
 */
export type CodePurpose = 'sign-in' | 'confirm-email' | 'verify-mobile' | 'change-mobile' | 'change-email' | 'reset-password';

export const CODE_PURPOSES: readonly CodePurpose[] = ['sign-in', 'confirm-email', 'verify-mobile', 'change-mobile', 'change-email', 'reset-password'];

export type IssueResult = { ok: true; id: string; code: string; expiresAt: Date } | { ok: false; reason: 'too_many_sends' | 'locked'; retryAfterSeconds: number };

/**
 * 'locked' is returned when the step was already locked, and also for the wrong answer that
 * reached the limit (the code has just been invalidated), so the caller can record
 * security_code.locked. Show 'invalid' and 'locked' alike (X8: locked and wrong look identical).
 */
export type VerifyResult = 'valid' | 'invalid' | 'expired' | 'locked';

interface IssueRequestBase {
  accountId: string | null;
  purpose: CodePurpose;
  journeyId: string;
  destination: string;
  /** The documented persona code; refused in production and for accounts that are not personas. */
  fixedCode?: string;
  /** With `fixedCode`: the account's test_persona, as the caller has just read the account. */
  testPersona?: string | null;
}

/**
 * `ip` is the client's IP (ctx.ip), required for texts: they are throttled per IP across journeys
 * (B4). Null only where there is no client request; such texts still count per number block.
 */
export type IssueRequest = IssueRequestBase & ({ channel: 'sms'; ip: string | null } | { channel: 'email'; ip?: string | null });

export interface VerifyRequest {
  accountId: string | null;
  purpose: CodePurpose;
  journeyId: string;
  code: string;
  /** When given, the code must have been sent to exactly this address or number. */
  destination?: string;
}

export interface SecurityCodes {
  /** Creates a 6-digit CSPRNG code bound to (accountId, purpose, journeyId, destination), valid config.ttl.securityCode; invalidates earlier codes for the same (journeyId, purpose); enforces config.limits.securityCodeSends per journey+purpose and, for texts, the per-IP and per-prefix hourly caps (sms-throttle.ts); uses `fixedCode` when given (personas outside production only). Runs in the caller's transaction so the outbox message commits with it. */
  issue(manager: EntityManager, request: IssueRequest): Promise<IssueResult>;
  /** Checks lock first; then consumes the newest live code for (journeyId, purpose, accountId) atomically when it matches (constant-time compare of keyed hashes); a wrong code counts against the attempt counter for (accountId ?? journeyId, purpose); at the limit the code is invalidated and the step locked. A code is accepted once. */
  verify(request: VerifyRequest): Promise<VerifyResult>;
  /**
   * The text carrying this code could not be sent at once, and the person is told so (security-bar
   * G3): marks the code (its page then says so) and gives the send back to the journey's resend
   * allowance, since nothing reached the person. The code itself stays valid, in case the provider
   * delivers it after all. Once per code.
   */
  markUndelivered(code: { id: string; journeyId: string; purpose: CodePurpose }): Promise<void>;
}

export const SECURITY_CODE_PATTERN = /^\d{6}$/;

/** The lockout counter for a code step: per account and purpose, or per journey before there is an account. */
export function securityCodeCounterKey(accountId: string | null, journeyId: string, purpose: CodePurpose): string {
  return lockoutKeys.securityCode(accountId ?? `journey:${journeyId}`, purpose);
}

function sendsKey(journeyId: string, purpose: CodePurpose): string {
  return `security-code-sends:${purpose}:${journeyId}`;
}

/** People type "123 456" or "123-456"; the code is still the same six digits. */
export function normaliseSecurityCode(value: unknown): string {
  return typeof value === 'string' ? value.replace(/[\s-]/g, '') : '';
}

function updateReturning(db: Pick<EntityManager, 'query'>, sql: string, parameters: unknown[]): Promise<unknown[]> {
  return queryRows<unknown>(db, sql, parameters);
}

export function createSecurityCodes(deps: { dataSource: DataSource; config: Config; hmacKeys: HmacKeys; audit?: Audit }): SecurityCodes {
  const { dataSource, config, audit } = deps;
  // New codes are hashed with the current secret; a code sent just before a rotation still matches under a previous one.
  const secrets = ringSecrets(hmacKeyRing(deps.hmacKeys, 'security codes'));
  const policy = securityCodePolicy(config);

  // Six digits hashed without a key could be reversed by trying all 10^6; the key makes the
  // stored value useless without the secret. The purpose set is closed and no purpose ends with
  // another, and codes are fixed-width, so the concatenation is unambiguous.
  const codeHash = (secret: string, code: string, journeyId: string, purpose: CodePurpose): Buffer =>
    createHmac('sha256', secret).update(code + journeyId + purpose).digest();

  function checkRequest(request: { purpose: CodePurpose; journeyId: string }): void {
    if (!CODE_PURPOSES.includes(request.purpose)) throw new CareloginError('security_code_purpose', `Unknown security code purpose: ${String(request.purpose)}`);
    if (typeof request.journeyId !== 'string' || request.journeyId.length === 0 || request.journeyId.length > 255) {
      throw new CareloginError('security_code_journey', 'A security code needs a journey id of 1 to 255 characters');
    }
  }

  function assertPersonaMayUseFixedCode(request: IssueRequest): void {
    if (config.mode === 'production') throw new CareloginError('fixed_code_refused', 'Fixed security codes are never used in production', { expose: false });
    if (!SECURITY_CODE_PATTERN.test(request.fixedCode ?? '')) throw new CareloginError('fixed_code_refused', 'A fixed security code must be six digits', { expose: false });
    if (!request.accountId || !acceptsFixedCode(request.testPersona)) throw new CareloginError('fixed_code_refused', 'Only seeded personas and test users made with the fixed code may use it', { expose: false });
  }

  return {
    async issue(manager, request) {
      checkRequest(request);
      if (request.channel !== 'sms' && request.channel !== 'email') throw new CareloginError('security_code_channel', 'A security code goes by sms or email');
      if (typeof request.destination !== 'string' || request.destination.length === 0 || request.destination.length > 320) {
        throw new CareloginError('security_code_destination', 'A security code needs a destination of 1 to 320 characters');
      }
      if (request.fixedCode !== undefined) assertPersonaMayUseFixedCode(request);

      // One statement (security-bar B4): unless the step is locked, count the send against the
      // journey's resend cap and, for texts, the per-IP and per-number-block hourly caps that new
      // journeys cannot reset (SMS pumping), each only if the one before let it through. It runs in
      // the caller's transaction, so a send that rolls back is not counted. Persona codes count
      // too: they go through the same adapter in every environment that has one.
      const window = config.ttl.interaction;
      const smsCaps = request.channel === 'sms' ? smsSendCaps(config, { ip: request.ip ?? null, destination: request.destination }) : [];
      const counted = await countWithinCaps(manager, securityCodeCounterKey(request.accountId, request.journeyId, request.purpose), [
        { key: sendsKey(request.journeyId, request.purpose), cap: config.limits.securityCodeSends, windowSeconds: window },
        ...smsCaps,
      ]);
      if (counted.lock.locked) {
        // A disabled step has no end time; tell the caller the usual lock length rather than 0.
        return { ok: false, reason: 'locked', retryAfterSeconds: counted.lock.disabled ? config.ttl.lockout : counted.lock.retryAfterSeconds };
      }
      if (counted.refusedBy === 0) {
        return { ok: false, reason: 'too_many_sends', retryAfterSeconds: await capRetryAfter(manager, sendsKey(request.journeyId, request.purpose), window) };
      }
      if (counted.refusedBy !== null) {
        const throttle = smsCaps[counted.refusedBy - 1]!;
        await audit?.record('security_code.throttled', { accountId: request.accountId, ip: request.ip ?? null, detail: { scope: throttle.scope, purpose: request.purpose, channel: 'sms' } }, manager);
        return { ok: false, reason: 'too_many_sends', retryAfterSeconds: await capRetryAfter(manager, throttle.key, throttle.windowSeconds) };
      }

      // Requesting a new code makes the previous one useless (B1): the same statement invalidates
      // the journey's earlier codes (the new row is not in the UPDATE's snapshot) and stores the new one.
      const code = request.fixedCode ?? String(randomInt(0, 1_000_000)).padStart(6, '0');
      const [row] = await queryRows<{ id: string; expires_at: Date | string }>(
        manager,
        `WITH superseded AS (
           UPDATE security_code SET invalidated_at = now()
           WHERE journey_id = $3 AND purpose = $2 AND consumed_at IS NULL AND invalidated_at IS NULL
         )
         INSERT INTO security_code (account_id, purpose, journey_id, channel, destination, code_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + $7::int * interval '1 second')
         RETURNING id, expires_at`,
        [request.accountId, request.purpose, request.journeyId, request.channel, request.destination, codeHash(secrets[0]!, code, request.journeyId, request.purpose).toString('hex'), config.ttl.securityCode],
      );
      return { ok: true, id: row.id, code, expiresAt: new Date(row.expires_at) };
    },

    async markUndelivered(code) {
      checkRequest(code);
      // One statement: the refund happens only with the first marking, so it can never be taken twice.
      await queryRows(
        dataSource,
        `WITH marked AS (
           UPDATE security_code SET undelivered_at = now()
           WHERE id = $1 AND journey_id = $2 AND purpose = $3 AND undelivered_at IS NULL
           RETURNING 1
         )
         UPDATE attempt_counter SET failures = GREATEST(failures - 1, 0), updated_at = now()
         WHERE key = $4 AND EXISTS (SELECT 1 FROM marked)`,
        [code.id, code.journeyId, code.purpose, sendsKey(code.journeyId, code.purpose)],
      );
    },

    async verify(request) {
      if (!CODE_PURPOSES.includes(request.purpose) || typeof request.journeyId !== 'string' || request.journeyId.length === 0) return 'invalid';
      const key = securityCodeCounterKey(request.accountId, request.journeyId, request.purpose);

      // One statement, three steps, in one snapshot:
      // 1. Locked (or disabled) steps check nothing, so the right code during a lock still fails.
      // 2. The newest live code for exactly this journey, purpose and account (B1 binding).
      // 3. Unless locked, and only when there is a live code to guess (otherwise nothing is
      //    counted), count this attempt before looking at it: however many arrive at once, at most
      //    policy.maxFailures answers are ever compared (B3). The count row-locks the counter, so an
      //    attempt that raced into a lock another request just set gets no row back.
      const [found] = await queryRows<Partial<CounterRow> & { lock_locked: boolean | null; id: string | null; code_hash: string | null; expired: boolean | null }>(dataSource,
        `WITH lock AS (
           SELECT (locked_until IS NOT NULL AND locked_until > now()) AS locked FROM attempt_counter WHERE key = $1
         ), candidate AS (
           SELECT id, code_hash, (expires_at <= now()) AS expired FROM security_code
           WHERE journey_id = $6 AND purpose = $7 AND account_id IS NOT DISTINCT FROM $8::uuid
             AND consumed_at IS NULL AND invalidated_at IS NULL
             AND ($9::text IS NULL OR destination = $9::text)
           ORDER BY created_at DESC, id DESC LIMIT 1
         ), attempt AS (
           ${countFailureSql(true, 'NOT EXISTS (SELECT 1 FROM lock WHERE locked) AND EXISTS (SELECT 1 FROM candidate WHERE NOT expired)')}
         )
         SELECT (SELECT locked FROM lock) AS lock_locked, candidate.id, candidate.code_hash, candidate.expired,
           attempt.failures, attempt.consecutive_failures, attempt.locked, attempt.disabled, attempt.retry_after
         FROM (SELECT 1) AS one LEFT JOIN candidate ON true LEFT JOIN attempt ON true`,
        [...policyParameters(key, policy), request.journeyId, request.purpose, request.accountId, request.destination ?? null],
      );
      if (found?.lock_locked) return 'locked';
      // With no live code there is nothing to guess, so nothing was counted.
      if (!found?.id || !found.code_hash) return 'invalid';
      if (found.expired) return 'expired';
      if (found.failures === null || found.failures === undefined) return 'locked';
      const candidate = { id: found.id, code_hash: found.code_hash };
      const attempt = toFailureResult(found as CounterRow, policy);

      const submitted = normaliseSecurityCode(request.code);
      const expected = Buffer.from(candidate.code_hash, 'hex');
      // Every secret is compared (no early exit), so the time taken does not say which one matched.
      let hashMatches = false;
      for (const secret of secrets) {
        const actual = codeHash(secret, SECURITY_CODE_PATTERN.test(submitted) ? submitted : '', request.journeyId, request.purpose);
        hashMatches = (expected.length === actual.length && timingSafeEqual(expected, actual)) || hashMatches;
      }
      const matches = SECURITY_CODE_PATTERN.test(submitted) && hashMatches;

      if (matches) {
        // 4. One conditional UPDATE: of any number of simultaneous right answers exactly one wins,
        //    and only the winner clears the wrong-answer count (and any lock this attempt started).
        const consumed = await updateReturning(
          dataSource,
          `WITH consumed AS (
             UPDATE security_code SET consumed_at = now(), attempts = attempts + 1
             WHERE id = $1 AND consumed_at IS NULL AND invalidated_at IS NULL AND expires_at > now()
             RETURNING id
           ), cleared AS (
             DELETE FROM attempt_counter WHERE key = $2 AND EXISTS (SELECT 1 FROM consumed)
           )
           SELECT id FROM consumed`,
          [candidate.id, key],
        );
        return consumed.length === 1 ? 'valid' : 'invalid';
      }

      await queryRows(dataSource, 'UPDATE security_code SET attempts = attempts + 1 WHERE id = $1', [candidate.id]);
      if (attempt.locked || attempt.disabled) {
        // 5. The limit is reached: the code dies with the lock (X8), so waiting out the lock needs a new code.
        // The lock covers the account's step in every journey, so its codes elsewhere go too.
        await dataSource.query(
          `UPDATE security_code SET invalidated_at = now()
           WHERE purpose = $2 AND (journey_id = $1 OR account_id = $3::uuid) AND consumed_at IS NULL AND invalidated_at IS NULL`,
          [request.journeyId, request.purpose, request.accountId],
        );
        return 'locked';
      }
      return 'invalid';
    },
  };
}
