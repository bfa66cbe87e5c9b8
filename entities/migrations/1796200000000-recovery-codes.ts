import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Saved recovery codes (entities/recovery-code.ts, decisions D21): keyed hashes only, and the account's count of unused ones. */
export class RecoveryCodes1796200000000 implements MigrationInterface {
  name = 'RecoveryCodes1796200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "recovery_code" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "account_id" uuid NOT NULL, "code_hash" character varying(64) NOT NULL, "key_id" character varying(8) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "UQ_e028e80fe2ceb3a76bfb340ad63" UNIQUE ("code_hash"), CONSTRAINT "PK_b7f1e23329e93a80e25fd281922" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "ix_recovery_code_account" ON "recovery_code" ("account_id")`);
    await queryRunner.query(`ALTER TABLE "account" ADD "recovery_codes_left" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "account" ADD "recovery_codes_created_at" TIMESTAMP WITH TIME ZONE`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "account" DROP COLUMN "recovery_codes_created_at"`);
    await queryRunner.query(`ALTER TABLE "account" DROP COLUMN "recovery_codes_left"`);
    await queryRunner.query(`DROP INDEX "ix_recovery_code_account"`);
    await queryRunner.query(`DROP TABLE "recovery_code"`);
  }
}
