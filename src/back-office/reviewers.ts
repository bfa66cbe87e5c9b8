import type { DataSource } from 'typeorm';
import { normaliseEmail } from '../../entities/account.js';
import { queryRows } from '../db/sql.js';
import type { Audit } from '../security/audit.js';

/** Who may use the back office: accounts with back_office_role = 'reviewer', granted and revoked by an operator. */
export interface Reviewer {
  readonly email: string;
  /** Whether the reviewer can sign in to the back office at all (an authenticator app or a passkey). */
  readonly hasAuthenticatorApp: boolean;
  readonly passkeys: number;
}

export async function listReviewers(dataSource: DataSource): Promise<Reviewer[]> {
  const rows = await queryRows<{ email: string; app: boolean; passkeys: string | number }>(
    dataSource,
    `SELECT a.email, a.authenticator_secret IS NOT NULL AS app, (SELECT count(*) FROM passkey p WHERE p.account_id = a.id) AS passkeys
       FROM account a WHERE a.back_office_role = 'reviewer' ORDER BY a.email_normalised`,
  );
  return rows.map((r) => ({ email: r.email, hasAuthenticatorApp: Boolean(r.app), passkeys: Number(r.passkeys) }));
}

export type RoleChange = 'changed' | 'unchanged' | 'no-account';

/** Gives or takes away the reviewer role; audited (back_office.role_granted / role_revoked) with the operator's reason. */
export async function setReviewer(dataSource: DataSource, audit: Audit, email: string, reviewer: boolean, reason: string): Promise<RoleChange> {
  return dataSource.transaction(async (manager) => {
    const [account] = await queryRows<{ id: string; back_office_role: string | null }>(manager, `SELECT id, back_office_role FROM account WHERE email_normalised = $1 FOR UPDATE`, [normaliseEmail(email)]);
    if (!account) return 'no-account';
    if ((account.back_office_role === 'reviewer') === reviewer) return 'unchanged';
    await manager.query(`UPDATE account SET back_office_role = $2, updated_at = now() WHERE id = $1`, [account.id, reviewer ? 'reviewer' : null]);
    await audit.record(reviewer ? 'back_office.role_granted' : 'back_office.role_revoked', { accountId: account.id, detail: { by: 'operator', role: 'reviewer', reason } }, manager);
    return 'changed';
  });
}
