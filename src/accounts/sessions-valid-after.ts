import type { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../db/sql.js';

type Db = Pick<EntityManager, 'query'> | DataSource;

/**
 * The account's security stamp (`account.sessions_valid_after`), set by every change that must sign
 * the patient out everywhere: "sign out everywhere", a password change, a password reset.
 *
 * Deleting the account's sessions and tokens is not enough on its own: oidc-provider reads a session
 * at the start of a request and saves it at the end, so a request in flight during the delete writes
 * the session back (and a refresh grant in flight saves a new refresh token). So everything that rests
 * on a sign-in is also checked against the stamp: the session at /authorize (src/provider/policy.ts)
 * and in the account area, the code, refresh token and access token's `authTime` in findAccount.
 *
 * Sign-in times (`loginTs`, `authTime`) are whole seconds, so a sign-in counts only in a later second
 * than the stamp's: a sign-in from before the revocation in the same second must not survive it. A
 * sign-in completed after the revocation in that same second would then be refused as well, so the
 * request that completes a sign-in moves its time on to the first second that counts (`firstValidSecond`).
 */

/** The last second whose sign-ins no longer count, or null when the account was never revoked. */
export function revokedUpTo(stamp: Date | null | undefined): number | null {
  return stamp ? Math.floor(stamp.getTime() / 1000) : null;
}

/** True when a sign-in at `signInTs` (seconds) still counts. A missing time never counts once revoked. */
export function signInCounts(revokedSecond: number | null, signInTs: unknown): boolean {
  if (revokedSecond === null) return true;
  return typeof signInTs === 'number' && signInTs > revokedSecond;
}

/** The earliest sign-in time (seconds) that counts after a revocation in `revokedSecond`. */
export function firstValidSecond(revokedSecond: number): number {
  return revokedSecond + 1;
}

/**
 * Stamps the account, in the caller's transaction; returns the first sign-in second that counts.
 * The application's clock, as oidc-provider's `loginTs` is; the stamp never moves backwards.
 */
export async function revokeSignIns(db: Db, accountId: string, now: Date = new Date()): Promise<number> {
  const [row] = await queryRows<{ stamp: Date | string }>(
    db,
    `UPDATE account SET sessions_valid_after = GREATEST(sessions_valid_after, $2::timestamptz) WHERE id = $1 RETURNING sessions_valid_after AS stamp`,
    [accountId, now],
  );
  return firstValidSecond(revokedUpTo(row ? new Date(row.stamp) : now)!);
}
