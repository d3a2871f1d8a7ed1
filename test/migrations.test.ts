import { DataSource } from 'typeorm';
import { createDataSource } from '../api/src/platform/db/data-source';
import { emptyDatabase } from './support/services';
import { newCourse, newTemplate, newUser } from './support/labs';

async function tables(ds: DataSource): Promise<string[]> {
  const rows: Array<{ table_name: string }> = await ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY 1`,
  );
  return rows.map((r) => r.table_name);
}

describe('database migrations', () => {
  let db: Awaited<ReturnType<typeof emptyDatabase>>;
  let ds: DataSource;

  beforeAll(async () => {
    db = await emptyDatabase();
    ds = createDataSource(db.url);
    await ds.initialize();
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('apply on an empty database and create the whole first data model', async () => {
    expect(await tables(ds)).toEqual([]);
    const applied = await ds.runMigrations({ transaction: 'each' });
    expect(applied.map((m) => m.name)).toEqual([
      'Initial1764201600000',
      'LabSessionRuntime1764288000000',
      'SsoIdentity1764374400000',
      'TemplateAuthoring1764460800000',
      'LedgerChain1764547200000',
      'Quotas1764633600000',
      'RigLifecycle1764720000000',
      'RigTelemetry1764806400000',
      'BurnIn1764892800000',
      'RigReliability1764979200000',
      'RigInventory1765065600000',
      'RollupsPerBucket1765152000000',
      'ForgetEndedLabTokens1765238400000',
    ]);
    expect(await tables(ds)).toEqual([
      'api_tokens',
      'audit_events',
      'burn_in_runs',
      'course_quotas',
      'courses',
      'enrollments',
      'gpu_availability',
      'gpu_slots',
      'gpus',
      'lab_session_events',
      'lab_sessions',
      'lab_template_versions',
      'lab_templates',
      'ledger_checkpoints',
      'ledger_entries',
      'rig_availability',
      'rig_events',
      'rig_reliability_scores',
      'rig_sample_rollups',
      'rig_samples',
      'rigs',
      'starter_archives',
      'users',
    ]);
    expect(await ds.showMigrations()).toBe(false);
  });

  it('leave the schema exactly as the entities describe it (no drift)', async () => {
    const pending = await ds.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('make double booking of a GPU slot impossible at the database', async () => {
    const [rig] = await ds.query(
      `INSERT INTO rigs (name, docker_endpoint, cpu_millis, memory_mb) VALUES ('r1', 'unix:///x.sock', 1000, 1024) RETURNING id`,
    );
    const [gpu] = await ds.query(
      `INSERT INTO gpus (rig_id, index, model, vram_mb, driver_kind) VALUES ($1, 0, 'GTX 1070', 8192, 'nvidia') RETURNING id`,
      [rig.id],
    );
    const session = '00000000-0000-4000-8000-000000000001';
    await ds.query(`INSERT INTO gpu_slots (gpu_id, slot_index, session_id) VALUES ($1, 0, $2)`, [gpu.id, session]);
    await expect(
      ds.query(`INSERT INTO gpu_slots (gpu_id, slot_index, session_id) VALUES ($1, 1, $2)`, [gpu.id, session]),
    ).rejects.toThrow(/uq_gpu_slots_session/);
    await ds.query(`DELETE FROM rigs`);
  });

  it('forget the stored Jupyter tokens of ended labs, and only theirs', async () => {
    await ds.undoLastMigration({ transaction: 'each' });
    const user = await newUser(ds, 'old-lab-owner');
    const course = await newCourse(ds, 'CS-TOK');
    const template = await newTemplate(ds, course, { slug: 'tok', image: 'x' });
    const [version] = await ds.query(`SELECT id FROM lab_template_versions WHERE template_id = $1`, [template.id]);
    for (const state of ['ready', 'stopped', 'failed', 'lost']) {
      await ds.query(
        `INSERT INTO lab_sessions (user_id, course_id, template_version_id, name, state, jupyter_token)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [user.id, course.id, version.id, state, state, `token-of-${state}`],
      );
    }
    await ds.runMigrations({ transaction: 'each' });
    expect(await ds.query(`SELECT state, jupyter_token FROM lab_sessions ORDER BY state::text`)).toEqual([
      { state: 'failed', jupyter_token: null },
      { state: 'lost', jupyter_token: null },
      { state: 'ready', jupyter_token: 'token-of-ready' },
      { state: 'stopped', jupyter_token: null },
    ]);
    await ds.query(`DELETE FROM lab_sessions`);
    await ds.query(`DELETE FROM lab_templates`);
    await ds.query(`DELETE FROM courses`);
    await ds.query(`DELETE FROM users`);
  });

  it('roll back to an empty database, and apply again', async () => {
    await ds.undoLastMigration({ transaction: 'each' }); // ForgetEndedLabTokens: nothing to restore
    const column = async (table: string, name: string) =>
      (
        await ds.query(`SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2`, [
          table,
          name,
        ])
      ).length;
    // Rollups one row per bucket (1765152000000) ⇄ one row per series: the figures survive both ways.
    const [{ id: rigId }] = await ds.query(
      `INSERT INTO rigs (name, docker_endpoint, cpu_millis, memory_mb) VALUES ('r-roll', 'unix:///x.sock', 1000, 1024) RETURNING id`,
    );
    await ds.query(
      `INSERT INTO rig_sample_rollups (rig_id, bucket, series) VALUES ($1, '2026-12-01T10:05:00Z', '{"load1": [1.5, 1, 2, 10], "gpu.0.temperatureC": [71.25, 70, 73, 10]}')`,
      [rigId],
    );
    await ds.undoLastMigration({ transaction: 'each' });
    const perSeries = `SELECT series, avg, min, max, n FROM rig_sample_rollups ORDER BY series`;
    expect(await ds.query(perSeries)).toEqual([
      { series: 'gpu.0.temperatureC', avg: 71.25, min: 70, max: 73, n: 10 },
      { series: 'load1', avg: 1.5, min: 1, max: 2, n: 10 },
    ]);
    await ds.runMigrations({ transaction: 'each' });
    expect(await ds.query(`SELECT series FROM rig_sample_rollups`)).toEqual([
      { series: { load1: [1.5, 1, 2, 10], 'gpu.0.temperatureC': [71.25, 70, 73, 10] } },
    ]);
    await ds.undoLastMigration({ transaction: 'each' }); // ForgetEndedLabTokens, applied again above
    await ds.undoLastMigration({ transaction: 'each' });
    await ds.query(`DELETE FROM rigs`);
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await column('rigs', 'inventory')).toBe(0);
    expect(await column('rigs', 'capacity_given')).toBe(0);
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).not.toContain('rig_availability');
    expect(await tables(ds)).not.toContain('rig_reliability_scores');
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).not.toContain('burn_in_runs');
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).not.toContain('rig_samples');
    await ds.query(
      `INSERT INTO rigs (name, docker_endpoint, cpu_millis, memory_mb, state) VALUES ('r-maint', 'unix:///x.sock', 1000, 1024, 'maintenance')`,
    );
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).not.toContain('rig_events');
    // A rig in a state the old schema lacks still takes no labs after the rollback.
    expect(await ds.query(`SELECT state FROM rigs WHERE name = 'r-maint'`)).toEqual([{ state: 'draining' }]);
    await ds.query(`DELETE FROM rigs`);
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).not.toContain('course_quotas');
    expect(await column('lab_sessions', 'gpu_queued_at')).toBe(0);
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).not.toContain('ledger_checkpoints');
    expect(await column('ledger_entries', 'idem_key')).toBe(0);
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).not.toContain('starter_archives');
    expect(await column('lab_template_versions', 'env')).toBe(0);
    await ds.undoLastMigration({ transaction: 'each' });
    const sso: Array<{ column_name: string }> = await ds.query(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'campus_role_pinned'`,
    );
    expect(sso).toEqual([]);
    await ds.undoLastMigration({ transaction: 'each' });
    const columns: Array<{ column_name: string }> = await ds.query(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'lab_sessions' AND column_name = 'jupyter_token'`,
    );
    expect(columns).toEqual([]);
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables(ds)).toEqual([]);
    const types: Array<{ typname: string }> = await ds.query(
      `SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'`,
    );
    expect(types).toEqual([]);
    await ds.runMigrations({ transaction: 'each' });
    expect(await tables(ds)).toHaveLength(23);
  });
});
