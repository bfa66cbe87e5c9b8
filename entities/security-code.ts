import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A one-time security code (SMS or email). Only a keyed hash is stored. A code is bound to
 * one purpose and one journey, lives 10 minutes and is consumed by a single conditional UPDATE.
 */
@Entity({ name: 'security_code' })
@Index('ix_security_code_journey', ['journeyId', 'purpose'])
export class SecurityCode {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'account_id', type: 'uuid', nullable: true })
  accountId!: string | null;

  @Column({ type: 'varchar', length: 40 })
  purpose!: string;

  @Column({ name: 'journey_id', type: 'varchar', length: 255 })
  journeyId!: string;

  @Column({ type: 'varchar', length: 10 })
  channel!: 'sms' | 'email';

  /** Where it was sent (E.164 or email). A code is only valid for the destination it was sent to. */
  @Column({ type: 'varchar', length: 320 })
  destination!: string;

  @Column({ name: 'code_hash', type: 'varchar', length: 128 })
  codeHash!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'consumed_at', type: 'timestamptz', nullable: true })
  consumedAt!: Date | null;

  @Column({ name: 'invalidated_at', type: 'timestamptz', nullable: true })
  invalidatedAt!: Date | null;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  /** Its text could not be handed to the provider at once, and the person was told so (security-bar G3). */
  @Column({ name: 'undelivered_at', type: 'timestamptz', nullable: true })
  undeliveredAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
