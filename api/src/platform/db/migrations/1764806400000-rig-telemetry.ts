import { MigrationInterface, QueryRunner } from 'typeorm';

/** Rig telemetry (issue 9): raw probe samples (kept a day) and 5-minute rollups (kept 90 days). */
export class RigTelemetry1764806400000 implements MigrationInterface {
  name = 'RigTelemetry1764806400000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of [
      `CREATE TABLE "rig_samples" ("id" BIGSERIAL NOT NULL, "rig_id" uuid NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "sample" jsonb NOT NULL, CONSTRAINT "PK_rig_samples" PRIMARY KEY ("id"), CONSTRAINT "FK_rig_samples_rig" FOREIGN KEY ("rig_id") REFERENCES "rigs"("id") ON DELETE CASCADE)`,
      `CREATE INDEX "ix_rig_samples_rig_at" ON "rig_samples" ("rig_id", "at") `,
      `CREATE TABLE "rig_sample_rollups" ("rig_id" uuid NOT NULL, "bucket" TIMESTAMP WITH TIME ZONE NOT NULL, "series" character varying(120) NOT NULL, "avg" double precision NOT NULL, "min" double precision NOT NULL, "max" double precision NOT NULL, "n" integer NOT NULL, CONSTRAINT "PK_rig_sample_rollups" PRIMARY KEY ("rig_id", "bucket", "series"), CONSTRAINT "FK_rig_sample_rollups_rig" FOREIGN KEY ("rig_id") REFERENCES "rigs"("id") ON DELETE CASCADE)`,
    ])
      await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE "rig_sample_rollups"');
    await q.query('DROP INDEX "public"."ix_rig_samples_rig_at"');
    await q.query('DROP TABLE "rig_samples"');
  }
}
