import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The photo of an ID document (always a JPEG carelogin re-encoded, never the bytes uploaded) or the
 * video, of one identity check case. Kept in the database so backups, deletion with the account and
 * access control all follow the rest of the data; served only to the back office. Once its case has
 * been decided for the retention period the bytes are deleted and the row kept (decisions D22).
 */
@Entity({ name: 'identity_evidence' })
@Index('identity_evidence_one_per_kind', ['caseId', 'kind'], { unique: true })
@Check('identity_evidence_kind', "kind IN ('photo_id', 'video')")
// The bytes are deleted after the retention period (D22); the row stays, saying when.
@Check('identity_evidence_deleted', '(content IS NULL) = (deleted_at IS NOT NULL)')
// What the retention job looks through: only evidence still kept.
@Index('ix_identity_evidence_kept', ['caseId'], { where: 'deleted_at IS NULL' })
export class IdentityEvidence {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'case_id', type: 'uuid' })
  caseId!: string;

  @Column({ type: 'varchar', length: 10 })
  kind!: 'photo_id' | 'video';

  @Column({ name: 'content_type', type: 'varchar', length: 40 })
  contentType!: string;

  /** Null once deleted after the retention period (`deletedAt`). */
  @Column({ type: 'bytea', nullable: true })
  content!: Buffer | null;

  /** Hex SHA-256 of `content`, for the audit trail and duplicate detection; kept after the bytes are deleted. */
  @Column({ type: 'varchar', length: 64 })
  sha256!: string;

  @Column({ name: 'byte_size', type: 'integer' })
  byteSize!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  /** When the retention job deleted `content` (PHOTO_ID_EVIDENCE_RETENTION_DAYS after the decision). */
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;
}
