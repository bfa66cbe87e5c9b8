import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type OutboxStatus = 'queued' | 'processing' | 'sent' | 'abandoned' | 'expired';

/** Email and text messages to people, and back-channel logout tokens to services (D13). */
export type OutboxChannel = 'email' | 'sms' | 'backchannel-logout';

/**
 * An email, text or back-channel logout token waiting to be delivered. Written in the same
 * transaction as the change that needs it, then delivered by the outbox worker with retries
 * (at-least-once; `id` is the idempotency key).
 */
@Entity({ name: 'outbox_message' })
@Index('ix_outbox_message_due', ['status', 'nextAttemptAt'])
export class OutboxMessage {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 20 })
  channel!: OutboxChannel;

  /** An email address or phone number; for a logout token, the service's client_id. */
  @Column({ type: 'varchar', length: 320 })
  recipient!: string;

  @Column({ type: 'varchar', length: 60 })
  template!: string;

  /** Rendered subject (email only) and body; a logout token has neither (it is signed when sent). */
  @Column({ type: 'varchar', length: 300, nullable: true })
  subject!: string | null;

  @Column({ type: 'text', nullable: true })
  body!: string | null;

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

  /**
   * A logout token's `sub` and `sid` (back-channel logout only). Not `account_id`: deleting an
   * account detaches its messages from it, yet the services must still be told whom to sign out.
   */
  @Column({ type: 'varchar', length: 255, nullable: true })
  sub!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  sid!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt!: Date | null;
}
