import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Burn-in runs (issue 9): one row per self-test of a rig, its checks as they go (jsonb: a run's
 * checks are read and written together). The partial unique index lets one run at a time be
 * `running` per rig, whoever starts it.
 */
export class BurnIn1764892800000 implements MigrationInterface {
  name = 'BurnIn1764892800000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of [
      `CREATE TYPE "public"."burn_in_status" AS ENUM('running', 'passed', 'failed', 'cancelled')`,
      `CREATE TABLE "burn_in_runs" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "rig_id" uuid NOT NULL, "status" "public"."burn_in_status" NOT NULL DEFAULT 'running', "started_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "claimed_at" TIMESTAMP WITH TIME ZONE, "finished_at" TIMESTAMP WITH TIME ZONE, "reason" text NOT NULL DEFAULT '', "requested_by" character varying(100) NOT NULL, "request_reason" text NOT NULL DEFAULT '', "checks" jsonb NOT NULL DEFAULT '[]', CONSTRAINT "PK_burn_in_runs" PRIMARY KEY ("id"), CONSTRAINT "FK_burn_in_runs_rig" FOREIGN KEY ("rig_id") REFERENCES "rigs"("id") ON DELETE CASCADE)`,
      `CREATE UNIQUE INDEX "uq_burn_in_runs_running" ON "burn_in_runs" ("rig_id") WHERE "status" = 'running'`,
      `CREATE INDEX "ix_burn_in_runs_rig" ON "burn_in_runs" ("rig_id", "started_at") `,
    ])
      await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX "public"."ix_burn_in_runs_rig"');
    await q.query('DROP INDEX "public"."uq_burn_in_runs_running"');
    await q.query('DROP TABLE "burn_in_runs"');
    await q.query('DROP TYPE "public"."burn_in_status"');
  }
}
