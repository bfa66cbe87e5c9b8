import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Back-channel logout tokens go through the outbox (D13): a row records only the service
 * (`recipient`, its client_id), `sub` and `sid`; the token is built and signed when it is sent, so
 * a logout row has no body. Widening a varchar and dropping NOT NULL rewrite nothing.
 */
export class OutboxBackchannelLogout1795800000000 implements MigrationInterface {
  name = 'OutboxBackchannelLogout1795800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "outbox_message" ALTER COLUMN "channel" TYPE character varying(20)`);
    await queryRunner.query(`ALTER TABLE "outbox_message" ALTER COLUMN "body" DROP NOT NULL`);
    await queryRunner.query(`ALTER TABLE "outbox_message" ADD "sub" character varying(255)`);
    await queryRunner.query(`ALTER TABLE "outbox_message" ADD "sid" character varying(255)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "outbox_message" WHERE "channel" = 'backchannel-logout'`);
    await queryRunner.query(`ALTER TABLE "outbox_message" DROP COLUMN "sid"`);
    await queryRunner.query(`ALTER TABLE "outbox_message" DROP COLUMN "sub"`);
    await queryRunner.query(`ALTER TABLE "outbox_message" ALTER COLUMN "body" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "outbox_message" ALTER COLUMN "channel" TYPE character varying(10)`);
  }
}
