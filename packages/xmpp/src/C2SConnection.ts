import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ActorContext, ExitReason, GenServer, TimerHandle } from '@otp-chat/actor';
import { InvalidJidError, type Jid, jid, nodeprep, parseJid } from '@otp-chat/jid';
import { type ConnectionMessage, isConnectionMessage, type Sid } from '@otp-chat/session-manager';
import { Element } from '@xmpp/xml';
import type { C2SEvent } from './c2sMachine.ts';
import type { StreamError } from './errors.ts';
import type { C2SHost } from './internal/C2SHost.ts';
import { type C2SAction, type C2SSnapshot, initialStep, step } from './internal/machineStep.ts';
import { andThen, isThenable, type MaybePromise } from './internal/maybe.ts';
import {
  authFeatures,
  BIND_FEATURES,
  decodeSasl,
  NS_BIND,
  NS_SASL,
  NS_SESSION,
  STREAM_END,
  saslChallenge,
  saslFailure,
  saslSuccess,
  streamError,
  streamHeader,
} from './internal/wire.ts';
import { parsePlain } from './SaslPlain.ts';
import { ScramSha1Server } from './ScramSha1.ts';
import { StreamParser } from './StreamParser.ts';
import { type C2SStanzaErrorCondition, stanzaErrorReply } from './stanzaErrors.ts';
import './hooks.ts';

/** What starts a connection actor: the accepted socket and its server. */
export interface C2SConnectionArgs {
  readonly socket: Socket;
  readonly host: C2SHost;
}

/** Socket events the connection sends to itself (they go through the mailbox, in order). */
type SocketInfo =
  | { readonly type: '$tcp'; readonly data: Buffer }
  | { readonly type: '$tcp_closed' }
  | { readonly type: '$timeout' }
  | { readonly type: '$resume' };

type Snapshot = C2SSnapshot;
type Action = C2SAction;

/** Stream ids and generated resources: random (RFC 6120 §4.7.3), from Node's cached UUID pool. */
function randomId(): string {
  return randomUUID();
}

/**
 * One client connection: ejabberd's `ejabberd_c2s` process. A GenServer that owns the socket,
 * the framing parser and the xstate c2s machine's snapshot. The machine is the single source of
 * truth for the protocol state: every parsed element, every result of work and every session
 * manager message becomes a machine event, and the connection executes the named actions the
 * pure `transition()` returns, in order, awaiting each (so the mailbox is held while a SASL
 * lookup or `openSession` is pending, as a gen_statem would block).
 *
 * Fast path: in `session_established`, `STANZA` and `ROUTE` are targetless transitions that
 * only run `routeOut` / `deliver` (pinned by the machine tests), so the connection runs those
 * actions directly without computing a transition.
 */
export class C2SConnection {
  private snapshot: Snapshot;
  private readonly parser: StreamParser;
  private readonly pending: C2SEvent[] = [];
  private streamId = '';
  private headerSent = false;
  private scram: ScramSha1Server | undefined;
  private sid: Sid | undefined;
  /** The authenticated user (prepared localpart), set on SASL success. */
  private user = '';
  private jid: Jid | undefined;
  private fullJid = '';
  private bareJid = '';
  /** The last available presence (`pres_last`); `undefined` until initial presence. */
  private presence: Element | undefined;
  private timer: TimerHandle | undefined;
  private tokens: number;
  private lastRefill: number;
  private paused = false;
  private socketClosed = false;
  private readonly ip: string;

