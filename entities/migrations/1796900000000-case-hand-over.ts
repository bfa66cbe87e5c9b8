import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Handing a check to a named reviewer (docs/back-office.md, D28): who handed the case to its holder, while they hold it. */
export class CaseHandOver1796900000000 implements MigrationInterface {
  name = 'CaseHandOver1796900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD "assigned_by" uuid`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD CONSTRAINT "identity_check_case_handed_over" CHECK (assigned_by IS NULL OR assigned_to IS NOT NULL)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "identity_check_case" DROP CONSTRAINT "identity_check_case_handed_over"`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" DROP COLUMN "assigned_by"`);
  }
}
