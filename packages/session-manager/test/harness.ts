import { type ActorRef, ActorSystem, SimulatedClock, silentLogger } from '@otp-chat/actor';
import xml, { type Element } from '@xmpp/xml';
import type { ConnectionMessage } from '../src/ConnectionMessage.ts';
import { SessionManager, type SessionManagerOptions } from '../src/SessionManager.ts';
import type { Sid } from '../src/Sid.ts';

export const HOST = 'example.com';

/** A connection actor for tests: records what it receives; on `replaced`/`kick`/`exit` it may close. */
export class TestConnection {
  readonly inbox: unknown[] = [];
  ref!: ActorRef;
  sid!: Sid;
  constructor(
    readonly sm: SessionManager,
    readonly user: string,
    readonly resource: string,
    readonly closeOnControl: boolean,
  ) {}

  /** Messages received so far, after every earlier message was handled. */
  async received(): Promise<unknown[]> {
    if (this.sm.system.isAlive(this.ref)) await this.sm.system.call(this.ref, 'sync');
    return this.inbox;
  }

  async routed(): Promise<{ stanza: Element; smCopy: boolean }[]> {
    const all = await this.received();
    return all.filter(
      (m): m is { type: 'route'; stanza: Element; smCopy: boolean } =>
        (m as ConnectionMessage).type === 'route',
    );
  }
}

export async function startSm(options: Partial<SessionManagerOptions> = {}): Promise<{
  sm: SessionManager;
  system: ActorSystem;
  clock: SimulatedClock;
  replies: Element[];
}> {
  const clock = new SimulatedClock(0);
  const system = options.system ?? new ActorSystem({ node: 'node1', clock, logger: silentLogger });
  const replies: Element[] = [];
  const sm = await SessionManager.start({
    hosts: [HOST],
    router: (stanza) => replies.push(stanza),
    ...options,
    system,
  });
  return { sm, system, clock, replies };
}

/** Spawns a connection actor and opens its session (without awaiting the replacement wait). */
export async function connect(
  sm: SessionManager,
  user: string,
  resource: string,
  options: {
    priority?: number;
    closeOnControl?: boolean;
    /** Answer `reregister` by writing the row again, as a real connection does. */
    reregister?: boolean;
    /** The virtual host. @default HOST */
    host?: string;
    info?: Record<string, unknown>;
    wait?: boolean;
  } = {},
): Promise<TestConnection> {
  const conn = new TestConnection(sm, user, resource, options.closeOnControl ?? true);
  const host = options.host ?? HOST;
  conn.ref = await sm.system.spawn<null, void, 'sync', unknown, never, unknown>(
    {
      init: () => ({ ok: null }),
      handleCall: (_req, _from, state) => ({ reply: 'ok', state }),
      handleInfo: (message, state) => {
        conn.inbox.push(message);
        const type = (message as { type?: string }).type;
        if (type === 'reregister' && options.reregister === true) {
          const r = sm.reregisterSession(conn.sid, user, host, resource, undefined, options.info ?? {});
          return Promise.resolve(r).then(() => ({ noreply: true as const, state }));
        }
        if (
          conn.closeOnControl &&
          (type === 'replaced' || type === 'kick' || type === 'exit' || type === 'system-shutdown')
        ) {
          return { stop: 'normal', state };
        }
        return { noreply: true, state };
      },
      terminate: async () => {
        await sm.closeSession(conn.sid, user, host, resource);
      },
    },
    undefined,
  );
  conn.sid = sm.makeSid(conn.ref);
  const opened = sm.openSession(conn.sid, user, host, resource, undefined, options.info ?? {});
  if (options.wait ?? true) await opened;
  if (options.priority !== undefined) {
    await sm.setPresence(conn.sid, user, host, resource, options.priority, presence());
  }
  return conn;
}

export function presence(priority?: number): Element {
  return xml('presence', {}, ...(priority === undefined ? [] : [xml('priority', {}, String(priority))]));
}

export function chat(to: string, body = 'hi', type = 'chat'): Element {
  return xml('message', { to, from: 'bob@other.example/x', type, id: 'm1' }, xml('body', {}, body));
}

/** Lets queued actor messages run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
