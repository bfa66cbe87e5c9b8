import { isLinkTokenShaped, linkTokenHash, newLinkToken } from '../security/link-token.js';
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config/index.js';
import { queryRows } from '../db/sql.js';
import type { Logger } from '../logger.js';
import type { Notifications } from '../notifications/outbox.js';
import { lockoutKeys, type AttemptCounters } from '../security/attempt-counters.js';
import type { Audit } from '../security/audit.js';
import type { AccountService } from './account-service.js';
import type { PasswordHasher } from './password-hasher.js';
import { checkPassword, type PasswordProblem } from './password-policy.js';
import { createRememberedDevices } from './remembered-devices.js';
import { revokeSignIns } from './sessions-valid-after.js';
import { logoutTargets, type BackchannelLogout, type LogoutTarget } from '../provider/logout.js';

/**
 * "Forgotten your password?" (security-bar A6, F2, F5, X3; ASVS 6.4.3, 6.3.7, 7.4.3).
 *
 * - Asking for a link never says whether the address has an account (F2): the caller shows the
 *   same page either way, and unknown addresses get no message. Nor does the time: both run one
 *   transaction of the same shape before the answer (the link statement matches nothing without
 *   an account), and only a known address adds its message.
 * - The link carries a 256-bit random token on the issuer's origin; only its SHA-256 is stored.
 *   It lasts config.ttl.resetLink (RESET_LINK_TTL_SECONDS, 1 hour), works once, and a newer
 *   link invalidates older ones.
 * - Setting the new password, in one transaction: the hash, every remembered device, every
 *   session and grant of the account, the password lockout, the token, the `password-changed`
 *   email and, when the account has a verified mobile, the `password-changed-sms` text. It does
 *   NOT sign anyone in: the patient still signs in with password and security code (no MFA
 *   bypass, A6).
 */

/** Links an account can be sent per hour, so the form cannot be used to flood someone's inbox. */
export const RESET_LINKS_PER_HOUR = 5;

const UID = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * A new link, in one statement: counts the account's links in the last hour and, under
 * RESET_LINKS_PER_HOUR, invalidates every older live link and inserts the new one (returned).
 * $1 account id (NULL: no account, and nothing matches or is inserted), $2 token hash,
 * $3 interaction uid, $4 lifetime in seconds, $5 the hourly cap. The UPDATE cannot see the row
 * the INSERT adds (one snapshot), so only older links are invalidated.
 */
const ISSUE_LINK_SQL = `
  WITH allowed AS (
    SELECT $1::uuid AS account_id WHERE $1::uuid IS NOT NULL
      AND (SELECT count(*) FROM password_reset_token WHERE account_id = $1::uuid AND created_at > now() - interval '1 hour') < $5::int
  ), invalidated AS (
    UPDATE password_reset_token SET invalidated_at = now()
     WHERE account_id = (SELECT account_id FROM allowed) AND used_at IS NULL AND invalidated_at IS NULL
  )
  INSERT INTO password_reset_token (account_id, token_hash, interaction_uid, expires_at)
  SELECT account_id, $2, $3, now() + $4::int * interval '1 second' FROM allowed
  RETURNING expires_at`;



export type DeadLinkReason = 'expired' | 'used' | 'broken';

export interface LiveResetLink {
  readonly accountId: string;
  readonly email: string;
  readonly interactionUid: string | null;
}

export type ResetOutcome =
  | { readonly ok: true; readonly accountId: string; readonly interactionUid: string | null }
  | { readonly ok: false; readonly reason: 'invalid' }
  | { readonly ok: false; readonly reason: 'policy'; readonly problem: PasswordProblem };

