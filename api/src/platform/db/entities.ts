import { ApiToken } from '../../modules/auth/api-token.entity';
import { AuditEvent } from '../../modules/audit/audit-event.entity';
import { BurnInRun } from '../../modules/burn-in/burn-in-run.entity';
import { Course, Enrollment } from '../../modules/courses/course.entity';
import { LabSession, LabSessionEvent } from '../../modules/labs/lab-session.entity';
import { CourseQuota } from '../../modules/quota/course-quota.entity';
import { RigSampleRollup, RigSampleRow } from '../../modules/telemetry/telemetry.entity';
import { LedgerCheckpoint, LedgerEntry } from '../../modules/ledger/ledger-entry.entity';
import { Gpu, GpuSlot, Rig, RigEvent } from '../../modules/rigs/rig.entity';
import { GpuAvailability, RigAvailability, RigReliabilityScore } from '../../modules/rig-health/reliability.entity';
import { LabTemplate, LabTemplateVersion, StarterArchive } from '../../modules/templates/lab-template.entity';
import { User } from '../../modules/users/user.entity';

export const ENTITIES = [
  User,
  Course,
  Enrollment,
  LabTemplate,
  LabTemplateVersion,
  StarterArchive,
  Rig,
  Gpu,
  GpuSlot,
  RigEvent,
  LabSession,
  LabSessionEvent,
  LedgerEntry,
  LedgerCheckpoint,
  CourseQuota,
  RigSampleRow,
  RigSampleRollup,
  BurnInRun,
  RigAvailability,
  GpuAvailability,
  RigReliabilityScore,
  ApiToken,
  AuditEvent,
];
