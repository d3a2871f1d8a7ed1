import { MigrationInterface, QueryRunner } from 'typeorm';

/** What a running lab needs (issue 3): the Jupyter token the proxy injects, activity and culling times. */
export class LabSessionRuntime1764288000000 implements MigrationInterface {
  name = 'LabSessionRuntime1764288000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "lab_sessions" ADD "jupyter_token" character varying(128)`);
    await q.query(`ALTER TABLE "lab_sessions" ADD "last_activity_at" TIMESTAMP WITH TIME ZONE`);
    await q.query(`ALTER TABLE "lab_sessions" ADD "cull_warned_at" TIMESTAMP WITH TIME ZONE`);
    await q.query(`ALTER TABLE "lab_sessions" ADD "started_at" TIMESTAMP WITH TIME ZONE`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "lab_sessions" DROP COLUMN "started_at"`);
    await q.query(`ALTER TABLE "lab_sessions" DROP COLUMN "cull_warned_at"`);
    await q.query(`ALTER TABLE "lab_sessions" DROP COLUMN "last_activity_at"`);
    await q.query(`ALTER TABLE "lab_sessions" DROP COLUMN "jupyter_token"`);
  }
}
