import { ApiToken } from '../../modules/auth/api-token.entity';
import { AuditEvent } from '../../modules/audit/audit-event.entity';
import { Course, Enrollment } from '../../modules/courses/course.entity';
import { LabSession, LabSessionEvent } from '../../modules/labs/lab-session.entity';
import { LedgerEntry } from '../../modules/ledger/ledger-entry.entity';
import { Gpu, GpuSlot, Rig } from '../../modules/rigs/rig.entity';
import { LabTemplate, LabTemplateVersion } from '../../modules/templates/lab-template.entity';
import { User } from '../../modules/users/user.entity';

export const ENTITIES = [
  User,
  Course,
  Enrollment,
  LabTemplate,
  LabTemplateVersion,
  Rig,
  Gpu,
  GpuSlot,
  LabSession,
  LabSessionEvent,
  LedgerEntry,
  ApiToken,
  AuditEvent,
];
