import { randomUUID } from 'node:crypto';
import { TLSSocket } from 'node:tls';
import {
  type ActorContext,
  type ActorRef,
  andThen,
  type ExitReason,
  type GenServer,
  isThenable,
  type MaybePromise,
  reply,
  type TimerHandle,
} from '@otp-chat/actor';
import { InvalidJidError, type Jid, jid, nodeprep, parseJid } from '@otp-chat/jid';
import {
  type ConnectionMessage,
  isConnectionCall,
  isConnectionMessage,
  makeErrorReply,
  type Priority,
  type SessionInfo,
  type Sid,
  type StanzaErrorCondition,
} from '@otp-chat/session-manager';
import { Element } from '@xmpp/xml';
import type { C2SSocket } from './C2SSocket.ts';
import type { C2SActionEvent, C2SEvent } from './c2sMachine.ts';
import { DEFAULTS } from './DEFAULTS.ts';
import type { StreamError, StreamErrorCondition } from './errors.ts';
import type { C2SAuthResult } from './hooks.ts';
import type { C2SHost } from './internal/C2SHost.ts';
import { closeReason } from './internal/closeReason.ts';
import {
  type C2SAction,
  type C2SActionHandlers,
  type C2SSnapshot,
  initialStep,
  runAction,
  step,
} from './internal/machineStep.ts';
import { BAD_PRIORITY, PRIORITY_ERROR_TEXT, presencePriority } from './internal/presencePriority.ts';
import { Shaper } from './internal/Shaper.ts';
import {
  isResumeCall,
  NS_SM,
  type ResumeCall,
  type ResumeReply,
  StreamMgmt,
  smFailed,
  smResumed,
} from './internal/StreamMgmt.ts';
import { serialize } from './internal/serialize.ts';
import {
  authFeatures,
  BIND_FEATURES,
  BIND_FEATURES_SM,
  bindResult,
  decodeSasl,
  ENCRYPTION_REQUIRED,
  iqResult,
  NS_BIND,
  NS_SASL,
  NS_SESSION,
  NS_TLS,
  presenceUnavailable,
  STARTTLS_FAILURE,
  STARTTLS_PROCEED,
  STREAM_END,
  saslChallenge,
  saslFailure,
  saslSuccess,
  streamError,
  streamHeader,
} from './internal/wire.ts';
import { parsePlain } from './SaslPlain.ts';
import { SCRAM_MECHANISMS, type ScramMechanism, ScramServer, type ScramStep } from './Scram.ts';
import { StreamParser } from './StreamParser.ts';
import './hooks.ts';

/** What starts a connection actor: the accepted socket (TCP, TLS or an adapted WebSocket) and its listener. */
export interface C2SConnectionArgs {
  readonly socket: C2SSocket;
  readonly host: C2SHost;
}

/** Socket events the connection sends to itself (they go through the mailbox, in order). */
type SocketInfo =
  | { readonly type: '$tcp'; readonly data: Buffer; readonly socket: C2SSocket }
  | { readonly type: '$tcp_closed' }
  | { readonly type: '$timeout' }
  | { readonly type: '$drained' };

/** Output handed to the socket in one write, with the routed stanzas it carries (to re-route them). */
interface Chunk {
  readonly data: string;
  readonly stanzas: Element[] | null;
  readonly bytes: number;
}

/** Why reading is paused (bits). */
const PAUSED_BY_SHAPER = 1;
const PAUSED_BY_BACKLOG = 2;
/** Output of one tick handed to the socket as soon as it reaches this size. */
const FLUSH_BYTES = 65_536;
/** Routed stanzas kept while a bind is in progress (beyond: re-routed at once). */
const MAX_EARLY_ROUTES = 1000;
const LOCKED_OUT_TEXT = 'Too many failed authentications from this address; try again later';
const AUTH_FAILED_TEXT = 'Invalid username or password';

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
 *
 * Bounded both ways:
 * - **input**: the shaper (a token bucket) and the unparsed backlog are accounted as bytes
 *   arrive, not when the mailbox gets to them, so reading pauses while the connection waits for a
 *   SASL lookup, a bind or a backend (`maxPendingInputBytes`);
 * - **output**: what the socket has not taken yet waits in a queue of at most `maxSendQueueBytes`;
 *   a client that does not read is closed with `policy-violation` "Too many pending stanzas".
 *
 * Nothing routed to it is lost when it ends (closed, replaced, kicked, killed by a limit): once
 * its session is closed, the stanzas it still holds (queued, unwritten when the socket died, or
 * still in its mailbox) are routed again, as ejabberd's `bounce_message_queue` does, to another
 * resource, offline storage or an error to the sender.
 */
export class C2SConnection {
  private snapshot: Snapshot;
  private parser: StreamParser;
  private readonly pending: C2SEvent[] = [];
  private streamId = '';
  private headerSent = false;
  private scram: ScramServer | undefined;
  private sid: Sid | undefined;
  /** The authenticated user (prepared localpart), set on SASL success. */
  private user = '';
  private jid: Jid | undefined;
  private fullJid = '';
  private bareJid = '';
  /** The last available presence (`pres_last`); `undefined` until initial presence. */
  private presence: Element | undefined;
  /** The session's priority as last set (`undefined`: bound, not available). */
  private priority: Priority = undefined;
  private info: SessionInfo = {};
  /**
   * The stream's language (`xmpp_stream_in`'s `lang`): the client's `xml:lang` from its stream
   * header, else `DEFAULTS.language`. Stanzas from the client without one get it.
   */
  private lang: string = DEFAULTS.language;
  /** A supervisor is stopping this connection (`format_reason/2`: "stopped by supervisor"). */
  private stoppedBySupervisor = false;
  private timer: TimerHandle | undefined;
  /** The input shaper; none when the rate is unlimited. */
  private readonly shaper: Shaper | undefined;
  /** {@link PAUSED_BY_SHAPER} | {@link PAUSED_BY_BACKLOG}. */
  private pauses = 0;
  /** Bytes read from the socket that the mailbox has not parsed yet. */
  private pendingInput = 0;
  private socketClosed = false;
  private readonly ip: string;
  private readonly port: number;
  /** The transport, the session info's `conn` (`ejabberd_c2s:get_conn_type/1`). */
  private conn: 'c2s' | 'c2s_tls' | 'websocket';
  /** The TLS session under the stream (direct TLS, `wss`, or since STARTTLS). */
  private tlsSocket: TLSSocket | undefined;
  /** The socket listeners, kept to move them to the TLS socket at STARTTLS. */
  private readonly listeners: {
    readonly data: (data: Buffer) => void;
    readonly drain: () => void;
    readonly close: () => void;
    readonly error: () => void;
  };
  /** Output of the current tick, not yet handed to the socket, and the routed stanzas in it. */
  private out = '';
  private outStanzas: Element[] | null = null;
  /** Output waiting for the socket to drain. */
  private queue: Chunk[] = [];
  private queuedBytes = 0;
  /** Routed stanzas that arrived while the bind was completing. */
  private early: Element[] = [];
  private overflowed = false;
  /** A session was opened on this connection (its mailbox may hold routed stanzas at the end). */
  private hadSession = false;
  /** The session is closed (or never was): held stanzas can be routed again. */
  private sessionGone = false;
  /** Stanzas to route again once the session is gone. */
  private held: Element[] = [];
  private drainRequested = false;
  /** XEP-0198 state once the client enabled it. */
  private mgmt: StreamMgmt | undefined;
  /** The connection dropped and the session waits for a resumption (XEP-0198 §5). */
  private hibernating = false;
  /** The connection that resumed this session: what still reaches this one is forwarded there. */
  private resumedBy: ActorRef | undefined;
  /** The handed-over stanzas are being sent again (after `<resumed/>`). */
  private resending = false;
  /** What a resumption takes over from the old connection, until `<resumed/>` is sent. */
  private resumed: Extract<ResumeReply, { ok: true }> | undefined;
  /** The stream error was already written (before the session was closed). */
  private errorSent = false;
  /** This side destroyed the socket (see {@link send}). */
  private destroyed = false;
  private drained = false;

