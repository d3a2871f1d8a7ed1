import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Template authoring: versions gain environment variables, an uploaded starter archive (kept in
 * Postgres, content-addressed by sha256) and who wrote them. GPU policies keep their jsonb column:
 * the new `mode` and `allowCpuFallback` keys are optional, and a policy without `mode` reads as
 * 'whole' (what every GPU template meant before), so old rows need no rewrite.
 */
export class TemplateAuthoring1764460800000 implements MigrationInterface {
  name = 'TemplateAuthoring1764460800000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of [
      `CREATE TABLE "starter_archives" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "sha256" character(64) NOT NULL, "bytes" integer NOT NULL, "file_count" integer NOT NULL, "total_bytes" bigint NOT NULL, "files" jsonb NOT NULL DEFAULT '[]', "content" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_7dabb3a3f82cab11794b26c4996" PRIMARY KEY ("id"))`,
      `CREATE UNIQUE INDEX "uq_starter_archives_sha256" ON "starter_archives" ("sha256") `,
      `ALTER TABLE "lab_template_versions" ADD "env" jsonb NOT NULL DEFAULT '{}'`,
      `ALTER TABLE "lab_template_versions" ADD "starter_archive_id" uuid`,
      `ALTER TABLE "lab_template_versions" ADD "created_by" character varying(100) NOT NULL DEFAULT 'system'`,
      `CREATE INDEX "ix_lab_template_versions_starter_archive" ON "lab_template_versions" ("starter_archive_id") `,
      // RESTRICT: an archive a version still names can never be deleted from under a running lab.
      `ALTER TABLE "lab_template_versions" ADD CONSTRAINT "FK_8d4be8356efba07c8d1aef3d284" FOREIGN KEY ("starter_archive_id") REFERENCES "starter_archives"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    ])
      await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of [
      `ALTER TABLE "lab_template_versions" DROP CONSTRAINT "FK_8d4be8356efba07c8d1aef3d284"`,
      `DROP INDEX "public"."ix_lab_template_versions_starter_archive"`,
      `ALTER TABLE "lab_template_versions" DROP COLUMN "created_by"`,
      `ALTER TABLE "lab_template_versions" DROP COLUMN "starter_archive_id"`,
      `ALTER TABLE "lab_template_versions" DROP COLUMN "env"`,
      `DROP INDEX "public"."uq_starter_archives_sha256"`,
      `DROP TABLE "starter_archives"`,
    ])
      await q.query(sql);
  }
}
