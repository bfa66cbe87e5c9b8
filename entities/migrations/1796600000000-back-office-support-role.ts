import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The support desk (docs/back-office.md "Support desk"): a second back-office role, 'support'. */
export class BackOfficeSupportRole1796600000000 implements MigrationInterface {
  name = 'BackOfficeSupportRole1796600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "account" DROP CONSTRAINT "account_back_office_role"`);
    await queryRunner.query(`ALTER TABLE "account" ADD CONSTRAINT "account_back_office_role" CHECK (back_office_role IS NULL OR back_office_role IN ('reviewer', 'support'))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`UPDATE "account" SET "back_office_role" = NULL WHERE "back_office_role" = 'support'`);
    await queryRunner.query(`ALTER TABLE "account" DROP CONSTRAINT "account_back_office_role"`);
    await queryRunner.query(`ALTER TABLE "account" ADD CONSTRAINT "account_back_office_role" CHECK (back_office_role IS NULL OR back_office_role IN ('reviewer'))`);
  }
}