  constructor(
    private readonly socket: Socket,
    private readonly host: C2SHost,
    private readonly ctx: ActorContext,
  ) {
    const [snap] = initial(host);
    this.snapshot = snap;
    this.ip = socket.remoteAddress ?? '';
    this.tokens = host.options.shaperBurstBytes;
    this.lastRefill = ctx.system.clock.now();
    this.parser = new StreamParser(
      {
        onStreamStart: (header) => this.pending.push({ type: 'STREAM_HEADER', header }),
        onElement: (element) => this.pending.push(classify(element)),
        onStreamEnd: () => this.pending.push({ type: 'STREAM_END' }),
        onError: (error: StreamError) =>
          this.pending.push({
            type: 'STREAM_ERROR',
            condition: error.condition,
            ...(error.text === undefined ? {} : { text: error.text }),
          }),
      },
      { maxStanzaSize: host.options.maxStanzaSize },
    );
    const self = ctx.self;
    const system = ctx.system;
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => system.send(self, { type: '$tcp', data }));
    socket.on('close', () => system.send(self, { type: '$tcp_closed' }));
    socket.on('error', () => {}); // 'close' follows
    this.timer = system.clock.setTimeout(
      () => system.send(self, { type: '$timeout' }),
      host.options.negotiationTimeoutMs,
    );
  }

  /** The machine state (for tests and introspection). */
  get state(): string {
    return this.snapshot.value as string;
  }

  /** True once the machine reached `closed`. */
  get done(): boolean {
    return this.snapshot.status === 'done';
  }

  /** Handles one mailbox message; resolves when its work is finished. */
  handle(message: unknown): MaybePromise<void> {
    if (this.done) return;
    if (isConnectionMessage(message)) return this.onSessionMessage(message);
    const m = message as SocketInfo;
    switch (m.type) {
      case '$tcp':
        return this.onData(m.data);
      case '$tcp_closed':
        this.socketClosed = true;
        return this.feed({ type: 'SOCKET_CLOSED' });
      case '$timeout':
        this.timer = undefined;
        return this.feed({ type: 'TIMEOUT' });
      case '$resume':
        this.paused = false;
        if (!this.socketClosed) this.socket.resume();
        return;
      default:
        return;
    }
  }

  /** Ends the stream because the actor is being stopped (supervisor shutdown). */
  shutdown(): MaybePromise<void> {
    if (this.done) return;
    return this.feed({ type: 'STREAM_ERROR', condition: 'system-shutdown' });
  }

  /** A last resort after an unexpected failure: close without running more actions. */
  abort(): void {
    if (!this.socketClosed) this.socket.destroy();
    this.socketClosed = true;
  }

  private onSessionMessage(message: ConnectionMessage): MaybePromise<void> {
    if (message.type === 'route') return this.feed({ type: 'ROUTE', stanza: message.stanza });
    return this.feed({ type: 'CONTROL', message });
  }

  private onData(data: Buffer): MaybePromise<void> {
    this.shape(data.length);
    this.parser.write(data);
    return this.drain();
  }

  /** ejabberd's shaper: a token bucket; reading pauses until the bucket refills. */
  private shape(bytes: number): void {
    const { shaperBytesPerSecond: rate, shaperBurstBytes: burst } = this.host.options;
    if (!Number.isFinite(rate)) return;
    const clock = this.ctx.system.clock;
    const now = clock.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    this.tokens -= bytes;
    if (this.tokens < 0 && !this.paused && !this.socketClosed) {
      this.paused = true;
      this.socket.pause();
      const self = this.ctx.self;
      const system = this.ctx.system;
      clock.setTimeout(() => system.send(self, { type: '$resume' }), Math.ceil((-this.tokens / rate) * 1000));
    }
  }

  private drain(): MaybePromise<void> {
    const pending = this.pending;
    while (pending.length > 0) {
      if (this.done) {
        pending.length = 0;
        return;
      }
      const r = this.feed(pending.shift()!);
      if (isThenable(r)) return (r as Promise<void>).then(() => this.drain());
    }
  }

  /** Sends one event to the machine and runs the actions it returns. */
  private feed(event: C2SEvent): MaybePromise<void> {
    if (this.done) return;
    if (this.snapshot.value === 'session_established') {
      if (event.type === 'STANZA') return this.routeOut(event.element);
      if (event.type === 'ROUTE') return this.write(event.stanza.toString());
    }
    const [next, actions] = step(this.snapshot, event);
    this.snapshot = next;
    return this.exec(actions, 0, event);
  }

  private exec(actions: readonly Action[], from: number, event: C2SEvent): MaybePromise<void> {
    for (let i = from; i < actions.length; i++) {
      const r = this.run(actions[i]!, event);
      if (isThenable(r)) return (r as Promise<void>).then(() => this.exec(actions, i + 1, event));
    }
  }

  private run(action: Action, event: C2SEvent): MaybePromise<void> {
    const context = this.snapshot.context;
    switch (action.type as string) {
      case 'sendStreamHeader':
        this.streamId = randomId();
        this.headerSent = true;
        this.write(streamHeader(this.streamId, context.server || this.host.hosts[0] || ''));
        return;
      case 'sendAuthFeatures':
        this.write(authFeatures(this.host.options.mechanisms));
        return;
      case 'sendBindFeatures':
        this.write(BIND_FEATURES);
        return;
      case 'saslStart':
        return this.saslStart((event as Extract<C2SEvent, { type: 'AUTH' }>).element);
      case 'saslContinue':
        return this.saslContinue((event as Extract<C2SEvent, { type: 'SASL_RESPONSE' }>).element);
      case 'sendSaslChallenge':
        this.write(saslChallenge((event as Extract<C2SEvent, { type: 'SASL_CHALLENGE' }>).data));
        return;
      case 'sendSaslSuccess':
        this.scram = undefined;
        this.user = (event as Extract<C2SEvent, { type: 'SASL_SUCCESS' }>).user;
        this.write(saslSuccess((event as Extract<C2SEvent, { type: 'SASL_SUCCESS' }>).data));
        return;
      case 'sendSaslFailure': {
        this.scram = undefined;
        const e = event as C2SEvent;
        if (e.type === 'SASL_FAILURE') this.write(saslFailure(e.condition, e.text));
        else this.write(saslFailure('aborted'));
        return;
      }
      case 'bind':
        return this.bind((event as Extract<C2SEvent, { type: 'BIND' }>).iq);
      case 'sendBindResult': {
        const iq = (event as Extract<C2SEvent, { type: 'BOUND' }>).iq;
        this.clearTimer();
        this.write(
          `<iq type='result' id='${escapeAttr(iq.attrs.id)}'><bind xmlns='${NS_BIND}'><jid>${escapeText(this.fullJid)}</jid></bind></iq>`,
        );
        return;
      }
      case 'sendBindError': {
        const e = event as Extract<C2SEvent, { type: 'BIND_FAILED' }>;
        const reply = stanzaErrorReply(e.iq, e.condition as C2SStanzaErrorCondition, e.text);
        if (reply !== undefined) this.write(reply.toString());
        return;
      }
      case 'routeOut':
        return this.routeOut((event as Extract<C2SEvent, { type: 'STANZA' }>).element);
      case 'deliver':
        this.write((event as Extract<C2SEvent, { type: 'ROUTE' }>).stanza.toString());
        return;
      case 'closeSession':
        return this.closeSession();
      case 'runKickHook': {
        const j = this.jid;
        if (j !== undefined) return this.host.hooks.run('sm_kick_user', j.lserver, j.luser, j.lserver);
        return;
      }
      case 'closeStream':
        this.closeStream();
        return;
      default:
        return;
    }
  }

  // ---- SASL (RFC 6120 §6) ----

  private saslStart(auth: Element): MaybePromise<void> {
    const mechanism = String(auth.attrs.mechanism ?? '');
    const payload = decodeSasl(auth.text());
    if (!this.host.options.mechanisms.includes(mechanism as never)) {
      return this.feed({ type: 'SASL_FAILURE', condition: 'invalid-mechanism' });
    }
    if (payload === undefined) return this.feed({ type: 'SASL_FAILURE', condition: 'incorrect-encoding' });
    const server = this.snapshot.context.server;
    if (mechanism === 'PLAIN') {
      const msg = parsePlain(payload);
      if (msg === undefined) return this.feed({ type: 'SASL_FAILURE', condition: 'malformed-request' });
      let luser: string;
      try {
        luser = nodeprep(msg.authcid);
      } catch {
        return this.feed({ type: 'SASL_FAILURE', condition: 'not-authorized' });
      }
      if (msg.authzid !== '' && !authzidMatches(msg.authzid, luser, server)) {
        return this.feed({ type: 'SASL_FAILURE', condition: 'invalid-authzid' });
      }
      const ok = this.host.users.checkPassword(luser, server, msg.password);
      if (isThenable(ok)) return (ok as Promise<boolean>).then((v) => this.plainResult(v, luser));
      return this.plainResult(ok as boolean, luser);
    }
    const users = this.host.users;
    this.scram = new ScramSha1Server(
      (username) => {
        let luser: string;
        try {
          luser = nodeprep(username);
        } catch {
          return undefined;
        }
        return users.scramCredentials(luser, server);
      },
      { authzidAllowed: (a, u) => a === '' || authzidMatches(a, u, server) },
    );
    return this.scram.start(payload.toString('utf8')).then((step) => this.saslStep(step));
  }

  private plainResult(ok: boolean, luser: string): MaybePromise<void> {
    return this.feed(
      ok
        ? { type: 'SASL_SUCCESS', user: luser, data: undefined }
        : { type: 'SASL_FAILURE', condition: 'not-authorized', text: 'Invalid username or password' },
    );
  }

  private saslContinue(response: Element): MaybePromise<void> {
    const payload = decodeSasl(response.text());
    if (this.scram === undefined || payload === undefined) {
      return this.feed({ type: 'SASL_FAILURE', condition: 'malformed-request' });
    }
    return this.saslStep(this.scram.finish(payload.toString('utf8')));
  }

  private saslStep(step: Awaited<ReturnType<ScramSha1Server['start']>>): MaybePromise<void> {
    if (step.type === 'challenge') return this.feed({ type: 'SASL_CHALLENGE', data: step.data });
    if (step.type === 'failure') return this.feed({ type: 'SASL_FAILURE', condition: step.condition });
    let luser: string;
    try {
      luser = nodeprep(step.username);
    } catch {
      return this.feed({ type: 'SASL_FAILURE', condition: 'not-authorized' });
    }
    return this.feed({ type: 'SASL_SUCCESS', user: luser, data: step.data });
  }

  // ---- bind (spec §4.1, RFC 6120 §7) ----

  private bindFailed(iq: Element, condition: C2SStanzaErrorCondition, text?: string): MaybePromise<void> {
    return this.feed({ type: 'BIND_FAILED', iq, condition, ...(text === undefined ? {} : { text }) });
  }

  /** Step 1 and 2 of spec §4.1: the resource (generated when empty), then `resource_conflict`. */
  private bind(iq: Element): MaybePromise<void> {
    const context = this.snapshot.context;
    const requested = iq.getChild('bind', NS_BIND)?.getChildText('resource') ?? '';
    let j: Jid;
    try {
      j = jid(this.user, context.server, requested === '' ? randomId() : requested);
    } catch (error) {
      if (error instanceof InvalidJidError) return this.bindFailed(iq, 'bad-request', 'Malformed resource');
      throw error;
    }
    const policy = this.host.options.resourceConflict;
    if (policy !== 'closenew' && policy !== 'setresource') return this.bindAccess(iq, j);
    return andThen(this.host.sm.isExistingResource(j.luser, j.lserver, j.lresource), (exists) => {
      if (!exists) return this.bindAccess(iq, j);
      if (policy === 'closenew') return this.bindFailed(iq, 'conflict', 'Resource conflict');
      return this.bindAccess(iq, jid(j.local, j.domain, randomId()));
    });
  }

  /** Step 3: the access rule; a denial runs `forbidden_session_hook` and answers `not-allowed`. */
  private bindAccess(iq: Element, j: Jid): MaybePromise<void> {
    const rule = this.host.options.access(j, this.ip);
    if (isThenable(rule)) return (rule as Promise<'allow' | 'deny'>).then((r) => this.bindOpen(iq, j, r));
    return this.bindOpen(iq, j, rule as 'allow' | 'deny');
  }

  /** Step 4: `openSession` (which runs `sm_register_connection_hook`), then the bind result. */
  private bindOpen(iq: Element, j: Jid, rule: 'allow' | 'deny'): MaybePromise<void> {
    if (rule !== 'allow') {
      return andThen(this.host.hooks.run('forbidden_session_hook', j.lserver, j), () =>
        this.bindFailed(iq, 'not-allowed', 'Access denied by service policy'),
      );
    }
    const sm = this.host.sm;
    const sid = sm.makeSid(this.ctx.self);
    this.sid = sid;
    this.jid = j;
    this.fullJid = `${j.local}@${j.domain}/${j.resource}`;
    this.bareJid = `${j.local}@${j.domain}`;
    const info = { ip: this.ip, conn: 'c2s', authModule: this.host.users.name };
    let opened: MaybePromise<void>;
    try {
      opened = sm.openSession(sid, j.local, j.domain, j.resource, undefined, info);
    } catch (error) {
      return this.bindError(iq, error);
    }
    if (isThenable(opened)) {
      return (opened as Promise<void>).then(
        () => this.feed({ type: 'BOUND', iq, resource: j.resource }),
        (error: unknown) => this.bindError(iq, error),
      );
    }
    return this.feed({ type: 'BOUND', iq, resource: j.resource });
  }

  private bindError(iq: Element, error: unknown): MaybePromise<void> {
    this.host.logger.error({ err: error, jid: this.fullJid }, 'c2s: openSession failed');
    this.sid = undefined;
    return this.feed({ type: 'BIND_FAILED', iq, condition: 'internal-server-error' });
  }

  // ---- stanzas from the client (RFC 6120 §8, §10) ----

  private routeOut(stanza: Element): MaybePromise<void> {
    const name = stanza.name;
    if (name !== 'message' && name !== 'presence' && name !== 'iq') {
      // A negotiation element we did not offer (e.g. XEP-0198 <enable/>): RFC 6120 §4.9.3.22.
      return this.feed({ type: 'STREAM_ERROR', condition: 'unsupported-stanza-type' });
    }
    stanza.attrs.from = this.fullJid;
    const to = stanza.attrs.to;
    if (to === undefined || to === '') {
      if (name === 'presence') return this.selfPresence(stanza);
      if (name === 'iq' && isLegacySession(stanza)) {
        this.write(`<iq type='result' id='${escapeAttr(stanza.attrs.id)}'/>`);
        return;
      }
      // RFC 6120 §10.3: no 'to' means the user's own account (bare JID).
      stanza.attrs.to = this.bareJid;
    }
    let target: Jid;
    try {
      target = parseJid(stanza.attrs.to);
    } catch {
      const reply = stanzaErrorReply(stanza, 'jid-malformed');
      if (reply !== undefined) this.write(reply.toString());
      return;
    }
    this.host.route(stanza, target);
  }

  /** Self-presence (spec §5.1 steps 2 and 3). */
  private selfPresence(presence: Element): MaybePromise<void> {
    const type = presence.attrs.type;
    const j = this.jid!;
    const sid = this.sid!;
    const sm = this.host.sm;
    if (type === undefined || type === 'available') {
      const initial = this.presence === undefined;
      this.presence = presence;
      const raw = Number.parseInt(presence.getChildText('priority') ?? '0', 10);
      const priority = Number.isNaN(raw) ? 0 : Math.max(-128, Math.min(127, raw));
      return andThen(sm.setPresence(sid, j.local, j.domain, j.resource, priority, presence), () => {
        // Broadcast to the user's own bare JID: every available resource, this one included,
        // gets it at its full JID (the echo ejabberd sends).
        presence.attrs.to = this.bareJid;
        this.host.route(presence, parseJid(this.bareJid));
        return this.host.hooks.run('c2s_self_presence', j.lserver, j, this.ctx.self, presence, initial);
      });
    }
    if (type === 'unavailable') {
      if (this.presence === undefined) return;
      this.presence = undefined;
      const status = presence.getChildText('status') ?? '';
      return andThen(sm.unsetPresence(sid, j.local, j.domain, j.resource, status), () => {
        presence.attrs.to = this.bareJid;
        this.host.route(presence, parseJid(this.bareJid));
      });
    }
    // Subscription requests without 'to' are meaningless: dropped.
  }

  // ---- closing ----

  private closeSession(): MaybePromise<void> {
    const sid = this.sid;
    const j = this.jid;
    if (sid === undefined || j === undefined) return;
    this.sid = undefined;
    const sm = this.host.sm;
    const wasAvailable = this.presence !== undefined;
    this.presence = undefined;
    try {
      const closed = wasAvailable
        ? sm.closeSessionUnsetPresence(sid, j.local, j.domain, j.resource, '')
        : sm.closeSession(sid, j.local, j.domain, j.resource);
      const afterClose = () => {
        if (!wasAvailable) return;
        // The other resources learn that this one is gone.
        const unavailable = xmlPresenceUnavailable(this.fullJid, this.bareJid);
        this.host.route(unavailable, parseJid(this.bareJid));
      };
      if (isThenable(closed)) {
        return (closed as Promise<void>).then(afterClose, (error: unknown) =>
          this.host.logger.error({ err: error, jid: this.fullJid }, 'c2s: closeSession failed'),
        );
      }
      afterClose();
    } catch (error) {
      this.host.logger.error({ err: error, jid: this.fullJid }, 'c2s: closeSession failed');
    }
  }

  private closeStream(): void {
    this.clearTimer();
    if (this.socketClosed) return;
    const error = this.snapshot.context.streamError;
    // What this tick already wrote goes first (the pending flush then finds nothing to do).
    let out = this.out;
    this.out = '';
    if (!this.headerSent && error !== undefined) {
      out += streamHeader(randomId(), this.snapshot.context.server || this.host.hosts[0] || '');
    }
    if (error !== undefined) out += streamError(error.condition, error.text);
    out += STREAM_END;
    const socket = this.socket;
    this.socketClosed = true;
    socket.end(out);
    // Do not wait for the peer's closing handshake forever.
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.ctx.system.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * Writes are buffered until the end of the current tick, so that everything one mailbox drain
   * produces for this socket (a header and its features, a burst of routed messages) leaves in
   * one `write` of one string: one system call, and no per-chunk `writev` bookkeeping.
   */
  private write(data: string): void {
    if (this.socketClosed) return;
    if (this.out === '') process.nextTick(this.flush);
    this.out += data;
  }

  /** Output of the current tick, not yet written. */
  private out = '';
  private readonly flush = (): void => {
    const out = this.out;
    this.out = '';
    if (!this.socketClosed && out !== '') this.socket.write(out);
  };
}

