import { isIPv4, isIPv6 } from 'node:net';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config/index.js';
import { queryRows } from '../db/sql.js';

/**
 * Lockouts and throttles (security-bar X8, A3, A4, B2, B3), kept in `attempt_counter` rows.
 *
 * Every change is ONE atomic statement (INSERT … ON CONFLICT … DO UPDATE … RETURNING), so any
 * number of concurrent requests on any number of instances are all counted and never overrun a
 * limit: PostgreSQL row-locks the conflicting row and evaluates the update against the latest
 * committed values. Time is the database's `now()`, never an instance's clock.
 *
 * Row meaning: `failures` counts failures in the current window (restarted when the window goes
 * stale, when a lock has run out, and on success); `consecutive_failures` is never restarted by
 * time, only by success or an explicit reset, and implements the NIST hard cap of 100 per
 * authenticator; `locked_until` is the end of a lock, or 'infinity' once the hard cap disabled the
 * authenticator (until a reset after rebinding, e.g. a password reset or a new phone number).
 */
export interface LockoutPolicy {
  maxFailures: number;
  lockSeconds: number;
  hardCap?: number;
  /** Failure count for growing delays starts at this failure (e.g. 3 → the 3rd failure waits 1 s). Absent: no delays. */
  delayFromFailure?: number;
  /** How long failures are remembered when no lock happens. Default: one day. */
  windowSeconds?: number;
}

export interface FailureResult {
  failures: number;
  /** Failures since the last success (never restarted by time): the hard-cap count. */
  consecutiveFailures: number;
  locked: boolean;
  retryAfterSeconds: number;
  /** hard cap reached: authenticator disabled until rebinding/reset */
  disabled: boolean;
  /** server-side delay to apply before answering (growing from the 3rd failure, ≤ 4 s) */
  delayMs: number;
}

export interface CounterStatus {
  locked: boolean;
  /** Seconds until the lock ends; 0 when not locked or when disabled (no time ends a disabled authenticator). */
  retryAfterSeconds: number;
  disabled: boolean;
  /** Failures in the current window. */
  failures: number;
  /** Consecutive failures so far (the hard-cap count). */
  consecutiveFailures: number;
  /** With a policy: the delay the next answer should carry, so a locked answer costs what a wrong one does (F1). */
  delayMs: number;
}

/** A reserved attempt: counted as a failure before the answer is checked (see reserveAttempt). */
export interface AttemptReservation extends FailureResult {
  /** False: the step was already locked or disabled; do not check the answer at all. */
  allowed: boolean;
}

/** Anything that can run SQL: the DataSource, or a transaction's EntityManager. */
type Queryable = Pick<EntityManager, 'query'>;

export interface AttemptCounters {
  /** Locked (or disabled) right now? Checked BEFORE verifying, so the correct answer during a lock still fails. */
  status(key: string, options?: { policy?: LockoutPolicy; manager?: EntityManager }): Promise<CounterStatus>;
  recordFailure(key: string, policy: LockoutPolicy): Promise<FailureResult>;
  /**
   * Resets failures and consecutive count (and any lock), in `manager`'s transaction when given.
   * Returns the consecutive failures the counter held: every failure since the last success
   * (after a reserveAttempt, that attempt included), so the owner can be told about them (A4).
   */
  recordSuccess(key: string, manager?: EntityManager): Promise<number>;
  /** Same as recordSuccess, named for rebinding flows: password reset, new phone number, admin unlock. */
  reset(key: string, manager?: EntityManager): Promise<void>;
  /**
   * Race-proof alternative to status → check → recordFailure (B3): atomically counts this attempt
   * as a failure unless the step is already locked, and tells the caller whether it may check the
   * answer. At most `maxFailures` answers are ever checked, however many arrive at once. When the
   * answer turns out right, call recordSuccess (which also lifts a lock this attempt started);
   * when wrong, do nothing more: it has been counted.
   */
  reserveAttempt(key: string, policy: LockoutPolicy): Promise<AttemptReservation>;
  /**
   * Gives back one reserved attempt that was never checked, because carelogin could not (a photo
   * decoder too busy): the person should not pay for our capacity. Lifts a timed lock that this
   * attempt started; never a hard-cap one.
   */
  releaseAttempt(key: string, policy: LockoutPolicy): Promise<void>;
  /** Per-IP throttle across accounts: counts a failure for ip; true when the IP is over config.limits.ipFailures in the window (caller answers 429). */
  recordIpFailure(ip: string): Promise<boolean>;
  ipBlocked(ip: string): Promise<{ blocked: boolean; retryAfterSeconds: number }>;
}

