import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Photo ID evidence is deleted after its retention period (decisions D22): the bytes go, the row
 * stays with its SHA-256, size and when it was deleted (entities/identity-evidence.ts).
 */
export class IdentityEvidenceRetention1796300000000 implements MigrationInterface {
  name = 'IdentityEvidenceRetention1796300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "identity_evidence" ADD "deleted_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "identity_evidence" ALTER COLUMN "content" DROP NOT NULL`);
    await queryRunner.query(`CREATE INDEX "ix_identity_evidence_kept" ON "identity_evidence" ("case_id") WHERE deleted_at IS NULL`);
    await queryRunner.query(`ALTER TABLE "identity_evidence" ADD CONSTRAINT "identity_evidence_deleted" CHECK ((content IS NULL) = (deleted_at IS NOT NULL))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "identity_evidence" DROP CONSTRAINT "identity_evidence_deleted"`);
    await queryRunner.query(`DROP INDEX "ix_identity_evidence_kept"`);
    // Rows whose bytes were deleted cannot be made whole again: they go with the column.
    await queryRunner.query(`DELETE FROM "identity_evidence" WHERE content IS NULL`);
    await queryRunner.query(`ALTER TABLE "identity_evidence" ALTER COLUMN "content" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "identity_evidence" DROP COLUMN "deleted_at"`);
  }
}