  constructor(
    private socket: C2SSocket,
    private readonly host: C2SHost,
    private readonly ctx: ActorContext,
  ) {
    this.tlsSocket = socket instanceof TLSSocket ? socket : socket.tlsSocket;
    const [snap] = initial(host, this.tlsSocket !== undefined);
    this.snapshot = snap;
    this.ip = socket.remoteAddress ?? '';
    this.port = socket.remotePort ?? 0;
    this.conn = host.listener.conn;
    const o = host.options;
    this.shaper = Number.isFinite(o.shaperBytesPerSecond)
      ? new Shaper(o.shaperBytesPerSecond, o.shaperBurstBytes, ctx.system.clock)
      : undefined;
    this.parser = this.newParser();
    const self = ctx.self;
    const system = ctx.system;
    this.listeners = {
      data: (data: Buffer) => {
        this.arrived(data.length);
        system.send(self, { type: '$tcp', data, socket: this.socket });
      },
      drain: () => this.onDrain(),
      close: () => system.send(self, { type: '$tcp_closed' }),
      error: () => {}, // 'close' follows
    };
    this.attach(socket);
    this.timer = system.clock.setTimeout(
      () => system.send(self, { type: '$timeout' }),
      o.negotiationTimeoutMs,
    );
  }

  private attach(socket: C2SSocket): void {
    const l = this.listeners;
    socket.on('data', l.data);
    socket.on('drain', l.drain);
    socket.on('close', l.close);
    socket.on('error', l.error);
  }

  /** Stops listening to the plain socket under a new TLS layer (its errors stay handled). */
  private detach(socket: C2SSocket): void {
    const l = this.listeners;
    socket.off('data', l.data);
    socket.off('drain', l.drain);
    socket.off('close', l.close);
  }

