/**
 * The hold on a mobile number changed through "I cannot access my mobile" (security-bar X1; NHS
 * login: "may take up to 24 hours", with a cancel link). That route proves only the password and the
 * email inbox: the text code proves the person holds the NEW phone, which they chose. So the new
 * number is held for MOBILE_CHANGE_HOLD_SECONDS before it replaces the old one, gives no `Cd`
 * meanwhile, and the email address and the old number get a link that cancels it and signs everyone
 * out. The worker applies due changes (src/app.ts); a change in Your account (re-authenticated with
 * a code to the current number) replaces a held one.
 */
import type { DataSource, EntityManager } from 'typeorm';
import type { Config } from '../config/index.js';
import { queryRows } from '../db/sql.js';
import { isLinkTokenShaped, linkTokenHash, newLinkToken } from '../security/link-token.js';
import type { Notifications } from '../notifications/outbox.js';
import type { Audit } from '../security/audit.js';
import { lockoutKeys, type AttemptCounters } from '../security/attempt-counters.js';
import { nhsDateTime } from '../web/dates.js';
import type { BackchannelLogout } from '../provider/logout.js';
import { revokeAccountSessions } from './password-reset.js';
import { createRememberedDevices } from './remembered-devices.js';

type Db = Pick<EntityManager, 'query'>;

export const CANCEL_PATH = '/cancel-mobile';

export interface HeldChange {
  readonly newMobile: string;
  readonly effectiveAt: Date;
}

/** What a cancel link finds: a change still on hold, or why it can no longer be cancelled. */
export type CancelLink =
  | { readonly state: 'pending'; readonly newMobile: string; readonly effectiveAt: Date }
  | { readonly state: 'cancelled' | 'too-late' | 'unknown' };

export interface MobileChangeDeps {
  readonly config: Config;
  readonly dataSource: DataSource;
  readonly notifications: Notifications;
  readonly audit: Audit;
  readonly counters: AttemptCounters;
  readonly backchannelLogout?: BackchannelLogout;
}

export interface MobileChanges {
  /**
   * In the caller's transaction: holds `newMobile` for the account (replacing a change already held),
   * and sends the cancel link to the email address and the number being replaced.
   */
  hold(manager: EntityManager, change: { accountId: string; email: string; oldMobile: string | null; newMobile: string }): Promise<HeldChange>;
  /** The change held for the account, if any. */
  heldFor(db: Db, accountId: string): Promise<HeldChange | undefined>;
  /**
   * What became of the newest change of the account to `newMobile`: still held, applied (a short
   * hold that has ended), or set aside (cancelled with its link or in Your account, or replaced).
   */
  outcomeOf(db: Db, accountId: string, newMobile: string): Promise<{ readonly status: 'pending' | 'applied' | 'set-aside'; readonly effectiveAt?: Date }>;
  /** What a cancel link is for (read only: the GET of the link must change nothing). */
  inspect(token: string): Promise<CancelLink>;
  /** Cancels the held change behind a link, once; signs everyone out. The link's state after. */
  cancel(token: string, options: { ip?: string }): Promise<Exclude<CancelLink['state'], 'pending'> | 'done'>;
  /** Cancels the account's held change from Your account (signed in with a code to the current number). False when none was held. */
  cancelHeldFor(accountId: string, options: { ip?: string }): Promise<boolean>;
  /** Applies every held change whose time has come; returns how many. Safe on several instances at once. */
  applyDue(): Promise<number>;
}

/** In the caller's transaction: a held change is set aside (a new number was proven in Your account, or the support desk removed the number). How many. */
export async function supersedeHeldChange(db: Db, accountId: string): Promise<number> {
  const rows = await queryRows(db, `UPDATE mobile_change SET status = 'superseded', finished_at = now() WHERE account_id = $1 AND status = 'pending' RETURNING id`, [accountId]);
  return rows.length;
}