export const lockoutKeys = {
  password: (accountId: string): string => `password:${accountId}`,
  securityCode: (accountId: string, purpose: string): string => `security-code:${purpose}:${accountId}`,
  /** Wrong authenticator app codes: the security-code policy (5 → 15 min lock, hard cap 100). */
  authenticatorApp: (accountId: string): string => `authenticator-app:${accountId}`,
  /** Wrong recovery codes: the security-code policy (5 → 15 min lock, hard cap 100 → unusable until a new set is made). */
  recoveryCode: (accountId: string): string => `recovery-code:${accountId}`,
  /** Details the register did not match (P5 identity checks): 3 → 15 min lock. */
  identityCheck: (accountId: string): string => `identity-check:${accountId}`,
  /**
   * Wrong answers naming one patient (an NHS number, or a name and date of birth) or one GP online
   * registration, whichever accounts sent them (E1); `target` is a keyed digest, so the table holds
   * no NHS numbers, names or GP account IDs.
   */
  identityTarget: (target: string): string => `identity-target:${target}`,
  /** Photo ID uploads by one account (E3 quota): every upload counts, whatever becomes of it. */
  photoIdUpload: (accountId: string): string => `photo-id-upload:${accountId}`,
  /**
   * Account look-ups by one member of the support desk (D28): a cap on insider browsing, not a
   * lockout of the account, so not among ofAccount's keys (the desk cannot act on staff accounts).
   */
  supportLookups: (staffAccountId: string): string => `support-lookup:${staffAccountId}`,
  /** Every counter of one account, for SQL: exact keys and the security codes' LIKE pattern. */
  ofAccount(accountId: string): { exact: string[]; pattern: string } {
    return { exact: [this.password(accountId), this.authenticatorApp(accountId), this.recoveryCode(accountId), this.identityCheck(accountId), this.photoIdUpload(accountId)], pattern: this.securityCode(accountId, '%') };
  },
};

/** One patient or GP registration named in wrong answers from any accounts: locked for the lockout time after IDENTITY_TARGET_MAX_ATTEMPTS. */
export function identityTargetPolicy(config: Config): LockoutPolicy {
  return { maxFailures: config.identityChecks.targetAttempts, lockSeconds: config.ttl.lockout, windowSeconds: DEFAULT_WINDOW_SECONDS };
}

/** At most PHOTO_ID_UPLOADS_PER_DAY photo ID uploads per account a day (E3, 10 by default); the next waits out the day. */
export function photoIdUploadPolicy(config: Config): LockoutPolicy {
  return { maxFailures: config.identityChecks.photoIdLimits.uploadsPerDay, lockSeconds: DAY_SECONDS, windowSeconds: DAY_SECONDS };
}

const DAY_SECONDS = 24 * 3600;

/** Identity checks whose details were not found: `maxAttempts` (3) → locked 15 min; no hard cap (a wait always ends it). */
export function identityCheckPolicy(config: Config): LockoutPolicy {
  return { maxFailures: config.identityChecks.maxAttempts, lockSeconds: config.ttl.lockout, windowSeconds: DEFAULT_WINDOW_SECONDS };
}

