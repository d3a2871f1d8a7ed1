import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Telemetry rollups become one row per rig and five-minute bucket, every series of the bucket in
 * one jsonb object (`{"gpu.0.temperatureC": [avg, min, max, n], ...}`) instead of one row per series.
 * Measured by bench/telemetry.bench.js on a six-GPU rig with a BMC (62 series): the row per series
 * cost about 3.8 MB per rig per day — 168 GB over 90 days for 500 rigs — mostly tuple headers and the
 * three-column primary key repeated for every series. Existing rollups are carried over.
 */
export class RollupsPerBucket1765152000000 implements MigrationInterface {
  name = 'RollupsPerBucket1765152000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "rig_rollups_new" ("rig_id" uuid NOT NULL, "bucket" TIMESTAMP WITH TIME ZONE NOT NULL, "series" jsonb NOT NULL)`,
    );
    await q.query(
      `INSERT INTO "rig_rollups_new" (rig_id, bucket, series)
       SELECT rig_id, bucket, jsonb_object_agg(series, jsonb_build_array(avg, min, max, n))
         FROM "rig_sample_rollups" GROUP BY rig_id, bucket`,
    );
    await q.query(`DROP TABLE "rig_sample_rollups"`);
    await q.query(`ALTER TABLE "rig_rollups_new" RENAME TO "rig_sample_rollups"`);
    await q.query(
      `ALTER TABLE "rig_sample_rollups" ADD CONSTRAINT "PK_rig_sample_rollups" PRIMARY KEY ("rig_id", "bucket")`,
    );
    await q.query(
      `ALTER TABLE "rig_sample_rollups" ADD CONSTRAINT "FK_rig_sample_rollups_rig" FOREIGN KEY ("rig_id") REFERENCES "rigs"("id") ON DELETE CASCADE`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "rig_rollups_old" ("rig_id" uuid NOT NULL, "bucket" TIMESTAMP WITH TIME ZONE NOT NULL, "series" character varying(120) NOT NULL, "avg" double precision NOT NULL, "min" double precision NOT NULL, "max" double precision NOT NULL, "n" integer NOT NULL)`,
    );
    await q.query(
      `INSERT INTO "rig_rollups_old" SELECT r.rig_id, r.bucket, e.key, (e.value->>0)::float8, (e.value->>1)::float8, (e.value->>2)::float8, (e.value->>3)::int
         FROM "rig_sample_rollups" r, jsonb_each(r.series) e`,
    );
    await q.query(`DROP TABLE "rig_sample_rollups"`);
    await q.query(`ALTER TABLE "rig_rollups_old" RENAME TO "rig_sample_rollups"`);
    await q.query(
      `ALTER TABLE "rig_sample_rollups" ADD CONSTRAINT "PK_rig_sample_rollups" PRIMARY KEY ("rig_id", "bucket", "series")`,
    );
    await q.query(
      `ALTER TABLE "rig_sample_rollups" ADD CONSTRAINT "FK_rig_sample_rollups_rig" FOREIGN KEY ("rig_id") REFERENCES "rigs"("id") ON DELETE CASCADE`,
    );
  }
}
