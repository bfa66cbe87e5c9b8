import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * NHS login's `client_user_metadata` claim (EIS Table 11, §3.6.3): a value one relying party keeps
 * with one account, opaque to us, released with the `client_metadata` scope and set by the relying
 * party with `PATCH /userinfo`. One row per account and client; no row means no claim.
 */
@Entity({ name: 'client_user_metadata' })
export class ClientUserMetadata {
  @PrimaryColumn({ name: 'account_id', type: 'uuid' })
  accountId!: string;

  @PrimaryColumn({ name: 'client_id', type: 'varchar', length: 255 })
  clientId!: string;

  /** At most 1,024 characters (EIS Table 14). */
  @Column({ type: 'varchar', length: 1024 })
  value!: string;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
