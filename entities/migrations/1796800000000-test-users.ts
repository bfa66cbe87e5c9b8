import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Test users made on request (entities/test-user.ts, decisions D27): the details each was made with. */
export class TestUsers1796800000000 implements MigrationInterface {
  name = 'TestUsers1796800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "test_user" ("account_id" uuid NOT NULL, "level" character varying(2) NOT NULL, "nhs_number" character varying(10) NOT NULL, "given_name" character varying(200) NOT NULL, "family_name" character varying(200) NOT NULL, "birthdate" date NOT NULL, "postcode" character varying(10) NOT NULL, "gp_ods_code" character varying(10) NOT NULL, "gp_user_id" character varying(64), "gp_linkage_key" character varying(64), "mobile_number" character varying(20) NOT NULL, "phone_number_pds_matched" boolean NOT NULL DEFAULT false, "password_hash" text NOT NULL, "in_register" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "test_user_gp_online_whole" CHECK ((gp_user_id IS NULL) = (gp_linkage_key IS NULL)), CONSTRAINT "test_user_level" CHECK (level IN ('P0', 'P5', 'P9')), CONSTRAINT "PK_98c7ba2e9f239b0bf93bf6992bf" PRIMARY KEY ("account_id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "test_user_nhs_number_unique" ON "test_user" ("nhs_number")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "test_user_nhs_number_unique"`);
    await queryRunner.query(`DROP TABLE "test_user"`);
  }
}