export function createMobileChanges(deps: MobileChangeDeps): MobileChanges {
  const { config, dataSource, notifications, audit, counters } = deps;
  const origin = new URL(config.issuer).origin;

  /**
   * Cancels the held change (by its link, or the account's one), once; ends every session, forgets
   * devices, emails the owner; back-channel logout after the commit. True when this call cancelled it.
   */
  async function cancelHeld(which: { tokenHash: string } | { accountId: string }, ip: string | undefined, via: 'link' | 'account'): Promise<boolean> {
    let logouts: string[] = [];
    let accountId: string | undefined;
    await dataSource.transaction(async (manager) => {
      // One conditional UPDATE: of two clicks exactly one cancels.
      const [row] = await queryRows<{ account_id: string }>(
        manager,
        `UPDATE mobile_change SET status = 'cancelled', finished_at = now()
          WHERE ${'tokenHash' in which ? 'cancel_token_hash' : 'account_id'} = $1 AND status = 'pending' AND effective_at > now() RETURNING account_id`,
        ['tokenHash' in which ? which.tokenHash : which.accountId],
      );
      if (!row) return;
      accountId = row.account_id;
      // Whoever asked for the change may be signed in: sign everyone out, forget devices.
      const signedOut = await revokeAccountSessions(manager, row.account_id);
      const devices = await createRememberedDevices(dataSource, config).removeAllDevices(row.account_id, manager);
      const [account] = await queryRows<{ email: string }>(manager, 'SELECT email FROM account WHERE id = $1', [row.account_id]);
      if (account) await notifications.enqueue(manager, { template: 'mobile-change-cancelled', to: account.email, data: {}, accountId: row.account_id });
      await audit.record('mobile.change_cancelled', { accountId: row.account_id, ip, detail: { via, devicesRemoved: devices } }, manager);
      logouts = (await deps.backchannelLogout?.enqueue(manager, row.account_id, signedOut)) ?? [];
    });
    if (!accountId) return false;
    await deps.backchannelLogout?.deliverNow(logouts);
    return true;
  }

  async function inspect(token: string): Promise<CancelLink> {
    if (!isLinkTokenShaped(token)) return { state: 'unknown' };
    const [row] = await queryRows<{ new_mobile: string; status: string; effective_at: Date | string; due: boolean }>(
      dataSource,
      `SELECT new_mobile, status, effective_at, effective_at <= now() AS due FROM mobile_change WHERE cancel_token_hash = $1`,
      [linkTokenHash(token)],
    );
    if (!row) return { state: 'unknown' };
    if (row.status === 'cancelled') return { state: 'cancelled' };
    if (row.status !== 'pending' || row.due) return { state: 'too-late' };
    return { state: 'pending', newMobile: row.new_mobile, effectiveAt: new Date(row.effective_at) };
  }

  return {
    inspect,

    async hold(manager, { accountId, email, oldMobile, newMobile }) {
      await supersedeHeldChange(manager, accountId);
      const token = newLinkToken();
      const [row] = await queryRows<{ effective_at: Date | string }>(
        manager,
        `INSERT INTO mobile_change (account_id, new_mobile, effective_at, cancel_token_hash)
         VALUES ($1, $2, now() + $3::int * interval '1 second', $4) RETURNING effective_at`,
        [accountId, newMobile, config.ttl.mobileChangeHold, linkTokenHash(token)],
      );
      const effectiveAt = new Date(row!.effective_at);
      const link = `${origin}${CANCEL_PATH}/${token}`;
      await notifications.enqueue(manager, {
        template: 'mobile-change-pending',
        to: email,
        data: { mobileEnding: newMobile, effective: nhsDateTime(effectiveAt), link },
        accountId,
        deliverBefore: effectiveAt,
      });
      if (oldMobile && oldMobile !== newMobile) {
        await notifications.enqueue(manager, { template: 'mobile-change-pending-sms', to: oldMobile, data: { link }, accountId, deliverBefore: effectiveAt });
      }
      return { newMobile, effectiveAt };
    },

    async heldFor(db, accountId) {
      const [row] = await queryRows<{ new_mobile: string; effective_at: Date | string }>(
        db,
        `SELECT new_mobile, effective_at FROM mobile_change WHERE account_id = $1 AND status = 'pending' ORDER BY created_at DESC LIMIT 1`,
        [accountId],
      );
      return row ? { newMobile: row.new_mobile, effectiveAt: new Date(row.effective_at) } : undefined;
    },

    async outcomeOf(db, accountId, newMobile) {
      const [row] = await queryRows<{ status: string; effective_at: Date | string }>(
        db,
        `SELECT status, effective_at FROM mobile_change WHERE account_id = $1 AND new_mobile = $2 ORDER BY created_at DESC LIMIT 1`,
        [accountId, newMobile],
      );
      if (row?.status === 'pending' || row?.status === 'applied') return { status: row.status, effectiveAt: new Date(row.effective_at) };
      return { status: 'set-aside' };
    },

    async cancel(token, { ip }) {
      if (!isLinkTokenShaped(token)) return 'unknown';
      if (await cancelHeld({ tokenHash: linkTokenHash(token) }, ip, 'link')) return 'done';
      const after = await inspect(token);
      return after.state === 'pending' ? 'too-late' : after.state;
    },

    async cancelHeldFor(accountId, { ip }) {
      return cancelHeld({ accountId }, ip, 'account');
    },

    async applyDue() {
      return dataSource.transaction(async (manager) => {
        const applied = await queryRows<{ account_id: string; email: string; new_mobile: string }>(
          manager,
          // A change held for an account disabled since is set aside, never applied: not later, when
          // the account is enabled again (it may have been disabled for that very change).
          `WITH due AS (
             SELECT m.id, a.status = 'active' AS live FROM mobile_change m JOIN account a ON a.id = m.account_id
              WHERE m.status = 'pending' AND m.effective_at <= now()
              ORDER BY m.effective_at LIMIT 100 FOR UPDATE OF m SKIP LOCKED
           ), done AS (
             UPDATE mobile_change m SET status = CASE WHEN due.live THEN 'applied' ELSE 'superseded' END, finished_at = now()
               FROM due WHERE m.id = due.id
             RETURNING m.account_id, m.new_mobile, due.live
           )
           UPDATE account a SET mobile_number = done.new_mobile, mobile_verified_at = now(), updated_at = now()
             FROM done WHERE a.id = done.account_id AND done.live
           RETURNING a.id AS account_id, a.email, done.new_mobile`,
          [],
        );
        for (const change of applied) {
          await notifications.enqueue(manager, { template: 'mobile-changed', to: change.email, data: { mobileEnding: change.new_mobile }, accountId: change.account_id });
          // A new number is a rebinding: a code lock on the old one no longer stands.
          await counters.reset(lockoutKeys.securityCode(change.account_id, 'sign-in'), manager);
          await audit.record('mobile.changed', { accountId: change.account_id, detail: { route: 'cannot-access-mobile', held: true } }, manager);
        }
        return applied.length;
      });
    },
  };
}
