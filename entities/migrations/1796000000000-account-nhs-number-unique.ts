import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One account per NHS number (NHS login's CID7004/CID2012): an identity check that finds a patient
 * already linked to another account stops there. Partial, because most accounts have no number.
 */
export class AccountNhsNumberUnique1796000000000 implements MigrationInterface {
  name = 'AccountNhsNumberUnique1796000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE UNIQUE INDEX "account_nhs_number_unique" ON "account" ("nhs_number") WHERE nhs_number IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "account_nhs_number_unique"`);
  }
}
