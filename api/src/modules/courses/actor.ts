import type { Principal } from '../auth/auth.decorators';
import type { CampusRole } from '../users/user.entity';

/** Who is changing a course, for rights that depend on the person and for the audit trail. */
export interface Actor {
  userId: string | null;
  /** Username, or `cli` for the command-line tool. */
  name: string;
  campusRole: CampusRole;
  requestId?: string;
  ip?: string;
}

/** The command-line tool acts as campus IT: it is run by whoever operates the portal. */
export const CLI_ACTOR: Actor = { userId: null, name: 'cli', campusRole: 'admin' };

export function actorOf(p: Principal, req?: { id?: unknown; ip?: string }): Actor {
  return {
    userId: p.user.id,
    name: p.user.username,
    campusRole: p.user.campusRole,
    requestId: req?.id ? String(req.id) : undefined,
    ip: req?.ip,
  };
}
