import { createHash, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { CaseStatus } from '../../entities/identity-check-case.js';
import { isUniqueViolation, queryRows } from '../db/sql.js';
import type { Notifications } from '../notifications/outbox.js';
import type { Audit } from '../security/audit.js';

/**
 * P9 by photo ID and video (NHS login's "prove your identity", nhs-login.md §5.3): the person sends
 * a photo of an accepted ID document and a short video of themselves saying four digits; a reviewer
 * in the back office compares both with the account's details (matched at P5) and approves or
 * declines with a coded reason. Approval raises the account to P9. Every step is audited, and the
 * decision, the level, the audit row and the email to the person commit together (E7).
 */

/** The documents NHS login accepts (nhs-login.md §5.3), by the code stored on the case. */
export const PHOTO_ID_DOCUMENTS = {
  passport: 'Passport',
  'uk-driving-licence': 'UK driving licence (full or provisional)',
  'uk-brp': 'UK biometric residence permit',
  'uk-residence-card': 'UK residence card',
  'uk-arc': 'UK application registration card (ARC)',
  citizencard: 'CitizenCard',
  'eu-driving-licence': 'European driving licence (full)',
  'eu-national-id': 'European national identity card',
  'uk-visa': 'UK entry clearance visa sticker',
} as const;
export type PhotoIdDocument = keyof typeof PHOTO_ID_DOCUMENTS;

/**
 * Why a case is declined (NHS login's ID checker prototype, nhs-login.md §5.4), grouped as the
 * reviewer's form groups them. The person's email says which group, in plain words.
 */
export const DECLINE_REASONS = {
  'image-blurred': { group: 'image', text: 'The photo of the ID is blurred' },
  'image-glare': { group: 'image', text: 'There is glare on the photo of the ID' },
  'image-cropped': { group: 'image', text: 'Part of the ID is cut off or covered' },
  'document-unsupported': { group: 'document', text: 'The document is not one we accept' },
  'document-expired': { group: 'document', text: 'The document expired more than 12 months ago' },
  'document-not-genuine': { group: 'document', text: 'The document does not look genuine' },
  'details-mismatch': { group: 'details', text: 'The name or date of birth on the ID does not match the account' },
  'face-mismatch': { group: 'face', text: 'The person in the video is not the person on the ID' },
  'video-unclear': { group: 'video', text: 'The numbers in the video could not be seen or heard' },
  'video-wrong-numbers': { group: 'video', text: 'The numbers in the video were not the ones asked for' },
} as const;
export type DeclineReason = keyof typeof DECLINE_REASONS;

/** Evidence as it is stored: the photo always a JPEG carelogin made, the video as checked. */
export interface Evidence {
  readonly contentType: string;
  readonly content: Buffer;
}

export interface CaseSummary {
  readonly id: string;
  readonly accountId: string;
  readonly status: CaseStatus;
  readonly documentType: PhotoIdDocument;
  readonly submittedAt: Date;
}

export interface CaseDetail extends CaseSummary {
  readonly spokenDigits: string;
  readonly clientId: string | null;
  readonly reviewerAccountId: string | null;
  readonly decidedAt: Date | null;
  readonly decisionReason: string | null;
}

export type SubmitResult = { readonly kind: 'submitted'; readonly caseId: string } | { readonly kind: 'already-open'; readonly caseId: string };

/** `assigned-elsewhere`: another reviewer's assignment (back office, D23) has not lapsed; nothing was decided. */
/** `account-disabled`: an approval refused because the support desk disabled the account (D25); nothing changed. */
export type DecideResult = 'decided' | 'already-decided' | 'assigned-elsewhere' | 'own-case' | 'account-disabled' | 'not-found';

export interface PhotoIdCases {
  /** Stores a case and its evidence in one transaction; a second open case for the account is refused (E8). */
  submit(input: {
    readonly accountId: string;
    readonly documentType: PhotoIdDocument;
    readonly spokenDigits: string;
    readonly photo: Evidence;
    readonly video: Evidence;
    readonly clientId?: string;
    readonly ip?: string;
  }): Promise<SubmitResult>;
  /** The account's case awaiting review, if any. */
  openCaseFor(accountId: string): Promise<CaseSummary | undefined>;
  /** Cases awaiting review, oldest first. */
  queue(limit?: number): Promise<CaseSummary[]>;
  get(caseId: string): Promise<CaseDetail | undefined>;
  /** The stored photo or video; undefined once deleted after the retention period (D22). */
  evidence(caseId: string, kind: 'photo_id' | 'video'): Promise<Evidence | undefined>;
  /**
   * One decision per case, whoever else decides at the same instant (a conditional UPDATE: the
   * loser gets 'already-decided', E7), never by the case's own account, nor while another reviewer's
   * assignment stands ('assigned-elsewhere'). Approval raises the account
   * to P9 (never lowers it); the person is emailed the outcome through the outbox.
   */
  decide(input: {
    readonly caseId: string;
    readonly reviewerAccountId: string;
    readonly decision: 'approved' | 'declined';
    readonly reason?: DeclineReason;
    readonly note?: string;
    readonly ip?: string;
  }): Promise<DecideResult>;
}

interface CaseRow {
  id: string;
  account_id: string;
  status: CaseStatus;
  document_type: PhotoIdDocument;
  submitted_at: Date;
  spoken_digits: string;
  client_id: string | null;
  reviewer_account_id: string | null;
  decided_at: Date | null;
  decision_reason: string | null;
}

const CASE_COLUMNS = 'id, account_id, status, document_type, submitted_at, spoken_digits, client_id, reviewer_account_id, decided_at, decision_reason';

function summary(row: CaseRow): CaseSummary {
  return { id: row.id, accountId: row.account_id, status: row.status, documentType: row.document_type, submittedAt: new Date(row.submitted_at) };
}

function detail(row: CaseRow): CaseDetail {
  return {
    ...summary(row),
    spokenDigits: row.spoken_digits,
    clientId: row.client_id,
    reviewerAccountId: row.reviewer_account_id,
    decidedAt: row.decided_at ? new Date(row.decided_at) : null,
    decisionReason: row.decision_reason,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createPhotoIdCases(deps: { dataSource: DataSource; audit: Audit; notifications: Notifications; assignmentSeconds: number }): PhotoIdCases {
  const { dataSource, audit, notifications, assignmentSeconds } = deps;

  async function openCaseFor(accountId: string): Promise<CaseSummary | undefined> {
    const [row] = await queryRows<CaseRow>(dataSource, `SELECT ${CASE_COLUMNS} FROM identity_check_case WHERE account_id = $1 AND status = 'awaiting_review'`, [accountId]);
    return row ? summary(row) : undefined;
  }

  return {
    async submit({ accountId, documentType, spokenDigits, photo, video, clientId, ip }) {
      const caseId = randomUUID();
      try {
        await dataSource.transaction(async (manager) => {
          await manager.query(
            `INSERT INTO identity_check_case (id, account_id, document_type, spoken_digits, client_id) VALUES ($1, $2, $3, $4, $5)`,
            [caseId, accountId, documentType, spokenDigits, clientId ?? null],
          );
          for (const [kind, evidence] of [['photo_id', photo], ['video', video]] as const) {
            await manager.query(
              `INSERT INTO identity_evidence (id, case_id, kind, content_type, content, sha256, byte_size) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
              [randomUUID(), caseId, kind, evidence.contentType, evidence.content, createHash('sha256').update(evidence.content).digest('hex'), evidence.content.length],
            );
          }
          await audit.record('identity.case_submitted', { accountId, clientId, ip, detail: { caseId, documentType } }, manager);
        });
        return { kind: 'submitted', caseId };
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const open = await openCaseFor(accountId);
        if (!open) throw error;
        return { kind: 'already-open', caseId: open.id };
      }
    },

    openCaseFor,

    async queue(limit = 50) {
      const rows = await queryRows<CaseRow>(dataSource, `SELECT ${CASE_COLUMNS} FROM identity_check_case WHERE status = 'awaiting_review' ORDER BY submitted_at, id LIMIT $1`, [limit]);
      return rows.map(summary);
    },

    async get(caseId) {
      if (!UUID.test(caseId)) return undefined;
      const [row] = await queryRows<CaseRow>(dataSource, `SELECT ${CASE_COLUMNS} FROM identity_check_case WHERE id = $1`, [caseId]);
      return row ? detail(row) : undefined;
    },

    async evidence(caseId, kind) {
      if (!UUID.test(caseId)) return undefined;
      const [row] = await queryRows<{ content_type: string; content: Uint8Array }>(dataSource, `SELECT content_type, content FROM identity_evidence WHERE case_id = $1 AND kind = $2 AND content IS NOT NULL`, [caseId, kind]);
      // pg gives a Buffer, PGlite a plain Uint8Array: callers always get a Buffer (Koa sends any other object as JSON).
      return row ? { contentType: row.content_type, content: Buffer.isBuffer(row.content) ? row.content : Buffer.from(row.content.buffer, row.content.byteOffset, row.content.byteLength) } : undefined;
    },

    async decide({ caseId, reviewerAccountId, decision, reason, note, ip }) {
      if (!UUID.test(caseId)) return 'not-found';
      if (decision === 'declined' && (!reason || !Object.hasOwn(DECLINE_REASONS, reason))) throw new TypeError('a declined case needs a DECLINE_REASONS code');
      return dataSource.transaction(async (manager): Promise<DecideResult> => {
        const [existing] = await queryRows<{ account_id: string; status: CaseStatus }>(manager, `SELECT account_id, status FROM identity_check_case WHERE id = $1`, [caseId]);
        if (!existing) return 'not-found';
        if (existing.account_id === reviewerAccountId) {
          await audit.record('identity.case_own_refused', { accountId: reviewerAccountId, ip, detail: { caseId } }, manager);
          return 'own-case';
        }
        if (decision === 'approved') {
          // Locked with the account row, so a disabling that commits first is seen and one that comes
          // after waits: a disabled account is never raised to P9, and the audit trail never says so.
          const [owner] = await queryRows<{ status: string }>(manager, `SELECT status FROM account WHERE id = $1 FOR UPDATE`, [existing.account_id]);
          if (owner?.status !== 'active') {
            await audit.record('identity.case_approval_refused', { accountId: existing.account_id, ip, detail: { caseId, reviewer: reviewerAccountId, why: 'account_disabled' } }, manager);
            return 'account-disabled';
          }
        }
        const decisionReason = decision === 'approved' ? 'approved' : reason!;
        // Only a case still awaiting review and not another reviewer's (D23) changes; of two reviewers
        // deciding at once, one row wins. A decided case leaves the queue and the holding list.
        const [decided] = await queryRows<{ account_id: string }>(
          manager,
          `UPDATE identity_check_case SET status = $2, reviewer_account_id = $3, decided_at = now(), decision_reason = $4, decision_note = $5,
                  assigned_to = NULL, assigned_at = NULL, assigned_by = NULL, held_at = NULL, held_by = NULL, hold_reason = NULL, hold_note = NULL
           WHERE id = $1 AND status = 'awaiting_review'
             AND (assigned_to IS NULL OR assigned_to = $3 OR assigned_at <= now() - $6::int * interval '1 second') RETURNING account_id`,
          [caseId, decision, reviewerAccountId, decisionReason, note ?? null, assignmentSeconds],
        );
        if (!decided) {
          const [now] = await queryRows<{ status: CaseStatus }>(manager, `SELECT status FROM identity_check_case WHERE id = $1`, [caseId]);
          return now?.status === 'awaiting_review' ? 'assigned-elsewhere' : 'already-decided';
        }
        const [account] = await queryRows<{ email: string }>(
          manager,
          decision === 'approved'
            ? `UPDATE account SET proofing_level = 'P9', updated_at = now() WHERE id = $1 AND status = 'active' RETURNING email`
            : `SELECT email FROM account WHERE id = $1 AND status = 'active'`,
          [decided.account_id],
        );
        await audit.record(decision === 'approved' ? 'identity.case_approved' : 'identity.case_declined', { accountId: decided.account_id, ip, detail: { caseId, reviewer: reviewerAccountId, reason: decisionReason } }, manager);
        if (decision === 'approved') await audit.record('identity.proofed', { accountId: decided.account_id, ip, detail: { route: 'photo-id', level: 'P9', caseId } }, manager);
        if (account) {
          await notifications.enqueue(manager, {
            template: 'identity-check-outcome',
            to: account.email,
            data: decision === 'approved' ? { outcome: 'approved' } : { outcome: 'declined', reason: DECLINE_REASONS[reason!].text },
            accountId: decided.account_id,
          });
        }
        return 'decided';
      });
    },
  };
}
