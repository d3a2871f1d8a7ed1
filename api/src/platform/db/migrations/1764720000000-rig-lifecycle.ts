import { MigrationInterface, QueryRunner } from 'typeorm';

const OLD = `'active', 'draining', 'retired'`;
const NEW = `'registered', 'burn-in', 'active', 'draining', 'maintenance', 'retired'`;

/**
 * Rig lifecycle (issue 9): the full set of rig states, drain deadlines and targets, health bookkeeping
 * on rigs and GPUs, and the rigs' history (rig_events). The enum is rebuilt rather than extended
 * because Postgres cannot use a value added in the same transaction; existing rows keep their state.
 */
export class RigLifecycle1764720000000 implements MigrationInterface {
  name = 'RigLifecycle1764720000000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of [
      `CREATE TYPE "public"."rig_state_new" AS ENUM(${NEW})`,
      `ALTER TABLE "rigs" ALTER COLUMN "state" DROP DEFAULT`,
      `ALTER TABLE "rigs" ALTER COLUMN "state" TYPE "public"."rig_state_new" USING "state"::text::"public"."rig_state_new"`,
      `DROP TYPE "public"."rig_state"`,
      `ALTER TYPE "public"."rig_state_new" RENAME TO "rig_state"`,
      `ALTER TABLE "rigs" ALTER COLUMN "state" SET DEFAULT 'active'`,
      `ALTER TABLE "rigs" ADD "drain_target" "public"."rig_state"`,
      `ALTER TABLE "rigs" ADD "drain_deadline" TIMESTAMP WITH TIME ZONE`,
      `ALTER TABLE "rigs" ADD "drained_by_rule" boolean NOT NULL DEFAULT false`,
      `ALTER TABLE "rigs" ADD "probe_failures" integer NOT NULL DEFAULT 0`,
      `ALTER TABLE "rigs" ADD "last_fault_at" TIMESTAMP WITH TIME ZONE`,
      `ALTER TABLE "gpus" ADD "quarantined_by" character varying(100)`,
      `ALTER TABLE "gpus" ADD "last_fault_at" TIMESTAMP WITH TIME ZONE`,
      `CREATE TABLE "rig_events" ("id" BIGSERIAL NOT NULL, "rig_id" uuid NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "from_state" "public"."rig_state", "to_state" "public"."rig_state" NOT NULL, "reason" text NOT NULL, "actor" character varying(100) NOT NULL, CONSTRAINT "PK_rig_events" PRIMARY KEY ("id"), CONSTRAINT "FK_rig_events_rig" FOREIGN KEY ("rig_id") REFERENCES "rigs"("id") ON DELETE CASCADE)`,
      `CREATE INDEX "ix_rig_events_rig" ON "rig_events" ("rig_id", "at") `,
    ])
      await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of [
      'DROP INDEX "public"."ix_rig_events_rig"',
      'DROP TABLE "rig_events"',
      'ALTER TABLE "gpus" DROP COLUMN "last_fault_at"',
      'ALTER TABLE "gpus" DROP COLUMN "quarantined_by"',
      ...['last_fault_at', 'probe_failures', 'drained_by_rule', 'drain_deadline', 'drain_target'].map(
        (c) => `ALTER TABLE "rigs" DROP COLUMN "${c}"`,
      ),
      `CREATE TYPE "public"."rig_state_old" AS ENUM(${OLD})`,
      `ALTER TABLE "rigs" ALTER COLUMN "state" DROP DEFAULT`,
      // The states the old schema lacks all mean "takes no new labs": the nearest old one is draining.
      `ALTER TABLE "rigs" ALTER COLUMN "state" TYPE "public"."rig_state_old" USING (CASE WHEN "state"::text IN ('registered', 'burn-in', 'maintenance') THEN 'draining' ELSE "state"::text END)::"public"."rig_state_old"`,
      `DROP TYPE "public"."rig_state"`,
      `ALTER TYPE "public"."rig_state_old" RENAME TO "rig_state"`,
      `ALTER TABLE "rigs" ALTER COLUMN "state" SET DEFAULT 'active'`,
    ])
      await q.query(sql);
  }
}
