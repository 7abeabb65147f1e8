// An independent reference model of the c2s machine (ejabberd_c2s / xmpp_stream_in states and
// RFC 6120's rules), written as a plain switch without xstate, and the fast-check generators the
// property tests share: a legal prefix up to a chosen state (detours included: SASL failures and
// aborts, SCRAM rounds, failed binds, second headers), then a random tail from every event.
import { streamErrorFor } from '@otp-chat/session-manager';
import xml from '@xmpp/xml';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { C2SEvent, C2SStateName, StartTlsPolicy, StreamErrorInfo } from '../../src/c2sMachine.ts';

export const HOSTS = ['localhost'] as const;

const header = (attrs: Record<string, string> = {}) =>
  xml('stream:stream', {
    to: 'localhost',
    version: '1.0',
    xmlns: 'jabber:client',
    'xmlns:stream': 'http://etherx.jabber.org/streams',
    ...attrs,
  });
const iq = xml('iq', { type: 'set', id: 'b' });

export type EventName = (typeof NAMES)[number];
const NAMES = [
  'header',
  'headerUpper',
  'headerVersion11',
  'headerUnknownHost',
  'headerServerNs',
  'headerOldVersion',
  'auth',
  'response',
  'abort',
  'challenge',
  'success',
  'failure',
  'bind',
  'bound',
  'bindFailed',
  'stanza',
  'route',
  'replaced',
  'kick',
  'shutdown',
  'exitRemoved',
  'exitBye',
  'tooBig',
  'notWellFormed',
  'end',
  'closed',
  'timeout',
  'starttls',
] as const;

/** Every kind of event, with the payload variants the machine distinguishes. */
export const EVENTS: Readonly<Record<EventName, C2SEvent>> = {
  header: { type: 'STREAM_HEADER', header: header() },
  headerUpper: { type: 'STREAM_HEADER', header: header({ to: 'LOCALHOST' }) },
  headerVersion11: { type: 'STREAM_HEADER', header: header({ version: '1.1' }) },
  headerUnknownHost: { type: 'STREAM_HEADER', header: header({ to: 'elsewhere' }) },
  headerServerNs: { type: 'STREAM_HEADER', header: header({ xmlns: 'jabber:server' }) },
  headerOldVersion: { type: 'STREAM_HEADER', header: header({ version: '0.9' }) },
  auth: { type: 'AUTH', element: xml('auth') },
  response: { type: 'SASL_RESPONSE', element: xml('response') },
  abort: { type: 'SASL_ABORT' },
  challenge: { type: 'SASL_CHALLENGE', data: 'r=x' },
  success: { type: 'SASL_SUCCESS', user: 'alice', data: undefined },
  failure: { type: 'SASL_FAILURE', condition: 'not-authorized' },
  bind: { type: 'BIND', iq },
  bound: { type: 'BOUND', iq, resource: 'r' },
  bindFailed: { type: 'BIND_FAILED', iq, condition: 'conflict' },
  stanza: { type: 'STANZA', element: xml('message', { to: 'bob@localhost' }) },
  route: { type: 'ROUTE', stanza: xml('message') },
  replaced: { type: 'CONTROL', message: { type: 'replaced' } },
  kick: { type: 'CONTROL', message: { type: 'kick' } },
  shutdown: { type: 'CONTROL', message: { type: 'system-shutdown' } },
  exitRemoved: { type: 'CONTROL', message: { type: 'exit', reason: 'User removed' } },
  exitBye: { type: 'CONTROL', message: { type: 'exit', reason: 'Bye' } },
  tooBig: { type: 'STREAM_ERROR', condition: 'policy-violation', text: 'XML stanza is too big' },
  notWellFormed: { type: 'STREAM_ERROR', condition: 'not-well-formed' },
  end: { type: 'STREAM_END' },
  closed: { type: 'SOCKET_CLOSED' },
  timeout: { type: 'TIMEOUT' },
  starttls: { type: 'STARTTLS' },
};
export const EVENT_NAMES: readonly EventName[] = NAMES;

/** The model's state: what the machine's snapshot must show after every event. */
export interface ModelState {
  state: C2SStateName;
  server: string;
  authenticated: boolean;
  authFailures: number;
  streamError: StreamErrorInfo | undefined;
  kicked: boolean;
  encrypted: boolean;
}

