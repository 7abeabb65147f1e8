import type { ActorSystem } from '@otp-chat/actor';
import type { Hooks } from '@otp-chat/event-bus';
import type { SessionManager } from '@otp-chat/session-manager';
import { DEFAULTS } from './DEFAULTS.ts';
import type { SupervisionNode, SupervisionWatch } from './SupervisionWatch.ts';

/** What the observer page shows, one snapshot (also `GET /observer/state`). */
export interface ObserverSnapshot {
  readonly node: string;
  /** Wall-clock milliseconds of the snapshot. */
  readonly at: number;
  readonly tree: readonly SupervisionNode[];
  /** The live actors with the longest mailboxes first, at most `rows`. */
  readonly processes: readonly {
    readonly ref: string;
    readonly name: string | undefined;
    readonly mailbox: number;
    readonly status: string;
  }[];
  readonly processCount: number;
  /** Sessions by user, host and resource, at most `rows`. */
  readonly sessions: readonly {
    readonly user: string;
    readonly host: string;
    readonly resource: string;
    readonly priority: number | null;
    readonly node: string;
    /** Wall-clock seconds the session opened at. */
    readonly since: number;
  }[];
  readonly sessionCount: number;
  readonly hooks: readonly {
    readonly hook: string;
    readonly host: string;
    readonly handlers: readonly { readonly seq: number; readonly name: string }[];
  }[];
  /** This node, then the other nodes of the cluster, each with whether it is up. */
  readonly nodes: readonly { readonly node: string; readonly up: boolean; readonly self: boolean }[];
}

/** What the observer reads. */
export interface ObserverOptions {
  readonly system: ActorSystem;
  readonly sm: SessionManager;
  readonly hooks: Hooks;
  readonly supervision: SupervisionWatch;
  /** The other nodes of the cluster. @default `system.nodes()` */
  readonly nodes?: () => readonly string[];
  /** @default `DEFAULTS.observerRows` */
  readonly rows?: number;
  /** @default `DEFAULTS.observerIntervalMs` */
  readonly intervalMs?: number;
}

/**
 * The data of the observer page (Erlang's `observer` and ejabberd's web admin): the supervision
 * tree with restart counts, processes by mailbox length, sessions, hooks and their handlers, the
 * cluster's nodes. Every list is bounded by `rows`.
 */
export class Observer {
  readonly intervalMs: number;
  private readonly rows: number;

  constructor(private readonly options: ObserverOptions) {
    this.rows = options.rows ?? DEFAULTS.observerRows;
    this.intervalMs = options.intervalMs ?? DEFAULTS.observerIntervalMs;
  }

  async snapshot(): Promise<ObserverSnapshot> {
    const { system, sm, hooks, supervision } = this.options;
    // One pass: every actor with messages waiting (usually few), idle ones only up to `rows`.
    const busy: ObserverSnapshot['processes'][number][] = [];
    const idle: ObserverSnapshot['processes'][number][] = [];
    for (const ref of system.processes()) {
      const info = system.processInfo(ref);
      if (info === undefined || (info.messageQueueLength === 0 && idle.length >= this.rows)) continue;
      const row = {
        ref: ref.toString(),
        name: info.registeredName,
        mailbox: info.messageQueueLength,
        status: info.status,
      };
      (row.mailbox > 0 ? busy : idle).push(row);
    }
    busy.sort((a, b) => b.mailbox - a.mailbox);
    const processes = [...busy, ...idle];
    const list = (await sm.dirtyGetSessionsList()).sort((a, b) => (a.join('/') < b.join('/') ? -1 : 1));
    const sessions = [];
    for (const [user, host, resource] of list.slice(0, this.rows)) {
      const info = await sm.getUserInfo(user, host, resource);
      if (info === 'offline') continue;
      sessions.push({
        user,
        host,
        resource,
        priority: typeof info.priority === 'number' ? info.priority : null,
        node: info.node,
        since: info.ts,
      });
    }
    const others = this.options.nodes?.() ?? system.nodes();
    return {
      node: system.node,
      at: Date.now(),
      tree: await supervision.tree(),
      processes: processes.slice(0, this.rows),
      processCount: system.count(),
      sessions,
      sessionCount: list.length,
      hooks: hooks.registered().map((r) => ({
        hook: r.hook,
        host: r.host,
        handlers: r.handlers.map((h) => ({ seq: h.seq, name: h.handler.name || 'anonymous' })),
      })),
      nodes: [
        { node: system.node, up: true, self: true },
        ...others.map((node) => ({ node, up: system.isNodeUp(node), self: false })),
      ],
    };
  }
}
