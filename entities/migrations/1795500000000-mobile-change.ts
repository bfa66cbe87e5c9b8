import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Mobile changes held for 24 hours before they take effect, with a cancel link (security-bar X1). */
export class MobileChange1795500000000 implements MigrationInterface {
  name = 'MobileChange1795500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "mobile_change" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "account_id" uuid NOT NULL, "new_mobile" character varying(20) NOT NULL, "status" character varying(12) NOT NULL DEFAULT 'pending', "effective_at" TIMESTAMP WITH TIME ZONE NOT NULL, "cancel_token_hash" character varying(64) NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_4df480f12bc3fc748a9836157ff" UNIQUE ("cancel_token_hash"), CONSTRAINT "PK_9bad4008eb5048de21e5ea78ac8" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "ix_mobile_change_account" ON "mobile_change"  ("account_id") `);
    await queryRunner.query(`CREATE INDEX "ix_mobile_change_due" ON "mobile_change"  ("status", "effective_at") `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "mobile_change"`);
  }
}
