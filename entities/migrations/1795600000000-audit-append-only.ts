import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail is append-only (security-bar H3): a trigger refuses UPDATE, DELETE and TRUNCATE
 * of audit_event for every role, the application's included, so a bug or an attacker with the
 * application's database access cannot rewrite what happened. docs/operations.md "Audit trail"
 * adds the role-level grants for production.
 */
export class AuditAppendOnly1795600000000 implements MigrationInterface {
  name = 'AuditAppendOnly1795600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
      END
    $$`);
    await queryRunner.query(`CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()`);
    await queryRunner.query(`CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER audit_event_no_truncate ON audit_event`);
    await queryRunner.query(`DROP TRIGGER audit_event_no_change ON audit_event`);
    await queryRunner.query(`DROP FUNCTION audit_event_append_only()`);
  }
}
