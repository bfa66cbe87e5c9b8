import type { EntityManager } from 'typeorm';
import { deleteProtocolState } from '../account/store.js';
import { queryRows } from '../db/sql.js';
import { logoutTargets } from '../provider/logout.js';
import type { AppServices } from '../services.js';
import { createRememberedDevices } from './remembered-devices.js';
import { revokeSignIns } from './sessions-valid-after.js';

type StatusDeps = Pick<AppServices, 'dataSource' | 'config' | 'audit' | 'notifications' | 'backchannelLogout'>;

/** Who changed the status and why: a support account and the reason or ticket it gave. */
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
  const { dataSource, audit, notifications, backchannelLogout } = deps;
  const devices = createRememberedDevices(dataSource, deps.config);
  const outcome = await dataSource.transaction(async (manager) => {
    const set = await setStatus(manager, change.accountId, 'disabled');
    if (typeof set === 'string') return set;
    const { email } = set;
    const signedIn = await logoutTargets(manager, change.accountId, {}, { everyService: true });
    await revokeSignIns(manager, change.accountId);
    await deleteProtocolState(manager, change.accountId);
    const devicesRemoved = await devices.removeAllDevices(change.accountId, manager);
    await notifications.enqueue(manager, { template: 'account-disabled', to: email, data: {}, accountId: change.accountId });
    await audit.record('account.disabled', { accountId: change.accountId, ip: change.ip ?? null, detail: { by: 'support', supportAccountId: change.supportAccountId, note: change.reason, devicesRemoved } }, manager);
    return backchannelLogout.enqueue(manager, change.accountId, signedIn);
  });
  if (!Array.isArray(outcome)) return outcome;
  await backchannelLogout.deliverNow(outcome);
  return 'changed';
}

/** Enables a disabled account again; the patient signs in afresh (nothing of the old sign-ins comes back). */
export async function enableAccount(deps: StatusDeps, change: StatusChange): Promise<StatusResult> {
  const { dataSource, audit, notifications } = deps;
  return dataSource.transaction(async (manager) => {
    const set = await setStatus(manager, change.accountId, 'active');
    if (typeof set === 'string') return set;
    const { email } = set;
    await notifications.enqueue(manager, { template: 'account-enabled', to: email, data: {}, accountId: change.accountId });
    await audit.record('account.enabled', { accountId: change.accountId, ip: change.ip ?? null, detail: { by: 'support', supportAccountId: change.supportAccountId, note: change.reason } }, manager);
    return 'changed';
  });
}

/** The conditional update that makes two racing changes one: the account's email when it changed. */
async function setStatus(manager: EntityManager, accountId: string, to: 'active' | 'disabled'): Promise<{ email: string } | 'unchanged' | 'not-found'> {
  const [row] = await queryRows<{ email: string; changed: boolean }>(
    manager,
    `WITH target AS (SELECT id, email, status FROM account WHERE id = $1 FOR UPDATE),
          changed AS (UPDATE account a SET status = $2, updated_at = now() FROM target t WHERE a.id = t.id AND t.status <> $2 RETURNING a.id)
     SELECT t.email, EXISTS (SELECT 1 FROM changed) AS changed FROM target t`,
    [accountId, to],
  );
  if (!row) return 'not-found';
  return row.changed ? { email: row.email } : 'unchanged';
}
