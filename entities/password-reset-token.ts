import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A "Forgotten your password?" link (security-bar A6, F2, F5). The link carries a 256-bit token;
 * only its SHA-256 is stored. It lasts 1 hour, works once, and a newer link for the account
 * invalidates older ones. `interactionUid` remembers the sign-in the request came from, so the
 * browser that asked can be sent back to it after the change.
 */
@Entity({ name: 'password_reset_token' })
@Index('ix_password_reset_token_account', ['accountId'])
export class PasswordResetToken {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  @Column({ name: 'token_hash', type: 'varchar', length: 64, unique: true })
  tokenHash!: string;

  @Column({ name: 'interaction_uid', type: 'varchar', length: 255, nullable: true })
  interactionUid!: string | null;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt!: Date | null;

  @Column({ name: 'invalidated_at', type: 'timestamptz', nullable: true })
  invalidatedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
