import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SsoIdentity1764374400000 implements MigrationInterface {
  name = 'SsoIdentity1764374400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "users" ADD "campus_role_pinned" boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE "users" ADD "last_sign_in_at" TIMESTAMP WITH TIME ZONE`);
    // Admins made before SSO existed were made by hand: keep them.
    await q.query(`UPDATE "users" SET "campus_role_pinned" = true WHERE "campus_role" <> 'student'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "users" DROP COLUMN "last_sign_in_at"`);
    await q.query(`ALTER TABLE "users" DROP COLUMN "campus_role_pinned"`);
  }
}
