import type { EntityManager } from 'typeorm';
import { deleteProtocolState } from '../account/store.js';
import { queryRows } from '../db/sql.js';
import { logoutTargets, type LogoutTarget } from '../provider/logout.js';
import type { AppServices } from '../services.js';
import { supersedeHeldChange } from './mobile-change.js';
import { revokeAccountSessions } from './password-reset.js';
import { createRememberedDevices } from './remembered-devices.js';
import { revokeSignIns } from './sessions-valid-after.js';

type StatusDeps = Pick<AppServices, 'dataSource' | 'config' | 'audit' | 'notifications' | 'backchannelLogout'>;

/** Who changed the account and why: a support account and the reason or ticket it gave. */
export interface StatusChange {
  readonly accountId: string;
  readonly supportAccountId: string;
  readonly reason: string;
  readonly ip?: string;
}

export type StatusResult = 'changed' | 'unchanged' | 'not-found';

/**
 * Disables an account (NHS login's CID2012): it can no longer sign in or get tokens. In one
 * transaction: the status, the security stamp (so a session or token saved back by a request in
 * flight is refused, D12), every session, grant, code and token (as deleting the account does), the
 * remembered devices, the email to the patient, the audit row and the back-channel logout tokens.
 * The password, methods and details stay, so enabling it again gives the same account back.
 */
export async function disableAccount(deps: StatusDeps, change: StatusChange): Promise<StatusResult> {
  const { dataSource, audit, notifications } = deps;
  const devices = createRememberedDevices(dataSource, deps.config);
  return changeThenLogOut(deps, change.accountId, async (manager) => {
    const set = await changeOnce(manager, change.accountId, `status = 'disabled'`, `t.status = 'disabled'`);
    if (typeof set === 'string') return set;
    const signedOut = await logoutTargets(manager, change.accountId, {}, { everyService: true });
    await revokeSignIns(manager, change.accountId);
    await deleteProtocolState(manager, change.accountId);
    const devicesRemoved = await devices.removeAllDevices(change.accountId, manager);
    await notifications.enqueue(manager, { template: 'account-disabled', to: set.email, data: {}, accountId: change.accountId });
    await audit.record('account.disabled', { accountId: change.accountId, ip: change.ip ?? null, detail: { by: 'support', supportAccountId: change.supportAccountId, note: change.reason, devicesRemoved } }, manager);
    return { signedOut };
  });
}

/** Enables a disabled account again; the patient signs in afresh (nothing of the old sign-ins comes back). */
export async function enableAccount(deps: StatusDeps, change: StatusChange): Promise<StatusResult> {
  const { audit, notifications } = deps;
  return changeThenLogOut(deps, change.accountId, async (manager) => {
    const set = await changeOnce(manager, change.accountId, `status = 'active'`, `t.status = 'active'`);
    if (typeof set === 'string') return set;
    await notifications.enqueue(manager, { template: 'account-enabled', to: set.email, data: {}, accountId: change.accountId });
    await audit.record('account.enabled', { accountId: change.accountId, ip: change.ip ?? null, detail: { by: 'support', supportAccountId: change.supportAccountId, note: change.reason } }, manager);
    return { signedOut: [] };
  });
}

/**
 * Removes the mobile number from an account whose number was recycled or taken over (NHS login's
 * "cleanse", D28). In one transaction: the number, its confirmation and its PDS match go; the
 * remembered devices go (each stood in for a code to that phone); a change of number held from "I
 * cannot access my mobile" is set aside (it would put a number back); every session and grant ends
 * and the stamp is set (D12), as a password reset does; the owner is emailed, never texted (the
 * number is someone else's now). Nothing else changes: the next sign-in asks for a new number.
 */
export async function cleanseMobile(deps: StatusDeps, change: StatusChange): Promise<StatusResult> {
  const { dataSource, audit, notifications } = deps;
  const devices = createRememberedDevices(dataSource, deps.config);
  return changeThenLogOut(deps, change.accountId, async (manager) => {
    const set = await changeOnce(manager, change.accountId, `mobile_number = NULL, mobile_verified_at = NULL, phone_number_pds_matched = false`, `t.mobile_number IS NULL`);
    if (typeof set === 'string') return set;
    const devicesRemoved = await devices.removeAllDevices(change.accountId, manager);
    const heldChangesSetAside = await supersedeHeldChange(manager, change.accountId);
    const signedOut = await revokeAccountSessions(manager, change.accountId);
    await notifications.enqueue(manager, { template: 'mobile-removed', to: set.email, data: {}, accountId: change.accountId });
    await audit.record('mobile.cleansed', { accountId: change.accountId, ip: change.ip ?? null, detail: { by: 'support', supportAccountId: change.supportAccountId, note: change.reason, devicesRemoved, heldChangesSetAside } }, manager);
    return { signedOut };
  });
}

/**
 * One support change in one transaction; the services of the sessions it ended (`signedOut`) get
 * their back-channel logout tokens recorded in it and sent once it has committed.
 */
async function changeThenLogOut(deps: StatusDeps, accountId: string, change: (manager: EntityManager) => Promise<{ signedOut: LogoutTarget[] } | Exclude<StatusResult, 'changed'>>): Promise<StatusResult> {
  const { dataSource, backchannelLogout } = deps;
  const outcome = await dataSource.transaction(async (manager) => {
    const done = await change(manager);
    return typeof done === 'string' ? done : backchannelLogout.enqueue(manager, accountId, done.signedOut);
  });
  if (!Array.isArray(outcome)) return outcome;
  await backchannelLogout.deliverNow(outcome);
  return 'changed';
}

/**
 * The conditional update that makes two racing changes one: `set` (SQL) applies only unless
 * `already` (SQL over the row as locked, `t`) holds. The account's email when it changed.
 */
async function changeOnce(manager: EntityManager, accountId: string, set: string, already: string): Promise<{ email: string } | 'unchanged' | 'not-found'> {
  const [row] = await queryRows<{ email: string; changed: boolean }>(
    manager,
    `WITH target AS (SELECT id, email, status, mobile_number FROM account WHERE id = $1 FOR UPDATE),
          changed AS (UPDATE account a SET ${set}, updated_at = now() FROM target t WHERE a.id = t.id AND NOT (${already}) RETURNING a.id)
     SELECT t.email, EXISTS (SELECT 1 FROM changed) AS changed FROM target t`,
    [accountId],
  );
  if (!row) return 'not-found';
  return row.changed ? { email: row.email } : 'unchanged';
}
