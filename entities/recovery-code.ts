import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One saved recovery code (NIST SP 800-63B §4.2.1.1; security-bar B7). A set of ten is made at once
 * and shown once; only a keyed hash of each is kept (src/accounts/recovery-codes.ts), so neither a
 * database reader nor a log ever sees a usable code. Using one sets `used_at` by one conditional
 * UPDATE, so of two sign-ins racing with the same code exactly one succeeds.
 */
@Entity({ name: 'recovery_code' })
@Index('ix_recovery_code_account', ['accountId'])
export class RecoveryCode {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  /** HMAC-SHA256 (hex) of the code, bound to the account, under the HMAC secret named by key_id. */
  @Column({ name: 'code_hash', type: 'varchar', length: 64, unique: true })
  codeHash!: string;

  /** Which HMAC secret of the ring made code_hash (hex of its 4-byte id), so a rotation can tell when none is left. */
  @Column({ name: 'key_id', type: 'varchar', length: 8 })
  keyId!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt!: Date | null;
}
