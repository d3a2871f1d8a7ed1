import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

const HOUR_MS = 3_600_000;

/**
 * Counts each probe outcome into the hour it happened in, for the rig and each of its GPUs
 * (rig_availability, gpu_availability): what reliability scores read availability from. One
 * statement, one round trip per probe; a probe repeated in the same hour bumps the same rows.
 */
@Injectable()
export class ProbeAvailabilityService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * `answered`: the probe reached the rig and read it. The rig counts as down as well while a health
   * rule keeps it drained (out of service for a fault), and a GPU while it is quarantined: neither
   * takes students then, whatever the probe saw.
   */
  async record(rigId: string, answered: boolean, at = new Date()): Promise<void> {
    // The hour in UTC, computed here: date_trunc would follow the session's time zone.
    const hour = new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
    await this.db.query(
      `WITH s AS (
         SELECT r.id, ($3::boolean AND NOT (r.state = 'draining' AND r.drained_by_rule)) AS up FROM rigs r WHERE r.id = $1
       ), rig AS (
         INSERT INTO rig_availability AS a (rig_id, hour, probes_up, probes_down)
         SELECT s.id, $2, s.up::int, (NOT s.up)::int FROM s
         ON CONFLICT (rig_id, hour) DO UPDATE
           SET probes_up = a.probes_up + excluded.probes_up, probes_down = a.probes_down + excluded.probes_down
       )
       INSERT INTO gpu_availability AS a (gpu_id, hour, probes_up, probes_down)
       SELECT g.id, $2, (s.up AND g.healthy)::int, (NOT (s.up AND g.healthy))::int FROM gpus g JOIN s ON s.id = g.rig_id
       ON CONFLICT (gpu_id, hour) DO UPDATE
         SET probes_up = a.probes_up + excluded.probes_up, probes_down = a.probes_down + excluded.probes_down`,
      [rigId, hour, answered],
    );
  }
}
