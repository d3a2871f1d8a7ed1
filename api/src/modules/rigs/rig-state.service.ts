import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import type { Config } from '../../platform/config/config';
import { CONFIG } from '../../platform/config/config.module';
import { AppError } from '../../platform/http/app-error';
import { AuditService } from '../audit/audit.service';
import { ACTIVE_LAB_STATES, LabSession } from '../labs/lab-session.entity';
import { RIG_STATES, Rig, RigEvent, RigState } from './rig.entity';
import { planRigTransition } from './rig-lifecycle.policy';
import { RigErrorCode, rigNotFound } from './rigs.errors';

/** Who asks for a state change: a signed-in admin, the command line, or a health rule ('rule:<name>'). */
export interface RigActor {
  name: string;
  userId?: string | null;
  requestId?: string;
}

export interface StateChange {
  to: string;
  reason: string;
  /** How long running labs may go on when the rig drains (default RIG_DRAIN_DEADLINE_MINUTES). */
  deadlineMs?: number;
  /** Set by health rules: the rig may come back by itself after a clean window. */
  byRule?: boolean;
  /**
   * Only when the rig is in this state, checked under the row lock (a rule's decision about a state
   * the rig has left meanwhile, e.g. a burn-in result after an admin moved the rig, must not apply).
   */
  onlyFrom?: RigState;
}

/** A change as made: the rig after it, the state it left, why and by whom. */
export interface AppliedChange {
  rig: Rig;
  from: RigState;
  reason: string;
  actor: RigActor;
}

/**
 * Told of every state change another module must follow (burn-in starts a run when a rig enters
 * `burn-in`): `inTransaction` writes its rows in the change's own transaction, so the change and
 * what it implies commit together; `afterCommit` does what must wait for the commit (enqueue a job).
 */
export interface RigChangeListener {
  inTransaction?(m: EntityManager, change: AppliedChange): Promise<void>;
  afterCommit?(change: AppliedChange): Promise<void>;
}

/**
 * Changes a rig's lifecycle state: checks the move (rig-lifecycle.policy.ts), records it in the rig's
 * history (rig_events) in the same transaction, and audits it with the reason.
 */
@Injectable()
export class RigStateService {
  private readonly log = new Logger(RigStateService.name);
  private readonly listeners: RigChangeListener[] = [];

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @InjectDataSource() private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** Registers a listener for every later change (modules register theirs at init). */
  listen(listener: RigChangeListener): void {
    this.listeners.push(listener);
  }

  async change(name: string, input: StateChange, actor: RigActor): Promise<Rig> {
    const to = input.to as RigState;
    if (!RIG_STATES.includes(to))
      throw new AppError(
        RigErrorCode.BadTransition,
        'invalid',
        `'${input.to}' is not a rig state (use one of ${RIG_STATES.join(', ')})`,
      );
    const reason = (input.reason ?? '').trim();
    if (!reason || reason.length > 500)
      throw new AppError(RigErrorCode.BadTransition, 'invalid', 'give a reason of 1-500 characters for the change');
    if (input.deadlineMs !== undefined && (!Number.isFinite(input.deadlineMs) || input.deadlineMs < 0))
      throw new AppError(RigErrorCode.BadTransition, 'invalid', 'the drain deadline must be a duration of 0 or more');

    const { rig, from } = await this.db.transaction(async (m) => {
      const locked = await m
        .getRepository(Rig)
        .createQueryBuilder('r')
        .where('r.name = :name', { name })
        .setLock('pessimistic_write')
        .getOne();
      if (!locked) throw rigNotFound(name);
      if (input.onlyFrom && locked.state !== input.onlyFrom)
        throw new AppError(
          RigErrorCode.BadTransition,
          'conflict',
          `rig '${name}' not changed: it is ${locked.state} now, no longer ${input.onlyFrom}`,
        );
      const live = await m
        .getRepository(LabSession)
        .count({ where: { rigId: locked.id, state: In([...ACTIVE_LAB_STATES]) } });
      const plan = planRigTransition(locked.state, to, live, { byRule: actor.name.startsWith('rule:') });
      if (!plan.ok) throw new AppError(RigErrorCode.BadTransition, 'invalid', `rig '${name}' not changed: ${plan.why}`);
      const draining = plan.state === 'draining';
      const deadlineMs = input.deadlineMs ?? this.config.rigs.drainDeadlineMinutes * 60_000;
      const patch: Partial<Rig> = {
        state: plan.state,
        stateReason: reason,
        drainTarget: plan.drainTarget,
        // A drain already under way keeps its deadline unless a new one is given.
        drainDeadline: draining
          ? locked.state === 'draining' && locked.drainDeadline && input.deadlineMs === undefined
            ? locked.drainDeadline
            : new Date(Date.now() + deadlineMs)
          : null,
        drainedByRule: draining ? !!input.byRule : false,
      };
      await m.getRepository(Rig).update({ id: locked.id }, patch);
      await m.getRepository(RigEvent).insert({
        rigId: locked.id,
        fromState: locked.state,
        toState: plan.state,
        reason: plan.drainTarget ? `${reason} (draining, then ${plan.drainTarget})` : reason,
        actor: actor.name,
      });
      const changed = await m.getRepository(Rig).findOneByOrFail({ id: locked.id });
      for (const l of this.listeners) await l.inTransaction?.(m, { rig: changed, from: locked.state, reason, actor });
      return { rig: changed, from: locked.state };
    });
    await this.audit.record({
      action: 'rig.state',
      actorUserId: actor.userId ?? null,
      actor: actor.name,
      targetType: 'rig',
      targetId: name,
      detail: {
        from,
        to: rig.state,
        asked: to,
        reason,
        drainTarget: rig.drainTarget,
        drainDeadline: rig.drainDeadline?.toISOString() ?? null,
      },
      requestId: actor.requestId,
    });
    this.log.log({
      msg: 'rig state changed',
      rig: name,
      from,
      to: rig.state,
      drainTarget: rig.drainTarget,
      actor: actor.name,
      reason,
    });
    for (const l of this.listeners)
      // Committed already: a listener's trouble (Redis away) is logged, not the caller's failure.
      await l
        .afterCommit?.({ rig, from, reason, actor })
        .catch((err: Error) => this.log.warn({ msg: 'after a rig state change', rig: name, error: err.message }));
    return rig;
  }

  async events(name: string): Promise<RigEvent[]> {
    const rig = await this.db.getRepository(Rig).findOne({ where: { name } });
    if (!rig) throw rigNotFound(name);
    return this.db.getRepository(RigEvent).find({ where: { rigId: rig.id }, order: { id: 'ASC' } });
  }
}

export const rigEventView = (e: RigEvent) => ({
  at: e.at,
  from: e.fromState,
  to: e.toState,
  reason: e.reason,
  actor: e.actor,
});
