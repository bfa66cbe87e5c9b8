import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Grants and sessions are looked up by account: the remembered consent at every sign-in
 * (loadExistingGrant), and "connected services" and "sign out everywhere" in Your account. Without
 * this index each lookup scanned every grant or session in the table.
 */
export class OidcModelAccountIndex1795200000000 implements MigrationInterface {
  name = 'OidcModelAccountIndex1795200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "ix_oidc_model_account" ON "oidc_model" ((payload->>'accountId'), "model") WHERE "model" IN ('Grant', 'Session')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_oidc_model_account"`);
  }
}
