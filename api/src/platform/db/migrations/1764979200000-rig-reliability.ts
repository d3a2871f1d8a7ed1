import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reliability scores (issue 9). Probe outcomes counted per rig and per GPU per hour (one row per
 * hour however often rigs are probed: a week of a 500-rig pool is 84,000 rig rows, not 10 million
 * samples), and the scores the scoring job last computed, which placement reads instead of
 * computing them per launch.
 */
export class RigReliability1764979200000 implements MigrationInterface {
  name = 'RigReliability1764979200000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of [
      `CREATE TABLE "rig_availability" ("rig_id" uuid NOT NULL, "hour" TIMESTAMP WITH TIME ZONE NOT NULL, "probes_up" integer NOT NULL DEFAULT 0, "probes_down" integer NOT NULL DEFAULT 0, CONSTRAINT "PK_rig_availability" PRIMARY KEY ("rig_id", "hour"), CONSTRAINT "FK_rig_availability_rig" FOREIGN KEY ("rig_id") REFERENCES "rigs"("id") ON DELETE CASCADE)`,
      `CREATE TABLE "gpu_availability" ("gpu_id" uuid NOT NULL, "hour" TIMESTAMP WITH TIME ZONE NOT NULL, "probes_up" integer NOT NULL DEFAULT 0, "probes_down" integer NOT NULL DEFAULT 0, CONSTRAINT "PK_gpu_availability" PRIMARY KEY ("gpu_id", "hour"), CONSTRAINT "FK_gpu_availability_gpu" FOREIGN KEY ("gpu_id") REFERENCES "gpus"("id") ON DELETE CASCADE)`,
      `CREATE TABLE "rig_reliability_scores" ("rig_id" uuid NOT NULL, "score" double precision, "gpu_scores" jsonb NOT NULL DEFAULT '{}', "view" jsonb NOT NULL, "computed_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_rig_reliability_scores" PRIMARY KEY ("rig_id"), CONSTRAINT "FK_rig_reliability_scores_rig" FOREIGN KEY ("rig_id") REFERENCES "rigs"("id") ON DELETE CASCADE)`,
    ])
      await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE "rig_reliability_scores"');
    await q.query('DROP TABLE "gpu_availability"');
    await q.query('DROP TABLE "rig_availability"');
  }
}
