import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The back office's queue (decisions D23): a case assigned to one reviewer (lapsing), a holding
 * list with a coded reason and a note, and the last re-check of the NHS record
 * (entities/identity-check-case.ts).
 */
export class BackOfficeQueue1796400000000 implements MigrationInterface {
  name = 'BackOfficeQueue1796400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD "assigned_to" uuid`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD "assigned_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD "held_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD "held_by" uuid`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD "hold_reason" character varying(40)`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD "hold_note" character varying(500)`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD "record_checked_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD "record_check" jsonb`);
    await queryRunner.query(`CREATE INDEX "ix_identity_check_case_assigned" ON "identity_check_case" ("assigned_to") WHERE assigned_to IS NOT NULL`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD CONSTRAINT "identity_check_case_record_check" CHECK ((record_checked_at IS NULL) = (record_check IS NULL))`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD CONSTRAINT "identity_check_case_queue_state" CHECK ((status = 'awaiting_review' OR (assigned_to IS NULL AND held_at IS NULL)) AND (assigned_to IS NULL OR held_at IS NULL))`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD CONSTRAINT "identity_check_case_held" CHECK ((held_at IS NULL) = (held_by IS NULL) AND (held_at IS NULL) = (hold_reason IS NULL))`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" ADD CONSTRAINT "identity_check_case_assigned" CHECK ((assigned_to IS NULL) = (assigned_at IS NULL))`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "identity_check_case" DROP CONSTRAINT "identity_check_case_assigned"`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" DROP CONSTRAINT "identity_check_case_held"`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" DROP CONSTRAINT "identity_check_case_queue_state"`);
    await queryRunner.query(`ALTER TABLE "identity_check_case" DROP CONSTRAINT "identity_check_case_record_check"`);
    await queryRunner.query(`DROP INDEX "ix_identity_check_case_assigned"`);
    for (const column of ['record_check', 'record_checked_at', 'hold_note', 'hold_reason', 'held_by', 'held_at', 'assigned_at', 'assigned_to']) {
      await queryRunner.query(`ALTER TABLE "identity_check_case" DROP COLUMN "${column}"`);
    }
  }
}