const ELEMENTS = new Set(['STREAM_HEADER', 'AUTH', 'SASL_RESPONSE', 'SASL_ABORT', 'BIND', 'STANZA']);
const RESULTS = new Set(['SASL_CHALLENGE', 'SASL_SUCCESS', 'SASL_FAILURE', 'BOUND', 'BIND_FAILED']);

function headerError(e: Extract<C2SEvent, { type: 'STREAM_HEADER' }>): StreamErrorInfo | undefined {
  const a = e.header.attrs;
  if (a.xmlns !== 'jabber:client' || a['xmlns:stream'] !== 'http://etherx.jabber.org/streams')
    return { condition: 'invalid-namespace' };
  if (!/^1\.\d+$/.test(String(a.version ?? ''))) return { condition: 'unsupported-version' };
  if (!(HOSTS as readonly string[]).includes(String(a.to ?? '').toLowerCase()))
    return { condition: 'host-unknown' };
  return undefined;
}

/**
 * The reference model: one event, the next state and the actions the connection must run, in
 * order. Leaving `session_established` closes the session first (the row never outlives the
 * stream); entering `closed` closes the stream last.
 */
export class C2SModel {
  s: ModelState;

  constructor(
    readonly maxAuthFailures: number,
    readonly starttls: StartTlsPolicy = 'none',
    encrypted = false,
  ) {
    this.s = {
      encrypted,
      state: 'wait_for_stream',
      server: '',
      authenticated: false,
      authFailures: 0,
      streamError: undefined,
      kicked: false,
    };
  }