/** 5 wrong → locked 15 min, growing delays from the 3rd, hard cap 100 (X8). */
export function passwordPolicy(config: Config): LockoutPolicy {
  return {
    maxFailures: config.limits.passwordAttempts,
    lockSeconds: config.ttl.lockout,
    hardCap: config.limits.authenticatorHardCap,
    delayFromFailure: 3,
    windowSeconds: DEFAULT_WINDOW_SECONDS,
  };
}

/** 5 wrong → code invalidated and step locked 15 min; a new code never resets the count; hard cap 100 (X8, B2). */
export function securityCodePolicy(config: Config): LockoutPolicy {
  return {
    maxFailures: config.limits.securityCodeAttempts,
    lockSeconds: config.ttl.lockout,
    hardCap: config.limits.authenticatorHardCap,
    // Never shorter than a code's life, so waiting for a code to expire cannot clear the count (B2).
    windowSeconds: Math.max(DEFAULT_WINDOW_SECONDS, config.ttl.securityCode),
  };
}

const DEFAULT_WINDOW_SECONDS = 24 * 3600;
const MAX_DELAY_MS = 4000;

/** 1 s at the first delayed failure, then doubling, never more than 4 s. */
export function delayFor(failures: number, policy: LockoutPolicy | undefined): number {
  if (!policy?.delayFromFailure || failures < policy.delayFromFailure) return 0;
  return Math.min(MAX_DELAY_MS, 1000 * 2 ** (failures - policy.delayFromFailure));
}

/**
 * The IP key: IPv4 as is; IPv6 by its /64, because one customer usually gets a whole /64 and
 * could otherwise step through 2^64 addresses to dodge the throttle.
 */
export function ipThrottleKey(ip: string): string {
  let address = ip.trim().toLowerCase();
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) address = address.slice(7);
  if (isIPv4(address)) return `ip:${address}`;
  if (isIPv6(address)) return `ip:${expandIPv6(address).slice(0, 4).join(':')}::/64`;
  return `ip:${address.slice(0, 64)}`;
}

function expandIPv6(address: string): string[] {
  const withoutZone = address.split('%')[0];
  const [head, tail] = withoutZone.includes('::') ? withoutZone.split('::') : [withoutZone, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::1.2.3.4) counts as two groups; the /64 never depends on it.
  const size = (groups: string[]): number => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const missing = tail === undefined ? 0 : 8 - size(headGroups) - size(tailGroups);
  return [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups].map((g) => (g.includes('.') ? g : g.replace(/^0+(?=.)/, '')));
}

export interface CounterRow {
  failures: number | string;
  consecutive_failures: number | string;
  locked: boolean;
  disabled: boolean;
  retry_after: number | string;
}

// Shared SQL pieces. `c` is the existing row (attempt_counter), parameters:
// $1 key, $2 maxFailures, $3 lockSeconds, $4 windowSeconds, $5 hardCap (NULL = none).
const LOCKED_NOW = `(attempt_counter.locked_until IS NOT NULL AND attempt_counter.locked_until > now())`;
// A new window starts when the old one went stale or its lock ran out, never during a lock.
const FRESH = `(NOT ${LOCKED_NOW} AND (attempt_counter.window_started_at <= now() - $4::int * interval '1 second' OR attempt_counter.locked_until IS NOT NULL))`;
const NEW_FAILURES = `(CASE WHEN ${FRESH} THEN 1 ELSE attempt_counter.failures + 1 END)`;
const NEW_CONSECUTIVE = `(attempt_counter.consecutive_failures + 1)`;
const RETURNING = `
  RETURNING failures, consecutive_failures,
    (locked_until IS NOT NULL AND locked_until > now()) AS locked,
    (locked_until IS NOT NULL AND NOT isfinite(locked_until)) AS disabled,
    (CASE WHEN locked_until IS NOT NULL AND isfinite(locked_until) AND locked_until > now()
          THEN CEIL(EXTRACT(EPOCH FROM (locked_until - now())))::int ELSE 0 END) AS retry_after`;

