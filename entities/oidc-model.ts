import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Every oidc-provider model (Session, AccessToken, AuthorizationCode, Grant, Interaction, …) in one table.
 * The adapter reads and writes it with hand-written SQL; this entity documents the shape.
 */
@Entity({ name: 'oidc_model' })
@Index('ix_oidc_model_grant_id', ['grantId'])
@Index('ix_oidc_model_uid', ['uid'])
@Index('ix_oidc_model_user_code', ['userCode'])
@Index('ix_oidc_model_expires_at', ['expiresAt'])
// An expression index on payload->>'accountId' for Grant and Session rows, which TypeORM cannot
// describe: created by migration OidcModelAccountIndex1795200000000 and left alone by the schema check.
@Index('ix_oidc_model_account', { synchronize: false })
export class OidcModel {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  model!: string;

  @PrimaryColumn({ type: 'varchar', length: 255 })
  id!: string;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Column({ name: 'grant_id', type: 'varchar', length: 255, nullable: true })
  grantId!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  uid!: string | null;

  @Column({ name: 'user_code', type: 'varchar', length: 255, nullable: true })
  userCode!: string | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'consumed_at', type: 'timestamptz', nullable: true })
  consumedAt!: Date | null;
}