  /** A framing parser at the pre-authentication limits (a new one for each TLS layer). */
  private newParser(): StreamParser {
    const o = this.host.options;
    return new StreamParser(
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
      {
        maxStanzaSize: Math.min(o.preAuthMaxStanzaSize, o.maxStanzaSize),
        maxStanzaElements: Math.min(o.preAuthMaxStanzaElements, o.maxStanzaElements),
        maxElementDepth: o.maxElementDepth,
        maxAttributes: o.maxAttributes,
        maxNameLength: o.maxNameLength,
      },
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

  /**
   * True once closed and the mailbox was read up to the closing (`bounce_message_queue`): the
   * actor may stop. A connection that never had a session stops at once.
   */
  get finished(): boolean {
    return this.done && (this.drained || !this.hadSession);
  }

  /** Bytes held for the client and not yet taken by the socket (`maxSendQueueBytes` applies). */
  get pendingOutputBytes(): number {
    return this.out.length + this.queuedBytes + (this.socket.writableLength ?? 0);
  }

  /** Handles one mailbox message; resolves when its work is finished. */
  handle(message: unknown): MaybePromise<void> {
    if (this.done) return this.afterClose(message);
    if (isConnectionMessage(message)) return this.onSessionMessage(message);
    const m = message as SocketInfo;
    switch (m.type) {
      case '$tcp':
        if (m.socket !== this.socket) {
          // Read before STARTTLS and after <starttls/>: what a client must not send (RFC 6120 §5.4.3.3).
          this.pendingInput -= m.data.length;
          return;
        }
        return this.onData(m.data);
      case '$tcp_closed':
        if (this.mgmt?.resumable === true && this.snapshot.value === 'session_established') {
          if (!this.hibernating && this.resumedBy === undefined) this.hibernate();
          return;
        }
        this.socketClosed = true;
        return this.feed({ type: 'SOCKET_CLOSED' });
      case '$timeout':
        this.timer = undefined;
        if (this.hibernating) {
          // Not resumed in time: the session ends as if the connection had just dropped.
          this.hibernating = false;
          return this.feed({ type: 'SOCKET_CLOSED' });
        }
        return this.feed({ type: 'TIMEOUT' });
      default:
        return;
    }
  }

  /**
   * After the close: every stanza routed here meanwhile is routed again (the session is gone);
   * `$drained`, which the connection sent itself when it closed, marks the end of what the
   * mailbox held then.
   */
  private afterClose(message: unknown): void {
    if (isConnectionMessage(message)) {
      if (message.type === 'route' && !message.smCopy) this.bounce([message.stanza]);
      return;
    }
    const m = message as SocketInfo;
    if (m.type === '$drained') this.drained = true;
  }

  /** Asks for the `$drained` marker (once): the actor stops when it comes back through the mailbox. */
  requestDrain(): void {
    if (this.drainRequested) return;
    this.drainRequested = true;
    this.ctx.system.send(this.ctx.self, { type: '$drained' });
  }

  /** Ends the stream because the actor is being stopped (supervisor shutdown). */
  shutdown(): MaybePromise<void> {
    if (this.done) return;
    this.stoppedBySupervisor = true;
    return this.feed({ type: 'STREAM_ERROR', condition: 'system-shutdown' });
  }

  /**
   * `ejabberd_c2s:handle_call(get_presence, …)`: the last available presence (`pres_last`), or
   * an unavailable one from the session's full JID to its bare JID.
   */
  currentPresence(): Element {
    return (
      this.presence ?? new Element('presence', { from: this.fullJid, to: this.bareJid, type: 'unavailable' })
    );
  }

  /**
   * `ejabberd_c2s:handle_call({set_presence, Pres}, …)` after its reply: the presence an
   * administrator set (mod_admin_extra's `set_presence`) is this session's own presence
   * (`process_self_presence/2`), broadcast like one its client sent.
   */
  presenceFromCall(presence: Element): MaybePromise<void> {
    if (this.done || this.snapshot.value !== 'session_established') return;
    const type = presence.attrs.type;
    if (type !== undefined && type !== 'available' && type !== 'unavailable') return;
    presence.attrs.from = this.fullJid;
    return this.selfPresence(presence);
  }

  /** A last resort after an unexpected failure: close without running more actions. */
  abort(): void {
    if (!this.socketClosed) this.destroy();
    this.socketClosed = true;
    // The row of a dead connection is dropped by the next read (read-repair): route what this
    // connection held once it is dead, so that it does not come back here.
    this.bounceHeld();
    this.ctx.system.whenExit(this.ctx.self).then(() => this.sessionClosed());
  }

  private onSessionMessage(message: ConnectionMessage): MaybePromise<void> {
    if (message.type === 'route') {
      return this.feed({ type: 'ROUTE', stanza: message.stanza, smCopy: message.smCopy });
    }
    if (message.type === 'reregister') return this.reregister();
    return this.feed({ type: 'CONTROL', message });
  }

  // ---- input ----

  /** Bytes just read: the shaper and the backlog bound apply now, whatever the mailbox is doing. */
  private arrived(bytes: number): void {
    this.pendingInput += bytes;
    this.shape(bytes);
    if (this.pendingInput > this.host.options.maxPendingInputBytes) this.pause(PAUSED_BY_BACKLOG);
  }

  private onData(data: Buffer): MaybePromise<void> {
    this.pendingInput -= data.length;
    if (
      (this.pauses & PAUSED_BY_BACKLOG) !== 0 &&
      this.pendingInput <= this.host.options.maxPendingInputBytes / 2
    ) {
      this.unpause(PAUSED_BY_BACKLOG);
    }
    this.parser.write(data);
    return this.drain();
  }

  /** ejabberd's shaper: a token bucket; reading pauses until the bucket refills. */
  private shape(bytes: number): void {
    if (this.shaper === undefined) return;
    const pauseMs = this.shaper.update(bytes);
    if (pauseMs > 0 && (this.pauses & PAUSED_BY_SHAPER) === 0) {
      this.pause(PAUSED_BY_SHAPER);
      this.ctx.system.clock.setTimeout(() => this.unpause(PAUSED_BY_SHAPER), pauseMs);
    }
  }

  private pause(reason: number): void {
    if (this.pauses === 0 && !this.socketClosed) this.socket.pause();
    this.pauses |= reason;
  }

  private unpause(reason: number): void {
    if ((this.pauses & reason) === 0) return;
    this.pauses &= ~reason;
    if (this.pauses === 0 && !this.socketClosed) this.socket.resume();
  }

  private drain(): MaybePromise<void> {
    const pending = this.pending;
    while (pending.length > 0) {
      if (this.done) {
        pending.length = 0;
        return;
      }
      const r = this.feed(pending.shift()!);
      if (isThenable(r)) return r.then(() => this.drain());
    }
  }

  /** Sends one event to the machine and runs the actions it returns. */
  private feed(event: C2SEvent): MaybePromise<void> {
    if (this.done) return;
    const state = this.snapshot.value;
    if (state === 'session_established') {
      if (event.type === 'STANZA') return this.routeOut(event.element);
      if (event.type === 'ROUTE') return this.deliver(event.stanza, event.smCopy === true);
    } else if (event.type === 'ROUTE') {
      // Only possible while the bind completes (the row exists, the result is not sent yet).
      if (event.smCopy !== true) {
        if (this.early.length < MAX_EARLY_ROUTES) this.early.push(event.stanza);
        else this.bounce([event.stanza]);
      }
      return;
    } else if (
      event.type === 'STANZA' &&
      state === 'wait_for_bind' &&
      event.element.name === 'enable' &&
      event.element.attrs.xmlns === NS_SM &&
      this.host.options.streamManagement
    ) {
      // XEP-0198 §3: enabling before the bind is refused, the stream goes on (`mod_stream_mgmt`).
      this.write(smFailed('unexpected-request'));
      return;
    } else if (
      event.type === 'STREAM_HEADER' &&
      !this.snapshot.context.authenticated &&
      this.host.throttle.lockout(this.ip) !== undefined
    ) {
      // mod_fail2ban: an address locked out is refused at stream start.
      this.host.logger.warn({ ip: this.ip }, 'c2s: stream from a locked-out address refused');
      return this.feed({ type: 'STREAM_ERROR', condition: 'policy-violation', text: LOCKED_OUT_TEXT });
    }
    const [next, actions] = step(this.snapshot, event);
    this.snapshot = next;
    return this.exec(actions, 0, event);
  }

  private exec(actions: readonly Action[], from: number, event: C2SEvent): MaybePromise<void> {
    for (let i = from; i < actions.length; i++) {
      const r = this.run(actions[i]!, event);
      if (isThenable(r)) return r.then(() => this.exec(actions, i + 1, event));
    }
  }

  private run(action: Action, event: C2SEvent): MaybePromise<void> {
    return runAction(C2SConnection.actions, this, action, event);
  }

  /** What each action of the c2s machine does (one handler per action, checked when compiled). */
  private static readonly actions: C2SActionHandlers<C2SConnection> = {
    sendStreamHeader: (c, e) => c.sendStreamHeader(e.header),
    sendAuthFeatures: (c) => c.write(c.authFeatures()),
    sendBindFeatures: (c) => c.write(c.host.options.streamManagement ? BIND_FEATURES_SM : BIND_FEATURES),
    startTls: (c) => c.startTls(),
    sendStartTlsFailure: (c) => c.write(STARTTLS_FAILURE),
    sendEncryptionRequired: (c) => c.write(ENCRYPTION_REQUIRED),
    saslStart: (c, e) => c.saslStart(e.element),
    saslContinue: (c, e) => c.saslContinue(e.element),
    sendSaslChallenge: (c, e) => c.write(saslChallenge(e.data)),
    sendSaslSuccess: (c, e) => c.sendSaslSuccess(e),
    sendSaslFailure: (c, e) => c.sendSaslFailure(e),
    bind: (c, e) => c.bind(e.iq),
    sendBindResult: (c, e) => c.sendBindResult(e),
    sendBindError: (c, e) => c.sendBindError(e),
    routeOut: (c, e) => c.routeOut(e.element),
    deliver: (c, e) => c.deliver(e.stanza, e.smCopy === true),
    closeSession: (c, e) => c.leaveSession(e),
    runKickHook: (c) => c.runKickHook(),
    closeStream: (c) => c.closeStream(),
  };

  /**
   * The features before authentication (`xmpp_stream_in:send_features/1`): STARTTLS when this
   * listener offers it and the stream is not encrypted yet (alone when it is required), the
   * mechanisms this stream can do, and the channel bindings it has (XEP-0440).
   */
  private authFeatures(): string {
    const context = this.snapshot.context;
    const starttls = context.encrypted ? 'none' : context.starttls;
    if (starttls === 'required') return authFeatures([], 'required', []);
    const bindings = this.channelBindingTypes();
    this.offered = this.mechanisms(bindings.length > 0);
    return authFeatures(this.offered, starttls, bindings);
  }

  /** The mechanisms offered on this stream, in the configured order. */
  private mechanisms(canBind: boolean): readonly string[] {
    const o = this.host.options;
    const hashes = this.host.users.scramHashes ?? ['sha1'];
    const encrypted = this.tlsSocket !== undefined;
    return o.mechanisms.filter((m) => {
      if (m === 'PLAIN') return encrypted || o.allowPlainWithoutTls;
      const scram = SCRAM_MECHANISMS[m];
      return hashes.includes(scram.hash) && (!scram.plus || canBind);
    });
  }

  /**
   * The channel binding types of this stream (RFC 5929, RFC 9266): `tls-server-end-point` on any
   * TLS with a known certificate, `tls-exporter` on TLS 1.3 only (RFC 9266 §3).
   */
  private channelBindingTypes(): string[] {
    const tls = this.tlsSocket;
    if (tls === undefined || this.host.listener.tls === undefined) return [];
    return tls.getProtocol() === 'TLSv1.3'
      ? ['tls-exporter', 'tls-server-end-point']
      : ['tls-server-end-point'];
  }

  /** The channel binding data of this stream for `type`, `undefined` when it has none. */
  private channelBinding(type: string): Buffer | undefined {
    const tls = this.tlsSocket;
    const credentials = this.host.listener.tls;
    if (tls === undefined || credentials === undefined) return undefined;
    if (type === 'tls-exporter') {
      return tls.getProtocol() === 'TLSv1.3'
        ? tls.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0))
        : undefined;
    }
    if (type === 'tls-server-end-point') {
      const raw = tls.getCertificate();
      return raw !== null && 'raw' in raw ? credentials.endPointBindingOf(raw.raw) : undefined;
    }
    return undefined;
  }

  /**
   * STARTTLS (RFC 6120 §5.4.3.3): `<proceed/>` goes out on the plain socket, after whatever was
   * waiting, then TLS starts on the same socket. Anything the client sent after `<starttls/>`
   * is dropped, the parser starts over, and the client opens a new stream over TLS.
   */
  private startTls(): void {
    const startTls = this.host.listener.startTls;
    const raw = this.socket;
    if (startTls === undefined || raw instanceof TLSSocket) {
      throw new Error('STARTTLS without a certificate or on an encrypted socket');
    }
    for (const chunk of this.queue) raw.write(chunk.data);
    this.queue = [];
    this.queuedBytes = 0;
    const out = this.out + STARTTLS_PROCEED;
    this.out = '';
    this.outStanzas = null;
    raw.write(out);
    this.detach(raw);
    // No SNI from many clients at STARTTLS: the stream's domain names the certificate (as ejabberd).
    const secure = startTls(raw as never, this.snapshot.context.server);
    this.socket = secure;
    this.tlsSocket = secure;
    this.conn = 'c2s_tls';
    this.attach(secure);
    if (this.pauses !== 0) secure.pause();
    this.pending.length = 0;
    this.parser = this.newParser();
    this.headerSent = false;
  }

