import { Initial1764201600000 } from './1764201600000-initial';
import { LabSessionRuntime1764288000000 } from './1764288000000-lab-session-runtime';
import { SsoIdentity1764374400000 } from './1764374400000-sso-identity';
import { TemplateAuthoring1764460800000 } from './1764460800000-template-authoring';
import { LedgerChain1764547200000 } from './1764547200000-ledger-chain';
import { Quotas1764633600000 } from './1764633600000-quotas';
import { RigLifecycle1764720000000 } from './1764720000000-rig-lifecycle';
import { RigTelemetry1764806400000 } from './1764806400000-rig-telemetry';
import { BurnIn1764892800000 } from './1764892800000-burn-in';
import { RigReliability1764979200000 } from './1764979200000-rig-reliability';
import { RigInventory1765065600000 } from './1765065600000-rig-inventory';
import { RollupsPerBucket1765152000000 } from './1765152000000-rollups-per-bucket';
import { ForgetEndedLabTokens1765238400000 } from './1765238400000-forget-ended-lab-tokens';

/** In order of application. A schema change is a new file here, never an edit of an applied one. */
export const MIGRATIONS = [
  Initial1764201600000,
  LabSessionRuntime1764288000000,
  SsoIdentity1764374400000,
  TemplateAuthoring1764460800000,
  LedgerChain1764547200000,
  Quotas1764633600000,
  RigLifecycle1764720000000,
  RigTelemetry1764806400000,
  BurnIn1764892800000,
  RigReliability1764979200000,
  RigInventory1765065600000,
  RollupsPerBucket1765152000000,
  ForgetEndedLabTokens1765238400000,
];
