import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A change of mobile number made through "I cannot access my mobile" (security-bar X1), held before
 * it takes effect, as at NHS login ("may take up to 24 hours"): until `effectiveAt` the account keeps
 * its old number, and the owner can cancel with the link sent to the old number and the email
 * address. The link's 256-bit token is stored only as its SHA-256.
 */
@Entity({ name: 'mobile_change' })
@Index('ix_mobile_change_due', ['status', 'effectiveAt'])
@Index('ix_mobile_change_account', ['accountId'])
export class MobileChange {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  /** E.164, proven by a code texted to it. */
  @Column({ name: 'new_mobile', type: 'varchar', length: 20 })
  newMobile!: string;

  /** pending → applied | cancelled | superseded (by a newer change, or one made in Your account). */
  @Column({ type: 'varchar', length: 12, default: 'pending' })
  status!: 'pending' | 'applied' | 'cancelled' | 'superseded';

  @Column({ name: 'effective_at', type: 'timestamptz' })
  effectiveAt!: Date;

  @Column({ name: 'cancel_token_hash', type: 'varchar', length: 64, unique: true })
  cancelTokenHash!: string;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