  step(e: C2SEvent): string[] {
    const s = this.s;
    const actions: string[] = [];
    const close = (error: StreamErrorInfo | undefined, before: string[] = []) => {
      if (s.state === 'session_established') actions.push('closeSession');
      actions.push(...before);
      if (error !== undefined) s.streamError = error;
      s.state = 'closed';
      actions.push('closeStream');
    };
    const go = (state: C2SStateName, ...acts: string[]) => {
      s.state = state;
      actions.push(...acts);
    };
    if (s.state === 'closed') return actions;
    // Socket and session-manager events, the same in every state but the established one.
    switch (e.type) {
      case 'STREAM_END':
      case 'SOCKET_CLOSED':
        close(undefined);
        return actions;
      case 'STREAM_ERROR':
        close({ condition: e.condition, ...(e.text === undefined ? {} : { text: e.text }) });
        return actions;
      case 'TIMEOUT':
        if (s.state !== 'session_established') close({ condition: 'connection-timeout' });
        return actions;
      case 'CONTROL': {
        const spec = streamErrorFor(e.message)!;
        const error = { condition: spec.condition, ...(spec.text === undefined ? {} : { text: spec.text }) };
        if (s.state === 'session_established' && e.message.type === 'kick') {
          s.kicked = true;
          close(error, ['runKickHook']);
        } else close(error as StreamErrorInfo);
        return actions;
      }
      case 'ROUTE':
        if (s.state === 'session_established') actions.push('deliver');
        return actions;
    }
    if (e.type === 'STARTTLS') {
      // Offered and not on TLS yet, before SASL: TLS starts and the stream restarts.
      const before = s.state === 'wait_for_auth' || s.state === 'wait_for_starttls';
      if (before && this.starttls !== 'none' && !s.encrypted) {
        s.encrypted = true;
        go('wait_for_stream', 'startTls');
      } else close(undefined, ['sendStartTlsFailure']);
      return actions;
    }
    const notAuthorized: StreamErrorInfo = { condition: 'not-authorized' };
    const internal: StreamErrorInfo = { condition: 'internal-server-error' };
    // A result nobody asked for is a server bug: internal-server-error, in every state that did
    // not start that work.
    const unexpectedResult = () => close(internal);
    switch (s.state) {
      case 'wait_for_stream':
        if (e.type === 'STREAM_HEADER') {
          const error = headerError(e);
          if (error !== undefined) {
            s.server = String(e.header.attrs.to ?? '').toLowerCase();
            close(error, ['sendStreamHeader']);
          } else if (s.authenticated) go('wait_for_bind', 'sendStreamHeader', 'sendBindFeatures');
          else if (this.starttls === 'required' && !s.encrypted) {
            s.server = String(e.header.attrs.to).toLowerCase();
            go('wait_for_starttls', 'sendStreamHeader', 'sendAuthFeatures');
          } else {
            s.server = String(e.header.attrs.to).toLowerCase();
            go('wait_for_auth', 'sendStreamHeader', 'sendAuthFeatures');
          }
        } else if (RESULTS.has(e.type)) unexpectedResult();
        else close(notAuthorized); // RFC 6120 §4.3: anything before the header
        return actions;
      case 'wait_for_starttls':
        // ejabberd's xmpp_stream_in: SASL gets encryption-required, anything else ends the stream.
        if (e.type === 'AUTH' || e.type === 'SASL_RESPONSE') actions.push('sendEncryptionRequired');
        else if (RESULTS.has(e.type)) unexpectedResult();
        else close({ condition: 'policy-violation', text: 'Use of STARTTLS required' });
        return actions;
      case 'wait_for_auth':
        if (e.type === 'AUTH') go('authenticating', 'saslStart');
        else if (RESULTS.has(e.type)) unexpectedResult();
        else close(notAuthorized); // RFC 6120 §6.4.1: nothing but <auth/> before SASL
        return actions;
      case 'authenticating':
        if (e.type === 'SASL_CHALLENGE') go('wait_for_sasl_response', 'sendSaslChallenge');
        else if (e.type === 'SASL_SUCCESS') {
          s.authenticated = true;
          go('wait_for_stream', 'sendSaslSuccess');
        } else if (e.type === 'SASL_FAILURE') {
          if (s.authFailures + 1 >= this.maxAuthFailures) close(notAuthorized, ['sendSaslFailure']);
          else {
            s.authFailures++;
            go('wait_for_auth', 'sendSaslFailure');
          }
        } else close(internal); // an element while the SASL step runs, or a bind result
        return actions;
      case 'wait_for_sasl_response':
        if (e.type === 'SASL_RESPONSE') go('authenticating', 'saslContinue');
        else if (e.type === 'SASL_ABORT') {
          // An abort is a failed exchange (RFC 6120 §6.4.4): the maxAuthFailures-th closes.
          if (s.authFailures + 1 >= this.maxAuthFailures) close(notAuthorized, ['sendSaslFailure']);
          else {
            s.authFailures++;
            go('wait_for_auth', 'sendSaslFailure');
          }
        } else if (RESULTS.has(e.type)) unexpectedResult();
        else close(notAuthorized);
        return actions;
      case 'wait_for_bind':
        if (e.type === 'BIND') go('binding', 'bind');
        else if (RESULTS.has(e.type)) unexpectedResult();
        else close(notAuthorized);
        return actions;
      case 'binding':
        if (e.type === 'BOUND') go('session_established', 'sendBindResult');
        else if (e.type === 'BIND_FAILED') go('wait_for_bind', 'sendBindError');
        else close(internal);
        return actions;
      case 'session_established':
        if (e.type === 'STANZA') actions.push('routeOut');
        else if (RESULTS.has(e.type)) unexpectedResult();
        else if (ELEMENTS.has(e.type))
          close({
            condition: 'policy-violation',
            text: 'negotiation element after the session was established',
          });
        return actions;
    }
  }
}

/** The legal way to a state, with detours; `cut` picks where the prefix ends. */
export interface Plan {
  readonly maxAuthFailures: number;
  /** Failed or aborted SASL attempts before the one that succeeds (each counts as a failure). */
  readonly detours: readonly ('failure' | 'abort')[];
  /** SCRAM challenge/response rounds of the successful attempt. */
  readonly rounds: number;
  /** Binds refused before the one that succeeds. */
  readonly bindFailures: number;
  readonly headerAfterAuth: EventName;
  /**
   * Where the prefix stops; `stream_restart` is `wait_for_stream` again, after SASL success;
   * `sasl_exhausted` is `closed` by one SASL failure too many.
   */
  readonly target: C2SStateName | 'stream_restart' | 'sasl_exhausted';
}

