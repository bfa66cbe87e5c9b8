import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export const CASE_STATUSES = ['awaiting_review', 'approved', 'declined'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];

/**
 * A P9 identity check by photo ID and a short video (NHS login's "prove your identity" route,
 * nhs-login.md §5.3), waiting for a person in the back office to compare them with the account's
 * details. At most one case per account is awaiting review; the evidence is in identity_evidence.
 */
@Entity({ name: 'identity_check_case' })
@Index('ix_identity_check_case_queue', ['status', 'submittedAt'])
@Index('ix_identity_check_case_account', ['accountId'])
// A reviewer's own assignment ("Start next check" again, npm run reviewers -- list).
@Index('ix_identity_check_case_assigned', ['assignedTo'], { where: 'assigned_to IS NOT NULL' })
// One case awaiting review per account: a retried or double submission cannot make a second (E8).
@Index('identity_check_case_one_open', ['accountId'], { unique: true, where: "status = 'awaiting_review'" })
@Check('identity_check_case_status', "status IN ('awaiting_review', 'approved', 'declined')")
// Decided exactly when it has a decision, by someone, with a reason.
@Check('identity_check_case_decided', "(status = 'awaiting_review') = (decided_at IS NULL) AND (decided_at IS NULL) = (reviewer_account_id IS NULL) AND (decided_at IS NULL) = (decision_reason IS NULL)")
@Check('identity_check_case_digits', "spoken_digits ~ '^[0-9]{4}$'")
// The back office's queue (D23): assigned to one reviewer, or on hold, only while awaiting review, never both.
@Check('identity_check_case_assigned', "(assigned_to IS NULL) = (assigned_at IS NULL)")
@Check('identity_check_case_held', "(held_at IS NULL) = (held_by IS NULL) AND (held_at IS NULL) = (hold_reason IS NULL)")
@Check('identity_check_case_queue_state', "(status = 'awaiting_review' OR (assigned_to IS NULL AND held_at IS NULL)) AND (assigned_to IS NULL OR held_at IS NULL)")
// Handed over (D28): only while someone holds it.
@Check('identity_check_case_handed_over', "assigned_by IS NULL OR assigned_to IS NOT NULL")
@Check('identity_check_case_record_check', "(record_checked_at IS NULL) = (record_check IS NULL)")
export class IdentityCheckCase {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  @Column({ type: 'varchar', length: 20, default: 'awaiting_review' })
  status!: CaseStatus;

  /** Which kind of photo ID (PHOTO_ID_DOCUMENTS in src/photo-id/cases.ts). */
  @Column({ name: 'document_type', type: 'varchar', length: 40 })
  documentType!: string;

  /** The four digits the person was asked to say in the video; the reviewer checks they hear them. */
  @Column({ name: 'spoken_digits', type: 'varchar', length: 4 })
  spokenDigits!: string;

  /** The service the person came from, if any (for the audit trail). */
  @Column({ name: 'client_id', type: 'varchar', length: 200, nullable: true })
  clientId!: string | null;

  @CreateDateColumn({ name: 'submitted_at', type: 'timestamptz' })
  submittedAt!: Date;

  /** The back-office reviewer (an account with a back_office_role) who decided. */
  @Column({ name: 'reviewer_account_id', type: 'uuid', nullable: true })
  reviewerAccountId!: string | null;

  @Column({ name: 'decided_at', type: 'timestamptz', nullable: true })
  decidedAt!: Date | null;

  /** A DECISION_REASONS code: `approved`, or why it was declined. */
  @Column({ name: 'decision_reason', type: 'varchar', length: 60, nullable: true })
  decisionReason!: string | null;

  /** Free text for the audit trail (a ticket number, say); never shown to the person. */
  @Column({ name: 'decision_note', type: 'varchar', length: 500, nullable: true })
  decisionNote!: string | null;

  /** The reviewer working the case ("Start next check"); lapses after BACK_OFFICE_ASSIGNMENT_SECONDS. */
  @Column({ name: 'assigned_to', type: 'uuid', nullable: true })
  assignedTo!: string | null;

  @Column({ name: 'assigned_at', type: 'timestamptz', nullable: true })
  assignedAt!: Date | null;

  /** The reviewer who handed the case to its holder (D28); null when the holder took it from the queue. */
  @Column({ name: 'assigned_by', type: 'uuid', nullable: true })
  assignedBy!: string | null;

  /** On the holding list since, by whom, why (a HOLD_REASONS code) and a note for other reviewers. */
  @Column({ name: 'held_at', type: 'timestamptz', nullable: true })
  heldAt!: Date | null;

  @Column({ name: 'held_by', type: 'uuid', nullable: true })
  heldBy!: string | null;

  @Column({ name: 'hold_reason', type: 'varchar', length: 40, nullable: true })
  holdReason!: string | null;

  @Column({ name: 'hold_note', type: 'varchar', length: 500, nullable: true })
  holdNote!: string | null;

  /** The last re-check of the NHS record from the back office: what matched (RecordCheck), never the record itself. */
  @Column({ name: 'record_checked_at', type: 'timestamptz', nullable: true })
  recordCheckedAt!: Date | null;

  @Column({ name: 'record_check', type: 'jsonb', nullable: true })
  recordCheck!: Record<string, boolean> | null;
}
