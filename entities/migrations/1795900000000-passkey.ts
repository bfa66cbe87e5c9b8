import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Passkeys (WebAuthn, the Cm credential): several per account, public keys only (entities/passkey.ts). */
export class Passkey1795900000000 implements MigrationInterface {
  name = 'Passkey1795900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "passkey" ("id" uuid NOT NULL, "account_id" uuid NOT NULL, "credential_id" character varying(1400) NOT NULL, "public_key" bytea NOT NULL, "sign_count" bigint NOT NULL DEFAULT '0', "transports" character varying(200) NOT NULL DEFAULT '[]', "backed_up" boolean NOT NULL, "label" character varying(100) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "UQ_192d857208b2315375852a6e373" UNIQUE ("credential_id"), CONSTRAINT "PK_783e2060d8025abd6a6ca45d2c7" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "ix_passkey_account" ON "passkey" ("account_id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_passkey_account"`);
    await queryRunner.query(`DROP TABLE "passkey"`);
  }
}
