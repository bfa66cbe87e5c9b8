import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * P9 by photo ID and video, reviewed in the back office (entities/identity-check-case.ts,
 * entities/identity-evidence.ts), and the back-office role an account can hold.
 */
export class PhotoIdCases1796100000000 implements MigrationInterface {
  name = 'PhotoIdCases1796100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "identity_check_case" ("id" uuid NOT NULL, "account_id" uuid NOT NULL, "status" character varying(20) NOT NULL DEFAULT 'awaiting_review', "document_type" character varying(40) NOT NULL, "spoken_digits" character varying(4) NOT NULL, "client_id" character varying(200), "submitted_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "reviewer_account_id" uuid, "decided_at" TIMESTAMP WITH TIME ZONE, "decision_reason" character varying(60), "decision_note" character varying(500), CONSTRAINT "identity_check_case_digits" CHECK (spoken_digits ~ '^[0-9]{4}$'), CONSTRAINT "identity_check_case_decided" CHECK ((status = 'awaiting_review') = (decided_at IS NULL) AND (decided_at IS NULL) = (reviewer_account_id IS NULL) AND (decided_at IS NULL) = (decision_reason IS NULL)), CONSTRAINT "identity_check_case_status" CHECK (status IN ('awaiting_review', 'approved', 'declined')), CONSTRAINT "PK_c4e1a30e4d57ec122b19653f097" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "identity_check_case_one_open" ON "identity_check_case" ("account_id") WHERE status = 'awaiting_review'`);
    await queryRunner.query(`CREATE INDEX "ix_identity_check_case_account" ON "identity_check_case" ("account_id")`);
    await queryRunner.query(`CREATE INDEX "ix_identity_check_case_queue" ON "identity_check_case" ("status", "submitted_at")`);
    await queryRunner.query(`CREATE TABLE "identity_evidence" ("id" uuid NOT NULL, "case_id" uuid NOT NULL, "kind" character varying(10) NOT NULL, "content_type" character varying(40) NOT NULL, "content" bytea NOT NULL, "sha256" character varying(64) NOT NULL, "byte_size" integer NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "identity_evidence_kind" CHECK (kind IN ('photo_id', 'video')), CONSTRAINT "PK_53082129bfd15b85887d34b09ef" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "identity_evidence_one_per_kind" ON "identity_evidence" ("case_id", "kind")`);
    await queryRunner.query(`ALTER TABLE "account" ADD "back_office_role" character varying(20)`);
    await queryRunner.query(`ALTER TABLE "account" ADD CONSTRAINT "account_back_office_role" CHECK (back_office_role IS NULL OR back_office_role IN ('reviewer'))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "account" DROP CONSTRAINT "account_back_office_role"`);
    await queryRunner.query(`ALTER TABLE "account" DROP COLUMN "back_office_role"`);
    await queryRunner.query(`DROP TABLE "identity_evidence"`);
    await queryRunner.query(`DROP TABLE "identity_check_case"`);
  }
}