export interface PasswordReset {
  /** Sends a link when the address has an active account; otherwise nothing. Resolves the same way for both (F2). */
  request(email: string, options: { interactionUid?: string; ip?: string }): Promise<void>;
  /** The account a link is for, while the link is live (unused, not replaced, not expired). */
  find(token: string): Promise<LiveResetLink | null>;
  /**
   * Why a link that is not live does not work, for the page that says so (NHS login's CID2021
   * expired, CID2022 used, CID2023 broken). Only a holder of the link can ask, so it reveals nothing
   * about accounts; a newer link replacing this one counts as expired ("only the newest link works").
   */
  deadLinkReason(token: string): Promise<DeadLinkReason>;
  /** Sets the new password from a live link (see the module comment for everything it revokes). */
  complete(token: string, newPassword: string, options: { ip?: string }): Promise<ResetOutcome>;
}

export interface PasswordResetDeps {
  readonly config: Config;
  readonly dataSource: DataSource;
  readonly accounts: AccountService;
  readonly hasher: PasswordHasher;
  readonly counters: AttemptCounters;
  readonly notifications: Notifications;
  readonly audit: Audit;
  readonly logger: Logger;
  /** Absent in unit tests that build the service alone. */
  readonly backchannelLogout?: BackchannelLogout;
}

/**
 * Ends every way the account is signed in anywhere: oidc-provider sessions and grants (and what was
 * issued under them), and, through the security stamp, any of them a request in flight saves again.
 */
export async function revokeAccountSessions(manager: Pick<EntityManager, 'query'>, accountId: string): Promise<LogoutTarget[]> {
  const targets = await logoutTargets(manager, accountId, {}, { everyService: true });
  await revokeSignIns(manager, accountId);
  await manager.query(`DELETE FROM oidc_model WHERE model = 'Session' AND payload->>'accountId' = $1`, [accountId]);
  // As revokeGrant (src/provider/adapter.ts) does for one grant, for all of the account's, in the caller's transaction.
  await manager.query(
    `DELETE FROM oidc_model WHERE grant_id IN (SELECT id FROM oidc_model WHERE model = 'Grant' AND payload->>'accountId' = $1)
        OR (model = 'Grant' AND payload->>'accountId' = $1)`,
    [accountId],
  );
  return targets;
}

/**
 * Also tells the account's verified mobile number (if any) that the password changed: whoever reset
 * it may control the email account, so the email alone might never be seen by the owner.
 */
export async function textPasswordChanged(notifications: Notifications, manager: EntityManager, accountId: string): Promise<void> {
  const [row]: { mobile_number: string | null }[] = await manager.query(
    'SELECT mobile_number FROM account WHERE id = $1 AND mobile_verified_at IS NOT NULL',
    [accountId],
  );
  if (row?.mobile_number) await notifications.enqueue(manager, { template: 'password-changed-sms', to: row.mobile_number, data: {}, accountId });
}

/**
 * Makes every unused reset link of the account useless, in the caller's transaction: a newer link,
 * a reset, and a change of password or email address in "Your account" (a link sent to an old
 * address, or asked for before the change, must not undo it).
 */
export async function invalidateResetLinks(manager: Pick<EntityManager, 'query'>, accountId: string): Promise<void> {
  await queryRows(manager, `UPDATE password_reset_token SET invalidated_at = now() WHERE account_id = $1 AND used_at IS NULL AND invalidated_at IS NULL`, [accountId]);
}

