import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { GpuSlot } from '../rigs/rig.entity';
import { LabSession, LabSessionEvent, LabState } from './lab-session.entity';
import { sourcesOf } from './labs.policy';

/** What every use of a session needs alongside it. */
const RELATIONS = { templateVersion: { template: true }, course: true, rig: true, user: true } as const;

export type SessionPatch = Partial<
  Pick<
    LabSession,
    | 'rigId'
    | 'handle'
    | 'endpoint'
    | 'jupyterToken'
    | 'readyAt'
    | 'stoppedAt'
    | 'startedAt'
    | 'lastActivityAt'
    | 'cullWarnedAt'
    | 'gpuReservedMinutes'
    | 'meteredUntil'
    | 'sliceEndsAt'
    | 'sliceWarnedS'
    | 'gpuQueuedAt'
    | 'queuePosition'
    | 'queueEta'
    | 'continueOnCpu'
    | 'gpuId'
    | 'gpuModel'
    | 'gpuShare'
    | 'gpuRate'
  >
>;

/**
 * Lab session rows and their state machine. Every transition locks the row, checks the current state
 * is an allowed source, updates it and writes an event with the reason, in one transaction: two
 * processes racing on the same session cannot both win, and a late job finds the row moved on.
 */
@Injectable()
export class LabSessionsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  byId(id: string): Promise<LabSession | null> {
    return this.db.getRepository(LabSession).findOne({ where: { id }, relations: RELATIONS });
  }

  /**
   * Moves the session to `to` if its current state allows it (optionally only from `from`).
   * Returns the updated row, or null when the session was not in an allowed state.
   */
  async transition(
    id: string,
    to: LabState,
    reason: string,
    patch: SessionPatch = {},
    from?: LabState[],
    tx?: EntityManager,
  ): Promise<LabSession | null> {
    const run = async (m: EntityManager) => {
      const allowed = from ?? sourcesOf(to);
      const rows: Array<{ state: LabState }> = await m.query(
        'SELECT state FROM lab_sessions WHERE id = $1 FOR UPDATE',
        [id],
      );
      if (!rows.length || !allowed.includes(rows[0].state)) return null;
      const over = to === 'stopped' || to === 'failed' || to === 'lost';
      await m.getRepository(LabSession).update({ id }, {
        ...patch,
        // A lab from before derived tokens forgets its stored one when it ends: nothing in a dump opens it.
        ...(over ? { jupyterToken: null } : {}),
        state: to,
        stateReason: reason,
        stateChangedAt: new Date(),
      } as QueryDeepPartialEntity<LabSession>);
      await m.getRepository(LabSessionEvent).insert({ sessionId: id, fromState: rows[0].state, toState: to, reason });
      if (over) {
        // A session that is over holds no GPU: freeing the slot is part of the same transaction.
        await m.getRepository(GpuSlot).update({ sessionId: id }, { sessionId: null, reservedAt: null });
      }
      return m.getRepository(LabSession).findOneOrFail({ where: { id }, relations: RELATIONS });
    };
    return tx ? run(tx) : this.db.transaction(run);
  }

  events(id: string): Promise<LabSessionEvent[]> {
    return this.db.getRepository(LabSessionEvent).find({ where: { sessionId: id }, order: { id: 'ASC' } });
  }

  inStates(states: LabState[]): Promise<LabSession[]> {
    return this.db.getRepository(LabSession).find({ where: { state: In(states) }, relations: RELATIONS });
  }
}
