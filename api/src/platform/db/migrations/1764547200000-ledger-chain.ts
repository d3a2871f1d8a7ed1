import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The usage ledger (issue 8): who and why on every entry, CPU minutes beside GPU minutes, idempotency
 * keys, the indexes balances are read by, checkpoints of the chain's head, and a trigger that keeps
 * both tables append-only. Nothing wrote ledger entries before this migration, so no row needs a
 * value for the new columns (their defaults only serve the ALTER).
 */
export class LedgerChain1764547200000 implements MigrationInterface {
  name = 'LedgerChain1764547200000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of [
      `ALTER TABLE "ledger_entries" ADD "cpu_minutes" numeric(14,4) NOT NULL DEFAULT '0'`,
      `ALTER TABLE "ledger_entries" ADD "actor" character varying(100) NOT NULL DEFAULT 'system'`,
      `ALTER TABLE "ledger_entries" ALTER COLUMN "actor" DROP DEFAULT`,
      `ALTER TABLE "ledger_entries" ADD "reason" text NOT NULL DEFAULT ''`,
      `ALTER TABLE "ledger_entries" ALTER COLUMN "reason" DROP DEFAULT`,
      `ALTER TABLE "ledger_entries" ADD "idem_key" character varying(200)`,
      `CREATE UNIQUE INDEX "uq_ledger_entries_idem_key" ON "ledger_entries" ("idem_key") WHERE idem_key IS NOT NULL`,
      // (user_id, course_id, at) answers "this student's use in this course this week" and, by its
      // leading column, everything the old user_id index did.
      `DROP INDEX "public"."ix_ledger_entries_user"`,
      `CREATE INDEX "ix_ledger_entries_user_course_at" ON "ledger_entries" ("user_id", "course_id", "at") `,
      `CREATE INDEX "ix_ledger_entries_course_at" ON "ledger_entries" ("course_id", "at") `,
      `CREATE TABLE "ledger_checkpoints" ("seq" bigint NOT NULL, "hash" character(64) NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_ledger_checkpoints" PRIMARY KEY ("seq"))`,
      // Statement-level, so even a DELETE matching no row is refused: the tables only ever grow.
      // A DBA can still disable the trigger; the hash chain is what shows what they did then.
      `CREATE FUNCTION "ledger_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION USING ERRCODE = 'restrict_violation', MESSAGE = TG_ARGV[0];
       END $$`,
      `CREATE TRIGGER "ledger_entries_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "ledger_entries"
       FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"('the usage ledger is append-only: record a correction as a new entry')`,
      `CREATE TRIGGER "ledger_checkpoints_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "ledger_checkpoints"
       FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"('ledger checkpoints are append-only')`,
    ])
      await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of [
      `DROP TRIGGER "ledger_checkpoints_append_only" ON "ledger_checkpoints"`,
      `DROP TRIGGER "ledger_entries_append_only" ON "ledger_entries"`,
      `DROP FUNCTION "ledger_refuse_change"()`,
      `DROP TABLE "ledger_checkpoints"`,
      `DROP INDEX "public"."ix_ledger_entries_course_at"`,
      `DROP INDEX "public"."ix_ledger_entries_user_course_at"`,
      `CREATE INDEX "ix_ledger_entries_user" ON "ledger_entries" ("user_id") `,
      `DROP INDEX "public"."uq_ledger_entries_idem_key"`,
      `ALTER TABLE "ledger_entries" DROP COLUMN "idem_key"`,
      `ALTER TABLE "ledger_entries" DROP COLUMN "reason"`,
      `ALTER TABLE "ledger_entries" DROP COLUMN "actor"`,
      `ALTER TABLE "ledger_entries" DROP COLUMN "cpu_minutes"`,
    ])
      await q.query(sql);
  }
}
