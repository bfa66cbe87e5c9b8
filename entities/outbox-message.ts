import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type OutboxStatus = 'queued' | 'processing' | 'sent' | 'abandoned' | 'expired';

/**
 * An email or text waiting to be delivered. Written in the same transaction as the change that
 * needs it, then delivered by the outbox worker with retries (at-least-once; `id` is the idempotency key).
 */
@Entity({ name: 'outbox_message' })
@Index('ix_outbox_message_due', ['status', 'nextAttemptAt'])
export class OutboxMessage {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 10 })
  channel!: 'email' | 'sms';

  @Column({ type: 'varchar', length: 320 })
  recipient!: string;

  @Column({ type: 'varchar', length: 60 })
  template!: string;

  /** Rendered subject (email only) and body. */
  @Column({ type: 'varchar', length: 300, nullable: true })
  subject!: string | null;

  @Column({ type: 'text' })
  body!: string;

  @Column({ type: 'varchar', length: 12, default: 'queued' })
  status!: OutboxStatus;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'next_attempt_at', type: 'timestamptz' })
  nextAttemptAt!: Date;

  /** A security code is useless after it expires: such a message is dropped, never delivered late. */
  @Column({ name: 'deliver_before', type: 'timestamptz', nullable: true })
  deliverBefore!: Date | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'account_id', type: 'uuid', nullable: true })
  accountId!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt!: Date | null;
}