export function createPasswordReset(deps: PasswordResetDeps): PasswordReset {
  const { config, dataSource, accounts, hasher, counters, notifications, audit } = deps;
  const origin = new URL(config.issuer).origin;

  async function find(token: string): Promise<LiveResetLink | null> {
    if (!isLinkTokenShaped(token)) return null;
    const rows: { account_id: string; interaction_uid: string | null; email: string }[] = await dataSource.query(
      `SELECT t.account_id, t.interaction_uid, a.email FROM password_reset_token t JOIN account a ON a.id = t.account_id
       WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.invalidated_at IS NULL AND t.expires_at > now() AND a.status = 'active'`,
      [linkTokenHash(token)],
    );
    const row = rows[0];
    return row ? { accountId: row.account_id, email: row.email, interactionUid: row.interaction_uid } : null;
  }

  return {
    find,

    async deadLinkReason(token) {
      if (!isLinkTokenShaped(token)) return 'broken';
      const [row] = await queryRows<{ used: boolean }>(dataSource, `SELECT used_at IS NOT NULL AS used FROM password_reset_token WHERE token_hash = $1`, [linkTokenHash(token)]);
      if (!row) return 'broken';
      return row.used ? 'used' : 'expired';
    },

    async request(email, options) {
      const found = await accounts.findByEmail(email);
      const account = found && found.status === 'active' ? found : null;
      const interactionUid = options.interactionUid && UID.test(options.interactionUid) ? options.interactionUid : null;
      // Made whether or not there is an account, like everything below: the two answers must take
      // the same time (F2). Before, an unknown address answered without a transaction, in about
      // half the time of a known one. The work is done before answering, never after, so an
      // acknowledged request for a real account is never lost.
      const token = newLinkToken();
      await dataSource.transaction(async (manager) => {
        // One statement, the same for both: the hourly cap, invalidating older links, the new
        // link. With no account ($1 NULL) it matches and inserts nothing.
        const [row] = await queryRows<{ expires_at: Date | string }>(manager, ISSUE_LINK_SQL, [account?.id ?? null, linkTokenHash(token), interactionUid, config.ttl.resetLink, RESET_LINKS_PER_HOUR]);
        if (account && row) {
          await notifications.enqueue(manager, {
            template: 'password-reset-link',
            to: account.email,
            // The issuer's own origin, and nothing but the opaque token in the URL (F5).
            data: { link: `${origin}/reset-password/${token}` },
            accountId: account.id,
            deliverBefore: new Date(row.expires_at),
          });
        }
        // Without an account, the audit event of the request stands in for the link and its message.
        const result = !account ? 'no_account' : row ? 'sent' : 'too_many';
        await audit.record('password_reset.requested', { accountId: account?.id, ip: options.ip, detail: { result } }, manager);
      });
    },

    async complete(token, newPassword, options) {
      const link = await find(token);
      if (!link) return { ok: false, reason: 'invalid' };
      const problem = checkPassword(newPassword, { email: link.email });
      if (problem) return { ok: false, reason: 'policy', problem };
      // Hashing is slow on purpose; do it before taking a database session.
      const passwordHash = await hasher.hash(newPassword);
      let logouts: string[] = [];
      const outcome = await dataSource.transaction(async (manager): Promise<ResetOutcome> => {
        // One conditional UPDATE: of two racing submissions of the same link exactly one wins.
        const used = await queryRows<{ account_id: string; interaction_uid: string | null }>(
          manager,
          `UPDATE password_reset_token SET used_at = now()
           WHERE token_hash = $1 AND used_at IS NULL AND invalidated_at IS NULL AND expires_at > now()
           RETURNING account_id, interaction_uid`,
          [linkTokenHash(token)],
        );
        const row = used[0];
        if (!row) return { ok: false, reason: 'invalid' };
        await manager.query(`UPDATE account SET password_hash = $2, updated_at = now() WHERE id = $1`, [row.account_id, passwordHash]);
        await invalidateResetLinks(manager, row.account_id);
        const devices = await createRememberedDevices(dataSource, config).removeAllDevices(row.account_id, manager);
        const signedOut = await revokeAccountSessions(manager, row.account_id);
        // A new password is a rebinding: a lock an attacker caused no longer stands (A4).
        await counters.reset(lockoutKeys.password(row.account_id), manager);
        await notifications.enqueue(manager, { template: 'password-changed', to: link.email, data: {}, accountId: row.account_id });
        await textPasswordChanged(notifications, manager, row.account_id);
        await audit.record('password.reset', { accountId: row.account_id, ip: options.ip, detail: { result: 'changed', devicesRemoved: devices } }, manager);
        // In this transaction: if it commits, the services are told, even after a crash.
        logouts = (await deps.backchannelLogout?.enqueue(manager, row.account_id, signedOut)) ?? [];
        return { ok: true, accountId: row.account_id, interactionUid: row.interaction_uid };
      });
      // After the commit: services hear of the sign-out only once it has happened.
      if (outcome.ok) await deps.backchannelLogout?.deliverNow(logouts);
      return outcome;
    },
  };
}
