import type { MigrationInterface, QueryRunner } from 'typeorm';

/** "Forgotten your password?" links: only a hash of each token, with its expiry and single use. */
export class PasswordResetToken1795100000000 implements MigrationInterface {
  name = 'PasswordResetToken1795100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "password_reset_token" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "account_id" uuid NOT NULL, "token_hash" character varying(64) NOT NULL, "interaction_uid" character varying(255), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, "invalidated_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_a802f319abf4af2432d629dfe5c" UNIQUE ("token_hash"), CONSTRAINT "PK_838af121380dfe3a6330e04f5bb" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "ix_password_reset_token_account" ON "password_reset_token"  ("account_id") `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "password_reset_token"`);
  }
}
