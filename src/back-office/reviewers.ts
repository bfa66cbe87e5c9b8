import type { DataSource } from 'typeorm';
import { normaliseEmail, type BackOfficeRole } from '../../entities/account.js';
import { queryRows } from '../db/sql.js';
import type { Audit } from '../security/audit.js';

/** The back office's roles: reviewers decide identity checks; support staff run the support desk. */
export const BACK_OFFICE_ROLES: readonly BackOfficeRole[] = ['reviewer', 'support'];

/** Who may use the back office: accounts with a back_office_role, granted and revoked by an operator. */
export interface Reviewer {
  readonly email: string;
  readonly role: BackOfficeRole;
  /** Whether the reviewer can sign in to the back office at all (an authenticator app or a passkey). */
  readonly hasAuthenticatorApp: boolean;
  readonly passkeys: number;
  /** Cases assigned to them by "Start next check" or handed to them (D28), not yet decided or put on hold, oldest first (D23). */
  readonly assignments: readonly ReviewerAssignment[];
}

export interface ReviewerAssignment {
  readonly caseId: string;
  readonly since: Date;
  readonly lapsesAt: Date;
  /** Past its time: back in the queue for anyone, though still theirs until someone takes it. */
  readonly lapsed: boolean;
  /** The email address of the reviewer who handed it to them (D28), when it was handed over. */
  readonly handedOverBy?: string;
}

/** Every back-office account (or those with one role), with the checks assigned to each reviewer. */
export async function listReviewers(dataSource: DataSource, assignmentSeconds: number, role?: BackOfficeRole): Promise<Reviewer[]> {
  const rows = await queryRows<{ id: string; email: string; role: BackOfficeRole; app: boolean; passkeys: string | number }>(
    dataSource,
    `SELECT a.id, a.email, a.back_office_role AS role, a.authenticator_secret IS NOT NULL AS app, (SELECT count(*) FROM passkey p WHERE p.account_id = a.id) AS passkeys
       FROM account a WHERE a.back_office_role IS NOT NULL AND ($1::text IS NULL OR a.back_office_role = $1) ORDER BY a.back_office_role, a.email_normalised`,
    [role ?? null],
  );
  const assigned = await queryRows<{ assigned_to: string; id: string; assigned_at: Date; lapses_at: Date; lapsed: boolean; handed_over_by: string | null }>(
    dataSource,
    `SELECT c.assigned_to, c.id, c.assigned_at, c.assigned_at + $1::int * interval '1 second' AS lapses_at, c.assigned_at <= now() - $1::int * interval '1 second' AS lapsed, g.email AS handed_over_by
       FROM identity_check_case c JOIN account a ON a.id = c.assigned_to LEFT JOIN account g ON g.id = c.assigned_by
      WHERE c.assigned_to IS NOT NULL AND a.back_office_role = 'reviewer' ORDER BY c.assigned_at, c.id`,
    [assignmentSeconds],
  );
  return rows.map((r) => ({
    email: r.email,
    role: r.role,
    hasAuthenticatorApp: Boolean(r.app),
    passkeys: Number(r.passkeys),
    assignments: assigned
      .filter((a) => a.assigned_to === r.id)
      .map((a) => ({ caseId: a.id, since: new Date(a.assigned_at), lapsesAt: new Date(a.lapses_at), lapsed: Boolean(a.lapsed), ...(a.handed_over_by ? { handedOverBy: a.handed_over_by } : {}) })),
  }));
}

export type RoleChange = 'changed' | 'unchanged' | 'no-account';

/**
 * Gives an account the role (replacing the other one: an account has at most one), or takes that
 * role away (an account holding the other role is left alone); audited (back_office.role_granted /
 * role_revoked) with the operator's reason (as `note`: free text stays out of log lines).
 */
export async function setReviewer(dataSource: DataSource, audit: Audit, email: string, grant: boolean, reason: string, role: BackOfficeRole = 'reviewer'): Promise<RoleChange> {
  return dataSource.transaction(async (manager) => {
    const [account] = await queryRows<{ id: string; back_office_role: string | null }>(manager, `SELECT id, back_office_role FROM account WHERE email_normalised = $1 FOR UPDATE`, [normaliseEmail(email)]);
    if (!account) return 'no-account';
    if ((account.back_office_role === role) === grant) return 'unchanged';
    await manager.query(`UPDATE account SET back_office_role = $2, updated_at = now() WHERE id = $1`, [account.id, grant ? role : null]);
    await audit.record(grant ? 'back_office.role_granted' : 'back_office.role_revoked', { accountId: account.id, detail: { by: 'operator', role, note: reason, ...(grant && account.back_office_role ? { replaced: account.back_office_role } : {}) } }, manager);
    return 'changed';
  });
}
