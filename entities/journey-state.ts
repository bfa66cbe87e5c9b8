import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Where a patient is in a journey, keyed by the oidc-provider interaction uid, with the same lifetime. */
@Entity({ name: 'journey_state' })
export class JourneyState {
  @PrimaryColumn({ type: 'varchar', length: 255 })
  uid!: string;

  @Column({ type: 'varchar', length: 40 })
  journey!: string;

  @Column({ type: 'varchar', length: 60 })
  step!: string;

  @Column({ name: 'account_id', type: 'uuid', nullable: true })
  accountId!: string | null;

  /** Small facts the journey has established (e.g. which credentials were completed). Never secrets. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  facts!: Record<string, unknown>;

  /** Optimistic concurrency: a double-submitted form cannot advance the journey twice. */
  @Column({ type: 'integer', default: 0 })
  version!: number;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
