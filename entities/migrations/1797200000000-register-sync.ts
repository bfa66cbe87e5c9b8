import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a proofed account's details were last read from the patient register, and the index the
 * register sync takes its oldest from (decisions D32). Accounts proofed before this have none, so
 * the sync reads them first; a check from now on sets it.
 */
export class RegisterSync1797200000000 implements MigrationInterface {
  name = 'RegisterSync1797200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "account" ADD "demographics_checked_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`CREATE INDEX "ix_account_register_sync" ON "account" ("demographics_checked_at") WHERE nhs_number IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_account_register_sync"`);
    await queryRunner.query(`ALTER TABLE "account" DROP COLUMN "demographics_checked_at"`);
  }
}
