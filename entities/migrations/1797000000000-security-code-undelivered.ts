import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A code whose text could not be sent at once is marked, so its page can say so (security-bar G3, decisions D29). */
export class SecurityCodeUndelivered1797000000000 implements MigrationInterface {
  name = 'SecurityCodeUndelivered1797000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "security_code" ADD "undelivered_at" TIMESTAMP WITH TIME ZONE`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "security_code" DROP COLUMN "undelivered_at"`);
  }
}
