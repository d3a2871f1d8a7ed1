import { Initial1764201600000 } from './1764201600000-initial';
import { LabSessionRuntime1764288000000 } from './1764288000000-lab-session-runtime';
import { SsoIdentity1764374400000 } from './1764374400000-sso-identity';

/** In order of application. A schema change is a new file here, never an edit of an applied one. */
export const MIGRATIONS = [Initial1764201600000, LabSessionRuntime1764288000000, SsoIdentity1764374400000];