/**
 * Counts one failure. With `onlyIfUnlocked`, a row that is locked right now is left alone and
 * nothing is returned. With `when`, an SQL condition, nothing at all happens unless it holds (used
 * inside a larger statement, e.g. "only if there is a live code to check").
 */
export function countFailureSql(onlyIfUnlocked: boolean, when?: string): string {
  const first = `$1::text, 1, now(),
    CASE WHEN $5::int IS NOT NULL AND 1 >= $5::int THEN 'infinity'::timestamptz
         WHEN 1 >= $2::int THEN now() + $3::int * interval '1 second' END,
    1, now()`;
  return `
  INSERT INTO attempt_counter (key, failures, window_started_at, locked_until, consecutive_failures, updated_at)
  ${when === undefined ? `VALUES (${first})` : `SELECT ${first} WHERE ${when}`}
  ON CONFLICT (key) DO UPDATE SET
    failures = ${NEW_FAILURES},
    consecutive_failures = ${NEW_CONSECUTIVE},
    window_started_at = CASE WHEN ${FRESH} THEN now() ELSE attempt_counter.window_started_at END,
    locked_until = CASE
      WHEN $5::int IS NOT NULL AND ${NEW_CONSECUTIVE} >= $5::int THEN 'infinity'::timestamptz
      -- Failures recorded during a lock (a race, or a caller that skipped status) never extend it.
      WHEN ${LOCKED_NOW} THEN attempt_counter.locked_until
      WHEN ${NEW_FAILURES} >= $2::int THEN now() + $3::int * interval '1 second'
      ELSE NULL END,
    updated_at = now()
  ${onlyIfUnlocked ? `WHERE NOT ${LOCKED_NOW}` : ''}
  ${RETURNING}`;
}

const STATUS_SQL = `
  SELECT failures, consecutive_failures,
    (locked_until IS NOT NULL AND locked_until > now()) AS locked,
    (locked_until IS NOT NULL AND NOT isfinite(locked_until)) AS disabled,
    (CASE WHEN locked_until IS NOT NULL AND isfinite(locked_until) AND locked_until > now()
          THEN CEIL(EXTRACT(EPOCH FROM (locked_until - now())))::int ELSE 0 END) AS retry_after
  FROM attempt_counter WHERE key = $1`;

export function policyParameters(key: string, policy: LockoutPolicy): unknown[] {
  if (!Number.isInteger(policy.maxFailures) || policy.maxFailures < 1) throw new RangeError('LockoutPolicy.maxFailures must be a positive integer');
  if (!Number.isInteger(policy.lockSeconds) || policy.lockSeconds < 1) throw new RangeError('LockoutPolicy.lockSeconds must be a positive integer');
  return [key, policy.maxFailures, policy.lockSeconds, policy.windowSeconds ?? DEFAULT_WINDOW_SECONDS, policy.hardCap ?? null];
}

export function toFailureResult(row: CounterRow, policy: LockoutPolicy): FailureResult {
  const consecutive = Number(row.consecutive_failures);
  return {
    failures: Number(row.failures),
    consecutiveFailures: consecutive,
    locked: Boolean(row.locked),
    retryAfterSeconds: Number(row.retry_after),
    disabled: Boolean(row.disabled),
    delayMs: delayFor(consecutive, policy),
  };
}

/**
 * One use of `key` counted unless `when` (SQL) is false, within `cap` uses per window of
 * `windowSeconds`; `key`, `cap` and `windowSeconds` are SQL expressions (parameters). Returns a
 * row only when the use was counted, i.e. within the cap.
 */
