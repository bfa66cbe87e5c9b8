import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The photo of an ID document (always a JPEG carelogin re-encoded, never the bytes uploaded) or the
 * video, of one identity check case. Kept in the database so backups, deletion with the account and
 * access control all follow the rest of the data; served only to the back office.
 */
@Entity({ name: 'identity_evidence' })
@Index('identity_evidence_one_per_kind', ['caseId', 'kind'], { unique: true })
@Check('identity_evidence_kind', "kind IN ('photo_id', 'video')")
export class IdentityEvidence {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'case_id', type: 'uuid' })
  caseId!: string;

  @Column({ type: 'varchar', length: 10 })
  kind!: 'photo_id' | 'video';

  @Column({ name: 'content_type', type: 'varchar', length: 40 })
  contentType!: string;

  @Column({ type: 'bytea' })
  content!: Buffer;

  /** Hex SHA-256 of `content`, for the audit trail and duplicate detection. */
  @Column({ type: 'varchar', length: 64 })
  sha256!: string;

  @Column({ name: 'byte_size', type: 'integer' })
  byteSize!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
