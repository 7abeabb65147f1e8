import type { ActorRef } from '@otp-chat/actor';
import { Supervisor } from '@otp-chat/supervisor';
import type { SessionManager } from '../SessionManager.ts';

/** One running backend actor under a session manager's backend supervisor. */
export interface BackendActorInfo {
  /** The child id, `backend:<index>:<name>`. */
  readonly id: string;
  readonly ref: ActorRef;
}

/**
 * The backend actors a running session manager's backend supervisor holds, in start order (host
 * order; `supervisor:which_children/1` lists them newest first, reversed here), so that a backend's tests can crash one
 * (`system.exit(ref, 'kill')`) and check what survives its restart. Throws when the session
 * manager is not running or a child is not running (restarting).
 */
export async function backendActors(sm: SessionManager): Promise<BackendActorInfo[]> {
  const sup = sm.backendSupervisor;
  if (sup === undefined) throw new Error('the session manager has no backend supervisor (not running)');
  const children = (await Supervisor.whichChildren(sm.system, sup)).reverse();
  return children.map((c) => {
    if (c.ref === undefined || c.ref === 'restarting')
      throw new Error(`backend actor ${c.id} is not running`);
    return { id: c.id ?? '', ref: c.ref };
  });
}
