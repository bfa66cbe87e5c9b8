import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An authenticator app (TOTP, the Ck credential): at most one per account, as at GOV.UK One Login,
 * so it lives on the account row and goes with it. The secret is sealed (AES-256-GCM, the account
 * id as associated data; src/accounts/authenticator-app.ts); `authenticator_last_step` is the last
 * 30-second step a code was accepted for, so each code is accepted once (security-bar X5).
 */
export class AuthenticatorApp1795700000000 implements MigrationInterface {
  name = 'AuthenticatorApp1795700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE account ADD COLUMN authenticator_secret text NULL, ADD COLUMN authenticator_added_at timestamptz NULL, ADD COLUMN authenticator_last_step integer NULL`);
    await queryRunner.query(`ALTER TABLE account ADD CONSTRAINT account_authenticator_whole CHECK ((authenticator_secret IS NULL) = (authenticator_added_at IS NULL))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE account DROP CONSTRAINT account_authenticator_whole`);
    await queryRunner.query(`ALTER TABLE account DROP COLUMN authenticator_last_step, DROP COLUMN authenticator_added_at, DROP COLUMN authenticator_secret`);
  }
}
