import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * NHS login's `landline` and `client_metadata` scopes: a landline number on the account, and one
 * opaque value per account and relying party (`client_user_metadata`, set with PATCH /userinfo).
 */
export class LandlineAndClientMetadata1795400000000 implements MigrationInterface {
  name = 'LandlineAndClientMetadata1795400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "account" ADD "landline_number" character varying(20)`);
    await queryRunner.query(`ALTER TABLE "account" ADD "landline_verified_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`CREATE TABLE "client_user_metadata" ("account_id" uuid NOT NULL, "client_id" character varying(255) NOT NULL, "value" character varying(1024) NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_7f01b9b6c5939dad5bf4d93eed2" PRIMARY KEY ("account_id", "client_id"))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "client_user_metadata"`);
    await queryRunner.query(`ALTER TABLE "account" DROP COLUMN "landline_verified_at"`);
    await queryRunner.query(`ALTER TABLE "account" DROP COLUMN "landline_number"`);
  }
}