function capCountSql(key: string, cap: string, windowSeconds: string, when: string): string {
  const stale = `attempt_counter.window_started_at <= now() - ${windowSeconds}::int * interval '1 second'`;
  return `INSERT INTO attempt_counter (key, failures, window_started_at, locked_until, consecutive_failures, updated_at)
     SELECT ${key}::text, 1, now(), NULL::timestamptz, 0, now() WHERE ${when}
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN ${stale} THEN 1 ELSE attempt_counter.failures + 1 END,
       window_started_at = CASE WHEN ${stale} THEN now() ELSE attempt_counter.window_started_at END,
       updated_at = now()
     WHERE ${stale} OR attempt_counter.failures < ${cap}::int
     RETURNING failures`;
}

/**
 * Counts one use of `key` in the caller's transaction and says whether it stayed within `cap` uses
 * per window. One atomic statement, so concurrent requests can never get past the cap (B3, B4);
 * if the caller's transaction rolls back, so does the count.
 */
export async function countWithinCap(manager: Pick<EntityManager, 'query'>, key: string, cap: number, windowSeconds: number): Promise<boolean> {
  const rows = await queryRows(manager, capCountSql('$1', '$2', '$3', 'true'), [key, cap, windowSeconds]);
  return rows.length === 1;
}

/** Seconds until the window of a capped key runs out (so a refused use may try again); the whole window when there is no row. */
export async function capRetryAfter(manager: Queryable, key: string, windowSeconds: number): Promise<number> {
  const [row] = await queryRows<{ retry_after: number | string }>(
    manager,
    `SELECT GREATEST(0, CEIL(EXTRACT(EPOCH FROM (window_started_at + $2::int * interval '1 second' - now()))))::int AS retry_after FROM attempt_counter WHERE key = $1`,
    [key, windowSeconds],
  );
  return Number(row?.retry_after ?? windowSeconds);
}

/** A cap on uses of `key`: at most `cap` per window of `windowSeconds`. */
export interface CapUse {
  readonly key: string;
  readonly cap: number;
  readonly windowSeconds: number;
}

export interface CapsCount {
  /** The lock on `unlessLocked` as it stood. When locked, nothing was counted. */
  readonly lock: CounterStatus;
  /** The index of the cap that refused this use (the caps after it were not counted), or null when every cap counted it. */
  readonly refusedBy: number | null;
}

/**
 * Counts one use against each cap in turn, unless `unlessLocked` is locked, in ONE statement (a
 * chain of data-modifying CTEs, each counting only when the one before it did): the same answer as
 * a status read and a countWithinCap per cap in order, in one round trip. A use refused by one cap
 * is never counted by the caps after it, so one abuser over the first cap does not use up a
 * second cap that others share. Keys must differ. In the caller's transaction, like countWithinCap.
 */
export async function countWithinCaps(manager: Queryable, unlessLocked: string, caps: readonly CapUse[]): Promise<CapsCount> {
  const parameters: unknown[] = [unlessLocked];
  const ctes = [`lock AS (${STATUS_SQL})`];
  let counted = 'NOT EXISTS (SELECT 1 FROM lock WHERE locked)';
  caps.forEach((cap, i) => {
    parameters.push(cap.key, cap.cap, cap.windowSeconds);
    const n = parameters.length;
    ctes.push(`cap${i} AS (${capCountSql(`$${n - 2}`, `$${n - 1}`, `$${n}`, counted)})`);
    counted = `EXISTS (SELECT 1 FROM cap${i})`;
  });
  const countedColumns = caps.map((_, i) => `, EXISTS (SELECT 1 FROM cap${i}) AS counted_${i}`).join('');
  const [row] = await queryRows<Partial<CounterRow> & Record<string, unknown>>(manager,
    `WITH ${ctes.join(',\n')}
     SELECT lock.failures, lock.consecutive_failures, lock.locked, lock.disabled, lock.retry_after${countedColumns}
     FROM (SELECT 1) AS one LEFT JOIN lock ON true`,
    parameters,
  );
  const lock = statusFrom(row?.locked === null || row?.locked === undefined ? undefined : (row as CounterRow));
  const refused = caps.findIndex((_, i) => row?.[`counted_${i}`] !== true);
  return { lock, refusedBy: lock.locked || refused === -1 ? null : refused };
}

