import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Failure counters behind every lockout and throttle (password per account, code per account and
 * purpose, requests per IP). Updated only by single atomic upserts so instances agree.
 */
@Entity({ name: 'attempt_counter' })
export class AttemptCounter {
  @PrimaryColumn({ type: 'varchar', length: 300 })
  key!: string;

  /** Failures in the current window; reset when the window ends or on success. */
  @Column({ type: 'integer', default: 0 })
  failures!: number;

  @Column({ name: 'window_started_at', type: 'timestamptz' })
  windowStartedAt!: Date;

  @Column({ name: 'locked_until', type: 'timestamptz', nullable: true })
  lockedUntil!: Date | null;

  /** Consecutive failures that time never resets: the NIST hard cap per authenticator. */
  @Column({ name: 'consecutive_failures', type: 'integer', default: 0 })
  consecutiveFailures!: number;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
