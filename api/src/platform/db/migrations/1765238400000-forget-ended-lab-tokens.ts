import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Labs' Jupyter tokens are derived from a key the portal holds (labs/lab-token.ts); only labs started
 * before that keep a stored token, and only while they run. Ended labs forget theirs here, so a dump
 * of the database holds no token of any ended lab. Not reversible: a forgotten token is gone.
 */
export class ForgetEndedLabTokens1765238400000 implements MigrationInterface {
  name = 'ForgetEndedLabTokens1765238400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `UPDATE "lab_sessions" SET "jupyter_token" = NULL
        WHERE "jupyter_token" IS NOT NULL AND "state" IN ('stopped', 'failed', 'lost')`,
    );
  }

  async down(): Promise<void> {
    // Nothing to restore: the tokens of ended labs are not kept anywhere.
  }
}