/** Reads a counter through any queryable (the data source, or a caller's transaction). */
export async function readCounterStatus(db: Queryable, key: string, policy?: LockoutPolicy): Promise<CounterStatus> {
  const rows = await queryRows<CounterRow>(db, STATUS_SQL, [key]);
  return statusFrom(rows[0], policy);
}

function statusFrom(row: CounterRow | undefined, policy?: LockoutPolicy): CounterStatus {
  if (!row) return { locked: false, retryAfterSeconds: 0, disabled: false, failures: 0, consecutiveFailures: 0, delayMs: 0 };
  const consecutive = Number(row.consecutive_failures);
  return {
    locked: Boolean(row.locked),
    retryAfterSeconds: Number(row.retry_after),
    disabled: Boolean(row.disabled),
    failures: Number(row.failures),
    consecutiveFailures: consecutive,
    delayMs: delayFor(consecutive, policy),
  };
}

export function createAttemptCounters(dataSource: DataSource, config: Config): AttemptCounters {
  const ipPolicy: LockoutPolicy = {
    maxFailures: config.limits.ipFailures,
    // Reaching the limit blocks the address for a whole window, not just the rest of the current one.
    lockSeconds: config.limits.ipFailureWindow,
    windowSeconds: config.limits.ipFailureWindow,
  };

  async function countFailure(key: string, policy: LockoutPolicy): Promise<FailureResult> {
    const rows = await queryRows<CounterRow>(dataSource, countFailureSql(false), policyParameters(key, policy));
    return toFailureResult(rows[0], policy);
  }

  const deleteRow = async (db: Queryable, key: string): Promise<void> => {
    await queryRows(db, 'DELETE FROM attempt_counter WHERE key = $1', [key]);
  };

  return {
    status: (key, options = {}) => readCounterStatus(options.manager ?? dataSource, key, options.policy),

    recordFailure: countFailure,

    async recordSuccess(key, manager) {
      const [row] = await queryRows<{ consecutive_failures: number | string }>(manager ?? dataSource, 'DELETE FROM attempt_counter WHERE key = $1 RETURNING consecutive_failures', [key]);
      return Number(row?.consecutive_failures ?? 0);
    },

    reset: (key, manager) => deleteRow(manager ?? dataSource, key),

    async reserveAttempt(key, policy) {
      const rows = await queryRows<CounterRow>(dataSource, countFailureSql(true), policyParameters(key, policy));
      if (rows[0]) return { allowed: true, ...toFailureResult(rows[0], policy) };
      // Nothing was updated: the step was locked before this attempt. Report the lock as it stands
      // (locked stays true even if it ran out a moment ago: this attempt was refused either way).
      const status = await readCounterStatus(dataSource, key, policy);
      return { allowed: false, failures: status.failures, consecutiveFailures: status.consecutiveFailures, locked: true, retryAfterSeconds: status.retryAfterSeconds, disabled: status.disabled, delayMs: status.delayMs };
    },

    async releaseAttempt(key, policy) {
      const [, maxFailures] = policyParameters(key, policy);
      await queryRows(
        dataSource,
        `UPDATE attempt_counter SET failures = GREATEST(failures - 1, 0), consecutive_failures = GREATEST(consecutive_failures - 1, 0),
                locked_until = CASE WHEN locked_until IS NOT NULL AND isfinite(locked_until) AND failures - 1 < $2::int THEN NULL ELSE locked_until END,
                updated_at = now()
          WHERE key = $1 AND failures > 0`,
        [key, maxFailures],
      );
    },

    async recordIpFailure(ip) {
      const result = await countFailure(ipThrottleKey(ip), ipPolicy);
      return result.locked;
    },

    async ipBlocked(ip) {
      const status = await readCounterStatus(dataSource, ipThrottleKey(ip));
      return { blocked: status.locked, retryAfterSeconds: status.retryAfterSeconds };
    },
  };
}