const initialSnapshots = new WeakMap<C2SHost, readonly [C2SSnapshot, readonly C2SAction[]]>();

/**
 * The initial snapshot depends only on the server's hosts and options, and snapshots are
 * immutable (a transition returns a new one), so every connection of a server starts from the
 * same one: no xstate actor and no initial transition per connection.
 */
function initial(host: C2SHost): readonly [C2SSnapshot, readonly C2SAction[]] {
  let cached = initialSnapshots.get(host);
  if (cached === undefined) {
    cached = initialStep({ hosts: host.hosts, maxAuthFailures: host.options.maxAuthFailures });
    initialSnapshots.set(host, cached);
  }
  return cached;
}

function classify(element: Element): C2SEvent {
  const ns = element.attrs.xmlns;
  if (ns === NS_SASL) {
    if (element.name === 'auth') return { type: 'AUTH', element };
    if (element.name === 'response') return { type: 'SASL_RESPONSE', element };
    if (element.name === 'abort') return { type: 'SASL_ABORT' };
  }
  if (
    element.name === 'iq' &&
    element.attrs.type === 'set' &&
    element.getChild('bind', NS_BIND) !== undefined
  ) {
    return { type: 'BIND', iq: element };
  }
  return { type: 'STANZA', element };
}

function isLegacySession(iq: Element): boolean {
  return iq.attrs.type === 'set' && iq.getChild('session', NS_SESSION) !== undefined;
}

