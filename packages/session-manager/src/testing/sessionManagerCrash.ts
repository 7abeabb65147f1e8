import { type ActorRef, ActorSystem, type GenServer, type MaybePromise, silentLogger } from '@otp-chat/actor';
import { Hooks } from '@otp-chat/event-bus';
import { Supervisor } from '@otp-chat/supervisor';
import xml from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../Backend.ts';
import { isConnectionMessage } from '../ConnectionMessage.ts';
import { SessionManager } from '../SessionManager.ts';
import type { Sid } from '../Sid.ts';
import { backendActors } from './backendActors.ts';

/** The virtual host the crash test serves. */
export const CRASH_HOST = 'crash.example';

/** How {@link sessionManagerCrash} gets a backend over an empty store, and disposes of it. */
export interface SessionManagerCrashOptions<B extends Backend = Backend> {
  /** A new backend, not yet initialised, over an empty store for {@link CRASH_HOST}. */
  createBackend(): MaybePromise<B>;
  /** Called after the test (the session manager is stopped by then). */
  destroy?(backend: B): MaybePromise<void>;
  /** Sessions open when the actor is killed. @default 1000 */
  readonly sessions?: number;
}

/** What a connection of the test knows and counts. */
interface Conn {
  readonly user: string;
  sid: Sid | undefined;
  routed: number;
  shutdowns: number;
}

/**
 * Registers a vitest `describe` block that kills the session manager's actor (`exit(Pid, kill)`:
 * no `terminate`) under `sessions` open sessions on the backend `createBackend` gives, and checks
 * that nothing is lost: its supervisor restarts the actor alone (the backend supervisor and the
 * backend actors are the same), every row is still stored, a message to each user reaches its
 * connection, no connection was told to shut down or asked to re-register, no
 * `sm_remove_connection_hook` ran, and the restarted actor registered its commands again. Every
 * backend runs it: memory in this package, Redis (and SQL) in theirs.
 */
export function sessionManagerCrash<B extends Backend>(
  label: string,
  options: SessionManagerCrashOptions<B>,
): void {
  const n = options.sessions ?? 1000;
  describe(`A crash of the session manager loses no session: ${label}`, () => {
    it(`kills the actor under ${n} sessions; every one is still routed to afterwards`, async () => {
      const system = new ActorSystem({ node: 'crash@local', logger: silentLogger });
      const backend = await options.createBackend();
      const hooks = new Hooks({ logger: silentLogger });
      let removed = 0;
      hooks.add('sm_remove_connection_hook', CRASH_HOST, () => void removed++, 50);
      const sm = await SessionManager.start({
        system,
        hosts: [CRASH_HOST],
        backends: { [CRASH_HOST]: backend },
        hooks,
        logger: silentLogger,
      });
      let reregistered = 0;
      const connection: GenServer<Conn, Conn, 'count', Conn, never, unknown> = {
        init: (conn) => ({ ok: conn }),
        handleCall: (_request, _from, conn) => ({ reply: conn, state: conn }),
        handleInfo: (message, conn) => {
          if (isConnectionMessage(message)) {
            if (message.type === 'route') conn.routed++;
            else if (message.type === 'reregister') reregistered++;
            else conn.shutdowns++;
          }
          return { noreply: true, state: conn };
        },
      };
      const conns: { ref: ActorRef; conn: Conn }[] = [];
      for (let i = 0; i < n; i++) {
        const conn: Conn = { user: `u${i}`, sid: undefined, routed: 0, shutdowns: 0 };
        const ref = await system.spawn(connection, conn);
        const sid = sm.makeSid(ref);
        conn.sid = sid;
        await sm.openSession(sid, conn.user, CRASH_HOST, 'r', undefined, { conn: 'c2s' });
        await sm.setPresence(sid, conn.user, CRASH_HOST, 'r', 0, xml('presence'));
        conns.push({ ref, conn });
      }
      const actor = sm.ref!;
      const backendSup = sm.backendSupervisor!;
      const actorsBefore = (await backendActors(sm)).map((a) => a.ref);

      system.exit(actor, 'kill'); // untrappable: no terminate, as a crash that takes the process down
      // The supervisor handles the EXIT (and restarts the actor) before it answers this call.
      const children = await Supervisor.whichChildren(system, sm.supervisor!);
      expect(children.map((c) => c.id).sort()).toEqual(['backend_sup', 'session_manager']);
      expect(system.isAlive(actor)).toBe(false);
      expect(sm.ref).toBeDefined();
      expect(sm.ref!.equals(actor)).toBe(false);
      expect(system.isAlive(sm.ref!)).toBe(true);
      expect(system.whereis('session_manager')).toEqual(sm.ref);
      // The store's side of the tree is untouched.
      expect(sm.backendSupervisor).toBe(backendSup);
      expect((await backendActors(sm)).map((a) => a.ref)).toEqual(actorsBefore);

      expect(await sm.connectedUsersNumber()).toBe(n);
      for (const { conn } of conns) {
        await sm.route(
          xml('message', { to: `${conn.user}@${CRASH_HOST}`, type: 'chat' }, xml('body', {}, 'hi')),
        );
      }
      for (const { ref } of conns) {
        const conn = await system.call<Conn>(ref, 'count');
        expect(conn).toMatchObject({ routed: 1, shutdowns: 0 });
      }
      expect(reregistered).toBe(0);
      expect(removed).toBe(0);
      // The restarted actor registered the commands again.
      expect(await sm.commands.execute('connected_users_number', {}, { kind: 'local' })).toBe(n);

      await sm.stop();
      for (const { ref } of conns) await system.stop(ref);
      await options.destroy?.(backend);
    }, 60_000);
  });
}
