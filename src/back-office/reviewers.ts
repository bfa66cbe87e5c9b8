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
  /** Cases assigned to them by "Start next check" and not yet decided or put on hold, oldest first (D23). */
  readonly assignments: readonly ReviewerAssignment[];
}

export interface ReviewerAssignment {
  readonly caseId: string;
  readonly since: Date;
  readonly lapsesAt: Date;
  /** Past its time: back in the queue for anyone, though still theirs until someone takes it. */
  readonly lapsed: boolean;
}

export async function listReviewers(dataSource: DataSource, assignmentSeconds: number): Promise<Reviewer[]> {
  const rows = await queryRows<{ id: string; email: string; app: boolean; passkeys: string | number }>(
    dataSource,
    `SELECT a.id, a.email, a.authenticator_secret IS NOT NULL AS app, (SELECT count(*) FROM passkey p WHERE p.account_id = a.id) AS passkeys
       FROM account a WHERE a.back_office_role = 'reviewer' ORDER BY a.email_normalised`,
  );
  const assigned = await queryRows<{ assigned_to: string; id: string; assigned_at: Date; lapses_at: Date; lapsed: boolean }>(
    dataSource,
    `SELECT c.assigned_to, c.id, c.assigned_at, c.assigned_at + $1::int * interval '1 second' AS lapses_at, c.assigned_at <= now() - $1::int * interval '1 second' AS lapsed
       FROM identity_check_case c JOIN account a ON a.id = c.assigned_to
      WHERE c.assigned_to IS NOT NULL AND a.back_office_role = 'reviewer' ORDER BY c.assigned_at, c.id`,
    [assignmentSeconds],
  );
  return rows.map((r) => ({
    email: r.email,
    hasAuthenticatorApp: Boolean(r.app),
    passkeys: Number(r.passkeys),
    assignments: assigned.filter((a) => a.assigned_to === r.id).map((a) => ({ caseId: a.id, since: new Date(a.assigned_at), lapsesAt: new Date(a.lapses_at), lapsed: Boolean(a.lapsed) })),
  }));
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