function authzidMatches(authzid: string, luser: string, server: string): boolean {
  try {
    const j = parseJid(authzid);
    return j.luser === luser && j.lserver === server && j.lresource === '';
  } catch {
    return false;
  }
}

function escapeAttr(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function escapeText(value: string): string {
  return value.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function xmlPresenceUnavailable(from: string, to: string): Element {
  return new Element('presence', { from, to, type: 'unavailable' });
}

/**
 * The connection as a GenServer: `init` takes the socket, `handleInfo` gets socket data and
 * session manager messages, `terminate` closes the stream (with `system-shutdown` when a
 * supervisor stops it) and the session. Start it under a `simple_one_for_one` supervisor with
 * `restart: 'temporary'` and `trapExit: true`, as ejabberd's c2s processes.
 */
export const c2sConnectionServer: GenServer<C2SConnection, C2SConnectionArgs, never, never, never, unknown> =
  {
    init({ socket, host }, ctx) {
      if (socket.destroyed) return { stop: 'normal' };
      return { ok: new C2SConnection(socket, host, ctx) };
    },
    handleInfo(message, conn) {
      let r: MaybePromise<void>;
      try {
        r = conn.handle(message);
      } catch (error) {
        return failed(conn, error);
      }
      if (isThenable(r)) {
        return (r as Promise<void>).then(
          () => after(conn),
          (error: unknown) => failed(conn, error),
        );
      }
      return after(conn);
    },
    terminate(_reason, conn) {
      try {
        const r = conn.shutdown();
        if (isThenable(r)) return (r as Promise<void>).catch(() => conn.abort());
      } catch {
        conn.abort();
      }
    },
  };

function after(
  conn: C2SConnection,
): { noreply: true; state: C2SConnection } | { stop: ExitReason; state: C2SConnection } {
  return conn.done ? { stop: 'normal', state: conn } : { noreply: true, state: conn };
}

function failed(conn: C2SConnection, error: unknown): { stop: ExitReason; state: C2SConnection } {
  // A per-connection failure ends this connection only; its supervisor logs it (temporary child).
  conn.abort();
  return { stop: { error }, state: conn };
}