  private sendStreamHeader(header: Element): void {
    // `select_lang/2`: the client's language when it names one (an overlong one ends the stream,
    // see the machine's header check), else the language in force.
    const his = header.attrs['xml:lang'];
    if (typeof his === 'string' && his !== '' && Buffer.byteLength(his) <= DEFAULTS.maxLangBytes) {
      this.lang = his;
    }
    this.streamId = randomId();
    this.headerSent = true;
    this.write(
      streamHeader(this.streamId, this.snapshot.context.server || this.host.hosts[0] || '', this.lang),
    );
  }

  private sendSaslSuccess(event: C2SActionEvent<'sendSaslSuccess'>): void {
    this.scram = undefined;
    this.user = event.user;
    const o = this.host.options;
    // ejabberd's post-auth stanza limits (`pre_auth_max_stanza_size` until now).
    this.parser.setLimits({ maxStanzaSize: o.maxStanzaSize, maxStanzaElements: o.maxStanzaElements });
    this.write(saslSuccess(event.data));
  }

  private sendSaslFailure(event: C2SActionEvent<'sendSaslFailure'>): void {
    this.scram = undefined;
    if (event.type === 'SASL_FAILURE') {
      this.write(saslFailure(event.condition, event.text));
      return;
    }
    this.write(saslFailure('aborted'));
    this.authResult(false, '', this.mechanism, this.host.throttle.failed(this.ip), 'aborted');
  }

  private sendBindResult(event: C2SActionEvent<'sendBindResult'>): void {
    this.clearTimer();
    if (event.iq.name === 'resume') {
      this.sendResumed(event.iq);
      return;
    }
    this.write(bindResult(event.iq.attrs.id, this.fullJid));
    const early = this.early;
    this.early = [];
    for (const stanza of early) this.deliver(stanza, false);
  }

  private sendBindError(event: C2SActionEvent<'sendBindError'>): void {
    if (event.iq.name === 'resume') {
      this.write(smFailed(event.condition));
      return;
    }
    const reply = makeErrorReply(event.iq, event.condition, event.text);
    if (reply !== undefined) this.write(serialize(reply));
  }

  /**
   * Leaving the session for `closed`: the stream error goes out first (xmpp_stream_in sends it,
   * then terminates, and closes the session in terminate), so a slow or frozen backend never
   * delays what the client is told.
   */
  private leaveSession(event: C2SEvent): MaybePromise<void> {
    if (this.snapshot.value === 'closed') this.sendStreamErrorNow();
    return this.closeSession(
      closeReason(event.type, this.snapshot.context.streamError, this.stoppedBySupervisor),
    );
  }

  /** `kick`: `sm_kick_user` runs before the stream closes. */
  private runKickHook(): MaybePromise<void> {
    const j = this.jid;
    if (j !== undefined) return this.host.hooks.run('sm_kick_user', j.lserver, j.luser, j.lserver);
  }

  // ---- SASL (RFC 6120 §6) ----

  /** The mechanism of the exchange in progress (for logs). */
  private mechanism = '';
  /** The mechanisms the last features offered. */
  private offered: readonly string[] = [];

