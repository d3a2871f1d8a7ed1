import { MigrationInterface, QueryRunner } from 'typeorm';

/** Course quotas, GPU budget reservations, metering, GPU slices and the fair GPU queue (issue 8). */
export class Quotas1764633600000 implements MigrationInterface {
  name = 'Quotas1764633600000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of [
      `CREATE TABLE "course_quotas" ("course_id" uuid NOT NULL, "ceiling" jsonb NOT NULL DEFAULT '{}', "tightening" jsonb NOT NULL DEFAULT '{}', "updated_by" character varying(100) NOT NULL DEFAULT 'system', "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_course_quotas" PRIMARY KEY ("course_id"), CONSTRAINT "FK_course_quotas_course" FOREIGN KEY ("course_id") REFERENCES "courses"("id") ON DELETE CASCADE)`,
      `ALTER TABLE "lab_sessions" ADD "gpu_reserved_minutes" numeric(14,4) NOT NULL DEFAULT '0'`,
      `ALTER TABLE "lab_sessions" ADD "gpu_debited_minutes" numeric(14,4) NOT NULL DEFAULT '0'`,
      `ALTER TABLE "lab_sessions" ADD "metered_until" TIMESTAMP WITH TIME ZONE`,
      `ALTER TABLE "lab_sessions" ADD "slice_ends_at" TIMESTAMP WITH TIME ZONE`,
      `ALTER TABLE "lab_sessions" ADD "slice_warned_s" integer`,
      `ALTER TABLE "lab_sessions" ADD "gpu_queued_at" TIMESTAMP WITH TIME ZONE`,
      `ALTER TABLE "lab_sessions" ADD "queue_position" integer`,
      `ALTER TABLE "lab_sessions" ADD "queue_eta" TIMESTAMP WITH TIME ZONE`,
      `ALTER TABLE "lab_sessions" ADD "cpu_only" boolean NOT NULL DEFAULT false`,
      `ALTER TABLE "lab_sessions" ADD "continue_on_cpu" boolean NOT NULL DEFAULT false`,
      `ALTER TABLE "lab_sessions" ADD "gpu_id" uuid`,
      `ALTER TABLE "lab_sessions" ADD "gpu_model" character varying(100)`,
      `ALTER TABLE "lab_sessions" ADD "gpu_share" numeric(4,3)`,
      `ALTER TABLE "lab_sessions" ADD "gpu_rate" numeric(6,3)`,
      `CREATE INDEX "ix_lab_sessions_gpu_queue" ON "lab_sessions" ("gpu_queued_at") WHERE state = 'queued' AND gpu_queued_at IS NOT NULL`,
    ])
      await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of [
      'DROP INDEX "public"."ix_lab_sessions_gpu_queue"',
      ...[
        'gpu_rate',
        'gpu_share',
        'gpu_model',
        'gpu_id',
        'continue_on_cpu',
        'cpu_only',
        'queue_eta',
        'queue_position',
        'gpu_queued_at',
        'slice_warned_s',
        'slice_ends_at',
        'metered_until',
        'gpu_debited_minutes',
        'gpu_reserved_minutes',
      ].map((c) => `ALTER TABLE "lab_sessions" DROP COLUMN "${c}"`),
      'DROP TABLE "course_quotas"',
    ])
      await q.query(sql);
  }
}
