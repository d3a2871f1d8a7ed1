import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AuditEvent } from './audit-event.entity';

export interface AuditInput {
  action: string;
  actorUserId?: string | null;
  actor?: string;
  targetType?: string;
  targetId?: string;
  detail?: Record<string, unknown>;
  requestId?: string;
  ip?: string;
}

/** Who did what to what: sign-ins, token and rig changes. Never holds secrets. */
@Injectable()
export class AuditService {
  constructor(@InjectRepository(AuditEvent) private readonly events: Repository<AuditEvent>) {}

  record(e: AuditInput): Promise<AuditEvent> {
    return this.events.save(
      this.events.create({
        action: e.action,
        actorUserId: e.actorUserId ?? null,
        actor: e.actor ?? 'system',
        targetType: e.targetType ?? null,
        targetId: e.targetId ?? null,
        detail: e.detail ?? {},
        requestId: e.requestId ?? null,
        ip: e.ip ?? null,
      }),
    );
  }

  recent(limit = 100): Promise<AuditEvent[]> {
    return this.events.find({ order: { id: 'DESC' }, take: limit });
  }
}
