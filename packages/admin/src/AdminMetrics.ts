import type { ActorSystem } from '@otp-chat/actor';
import type { EventBus, EventMap, Hooks, HookTraceEvent } from '@otp-chat/event-bus';
import { type Backend, Sid, type SmPacketAcc } from '@otp-chat/session-manager';
import type { C2SAuthResult } from '@otp-chat/xmpp';
import type { Element } from '@xmpp/xml';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SupervisionWatch } from './SupervisionWatch.ts';

/** What {@link AdminMetrics} observes. */
export interface AdminMetricsOptions {
  readonly system: ActorSystem;
  /** Event buses to listen to: sessions opened and closed, hook handler failures, backend errors. @default none (see {@link AdminMetrics.observeEvents}) */
  readonly events?: readonly EventBus[];
  /** The server's hooks: logins, auth failures, stanzas routed, bounced and stored offline, handler durations. */
  readonly hooks: Hooks;
  /** The hosts to observe (virtual hosts added later: {@link AdminMetrics.observeHost}). @default none */
  readonly hosts?: readonly string[];
  /** Restarts per child come from here. */
  readonly supervision?: SupervisionWatch;
  /** Node's own metrics (`process_*`, `nodejs_*`, the event loop lag among them). @default true */
  readonly defaultMetrics?: boolean;
}

/**
 * The hooks whose handlers are timed (`otp_chat_hook_handler_duration_seconds`): the ones run per
 * session or presence change. `sm_receive_packet`, run for every routed stanza, is not: tracing it
 * costs more than the routing it would measure (bench/admin.ts prints the routing overhead).
 */
export const TIMED_HOOKS = [
  'sm_register_connection_hook',
  'sm_remove_connection_hook',
  'set_presence_hook',
  'unset_presence_hook',
  'offline_message_hook',
  'bounce_sm_packet',
  'c2s_self_presence',
  'c2s_auth_result',
  'roster_in_subscription',
  'remove_user',
] as const;

/** Seq of the counting handlers: after `mod_offline` stores (50), before the session manager bounces (100). */
const COUNT_SEQ = 99;

/**
 * Prometheus metrics of one node (`mod_prometheus`'s role), in a prom-client `Registry` of
 * its own: sessions per host and node, logins and auth failures, stanzas routed / bounced / stored
 * offline, hook handler failures and durations, supervisor restarts per child, the longest
 * mailbox, backend call latency, and Node's default metrics (event loop lag included). Counting
 * rides on hooks and events the server already runs; what is costly to keep live (the longest
 * mailbox) is computed when scraped.
 */
export class AdminMetrics {
  readonly registry = new Registry();
  private readonly node: string;
  private readonly sessions: Gauge<'host' | 'node'>;
  private readonly logins: Counter<'host'>;
  private readonly authFailures: Counter<'host' | 'reason'>;
  private readonly hookFailures: Counter<'hook'>;
  private readonly hookDuration: Histogram<'hook' | 'handler'>;
  private readonly restartsTotal: Counter<'supervisor' | 'child'>;
  private readonly backendLatency: Histogram<'backend' | 'operation' | 'ok'>;
  private readonly backendErrors: Counter<'backend' | 'operation'>;
  private readonly undo: (() => void)[] = [];
  private readonly hooks: Hooks;
  private readonly observedHosts = new Set<string>();
  private readonly stanzaCounts = new Map<string, StanzaCounts>();

