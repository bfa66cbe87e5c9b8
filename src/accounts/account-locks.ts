import type { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../db/sql.js';
import { lockoutKeys } from '../security/attempt-counters.js';
import type { Audit } from '../security/audit.js';

type Db = Pick<EntityManager, 'query'> | DataSource;

/**
 * An account's lockout counters (security-bar X8) as the support desk sees and lifts them: the
 * one implementation behind `npm run accounts -- locks|unlock` and the back office's support pages.
 */
export interface AccountLock {
  /** What the counter guards: "password", "security code (sign-in)", "authenticator app". */
  readonly what: string;
  readonly failures: number;
  readonly consecutiveFailures: number;
  /** When the lock ends; null when not locked; 'never' when the hard cap turned the method off. */
  readonly lockedUntil: Date | 'never' | null;
}

/** Who lifted the locks, for the audit trail: the operator at the command line, or a support account. */
export type UnlockedBy = { readonly operator: true } | { readonly supportAccountId: string };

function counterName(key: string, accountId: string): string {
  if (key === lockoutKeys.password(accountId)) return 'password';
  if (key === lockoutKeys.authenticatorApp(accountId)) return 'authenticator app';
  if (key === lockoutKeys.recoveryCode(accountId)) return 'recovery codes';
  if (key === lockoutKeys.identityCheck(accountId)) return 'identity check';
  if (key === lockoutKeys.photoIdUpload(accountId)) return 'photo ID uploads (per day)';
  const purpose = /^security-code:(.+):[^:]+$/.exec(key)?.[1];
  return `security code (${purpose ?? 'unknown'})`;
}

/** The account's counters, locked or not, by key. */
export async function locksOf(db: Db, accountId: string): Promise<AccountLock[]> {
  const { exact, pattern } = lockoutKeys.ofAccount(accountId);
  const rows = await queryRows<{ key: string; failures: number; consecutive_failures: number; locked_until: Date | string | null; forever: boolean }>(
    db,
    `SELECT key, failures, consecutive_failures, CASE WHEN locked_until > now() THEN locked_until END AS locked_until, locked_until = 'infinity' AS forever
       FROM attempt_counter WHERE key = ANY($1::text[]) OR key LIKE $2 ORDER BY key`,
    [exact, pattern],
  );
  return rows.map((r) => ({
    what: counterName(r.key, accountId),
    failures: Number(r.failures),
    consecutiveFailures: Number(r.consecutive_failures),
    lockedUntil: r.forever ? 'never' : r.locked_until ? new Date(r.locked_until) : null,
  }));
}

/**
 * Lifts every lock of the account, a hard-cap lock that no time ends included (CL1002, CL1004),
 * and records `account.unlocked` with who asked why, in one transaction. Returns the counters cleared.
 */
export async function liftLocks(dataSource: DataSource, audit: Audit, accountId: string, by: UnlockedBy, reason: string, ip?: string): Promise<number> {
  const { exact, pattern } = lockoutKeys.ofAccount(accountId);
  return dataSource.transaction(async (manager) => {
    const cleared = await queryRows(manager, `DELETE FROM attempt_counter WHERE key = ANY($1::text[]) OR key LIKE $2 RETURNING key`, [exact, pattern]);
    // A person's reason is free text (it may name the patient): `note`, which stays out of log lines.
    const who = 'operator' in by ? { by: 'operator', note: reason } : { by: 'support', supportAccountId: by.supportAccountId, note: reason };
    await audit.record('account.unlocked', { accountId, ip: ip ?? null, detail: { ...who, counters: cleared.length } }, manager);
    return cleared.length;
  });
}
