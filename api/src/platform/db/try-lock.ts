import type { DataSource } from 'typeorm';

/**
 * Runs `work` only if no other process (or job) holds the named Postgres advisory lock, on a
 * connection of its own for the duration; returns 'busy' otherwise. For periodic jobs that must not
 * overlap (a slow round while the next one is due): the second simply skips.
 */
export async function withTryLock<T>(db: DataSource, name: string, work: () => Promise<T>): Promise<T | 'busy'> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    const [{ got }] = await runner.query('SELECT pg_try_advisory_lock(hashtext($1)) AS got', [name]);
    if (!got) return 'busy';
    try {
      return await work();
    } finally {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
    }
  } finally {
    await runner.release();
  }
}