  constructor(options: AdminMetricsOptions) {
    const { system, registry } = { system: options.system, registry: this.registry };
    this.node = system.node;
    this.hooks = options.hooks;
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
    this.sessions = new Gauge({
      name: 'otp_chat_sessions',
      help: 'Sessions open on this node, per virtual host',
      labelNames: ['host', 'node'],
      registers: [registry],
    });
    this.logins = new Counter({
      name: 'otp_chat_logins_total',
      help: 'Successful logins (SASL success)',
      labelNames: ['host'],
      registers: [registry],
    });
    this.authFailures = new Counter({
      name: 'otp_chat_auth_failures_total',
      help: 'Failed SASL attempts, by condition',
      labelNames: ['host', 'reason'],
      registers: [registry],
    });
    const stanzaCounts = this.stanzaCounts;
    new Counter({
      name: 'otp_chat_stanzas_total',
      help: 'Stanzas through the session manager: routed to a session, bounced, stored offline',
      labelNames: ['host', 'outcome'],
      registers: [registry],
      // Counted in plain numbers on the routing path (no label hashing there), reported when scraped.
      collect() {
        for (const [host, c] of stanzaCounts) {
          for (const outcome of ['routed', 'bounced', 'offline'] as const) {
            const delta = c[outcome] - c.reported[outcome];
            if (delta > 0) this.inc({ host, outcome }, delta);
            c.reported[outcome] = c[outcome];
          }
        }
      },
    });
    this.hookFailures = new Counter({
      name: 'otp_chat_hook_handler_failures_total',
      help: 'Hook handlers that threw or rejected (and were skipped)',
      labelNames: ['hook'],
      registers: [registry],
    });
    this.hookDuration = new Histogram({
      name: 'otp_chat_hook_handler_duration_seconds',
      help: 'Time spent in each hook handler',
      labelNames: ['hook', 'handler'],
      buckets: [0.00001, 0.0001, 0.001, 0.01, 0.1, 1],
      registers: [registry],
    });
    this.restartsTotal = new Counter({
      name: 'otp_chat_supervisor_restarts_total',
      help: 'Children restarted by their supervisor',
      labelNames: ['supervisor', 'child'],
      registers: [registry],
    });
    this.backendLatency = new Histogram({
      name: 'otp_chat_backend_call_duration_seconds',
      help: 'Session backend calls (Redis, PostgreSQL), by operation',
      labelNames: ['backend', 'operation', 'ok'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    });
    this.backendErrors = new Counter({
      name: 'otp_chat_backend_errors_total',
      help: 'Session backend calls that failed',
      labelNames: ['backend', 'operation'],
      registers: [registry],
    });
    new Gauge({
      name: 'otp_chat_longest_mailbox',
      help: 'The longest actor mailbox on this node (computed when scraped)',
      registers: [registry],
      collect() {
        const longest = system.longestMailbox()?.length ?? 0;
        this.set(longest);
      },
    });
    new Gauge({
      name: 'otp_chat_actors',
      help: 'Live actors on this node',
      registers: [registry],
      collect() {
        this.set(system.count());
      },
    });
    for (const bus of options.events ?? []) this.observeEvents(bus);
    for (const host of options.hosts ?? []) this.observeHost(host);
    if (options.supervision !== undefined) this.observeSupervision(options.supervision);
  }

  /** Counts the restarts `watch` sees. */
  observeSupervision(watch: SupervisionWatch): void {
    this.undo.push(
      watch.onRestart((e) => this.restartsTotal.inc({ supervisor: e.supervisor, child: e.child })),
    );
  }

  /** Starts counting on `host` (a virtual host added at run time). Idempotent. */
  observeHost(host: string): void {
    if (this.observedHosts.has(host)) return;
    this.observedHosts.add(host);
    this.sessions.inc({ host, node: this.node }, 0); // shown as 0 before the first session
    const hooks = this.hooks;
    const authResult = (r: C2SAuthResult) => {
      if (r.result === 'success') this.logins.inc({ host });
      else this.authFailures.inc({ host, reason: r.reason ?? 'unknown' });
    };
    let counts = this.stanzaCounts.get(host);
    if (counts === undefined) {
      counts = { routed: 0, bounced: 0, offline: 0, reported: { routed: 0, bounced: 0, offline: 0 } };
      this.stanzaCounts.set(host, counts);
    }
    const c = counts;
    const routed = (acc: Element | 'drop') => {
      if (acc !== 'drop') c.routed++;
      return acc;
    };
    const bounced = (acc: SmPacketAcc) => {
      if (acc.tag === 'bounce') c.bounced++;
      return acc;
    };
    const offline = (acc: SmPacketAcc) => {
      if (acc.tag === 'offlined') c.offline++;
      return acc;
    };
    hooks.add('c2s_auth_result', host, authResult, COUNT_SEQ);
    hooks.add('sm_receive_packet', host, routed, COUNT_SEQ);
    hooks.add('bounce_sm_packet', host, bounced, COUNT_SEQ);
    hooks.add('offline_message_hook', host, offline, COUNT_SEQ);
    const timer = (state: number, e: HookTraceEvent): number => {
      if (e.type === 'before_callback') return performance.now();
      if (e.type === 'after_callback') {
        this.hookDuration.observe(
          { hook: e.hook, handler: e.handler.name || 'anonymous' },
          (performance.now() - state) / 1000,
        );
      }
      return state;
    };
    for (const hook of TIMED_HOOKS) hooks.subscribe(hook, host, timer, 0);
    this.undo.push(() => {
      hooks.delete('c2s_auth_result', host, authResult, COUNT_SEQ);
      hooks.delete('sm_receive_packet', host, routed, COUNT_SEQ);
      hooks.delete('bounce_sm_packet', host, bounced, COUNT_SEQ);
      hooks.delete('offline_message_hook', host, offline, COUNT_SEQ);
      for (const hook of TIMED_HOOKS) hooks.unsubscribe(hook, host, timer);
      this.observedHosts.delete(host);
    });
  }

  /** Records one backend call (see {@link instrumentBackend}). */
  observeBackendCall(backend: string, operation: string, seconds: number, ok: boolean): void {
    this.backendLatency.observe({ backend, operation, ok: ok ? 'true' : 'false' }, seconds);
  }

  /** The text exposition format, as `/metrics` serves it. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Removes every hook handler, subscriber and listener this added. */
  stop(): void {
    for (const undo of this.undo.splice(0)) undo();
  }

  /** Listens to `bus`: sessions opened and closed, hook handler failures, backend errors. */
  observeEvents(bus: EventBus): void {
    // The node is the session's own: a survivor cleaning a dead node's rows closes them too.
    const nodeOf = (sid: unknown) => (sid instanceof Sid ? sid.ref.node : this.node);
    const opened = (e: EventMap['session_opened']) => {
      this.sessions.inc({ host: e.host, node: nodeOf(e.sid) });
    };
    const closed = (e: EventMap['session_closed']) => {
      const labels = { host: e.host, node: nodeOf(e.sid) };
      if (labels.node === this.node) this.sessions.dec(labels);
    };
    const failed = (e: EventMap['hook_handler_failed']) => this.hookFailures.inc({ hook: e.hook });
    const backendError = (e: EventMap['backend_error']) =>
      this.backendErrors.inc({ backend: e.backend, operation: e.operation });
    bus.on('session_opened', opened);
    bus.on('session_closed', closed);
    bus.on('hook_handler_failed', failed);
    bus.on('backend_error', backendError);
    this.undo.push(() => {
      bus.off('session_opened', opened);
      bus.off('session_closed', closed);
      bus.off('hook_handler_failed', failed);
      bus.off('backend_error', backendError);
    });
  }
}

/** Stanza counts of one host, and what the last scrape reported of them. */
interface StanzaCounts {
  routed: number;
  bounced: number;
  offline: number;
  readonly reported: { routed: number; bounced: number; offline: number };
}

/**
 * `backend` with every call timed into `metrics` (`otp_chat_backend_call_duration_seconds`, by
 * operation, failures with `ok="false"`); what the session manager sees is otherwise unchanged.
 */
export function instrumentBackend<B extends Backend>(backend: B, metrics: AdminMetrics): B {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        const start = performance.now();
        const done = (ok: boolean) =>
          metrics.observeBackendCall(target.name, prop, (performance.now() - start) / 1000, ok);
        let result: unknown;
        try {
          result = Reflect.apply(value, target, args);
        } catch (error) {
          done(false);
          throw error;
        }
        if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function') {
          (result as PromiseLike<unknown>).then(
            () => done(true),
            () => done(false),
          );
        } else done(true);
        return result;
      };
    },
  });
}
