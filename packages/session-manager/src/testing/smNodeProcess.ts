import { type ChildProcess, fork } from 'node:child_process';
import { type ActorRef, ActorSystem, type GenServer, silentLogger } from '@otp-chat/actor';
import { parseJid } from '@otp-chat/jid';
import type { Backend } from '../Backend.ts';
import { SessionManager } from '../SessionManager.ts';
import type { Sid } from '../Sid.ts';

// A second otp-chat node in its own process, for a backend's "two session managers in two
// processes on one store" test. The child (a backend's small fixture file) calls `serveSmNode`;
// the parent drives it with `SmNodeProcess` over the IPC channel, one request at a time per id:
//   parent → child  { id, op, ... }          child → parent  { id, ok: result } | { id, error }
//   child → parent  { type: 'ready' } once started; { type: 'remote', node, ref, message } for remoteSend.

/** A request the parent sends to the child node. */
export type SmNodeRequest =
  | {
      readonly id: number;
      readonly op: 'open';
      readonly user: string;
      readonly resource: string;
      readonly priority?: number;
    }
  | { readonly id: number; readonly op: 'close'; readonly user: string; readonly resource: string }
  | { readonly id: number; readonly op: 'resources'; readonly user: string }
  | { readonly id: number; readonly op: 'sessions' }
  | { readonly id: number; readonly op: 'inbox'; readonly user: string; readonly resource: string }
  | { readonly id: number; readonly op: 'route'; readonly to: string; readonly message: unknown }
  | { readonly id: number; readonly op: 'deliver'; readonly ref: number; readonly message: unknown }
  | { readonly id: number; readonly op: 'exit' };

/** What the child sends without being asked. */
export type SmNodeEvent =
  | { readonly type: 'ready' }
  | { readonly type: 'remote'; readonly node: string; readonly ref: number; readonly message: unknown };

/** A connection actor that records what it receives; `call(ref, 'inbox')` answers the list. */
export const recorderConnection: GenServer<unknown[], void, 'inbox', unknown[]> = {
  init: () => ({ ok: [] }),
  handleInfo: (m, inbox) => ({ noreply: true, state: [...inbox, m] }),
  handleCall: (_r, _f, inbox) => ({ reply: inbox, state: inbox }),
};

function post(message: unknown): void {
  process.send?.(message);
}

/**
 * The child side: starts an `ActorSystem` named `node` and a `SessionManager` serving `host` on
 * `backend`, answers the parent's requests, and forwards deliveries to sessions of other nodes to
 * the parent. Exits when asked (`exit`), and when the parent goes away (IPC disconnect).
 */
export async function serveSmNode(options: {
  readonly node: string;
  readonly host: string;
  readonly backend: Backend;
}): Promise<void> {
  const { node, host, backend } = options;
  const system = new ActorSystem({ node, logger: silentLogger });
  const sm = await SessionManager.start({
    system,
    hosts: [host],
    backends: { [host]: backend },
    logger: silentLogger,
    // Sessions of the other node: the term goes back to the parent, which delivers it.
    remoteSend: (ref, message) => {
      post({ type: 'remote', node: ref.node, ref: ref.id, message } satisfies SmNodeEvent);
      return true;
    },
  });
  const conns = new Map<string, { ref: ActorRef; sid: Sid }>();
  const byId = new Map<number, ActorRef>();
  const conn = (user: string, resource: string) => {
    const c = conns.get(`${user}/${resource}`);
    if (c === undefined) throw new Error(`no connection ${user}/${resource}`);
    return c;
  };

  const handle = async (req: SmNodeRequest): Promise<unknown> => {
    switch (req.op) {
      case 'open': {
        const ref = await system.spawn(recorderConnection, undefined);
        const sid = sm.makeSid(ref);
        conns.set(`${req.user}/${req.resource}`, { ref, sid });
        byId.set(ref.id, ref);
        await sm.openSession(sid, req.user, host, req.resource, req.priority);
        return { node: ref.node, ref: ref.id };
      }
      case 'close':
        await sm.closeSession(conn(req.user, req.resource).sid, req.user, host, req.resource);
        return null;
      case 'resources':
        return sm.getUserResources(req.user, host);
      case 'sessions':
        return (await sm.dirtyGetSessionsList()).map(([u, s, r]) => `${u}@${s}/${r}`).sort();
      case 'inbox':
        return system.call(conn(req.user, req.resource).ref, 'inbox');
      case 'route':
        await sm.route(parseJid(req.to), req.message);
        return null;
      case 'deliver': {
        const ref = byId.get(req.ref);
        if (ref === undefined) return false;
        system.send(ref, req.message);
        return true;
      }
      case 'exit':
        await sm.stop();
        setImmediate(() => process.exit(0));
        return null;
    }
  };

  process.on('message', (req: SmNodeRequest) => {
    handle(req).then(
      (ok) => post({ id: req.id, ok }),
      (error: unknown) => post({ id: req.id, error: String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  post({ type: 'ready' } satisfies SmNodeEvent);
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * The parent side: forks `fixture` (a file that calls {@link serveSmNode}) with `node --import tsx`
 * and `args`, and drives it. `stop()` asks it to exit and kills it if it does not: the child never
 * outlives the test.
 */
export class SmNodeProcess {
  private next = 0;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly proc: ChildProcess;
  readonly stderr: string[] = [];
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  /** Deliveries the child routes to sessions of other nodes. */
  onRemote: (event: Extract<SmNodeEvent, { type: 'remote' }>) => void = () => {};

  constructor(fixture: string, args: readonly string[], options: { readonly cwd: string }) {
    const proc = fork(fixture, [...args], {
      cwd: options.cwd,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.proc = proc;
    proc.stderr?.on('data', (d: Buffer) => this.stderr.push(d.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    this.ready = new Promise((resolve, reject) => {
      proc.on('message', (m: SmNodeEvent | { id: number; ok?: unknown; error?: string }) => {
        if ('type' in m) {
          if (m.type === 'ready') resolve();
          else this.onRemote(m);
          return;
        }
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (w === undefined) return;
        if (m.error !== undefined) w.reject(new Error(m.error));
        else w.resolve(m.ok);
      });
      void this.exited.then((code) => {
        const error = new Error(`child exited (${code}): ${this.stderr.join('')}`);
        reject(error);
        for (const w of this.waiting.values()) w.reject(error);
        this.waiting.clear();
      });
    });
  }

  request<T>(req: WithoutId<SmNodeRequest>): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...req, id });
    });
  }

  /** Asks the child to exit, then makes sure it has (SIGKILL). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode === null && p.signalCode === null) {
      await Promise.race([this.request({ op: 'exit' }).catch(() => {}), this.exited]);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }
    await this.exited;
  }
}