/** The events of a legal prefix that ends in `plan.target` (never `closed`). */
export function legalPrefix(plan: Plan): EventName[] {
  const out: EventName[] = [];
  const stopAt = (state: Plan['target']) => plan.target === state;
  if (stopAt('wait_for_stream')) return out;
  out.push('header');
  if (stopAt('sasl_exhausted')) {
    for (let i = 0; i < plan.maxAuthFailures; i++) out.push('auth', 'failure');
    return out;
  }
  for (const d of plan.detours) {
    if (d === 'failure') out.push('auth', 'failure');
    else out.push('auth', 'challenge', 'abort');
  }
  if (stopAt('wait_for_auth')) return out;
  out.push('auth');
  if (stopAt('authenticating')) return out;
  for (let i = 0; i < plan.rounds; i++) out.push('challenge', 'response');
  if (stopAt('wait_for_sasl_response')) return [...out, 'challenge'];
  out.push('success');
  if (stopAt('stream_restart')) return out;
  out.push(plan.headerAfterAuth);
  for (let i = 0; i < plan.bindFailures; i++) out.push('bind', 'bindFailed');
  if (stopAt('wait_for_bind')) return out;
  out.push('bind');
  if (stopAt('binding')) return out;
  out.push('bound');
  return out;
}

const TARGETS: Array<Plan['target']> = [
  'wait_for_stream',
  'stream_restart',
  'sasl_exhausted',
  'wait_for_auth',
  'authenticating',
  'wait_for_sasl_response',
  'wait_for_bind',
  'binding',
  'session_established',
];

/** A plan; half of the runs aim at `session_established`, the rest at every other state. */
export const planArb: fc.Arbitrary<Plan> = fc.integer({ min: 1, max: 4 }).chain((maxAuthFailures) =>
  fc.record({
    maxAuthFailures: fc.constant(maxAuthFailures),
    detours: fc.array(fc.constantFrom('failure' as const, 'abort' as const), {
      maxLength: maxAuthFailures - 1,
    }),
    rounds: fc.nat(2),
    bindFailures: fc.nat(2),
    headerAfterAuth: fc.constantFrom<EventName>('header', 'headerUpper', 'headerVersion11'),
    target: fc.oneof(
      { weight: 1, arbitrary: fc.constantFrom(...TARGETS) },
      { weight: 1, arbitrary: fc.constant('session_established' as const) },
    ),
  }),
);

/** The events that end an established session from outside (socket, parser, session manager). */
export const CLOSING_CAUSES = [
  'end',
  'closed',
  'tooBig',
  'notWellFormed',
  'replaced',
  'kick',
  'shutdown',
  'exitBye',
] as const satisfies readonly EventName[];

/**
 * Tail events, weighted towards what an established session sees (stanzas in and out) so tails
 * are long enough for the closing causes to matter.
 */
const tailEventArb: fc.Arbitrary<EventName> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom<EventName>('stanza', 'route', 'timeout') },
  { weight: 3, arbitrary: fc.constantFrom(...EVENT_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom<EventName>(...CLOSING_CAUSES) },
);

export const scenarioArb = fc.record({
  plan: planArb,
  tail: fc.array(tailEventArb, { maxLength: 12 }),
});

/**
 * Minimum-hit counters: `hit(name)` while the property runs, `check(min)` after it fails the test
 * naming every case reached fewer than `min` times, and `report()` gives one line for the log.
 */
export class Coverage {
  readonly counts = new Map<string, number>();

  constructor(readonly required: readonly string[]) {
    for (const r of required) this.counts.set(r, 0);
  }

  hit(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  check(min: number): void {
    const missed = this.required.filter((r) => (this.counts.get(r) ?? 0) < min);
    expect(missed, `cases reached fewer than ${min} times: ${this.report()}`).toEqual([]);
  }

  report(): string {
    return [...this.counts].map(([k, v]) => `${k}=${v}`).join(' ');
  }
}

/** The states of the machine, every one of which the properties must visit. */
export const ALL_STATES: readonly C2SStateName[] = [
  'wait_for_stream',
  'wait_for_auth',
  'authenticating',
  'wait_for_sasl_response',
  'wait_for_bind',
  'binding',
  'session_established',
  'closed',
];

/** Where a plan's prefix may stop. */
export const PREFIX_TARGETS: readonly string[] = TARGETS;
