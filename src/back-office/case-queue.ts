import type { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../db/sql.js';
import type { PhotoIdDocument } from '../photo-id/cases.js';
import type { Audit } from '../security/audit.js';
import type { RecordCheck } from './record-check.js';

/**
 * The back office's queue (NHS login's ID checker: Queue, In progress, Holding list; nhs-login.md
 * §5.4; decisions D23). "Start next check" assigns the oldest case nobody holds to one reviewer, in
 * one statement that two reviewers pressing at once cannot both win (FOR UPDATE SKIP LOCKED); the
 * assignment lapses after `assignmentSeconds`, so an abandoned case goes back to the queue. A case
 * can be put on hold with a coded reason and a note, and released; its holder can hand it to another
 * reviewer or return it to the queue (D28). The decision itself stays the
 * case service's (src/photo-id/cases.ts), which honours the same assignment rule in its UPDATE.
 * Time is the database's now(), never an instance's clock. Every change is audited with it.
 */

/** Why a case is on the holding list: NHS login's prototype's reasons, and the two a team needs every day. */
export const HOLD_REASONS = {
  'second-opinion': 'Needs a second opinion',
  'senior-checker': 'Escalated to a senior checker',
  safeguarding: 'Potential safeguarding concern',
  fraud: 'Potential fraud (likeness or liveness)',
  duplicate: 'Potential duplicate account',
  'unsupported-postcode': 'Unsupported postcode',
  other: 'Other',
} as const;
export type HoldReason = keyof typeof HOLD_REASONS;

/** Who holds a case, and until when. */
export interface Assignment {
  readonly accountId: string;
  readonly email: string;
  readonly since: Date;
  readonly lapsesAt: Date;
  /** Past its time: back in the queue (still the holder's to decide until someone else takes it). */
  readonly lapsed: boolean;
  /** Who handed it to the holder (D28), when it was handed over rather than taken from the queue. */
  readonly handedOverBy?: { readonly accountId: string; readonly email: string };
}

export interface Hold {
  readonly since: Date;
  readonly byAccountId: string;
  readonly byEmail: string;
  readonly reason: HoldReason;
  readonly note: string | null;
}

export interface QueuedCase {
  readonly id: string;
  readonly accountId: string;
  readonly documentType: PhotoIdDocument;
  readonly submittedAt: Date;
  /** Only an assignment that has not lapsed. */
  readonly assignment?: Assignment;
}

export interface HeldCase extends QueuedCase {
  readonly hold: Hold;
}

/** What the case page needs beyond the case service's CaseDetail. */
export interface QueueState {
  readonly assignment?: Assignment;
  readonly hold?: Hold;
  readonly recordCheck?: { readonly at: Date; readonly check: RecordCheck };
}

export type HoldResult = 'held' | 'already-held' | 'assigned-elsewhere' | 'decided' | 'own-case' | 'not-found';

/**
 * What became of a hand-over or a return to the queue. `assigned-elsewhere`: someone else holds it now
 * (a racing hand-over, or a lapse taken up); `not-assigned`: nobody holds it, or it is on hold;
 * `not-a-reviewer`: the one named cannot take it (themselves, not a reviewer, not active, unable to
 * sign in to the back office, or the case's own patient). Nothing changed unless it says
 * `handed-over` or `returned`.
 */
export type HandOverResult = 'handed-over' | 'assigned-elsewhere' | 'not-assigned' | 'not-a-reviewer' | 'decided' | 'not-found';
export type ReturnResult = 'returned' | Exclude<HandOverResult, 'handed-over' | 'not-a-reviewer'>;

/** A reviewer a case may be handed to. */
export interface Colleague {
  readonly accountId: string;
  readonly email: string;
}

export interface CaseQueue {
  /** Cases awaiting review and not on hold, oldest first, with who is working each. */
  waiting(limit: number): Promise<QueuedCase[]>;
  /** The holding list, oldest hold first. */
  held(limit: number): Promise<HeldCase[]>;
  stateOf(caseId: string): Promise<QueueState>;
  /**
   * The reviewer's own case in progress if they have one (its time restarted), else the oldest case
   * that is not theirs, not on hold and not someone else's live assignment. Undefined: none.
   */
  assignNext(reviewerAccountId: string, ip?: string): Promise<string | undefined>;
  hold(input: { caseId: string; reviewerAccountId: string; reason: HoldReason; note?: string; ip?: string }): Promise<HoldResult>;
  /** Back to the queue, unassigned. False when it was not on hold (released already, or decided). */
  release(input: { caseId: string; reviewerAccountId: string; ip?: string }): Promise<boolean>;
  /** The reviewer's own cases in progress ("Assigned to you"), lapsed ones included (still theirs until taken), oldest assignment first. */
  assignedTo(reviewerAccountId: string): Promise<(QueuedCase & { readonly assignment: Assignment })[]>;
  /** Reviewers (active, with the role, able to sign in) the case may be handed to: never the one handing it over, never the case's own patient. */
  colleaguesFor(caseId: string, reviewerAccountId: string): Promise<Colleague[]>;
  /**
   * Gives the case to another reviewer, in one conditional UPDATE: only while it is still undecided,
   * not on hold and assigned to `fromAccountId` (lapsed or not, as for a decision), and only to an
   * active reviewer who can sign in to the back office and is neither the giver nor the case's
   * patient. Their time starts now. Of a hand-over and a decision (or two hand-overs) at once,
   * exactly one wins. Audited with the note.
   */
  handOver(input: { caseId: string; fromAccountId: string; toAccountId: string; note?: string; ip?: string }): Promise<HandOverResult>;
  /** The holder gives the case back to the queue, unassigned; the same conditions as a hand-over. */
  returnToQueue(input: { caseId: string; reviewerAccountId: string; ip?: string }): Promise<ReturnResult>;
  /** Keeps the outcome of a re-check of the NHS record on the case (not the record). */
  saveRecordCheck(input: { caseId: string; reviewerAccountId: string; check: RecordCheck; ip?: string }): Promise<void>;
}

interface StateRow {
  assigned_to: string | null;
  assigned_by: string | null;
  assigned_by_email: string | null;
  assigned_email: string | null;
  assigned_at: Date | null;
  lapses_at: Date | null;
  lapsed: boolean | null;
  held_at: Date | null;
  held_by: string | null;
  held_email: string | null;
  hold_reason: HoldReason | null;
  hold_note: string | null;
  record_checked_at: Date | null;
  record_check: RecordCheck | null;
}

interface ListRow extends StateRow {
  id: string;
  account_id: string;
  document_type: PhotoIdDocument;
  submitted_at: Date;
}

/** The columns every read shares: the assignment's lapse and the names of whoever holds it. $1 is the lapse in seconds. */
const STATE_COLUMNS = `c.assigned_to, a.email AS assigned_email, c.assigned_at, c.assigned_by, g.email AS assigned_by_email,
  c.assigned_at + $1::int * interval '1 second' AS lapses_at, c.assigned_at <= now() - $1::int * interval '1 second' AS lapsed,
  c.held_at, c.held_by, h.email AS held_email, c.hold_reason, c.hold_note, c.record_checked_at, c.record_check`;
const STATE_JOINS = `LEFT JOIN account a ON a.id = c.assigned_to LEFT JOIN account g ON g.id = c.assigned_by LEFT JOIN account h ON h.id = c.held_by`;
const LIVE = `(c.assigned_to IS NULL OR c.assigned_at <= now() - $1::int * interval '1 second')`;

function stateOf(row: StateRow): QueueState {
  return {
    ...(row.assigned_to && row.assigned_at
      ? {
          assignment: {
            accountId: row.assigned_to, email: row.assigned_email ?? '', since: new Date(row.assigned_at), lapsesAt: new Date(row.lapses_at!), lapsed: Boolean(row.lapsed),
            ...(row.assigned_by ? { handedOverBy: { accountId: row.assigned_by, email: row.assigned_by_email ?? '' } } : {}),
          },
        }
      : {}),
    ...(row.held_at && row.held_by && row.hold_reason
      ? { hold: { since: new Date(row.held_at), byAccountId: row.held_by, byEmail: row.held_email ?? '', reason: row.hold_reason, note: row.hold_note } }
      : {}),
    ...(row.record_checked_at && row.record_check ? { recordCheck: { at: new Date(row.record_checked_at), check: row.record_check } } : {}),
  };
}

function listed(row: ListRow): QueuedCase & QueueState {
  const state = stateOf(row);
  return {
    id: row.id,
    accountId: row.account_id,
    documentType: row.document_type,
    submittedAt: new Date(row.submitted_at),
    ...(state.assignment && !state.assignment.lapsed ? { assignment: state.assignment } : {}),
    ...(state.hold ? { hold: state.hold } : {}),
  };
}

/** Tries to pick: with LIMIT 1, a row changed by another picker between snapshot and lock can leave a statement empty. */
const PICK_TRIES = 3;

/**
 * Who may be handed case $1 by reviewer $2 (`a` is the account): an active reviewer who can sign in
 * to the back office (an authenticator app or a passkey, D20), not the one handing it over, not the
 * case's own patient (the own-case rule).
 */
const CAN_TAKE = `a.back_office_role = 'reviewer' AND a.status = 'active' AND a.id <> $2
  AND (a.authenticator_secret IS NOT NULL OR EXISTS (SELECT 1 FROM passkey p WHERE p.account_id = a.id))
  AND a.id <> (SELECT account_id FROM identity_check_case WHERE id = $1)`;

/** Why a hand-over or return by `reviewerAccountId` changed nothing, read after its UPDATE; undefined when they still hold the case. */
async function whyNotHolder(manager: EntityManager, caseId: string, reviewerAccountId: string): Promise<Exclude<HandOverResult, 'handed-over' | 'not-a-reviewer'> | undefined> {
  const [now] = await queryRows<{ status: string; assigned_to: string | null; held_at: Date | null }>(manager, `SELECT status, assigned_to, held_at FROM identity_check_case WHERE id = $1`, [caseId]);
  if (!now) return 'not-found';
  if (now.status !== 'awaiting_review') return 'decided';
  if (now.held_at || !now.assigned_to) return 'not-assigned';
  return now.assigned_to === reviewerAccountId ? undefined : 'assigned-elsewhere';
}

export function createCaseQueue(deps: { dataSource: DataSource; audit: Audit; assignmentSeconds: number }): CaseQueue {
  const { dataSource, audit, assignmentSeconds } = deps;

  async function pick(manager: EntityManager, reviewerAccountId: string): Promise<{ id: string; previous: string | null } | undefined> {
    const [mine] = await queryRows<{ id: string }>(
      manager,
      `UPDATE identity_check_case SET assigned_at = now()
        WHERE id = (SELECT id FROM identity_check_case WHERE assigned_to = $1 AND status = 'awaiting_review' ORDER BY assigned_at LIMIT 1 FOR UPDATE SKIP LOCKED)
          AND assigned_to = $1 RETURNING id`,
      [reviewerAccountId],
    );
    if (mine) return { id: mine.id, previous: reviewerAccountId };
    for (let attempt = 0; attempt < PICK_TRIES; attempt++) {
      const [picked] = await queryRows<{ id: string; previous: string | null }>(
        manager,
        `UPDATE identity_check_case c SET assigned_to = $2, assigned_at = now(), assigned_by = NULL
           FROM (SELECT id, assigned_to AS previous FROM identity_check_case c
                  WHERE status = 'awaiting_review' AND held_at IS NULL AND account_id <> $2 AND ${LIVE}
                  ORDER BY submitted_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) AS picked
          WHERE c.id = picked.id RETURNING c.id, picked.previous`,
        [assignmentSeconds, reviewerAccountId],
      );
      if (picked) return picked;
      // Empty because the queue is empty, or because a racing pick changed the row we reached: look again only in the second case.
      const [left] = await queryRows<{ n: number }>(manager, `SELECT count(*)::int AS n FROM identity_check_case c WHERE status = 'awaiting_review' AND held_at IS NULL AND account_id <> $2 AND ${LIVE}`, [assignmentSeconds, reviewerAccountId]);
      if (!left || Number(left.n) === 0) return undefined;
    }
    return undefined;
  }

  return {
    async waiting(limit) {
      const rows = await queryRows<ListRow>(
        dataSource,
        `SELECT c.id, c.account_id, c.document_type, c.submitted_at, ${STATE_COLUMNS} FROM identity_check_case c ${STATE_JOINS}
          WHERE c.status = 'awaiting_review' AND c.held_at IS NULL ORDER BY c.submitted_at, c.id LIMIT $2`,
        [assignmentSeconds, limit],
      );
      return rows.map(listed);
    },

    async held(limit) {
      const rows = await queryRows<ListRow>(
        dataSource,
        `SELECT c.id, c.account_id, c.document_type, c.submitted_at, ${STATE_COLUMNS} FROM identity_check_case c ${STATE_JOINS}
          WHERE c.status = 'awaiting_review' AND c.held_at IS NOT NULL ORDER BY c.held_at, c.id LIMIT $2`,
        [assignmentSeconds, limit],
      );
      return rows.map((row) => listed(row) as HeldCase);
    },

    async stateOf(caseId) {
      const [row] = await queryRows<StateRow>(dataSource, `SELECT ${STATE_COLUMNS} FROM identity_check_case c ${STATE_JOINS} WHERE c.id = $2`, [assignmentSeconds, caseId]);
      return row ? stateOf(row) : {};
    },

    async assignNext(reviewerAccountId, ip) {
      return dataSource.transaction(async (manager) => {
        const picked = await pick(manager, reviewerAccountId);
        if (!picked) return undefined;
        const detail = { caseId: picked.id, ...(picked.previous && picked.previous !== reviewerAccountId ? { lapsedFrom: picked.previous } : {}), ...(picked.previous === reviewerAccountId ? { again: true } : {}) };
        await audit.record('back_office.case_assigned', { accountId: reviewerAccountId, ip, detail }, manager);
        return picked.id;
      });
    },

    async hold({ caseId, reviewerAccountId, reason, note, ip }) {
      return dataSource.transaction(async (manager): Promise<HoldResult> => {
        const [held] = await queryRows<{ id: string }>(
          manager,
          `UPDATE identity_check_case c SET held_at = now(), held_by = $3, hold_reason = $4, hold_note = $5, assigned_to = NULL, assigned_at = NULL, assigned_by = NULL
            WHERE id = $2 AND status = 'awaiting_review' AND held_at IS NULL AND account_id <> $3
              AND (assigned_to IS NULL OR assigned_to = $3 OR assigned_at <= now() - $1::int * interval '1 second') RETURNING id`,
          [assignmentSeconds, caseId, reviewerAccountId, reason, note ?? null],
        );
        if (held) {
          // The note goes in the audit trail too: after a release, the row no longer has it.
          await audit.record('back_office.case_held', { accountId: reviewerAccountId, ip, detail: { caseId, reason, ...(note ? { note } : {}) } }, manager);
          return 'held';
        }
        const [now] = await queryRows<{ status: string; held_at: Date | null; account_id: string }>(manager, `SELECT status, held_at, account_id FROM identity_check_case WHERE id = $1`, [caseId]);
        if (!now) return 'not-found';
        if (now.account_id === reviewerAccountId) return 'own-case';
        if (now.status !== 'awaiting_review') return 'decided';
        return now.held_at ? 'already-held' : 'assigned-elsewhere';
      });
    },

    async release({ caseId, reviewerAccountId, ip }) {
      return dataSource.transaction(async (manager) => {
        const [released] = await queryRows<{ hold_reason: string }>(
          manager,
          `UPDATE identity_check_case c SET held_at = NULL, held_by = NULL, hold_reason = NULL, hold_note = NULL
             FROM (SELECT id, hold_reason FROM identity_check_case WHERE id = $1 FOR UPDATE) AS before
            WHERE c.id = before.id AND c.status = 'awaiting_review' AND c.held_at IS NOT NULL AND c.account_id <> $2 RETURNING before.hold_reason`,
          [caseId, reviewerAccountId],
        );
        if (!released) return false;
        await audit.record('back_office.case_released', { accountId: reviewerAccountId, ip, detail: { caseId, reason: released.hold_reason } }, manager);
        return true;
      });
    },

    async assignedTo(reviewerAccountId) {
      const rows = await queryRows<ListRow>(
        dataSource,
        `SELECT c.id, c.account_id, c.document_type, c.submitted_at, ${STATE_COLUMNS} FROM identity_check_case c ${STATE_JOINS}
          WHERE c.status = 'awaiting_review' AND c.assigned_to = $2 ORDER BY c.assigned_at, c.id`,
        [assignmentSeconds, reviewerAccountId],
      );
      return rows.map((row) => ({ ...listed(row), assignment: stateOf(row).assignment! }));
    },

    async colleaguesFor(caseId, reviewerAccountId) {
      const rows = await queryRows<{ id: string; email: string }>(
        dataSource,
        `SELECT a.id, a.email FROM account a WHERE ${CAN_TAKE} ORDER BY a.email_normalised`,
        [caseId, reviewerAccountId],
      );
      return rows.map((r) => ({ accountId: r.id, email: r.email }));
    },

    async handOver({ caseId, fromAccountId, toAccountId, note, ip }) {
      return dataSource.transaction(async (manager): Promise<HandOverResult> => {
        // One statement decides it: a racing decision, hand-over or return changes the row first or after, never both.
        const [handed] = await queryRows<{ id: string }>(
          manager,
          `UPDATE identity_check_case c SET assigned_to = $3, assigned_at = now(), assigned_by = $2
            WHERE c.id = $1 AND c.status = 'awaiting_review' AND c.held_at IS NULL AND c.assigned_to = $2
              AND EXISTS (SELECT 1 FROM account a WHERE a.id = $3 AND ${CAN_TAKE}) RETURNING c.id`,
          [caseId, fromAccountId, toAccountId],
        );
        if (handed) {
          await audit.record('back_office.case_handed_over', { accountId: fromAccountId, ip, detail: { caseId, to: toAccountId, ...(note ? { note } : {}) } }, manager);
          return 'handed-over';
        }
        const why = await whyNotHolder(manager, caseId, fromAccountId);
        return why ?? 'not-a-reviewer';
      });
    },

    async returnToQueue({ caseId, reviewerAccountId, ip }) {
      return dataSource.transaction(async (manager): Promise<ReturnResult> => {
        const [returned] = await queryRows<{ id: string }>(
          manager,
          `UPDATE identity_check_case SET assigned_to = NULL, assigned_at = NULL, assigned_by = NULL
            WHERE id = $1 AND status = 'awaiting_review' AND held_at IS NULL AND assigned_to = $2 RETURNING id`,
          [caseId, reviewerAccountId],
        );
        if (returned) {
          await audit.record('back_office.case_returned', { accountId: reviewerAccountId, ip, detail: { caseId } }, manager);
          return 'returned';
        }
        return (await whyNotHolder(manager, caseId, reviewerAccountId)) ?? 'not-assigned';
      });
    },

    async saveRecordCheck({ caseId, reviewerAccountId, check, ip }) {
      await dataSource.transaction(async (manager) => {
        await manager.query(`UPDATE identity_check_case SET record_checked_at = now(), record_check = $2::jsonb WHERE id = $1 AND status = 'awaiting_review'`, [caseId, JSON.stringify(check)]);
        await audit.record('back_office.record_rechecked', { accountId: reviewerAccountId, ip, detail: { caseId, ...check } }, manager);
      });
    },
  };
}