  private saslStart(auth: Element): MaybePromise<void> {
    const mechanism = String(auth.attrs.mechanism ?? '');
    this.mechanism = mechanism;
    const payload = decodeSasl(auth.text());
    if (!this.offered.includes(mechanism)) {
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
        return this.authFailed('PLAIN', '');
      }
      if (msg.authzid !== '' && !authzidMatches(msg.authzid, luser, server)) {
        return this.feed({ type: 'SASL_FAILURE', condition: 'invalid-authzid' });
      }
      // A locked-out address or account fails like a wrong password, without a password check.
      if (this.host.throttle.lockout(this.ip, `${luser}@${server}`) !== undefined) {
        return this.authRefused('PLAIN', luser);
      }
      const ok = this.host.users.checkPassword(luser, server, msg.password);
      if (isThenable(ok)) return ok.then((v) => this.plainResult(v, luser));
      return this.plainResult(ok, luser);
    }
    const users = this.host.users;
    const scram = SCRAM_MECHANISMS[mechanism as ScramMechanism];
    const canBind = this.channelBindingTypes().length > 0;
    this.scramLockedOut = false;
    this.scram = new ScramServer(
      (username) => {
        let luser: string;
        try {
          luser = nodeprep(username);
        } catch {
          return undefined;
        }
        // Locked out: the exchange goes on with the decoy salt and fails at the proof, as for an
        // unknown user, so the lockout tells nothing either.
        if (this.host.throttle.lockout(this.ip, `${luser}@${server}`) !== undefined) {
          this.scramLockedOut = true;
          return undefined;
        }
        return users.scramCredentials(luser, server, scram.hash);
      },
      {
        hash: scram.hash,
        plus: scram.plus,
        // Only where -PLUS is offered: there a `y` flag is a downgrade (RFC 5802 §6).
        ...(canBind ? { channelBinding: (type: string) => this.channelBinding(type) } : {}),
        authzidAllowed: (a, u) => a === '' || authzidMatches(a, u, server),
        unknownUser: (username) => this.host.scramDecoy(username, server),
      },
    );
    return this.scram.start(payload.toString('utf8')).then((step) => this.saslStep(step));
  }

  /** The SCRAM exchange in progress is for a locked-out address or account. */
  private scramLockedOut = false;

  private plainResult(ok: boolean, luser: string): MaybePromise<void> {
    if (!ok) return this.authFailed('PLAIN', luser);
    this.authSucceeded('PLAIN', luser);
    return this.feed({ type: 'SASL_SUCCESS', user: luser, data: undefined });
  }

  private saslContinue(response: Element): MaybePromise<void> {
    const payload = decodeSasl(response.text());
    if (this.scram === undefined || payload === undefined) {
      return this.feed({ type: 'SASL_FAILURE', condition: 'malformed-request' });
    }
    return this.saslStep(this.scram.finish(payload.toString('utf8')));
  }

  private saslStep(step: ScramStep): MaybePromise<void> {
    if (step.type === 'challenge') return this.feed({ type: 'SASL_CHALLENGE', data: step.data });
    if (step.type === 'failure') {
      if (step.condition !== 'not-authorized')
        return this.feed({ type: 'SASL_FAILURE', condition: step.condition });
      let luser = '';
      try {
        luser = nodeprep(this.scram?.user ?? '');
      } catch {}
      if (this.scramLockedOut) return this.authRefused(this.mechanism, luser);
      return this.authFailed(this.mechanism, luser);
    }
    let luser: string;
    try {
      luser = nodeprep(step.username);
    } catch {
      return this.feed({ type: 'SASL_FAILURE', condition: 'not-authorized' });
    }
    this.authSucceeded(this.mechanism, luser);
    return this.feed({ type: 'SASL_SUCCESS', user: luser, data: step.data });
  }

  private account(luser: string): string | undefined {
    return luser === '' ? undefined : `${luser}@${this.snapshot.context.server}`;
  }

  private authSucceeded(mechanism: string, luser: string): void {
    const account = this.account(luser);
    if (account !== undefined) this.host.throttle.succeeded(this.ip, account);
    this.host.logger.info({ ip: this.ip, user: luser, mechanism }, 'c2s: authenticated');
    this.authResult(true, luser, mechanism, undefined);
  }

  /**
   * A wrong password (or an unknown user): counted per address and account (`AuthThrottle`),
   * logged at warning, reported to `c2s_auth_result`, and answered after the throttle's delay.
   */
  private authFailed(mechanism: string, luser: string): MaybePromise<void> {
    const outcome = this.host.throttle.failed(this.ip, this.account(luser));
    this.authResult(false, luser, mechanism, outcome);
    const failure: C2SEvent = { type: 'SASL_FAILURE', condition: 'not-authorized', text: AUTH_FAILED_TEXT };
    if (outcome.delayMs <= 0) return this.feed(failure);
    return this.host.throttle.wait(outcome.delayMs).then(() => this.feed(failure));
  }

  /**
   * An attempt refused because of a lockout: the same answer as a wrong password. It counts
   * against the address (hammering a locked account locks the address out), not the account
   * (whose lockout would otherwise never end while someone keeps trying).
   */
  private authRefused(mechanism: string, luser: string): MaybePromise<void> {
    const outcome = this.host.throttle.failed(this.ip);
    this.host.logger.warn(
      { ip: this.ip, user: luser, server: this.snapshot.context.server, mechanism },
      'c2s: authentication refused: locked out after too many failures',
    );
    if (outcome.lockedOut === 'ip') {
      this.host.logger.warn(
        { ip: this.ip, user: luser, server: this.snapshot.context.server, scope: 'ip' },
        'c2s: too many authentication failures: address locked out',
      );
    }
    this.runAuthHook({
      result: 'failure',
      user: luser,
      server: this.snapshot.context.server,
      ip: this.ip,
      mechanism,
      reason: 'not-authorized',
      locked: true,
      ipFailures: outcome.ipFailures,
      ...(outcome.lockedOut === undefined ? {} : { lockedOut: outcome.lockedOut }),
    });
    return this.feed({ type: 'SASL_FAILURE', condition: 'not-authorized', text: AUTH_FAILED_TEXT });
  }

  private authResult(
    ok: boolean,
    luser: string,
    mechanism: string,
    outcome: ReturnType<C2SHost['throttle']['failed']> | undefined,
    reason = 'not-authorized',
  ): void {
    const server = this.snapshot.context.server;
    if (!ok) {
      // ejabberd_c2s logs every failed authentication at warning ("Failed c2s … authentication").
      this.host.logger.warn(
        {
          ip: this.ip,
          user: luser,
          server,
          mechanism,
          reason,
          ipFailures: outcome?.ipFailures,
          accountFailures: outcome?.accountFailures,
          delayMs: outcome?.delayMs,
        },
        'c2s: authentication failed',
      );
      if (outcome?.lockedOut !== undefined) {
        this.host.logger.warn(
          { ip: this.ip, user: luser, server, scope: outcome.lockedOut },
          `c2s: too many authentication failures: ${outcome.lockedOut === 'ip' ? 'address' : 'account'} locked out`,
        );
      }
    }
    this.runAuthHook({
      result: ok ? 'success' : 'failure',
      user: luser,
      server,
      ip: this.ip,
      mechanism,
      ...(ok ? {} : { reason }),
      ...(outcome === undefined
        ? {}
        : {
            ipFailures: outcome.ipFailures,
            accountFailures: outcome.accountFailures,
            delayMs: outcome.delayMs,
            ...(outcome.lockedOut === undefined ? {} : { lockedOut: outcome.lockedOut }),
          }),
    });
  }

  private runAuthHook(result: C2SAuthResult): void {
    const hooks = this.host.hooks;
    if (!hooks.has('c2s_auth_result', result.server)) return;
    try {
      const r = hooks.run('c2s_auth_result', result.server, result);
      if (isThenable(r)) r.catch(() => {});
    } catch {
      // a failing metric hook never fails a login (Hooks logs it)
    }
  }

  // ---- bind (`ejabberd_c2s:bind/2`, RFC 6120 §7) ----

  private bindFailed(iq: Element, condition: StanzaErrorCondition, text?: string): MaybePromise<void> {
    return this.feed({ type: 'BIND_FAILED', iq, condition, ...(text === undefined ? {} : { text }) });
  }

  /** `ejabberd_c2s:bind/2`, steps 1 and 2: the resource (generated when empty), then `resource_conflict`. */
  private bind(iq: Element): MaybePromise<void> {
    if (iq.name === 'resume') return this.resume(iq);
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
    if (isThenable(rule)) return rule.then((r) => this.bindOpen(iq, j, r));
    return this.bindOpen(iq, j, rule);
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
    this.hadSession = true;
    this.jid = j;
    this.fullJid = `${j.local}@${j.domain}/${j.resource}`;
    this.bareJid = `${j.local}@${j.domain}`;
    // `ejabberd_c2s:open_session/1`: {ip, {IP, Port}}, {conn, …}, {auth_module, …}.
    const info = { ip: [this.ip, this.port], conn: this.conn, authModule: this.host.users.name };
    this.info = info;
    let opened: MaybePromise<void>;
    try {
      opened = sm.openSession(sid, j.local, j.domain, j.resource, undefined, info);
    } catch (error) {
      return this.bindError(iq, error);
    }
    if (isThenable(opened)) {
      return opened.then(
        () => this.feed({ type: 'BOUND', iq, resource: j.resource }),
        (error: unknown) => this.bindError(iq, error),
      );
    }
    return this.feed({ type: 'BOUND', iq, resource: j.resource });
  }

  private bindError(iq: Element, error: unknown): MaybePromise<void> {
    this.host.logger.error({ err: error, jid: this.fullJid }, 'c2s: openSession failed');
    this.sid = undefined;
    // Anything routed here meanwhile goes elsewhere (the refused row is deleted).
    const early = this.early;
    this.early = [];
    this.bounce(early);
    return this.feed({ type: 'BIND_FAILED', iq, condition: 'internal-server-error' });
  }

  /** `reregister`: the store lost this node's rows; write this session's row again. */
  private reregister(): void {
    const sid = this.sid;
    const j = this.jid;
    if (sid === undefined || j === undefined || this.snapshot.value !== 'session_established') return;
    const failed = (error: unknown) =>
      this.host.logger.error({ err: error, jid: this.fullJid }, 'c2s: re-registering the session failed');
    try {
      const r = this.host.sm.reregisterSession(sid, j.local, j.domain, j.resource, this.priority, this.info);
      if (isThenable(r)) r.catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  // ---- stanzas from the client (RFC 6120 §8, §10) ----

  private routeOut(stanza: Element): MaybePromise<void> {
    const name = stanza.name;
    if (name !== 'message' && name !== 'presence' && name !== 'iq') {
      if (stanza.attrs.xmlns === NS_SM && this.host.options.streamManagement) return this.streamMgmt(stanza);
      // A negotiation element we did not offer (e.g. XEP-0198 <enable/> when it is off): RFC 6120 §4.9.3.22.
      return this.feed({ type: 'STREAM_ERROR', condition: 'unsupported-stanza-type' });
    }
    this.mgmt?.handled();
    stanza.attrs.from = this.fullJid;
    // `xmpp_stream_in:set_lang/2`: a stanza without a language gets the stream's.
    if (!stanza.attrs['xml:lang']) stanza.attrs['xml:lang'] = this.lang;
    // ejabberd decodes every stanza: a presence whose <priority/> is not an integer is refused.
    if (name === 'presence' && presencePriority(stanza) === BAD_PRIORITY) {
      const reply = makeErrorReply(stanza, 'bad-request', PRIORITY_ERROR_TEXT);
      if (reply !== undefined) this.write(serialize(reply));
      return;
    }
    const to = stanza.attrs.to;
    if (to === undefined || to === '') {
      if (name === 'presence') return this.selfPresence(stanza);
      if (name === 'iq' && isLegacySession(stanza)) {
        this.write(iqResult(stanza.attrs.id));
        return;
      }
      // RFC 6120 §10.3: no 'to' means the user's own account (bare JID).
      stanza.attrs.to = this.bareJid;
    }
    let target: Jid;
    try {
      target = parseJid(stanza.attrs.to);
    } catch {
      const reply = makeErrorReply(stanza, 'jid-malformed');
      if (reply !== undefined) this.write(serialize(reply));
      return;
    }
    const j = this.jid!;
    const hooks = this.host.hooks;
    if (!hooks.has('user_send_packet', j.lserver)) {
      this.host.route(stanza, target);
      return;
    }
    // `user_send_packet` (roster subscriptions, blocking, carbons, directed presence): a module may
    // rewrite the stanza (its `to` included) or drop it.
    const toText = stanza.attrs.to;
    return andThen(hooks.runFold('user_send_packet', j.lserver, stanza, j, this.ctx.self), (out) => {
      if (out === 'drop') return;
      if (out.attrs.to === toText) {
        this.host.route(out, target);
        return;
      }
      try {
        this.host.route(out, parseJid(String(out.attrs.to)));
      } catch {
        // a module gave an invalid destination: nothing to route
      }
    });
  }

  /** Self-presence (`ejabberd_c2s:process_self_presence/2`: `set_presence` or `unset_presence`, then the broadcast). */
  private selfPresence(presence: Element): MaybePromise<void> {
    const type = presence.attrs.type;
    const j = this.jid!;
    const sid = this.sid!;
    const sm = this.host.sm;
    if (type === undefined || type === 'available') {
      const initial = this.presence === undefined;
      this.presence = presence;
      // `get_priority_from_presence/1`: the decoded priority, 0 without one.
      const decoded = presencePriority(presence);
      const priority = typeof decoded === 'number' ? decoded : 0;
      this.priority = priority;
      return andThen(sm.setPresence(sid, j.local, j.domain, j.resource, priority, presence), () => {
        // Broadcast to the user's own bare JID: every available resource, this one included,
        // gets it at its full JID (the echo ejabberd sends).
        presence.attrs.to = this.bareJid;
        this.host.route(presence, parseJid(this.bareJid));
        return this.host.hooks.run('c2s_self_presence', j.lserver, j, this.ctx.self, presence, initial);
      });
    }
    if (type === 'unavailable') {
      // Even without an earlier available presence (`process_self_presence/2` does not look).
      this.presence = undefined;
      this.priority = undefined;
      const status = presence.getChildText('status') ?? '';
      return andThen(sm.unsetPresence(sid, j.local, j.domain, j.resource, status), () => {
        presence.attrs.to = this.bareJid;
        this.host.route(presence, parseJid(this.bareJid));
      });
    }
    // Subscription requests without 'to' are meaningless: dropped.
  }

  // ---- XEP-0198 stream management (ejabberd's `mod_stream_mgmt`) ----

  /** `<enable/>`, `<r/>` and `<a/>` in `session_established`. */
  private streamMgmt(el: Element): MaybePromise<void> {
    const m = this.mgmt;
    switch (el.name) {
      case 'enable': {
        if (m !== undefined) {
          this.write(smFailed('unexpected-request'));
          return;
        }
        const resume = el.attrs.resume === 'true' || el.attrs.resume === '1';
        const mgmt = new StreamMgmt(resume);
        this.mgmt = mgmt;
        const max = Math.round(this.host.options.resumeTimeoutMs / 1000);
        this.write(
          resume
            ? `<enabled xmlns='${NS_SM}' id='${mgmt.id(this.jid!.resource)}' resume='true' max='${max}'/>`
            : `<enabled xmlns='${NS_SM}'/>`,
        );
        return;
      }
      case 'r':
        if (m === undefined) this.write(smFailed('unexpected-request'));
        else this.write(`<a xmlns='${NS_SM}' h='${m.hIn}'/>`);
        return;
      case 'a':
        // `mod_stream_mgmt`: an `h` above what was sent ends the stream.
        if (m !== undefined && !m.ack(Number(el.attrs.h))) {
          return this.feed({
            type: 'STREAM_ERROR',
            condition: 'undefined-condition',
            text: 'h attribute too big',
          });
        }
        return;
      default:
        return this.feed({ type: 'STREAM_ERROR', condition: 'unsupported-stanza-type' });
    }
  }

  /**
   * The connection dropped with resumption enabled: the session stays (same row, same presence)
   * and what is routed here is queued, for `resumeTimeoutMs`; then it ends as a dropped one does.
   */
  private hibernate(): void {
    this.socketClosed = true;
    this.hibernating = true;
    this.host.logger.info(
      { jid: this.fullJid, ip: this.ip },
      'c2s: connection lost; waiting for a resumption',
    );
    const system = this.ctx.system;
    const self = this.ctx.self;
    this.clearTimer();
    this.timer = system.clock.setTimeout(
      () => system.send(self, { type: '$timeout' }),
      this.host.options.resumeTimeoutMs,
    );
  }

  /**
   * `resume_session` asked by a new connection of the same user: the unacknowledged stanzas
   * beyond the client's `h`, the counters, the presence and the session info go to it; this
   * connection then ends without closing the session, forwarding what still reaches it.
   */
  handOver(call: ResumeCall): ResumeReply {
    const m = this.mgmt;
    if (
      m === undefined ||
      !m.resumable ||
      this.done ||
      this.resumedBy !== undefined ||
      this.snapshot.value !== 'session_established' ||
      call.token !== m.token ||
      !m.ack(call.h)
    ) {
      return { ok: false };
    }
    this.resumedBy = call.by;
    this.hibernating = false;
    this.clearTimer();
    if (!this.socketClosed) {
      // The client came back before this side saw the old connection drop.
      this.socketClosed = true;
      this.destroy();
    }
    return {
      ok: true,
      hIn: m.hIn,
      queue: m.take(),
      presence: this.presence,
      priority: this.priority,
      info: this.info,
    };
  }

  /** After {@link handOver}: the stream ends here (the session lives on in the new connection). */
  finishResume(): MaybePromise<void> {
    if (this.resumedBy === undefined || this.done) return;
    return this.feed({ type: 'SOCKET_CLOSED' });
  }

  /** `<resume previd h/>` instead of a bind (XEP-0198 §5): the old connection is found through the session manager. */
  private resume(el: Element): MaybePromise<void> {
    const failed = () => this.feed({ type: 'BIND_FAILED', iq: el, condition: 'item-not-found' });
    const id = StreamMgmt.parseId(String(el.attrs.previd ?? ''));
    const h = Number(el.attrs.h);
    if (!this.host.options.streamManagement || id === undefined || !Number.isInteger(h)) return failed();
    let j: Jid;
    try {
      j = jid(this.user, this.snapshot.context.server, id.resource);
    } catch {
      return failed();
    }
    return andThen(this.host.sm.getSessionRef(j.luser, j.lserver, j.lresource), (ref) => {
      if (ref === undefined || ref.equals(this.ctx.self)) return failed();
      const call: ResumeCall = { type: '$resume', token: id.token, h, by: this.ctx.self };
      return this.ctx.system.call<ResumeReply>(ref, call, 5000).then(
        (reply) => (reply.ok ? this.resumeSession(el, j, id.token, h, reply) : failed()),
        () => failed(),
      );
    });
  }

  /** The new connection takes the session: same full JID and presence, a new row (the replace path). */
  private resumeSession(
    el: Element,
    j: Jid,
    token: string,
    h: number,
    old: Extract<ResumeReply, { ok: true }>,
  ): MaybePromise<void> {
    const sm = this.host.sm;
    const sid = sm.makeSid(this.ctx.self);
    this.sid = sid;
    this.hadSession = true;
    this.jid = j;
    this.fullJid = `${j.local}@${j.domain}/${j.resource}`;
    this.bareJid = `${j.local}@${j.domain}`;
    this.info = { ...old.info, ip: [this.ip, this.port], conn: this.conn, authModule: this.host.users.name };
    this.presence = old.presence;
    this.priority = old.priority;
    const mgmt = new StreamMgmt(true, token);
    mgmt.hIn = old.hIn;
    // The client counts what is sent again as new: its `h` goes on from what it said it had.
    mgmt.hOut = h;
    this.mgmt = mgmt;
    this.resumed = old;
    let opened: MaybePromise<void>;
    try {
      opened = sm.openSession(sid, j.local, j.domain, j.resource, old.priority, this.info);
    } catch (error) {
      return this.bindError(el, error);
    }
    return andThen(opened, () => this.feed({ type: 'BOUND', iq: el, resource: j.resource }));
  }

  /** `<resumed/>`, then what the old connection had not had acknowledged, then what came meanwhile. */
  private sendResumed(el: Element): void {
    const old = this.resumed;
    this.resumed = undefined;
    this.write(smResumed(String(el.attrs.previd), old?.hIn ?? 0));
    this.host.logger.info(
      { jid: this.fullJid, ip: this.ip, resent: old?.queue.length ?? 0 },
      'c2s: session resumed',
    );
    // Sent again, not received again: `user_receive_packet` (carbons) ran the first time.
    this.resending = true;
    for (const stanza of old?.queue ?? []) this.deliver(stanza, false);
    this.resending = false;
    const early = this.early;
    this.early = [];
    for (const stanza of early) this.deliver(stanza, false);
  }

  // ---- stanzas to the client ----

  /**
   * `{route, Packet}` in `session_established`: serialised (iteratively: no stanza can overflow
   * the stack here) into this tick's output. Past `maxSendQueueBytes` held for a client that does
   * not read, the stream is closed with `policy-violation` and what it holds is routed again.
   */
  private deliver(stanza: Element, smCopy: boolean): MaybePromise<void> {
    const m = this.mgmt;
    if (m !== undefined && this.resumedBy === undefined) return this.deliverManaged(m, stanza, smCopy);
    if (this.socketClosed) {
      if (!smCopy) this.bounce([stanza]);
      return;
    }
    const data = serialize(stanza);
    // Listed with the output that carries it (before `write`, which may hand it to the socket).
    // An `sm_copy` duplicate is not routed again: the primary copy went to another resource.
    if (!smCopy) {
      if (this.outStanzas === null) this.outStanzas = [stanza];
      else this.outStanzas.push(stanza);
    }
    this.write(data);
    return this.delivered(stanza, smCopy);
  }

  /**
   * Delivery with XEP-0198 on: every stanza is counted and kept until the client acknowledges it
   * (the unacknowledged queue, not the output chunks, is what is routed again at the end); an
   * `<r/>` follows when none is outstanding; a hibernating session only queues.
   */
  private deliverManaged(m: StreamMgmt, stanza: Element, smCopy: boolean): MaybePromise<void> {
    m.sent(stanza, !smCopy);
    if (m.queued > this.host.options.maxAckQueue) {
      if (this.hibernating) {
        this.hibernating = false;
        return this.feed({ type: 'SOCKET_CLOSED' });
      }
      return this.overflow('Too many unacked stanzas');
    }
    if (this.socketClosed) return;
    this.write(serialize(stanza));
    if (!m.ackRequested) {
      m.ackRequested = true;
      this.write(`<r xmlns='${NS_SM}'/>`);
    }
    return this.delivered(stanza, smCopy);
  }

  private delivered(stanza: Element, smCopy: boolean): MaybePromise<void> {
    const j = this.jid;
    if (j !== undefined && !this.resending && this.host.hooks.has('user_receive_packet', j.lserver)) {
      void this.host.hooks.run('user_receive_packet', j.lserver, j, stanza, smCopy);
    }
    if (this.pendingOutputBytes > this.host.options.maxSendQueueBytes) return this.overflow();
  }

  private overflow(text = 'Too many pending stanzas'): MaybePromise<void> {
    if (this.overflowed) return;
    this.overflowed = true;
    this.host.logger.warn(
      { jid: this.fullJid, ip: this.ip, pendingBytes: this.pendingOutputBytes },
      'c2s: the client does not read; closing its stream',
    );
    return this.feed({
      type: 'STREAM_ERROR',
      condition: 'policy-violation',
      text,
    });
  }

  // ---- closing ----

  /**
   * `ejabberd_c2s:process_terminated/2`: `close_session_unset_presence` with the reason the
   * stream ended (`format_reason/2`) when the session was available, `close_session` otherwise.
   */
  private closeSession(reason: string): MaybePromise<void> {
    const sid = this.sid;
    const j = this.jid;
    if (sid === undefined || j === undefined) return;
    if (this.resumedBy !== undefined) {
      // The session lives on in the connection that resumed it: nothing to close or broadcast.
      this.sid = undefined;
      this.presence = undefined;
      this.sessionClosed();
      return;
    }
    this.sid = undefined;
    const sm = this.host.sm;
    const wasAvailable = this.presence !== undefined;
    this.presence = undefined;
    this.host.logger.info({ ip: this.ip, jid: this.fullJid, reason }, 'c2s: closing session');
    const done = () => this.sessionClosed();
    try {
      const closed = wasAvailable
        ? sm.closeSessionUnsetPresence(sid, j.local, j.domain, j.resource, reason)
        : sm.closeSession(sid, j.local, j.domain, j.resource);
      const afterClose = () => {
        done();
        if (!wasAvailable) return;
        // The other resources learn that this one is gone.
        const unavailable = presenceUnavailable(this.fullJid, this.bareJid);
        this.host.route(unavailable, parseJid(this.bareJid));
      };
      if (isThenable(closed)) {
        return closed.then(afterClose, (error: unknown) => {
          this.host.logger.error({ err: error, jid: this.fullJid }, 'c2s: closeSession failed');
          done();
        });
      }
      afterClose();
    } catch (error) {
      this.host.logger.error({ err: error, jid: this.fullJid }, 'c2s: closeSession failed');
      done();
    }
  }

  /** Writes the closing stream error now, after everything written before it. */
  private sendStreamErrorNow(): void {
    const error = this.snapshot.context.streamError;
    if (error === undefined || this.socketClosed) return;
    if (this.overflowed) this.bounceHeld();
    this.write(streamError(error.condition as StreamErrorCondition, error.text));
    this.errorSent = true;
    this.flush();
  }

  /** The session row is gone: what was held for re-routing can go. */
  private sessionClosed(): void {
    this.sessionGone = true;
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    for (const stanza of held) this.host.reroute(stanza);
  }

  /** Routes stanzas again, once the session is gone (`bounce_message_queue`). */
  private bounce(stanzas: readonly Element[]): void {
    if (stanzas.length === 0) return;
    const to = this.resumedBy;
    if (to !== undefined) {
      for (const stanza of stanzas) this.ctx.system.send(to, { type: 'route', stanza, smCopy: false });
      return;
    }
    if (!this.sessionGone) {
      for (const s of stanzas) this.held.push(s);
      return;
    }
    for (const s of stanzas) this.host.reroute(s);
  }

  /** Every routed stanza this connection holds and has not handed to the socket. */
  private bounceHeld(): void {
    const stanzas: Element[] = [...this.early];
    this.early = [];
    for (const chunk of this.queue)
      if (chunk.stanzas !== null) for (const s of chunk.stanzas) stanzas.push(s);
    this.queue = [];
    this.queuedBytes = 0;
    if (this.outStanzas !== null) for (const s of this.outStanzas) stanzas.push(s);
    this.outStanzas = null;
    this.out = '';
    this.bounce(stanzas);
  }

  private closeStream(): void {
    this.clearTimer();
    this.hibernating = false;
    // XEP-0198: what the client did not acknowledge goes elsewhere (`route_unacked_stanzas`).
    if (this.mgmt !== undefined && this.resumedBy === undefined) this.bounce(this.mgmt.take());
    // closeSession (if there was a session) ran before: the exit action of session_established.
    if (this.sid === undefined) this.sessionClosed();
    const error = this.snapshot.context.streamError;
    if (this.socketClosed || this.overflowed) {
      // Nothing more reaches this client: what it was not given goes elsewhere (the stream
      // error, dropped with it, is written again below).
      this.bounceHeld();
      if (this.socketClosed) return;
      this.errorSent = false;
    }
    let tail = '';
    if (!this.headerSent && error !== undefined) {
      tail += streamHeader(randomId(), this.snapshot.context.server || this.host.hosts[0] || '', this.lang);
    }
    if (error !== undefined && !this.errorSent) {
      tail += streamError(error.condition as StreamErrorCondition, error.text);
    }
    tail += STREAM_END;
    const socket = this.socket;
    this.socketClosed = true;
    // What is still queued and what this tick wrote go first, each write tracked so that a
    // stanza the client never takes (the socket is destroyed below) is routed again.
    for (const chunk of this.queue) this.send(chunk);
    this.queue = [];
    this.queuedBytes = 0;
    const out = this.out;
    const stanzas = this.outStanzas;
    this.out = '';
    this.outStanzas = null;
    if (stanzas === null) socket.end(out + tail);
    else {
      this.send({ data: out, stanzas, bytes: 0 });
      socket.end(tail);
    }
    // Do not wait for the peer's closing handshake (or a client that does not read) forever.
    setTimeout(() => this.destroy(), this.host.options.closeTimeoutMs).unref();
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
    // A burst (many stanzas routed here in one drain) goes to the socket as it grows, so that only
    // what the client does not take counts against maxSendQueueBytes, not the size of one tick.
    if (this.out.length >= FLUSH_BYTES) this.flush();
  }

  private readonly flush = (): void => {
    const data = this.out;
    const stanzas = this.outStanzas;
    this.out = '';
    this.outStanzas = null;
    if (data === '') return;
    if (this.socketClosed) {
      if (stanzas !== null) this.bounce(stanzas);
      return;
    }
    const chunk: Chunk = { data, stanzas, bytes: Buffer.byteLength(data) };
    if (this.queue.length > 0 || this.socket.writableNeedDrain === true) {
      // The client reads slower than it is written to: hold it until the socket drains.
      this.queue.push(chunk);
      this.queuedBytes += chunk.bytes;
      return;
    }
    this.send(chunk);
  };

  /**
   * Hands a chunk to the socket; if the socket dies before taking it, its stanzas are routed again.
   * A write still pending when this side destroys the socket counts as not taken even when Node
   * reports it done (Node 20 calls back without an error a write that was cut short by `destroy`):
   * a stanza may then reach the client and be re-routed too, a duplicate rather than a loss.
   */
  private send(chunk: Chunk): void {
    const stanzas = chunk.stanzas;
    if (stanzas === null) this.socket.write(chunk.data);
    else {
      this.socket.write(chunk.data, (error?: Error | null) => {
        if (error || this.destroyed) this.bounce(stanzas);
      });
    }
  }

  private destroy(): void {
    this.destroyed = true;
    this.socket.destroy();
  }

  private onDrain(): void {
    const queue = this.queue;
    while (queue.length > 0 && !this.socketClosed && this.socket.writableNeedDrain !== true) {
      const chunk = queue.shift()!;
      this.queuedBytes -= chunk.bytes;
      this.send(chunk);
    }
  }
}

const initialSnapshots = new WeakMap<
  C2SHost,
  {
    readonly hosts: readonly string[];
    readonly encrypted: boolean;
    readonly step: readonly [C2SSnapshot, readonly C2SAction[]];
  }
>();

/**
 * The initial snapshot depends only on the server's hosts and options, and snapshots are
 * immutable (a transition returns a new one), so every connection of a server starts from the
 * same one: no xstate actor and no initial transition per connection. A host added or removed at
 * run time gives a new list of hosts, hence a new initial snapshot.
 */
function initial(host: C2SHost, encrypted: boolean): readonly [C2SSnapshot, readonly C2SAction[]] {
  const hosts = host.hosts;
  let cached = initialSnapshots.get(host);
  if (cached === undefined || cached.hosts !== hosts || cached.encrypted !== encrypted) {
    const starttls = encrypted ? 'none' : host.listener.starttls;
    const input = { hosts, maxAuthFailures: host.options.maxAuthFailures, starttls, encrypted };
    cached = { hosts, encrypted, step: initialStep(input) };
    initialSnapshots.set(host, cached);
  }
  return cached.step;
}

function classify(element: Element): C2SEvent {
  const ns = element.attrs.xmlns;
  if (ns === NS_TLS && element.name === 'starttls') return { type: 'STARTTLS' };
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
  // XEP-0198 resumption takes the place of the bind (the same states: wait_for_bind → binding).
  if (element.name === 'resume' && ns === NS_SM) return { type: 'BIND', iq: element };
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

/**
 * The connection as a GenServer: `init` takes the socket, `handleInfo` gets socket data and
 * session manager messages, `terminate` closes the stream (with `system-shutdown` when a
 * supervisor stops it) and the session. Start it under a `simple_one_for_one` supervisor with
 * `restart: 'temporary'` and `trapExit: true`, as ejabberd's c2s processes.
 */
export const c2sConnectionServer: GenServer<
  C2SConnection,
  C2SConnectionArgs,
  unknown,
  unknown,
  never,
  unknown
> = {
  init({ socket, host }, ctx) {
    if (socket.destroyed) return { stop: 'normal' };
    return { ok: new C2SConnection(socket, host, ctx) };
  },
  // `ejabberd_c2s:handle_call/3`: the session manager's commands ask for and set the presence.
  handleCall(request, from, conn) {
    if (isResumeCall(request)) {
      reply(from, conn.handOver(request));
      return thenAfter(conn, () => conn.finishResume());
    }
    if (!isConnectionCall(request)) return { reply: undefined, state: conn };
    if (request.type === 'get_presence') return { reply: conn.currentPresence(), state: conn };
    reply(from, 'ok');
    return thenAfter(conn, () => conn.presenceFromCall(request.presence));
  },
  handleInfo(message, conn) {
    return thenAfter(conn, () => conn.handle(message));
  },
  terminate(_reason, conn) {
    try {
      const r = conn.shutdown();
      if (isThenable(r)) return r.catch(() => conn.abort());
    } catch {
      conn.abort();
    }
  },
};

/** Runs `work` (a handler's body), then {@link after}; a failure ends the connection (`failed`). */
function thenAfter(conn: C2SConnection, work: () => MaybePromise<void>) {
  let r: MaybePromise<void>;
  try {
    r = work();
  } catch (error) {
    return failed(conn, error);
  }
  if (isThenable(r)) {
    return r.then(
      () => after(conn),
      (error: unknown) => failed(conn, error),
    );
  }
  return after(conn);
}

function after(
  conn: C2SConnection,
): { noreply: true; state: C2SConnection } | { stop: ExitReason; state: C2SConnection } {
  if (!conn.done) return { noreply: true, state: conn };
  if (conn.finished) return { stop: 'normal', state: conn };
  // Closed: read the mailbox up to here first (bounce_message_queue), then stop.
  conn.requestDrain();
  return { noreply: true, state: conn };
}

function failed(conn: C2SConnection, error: unknown): { stop: ExitReason; state: C2SConnection } {
  // A per-connection failure ends this connection only; its supervisor logs it (temporary child).
  conn.abort();
  return { stop: { error }, state: conn };
}
