import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The account's security stamp: sign-ins (sessions, codes, tokens) from before it are refused. Deleting
 * sessions and tokens alone cannot revoke them, because a request already in flight saves its session
 * (or a new refresh token) after the delete; see src/accounts/sessions-valid-after.ts.
 */
export class AccountSessionsValidAfter1795300000000 implements MigrationInterface {
  name = 'AccountSessionsValidAfter1795300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "account" ADD "sessions_valid_after" TIMESTAMP WITH TIME ZONE`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "account" DROP COLUMN "sessions_valid_after"`);
  }
}
