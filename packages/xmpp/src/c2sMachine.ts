import { type ConnectionMessage, type StanzaErrorCondition, streamErrorFor } from '@otp-chat/session-manager';
import type { Element } from '@xmpp/xml';
import { assign, setup } from 'xstate';
import { DEFAULTS } from './DEFAULTS.ts';
import type { StreamErrorCondition } from './errors.ts';

/** The stream error a closing connection sends, if any. */
export interface StreamErrorInfo {
  readonly condition: StreamErrorCondition;
  readonly text?: string;
}

/** The machine's context: the protocol facts of one C2S stream (ejabberd_c2s's state map). */
export interface C2SContext {
  /** The virtual hosts served (prepared). */
  readonly hosts: readonly string[];
  readonly maxAuthFailures: number;
  /** The host of the stream (`to` of the first header), prepared. */
  readonly server: string;
  /**
   * True once SASL succeeded. The user name and the bound resource are data, not control state:
   * the connection keeps them, so that every stream of a server walks the same few snapshots
   * (which `internal/machineStep.ts` memoises).
   */
  readonly authenticated: boolean;
  readonly authFailures: number;
  /** Set when the stream closes with an error. */
  readonly streamError: StreamErrorInfo | undefined;
  /** True for a `kick` (the connection runs `sm_kick_user`). */
  readonly kicked: boolean;
  /** STARTTLS on this stream (RFC 6120 §5): not offered, offered, or required before SASL (`starttls_required`). */
  readonly starttls: StartTlsPolicy;
  /** The stream runs over TLS (direct TLS, `wss`, or after STARTTLS). */
  readonly encrypted: boolean;
}

/** Whether a listener offers STARTTLS (ejabberd's `starttls` and `starttls_required`). */
export type StartTlsPolicy = 'none' | 'optional' | 'required';

/** What creates a machine: the hosts served and the SASL failure limit. */
export interface C2SInput {
  readonly hosts: readonly string[];
  readonly maxAuthFailures: number;
  /** @default 'none' */
  readonly starttls?: StartTlsPolicy;
  /** The transport is encrypted from the start (direct TLS, `wss`). @default false */
  readonly encrypted?: boolean;
}

/**
 * The events of the c2s machine. The connection actor classifies each top-level element it
 * parses (`STREAM_HEADER`, `AUTH`, `SASL_RESPONSE`, `SASL_ABORT`, `BIND`, `STANZA`), reports the
 * outcome of the work an action started (`SASL_*`, `BOUND`, `BIND_FAILED`) and forwards what the
 * session manager and the socket tell it (`ROUTE`, `CONTROL`, `STREAM_END`, `STREAM_ERROR`,
 * `SOCKET_CLOSED`, `TIMEOUT`).
 */
export type C2SEvent =
  | { readonly type: 'STREAM_HEADER'; readonly header: Element }
  | { readonly type: 'STARTTLS' }
  | { readonly type: 'AUTH'; readonly element: Element }
  | { readonly type: 'SASL_RESPONSE'; readonly element: Element }
  | { readonly type: 'SASL_ABORT' }
  | { readonly type: 'SASL_CHALLENGE'; readonly data: string }
  | { readonly type: 'SASL_SUCCESS'; readonly user: string; readonly data: string | undefined }
  | { readonly type: 'SASL_FAILURE'; readonly condition: string; readonly text?: string }
  | { readonly type: 'BIND'; readonly iq: Element }
  | { readonly type: 'BOUND'; readonly iq: Element; readonly resource: string }
  | {
      readonly type: 'BIND_FAILED';
      readonly iq: Element;
      readonly condition: StanzaErrorCondition;
      readonly text?: string;
    }
  | { readonly type: 'STANZA'; readonly element: Element }
  | { readonly type: 'ROUTE'; readonly stanza: Element; readonly smCopy?: boolean }
  | {
      readonly type: 'CONTROL';
      readonly message: Exclude<ConnectionMessage, { type: 'route' } | { type: 'reregister' }>;
    }
  | { readonly type: 'STREAM_END' }
  | { readonly type: 'STREAM_ERROR'; readonly condition: StreamErrorCondition; readonly text?: string }
  | { readonly type: 'SOCKET_CLOSED' }
  | { readonly type: 'TIMEOUT' };

/** The state names (ejabberd_c2s / xmpp_stream_in states, plus the two where work is pending). */
export type C2SStateName =
  | 'wait_for_stream'
  | 'wait_for_starttls'
  | 'wait_for_auth'
  | 'authenticating'
  | 'wait_for_sasl_response'
  | 'wait_for_bind'
  | 'binding'
  | 'session_established'
  | 'closed';

/**
 * The named actions, each with the events it runs on: the machine declares **what** to do; the
 * connection actor does it (socket writes, SASL steps, the session manager calls). They are
 * no-ops in the machine because the connection runs it with xstate's pure `transition()` and
 * executes the returned actions itself, in order, awaiting each, through one handler per action
 * (a map typed against {@link C2SActionName}: an action without a handler, or a handler without an
 * action, does not compile). `test/c2sActions.test.ts` checks that the machine uses every action,
 * and each only on the events listed here.
 */
export interface C2SActionEvents {
  readonly sendStreamHeader: 'STREAM_HEADER';
  readonly sendAuthFeatures: 'STREAM_HEADER';
  readonly sendBindFeatures: 'STREAM_HEADER';
  /** `<proceed/>`, then the TLS handshake on the same socket; the stream restarts. */
  readonly startTls: 'STARTTLS';
  /** `<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>` before the stream closes (RFC 6120 §5.4.2.2). */
  readonly sendStartTlsFailure: 'STARTTLS';
  /** `<failure><encryption-required/></failure>`: SASL before the required STARTTLS. */
  readonly sendEncryptionRequired: 'AUTH' | 'SASL_RESPONSE';
  readonly saslStart: 'AUTH';
  readonly saslContinue: 'SASL_RESPONSE';
  readonly sendSaslChallenge: 'SASL_CHALLENGE';
  readonly sendSaslSuccess: 'SASL_SUCCESS';
  /** A failed step, or an abort (RFC 6120 §6.4.4). */
  readonly sendSaslFailure: 'SASL_FAILURE' | 'SASL_ABORT';
  readonly bind: 'BIND';
  readonly sendBindResult: 'BOUND';
  readonly sendBindError: 'BIND_FAILED';
  readonly routeOut: 'STANZA';
  readonly deliver: 'ROUTE';
  /** The exit action of `session_established`: whatever closes the stream. */
  readonly closeSession: C2SEvent['type'];
  readonly runKickHook: 'CONTROL';
  /** The entry action of `closed`: whatever closes the stream. */
  readonly closeStream: C2SEvent['type'];
}

/** The name of an action of the c2s machine. */
export type C2SActionName = keyof C2SActionEvents;

/** The event an action runs on. */
export type C2SActionEvent<A extends C2SActionName> = Extract<C2SEvent, { type: C2SActionEvents[A] }>;

const STREAMS_NS = 'http://etherx.jabber.org/streams';

/** `xmpp_stream_in:process_stream/2`'s refusal of an overlong `xml:lang` (RFC 5646 §4.4.1 asks for 35 bytes). */
const LANG_TOO_LONG: StreamErrorInfo = {
  condition: 'policy-violation',
  text: "Too long value of 'xml:lang' attribute",
};

/** Whether a stream header's `xml:lang` is longer than `xmpp_stream_in` stores (`DEFAULTS.maxLangBytes`). */
export function langTooLong(header: Element): boolean {
  const lang = header.attrs['xml:lang'];
  return typeof lang === 'string' && Buffer.byteLength(lang) > DEFAULTS.maxLangBytes;
}

function headerProblem(header: Element, hosts: readonly string[]): StreamErrorInfo | undefined {
  if (header.attrs.xmlns !== 'jabber:client' || header.attrs['xmlns:stream'] !== STREAMS_NS) {
    return { condition: 'invalid-namespace' };
  }
  const version = String(header.attrs.version ?? '');
  if (!/^1\.\d+$/.test(version)) return { condition: 'unsupported-version' };
  if (langTooLong(header)) return LANG_TOO_LONG;
  const to = String(header.attrs.to ?? '').toLowerCase();
  if (!hosts.includes(to)) return { condition: 'host-unknown' };
  return undefined;
}

const notAuthorized: StreamErrorInfo = { condition: 'not-authorized' };
/** `xmpp_stream_in:process_element/2` in `wait_for_starttls`. */
const tlsRequired: StreamErrorInfo = { condition: 'policy-violation', text: 'Use of STARTTLS required' };
const internalError: StreamErrorInfo = { condition: 'internal-server-error' };

const noop = () => {};

/** Every action of {@link C2SActionEvents}, as a no-op: exactly these names, no other. */
const ACTIONS = {
  sendStreamHeader: noop,
  sendAuthFeatures: noop,
  sendBindFeatures: noop,
  startTls: noop,
  sendStartTlsFailure: noop,
  sendEncryptionRequired: noop,
  saslStart: noop,
  saslContinue: noop,
  sendSaslChallenge: noop,
  sendSaslSuccess: noop,
  sendSaslFailure: noop,
  bind: noop,
  sendBindResult: noop,
  sendBindError: noop,
  routeOut: noop,
  deliver: noop,
  closeSession: noop,
  runKickHook: noop,
  closeStream: noop,
} satisfies Record<C2SActionName, () => void>;

const ELEMENT_EVENTS = ['STREAM_HEADER', 'AUTH', 'SASL_RESPONSE', 'SASL_ABORT', 'BIND', 'STANZA'] as const;
const RESULT_EVENTS = ['SASL_CHALLENGE', 'SASL_SUCCESS', 'SASL_FAILURE', 'BOUND', 'BIND_FAILED'] as const;

/** Transitions that close the stream with `error` for each of `events` (those not otherwise handled). */
function refuse<const E extends readonly string[]>(events: E, error: StreamErrorInfo) {
  const out: Record<string, { target: 'closed'; actions: ReturnType<typeof assign> }> = {};
  for (const e of events) out[e] = { target: 'closed', actions: assign({ streamError: error }) as never };
  return out as { [K in E[number]]: { target: 'closed'; actions: never } };
}

/**
 * The c2s state machine (xstate v5), ejabberd_c2s's
 * `wait_for_stream → wait_for_auth → wait_for_bind → session_established`, with
 * `authenticating` and `binding` while the connection does the SASL step or the bind, and a final
 * `closed` state whose entry closes the stream. Leaving `session_established` (to `closed`, for
 * any reason: stream end, error, socket loss, `replaced`, `kick`, `{exit}`, shutdown) runs
 * `closeSession`, so a session row never outlives its stream.
 *
 * Stanzas before authentication end the stream with `not-authorized` (RFC 6120 §6.4.1 and
 * §7.1); the first stream header's namespace, version and host are checked (RFC 6120 §4.9.3).
 */
export const c2sMachine = setup({
  types: {
    context: {} as C2SContext,
    events: {} as C2SEvent,
    input: {} as C2SInput,
  },
  actions: ACTIONS,
  guards: {
    badHeader: ({ context, event }) =>
      event.type === 'STREAM_HEADER' && headerProblem(event.header, context.hosts) !== undefined,
    authenticated: ({ context }) => context.authenticated,
    tooManyFailures: ({ context }) => context.authFailures + 1 >= context.maxAuthFailures,
    isKick: ({ event }) => event.type === 'CONTROL' && event.message.type === 'kick',
    needsTls: ({ context }) => context.starttls === 'required' && !context.encrypted,
    canStartTls: ({ context }) => context.starttls !== 'none' && !context.encrypted,
  },
}).createMachine({
  id: 'c2s',
  context: ({ input }) => ({
    hosts: input.hosts,
    maxAuthFailures: input.maxAuthFailures,
    server: '',
    authenticated: false,
    authFailures: 0,
    streamError: undefined,
    kicked: false,
    starttls: input.starttls ?? 'none',
    encrypted: input.encrypted ?? false,
  }),
  initial: 'wait_for_stream',
  on: {
    STREAM_END: { target: '.closed' },
    STREAM_ERROR: {
      target: '.closed',
      actions: assign({
        streamError: ({ event }) => ({
          condition: event.condition,
          ...(event.text === undefined ? {} : { text: event.text }),
        }),
      }),
    },
    SOCKET_CLOSED: { target: '.closed' },
    TIMEOUT: {
      target: '.closed',
      actions: assign({ streamError: { condition: 'connection-timeout' } }),
    },
    CONTROL: {
      target: '.closed',
      actions: assign({
        streamError: ({ event }) => {
          const spec = streamErrorFor(event.message)!;
          return { condition: spec.condition, ...(spec.text === undefined ? {} : { text: spec.text }) };
        },
      }),
    },
    // Routed stanzas before the session is established are kept by the connection (delivered
    // after the bind result) and re-routed by it once closed: the machine only ignores them.
    ROUTE: {},
    // `<starttls/>` anywhere but before SASL (or on an encrypted stream): `<failure/>`, then the
    // stream closes (`xmpp_stream_in:process_starttls_failure/2`).
    STARTTLS: { target: '.closed', actions: 'sendStartTlsFailure' },
  },
  states: {
    wait_for_stream: {
      on: {
        ...refuse(['AUTH', 'SASL_RESPONSE', 'SASL_ABORT', 'BIND', 'STANZA'] as const, notAuthorized),
        ...refuse(RESULT_EVENTS, internalError),
        STREAM_HEADER: [
          {
            guard: 'badHeader',
            target: 'closed',
            actions: [
              assign({
                server: ({ event }) => String(event.header.attrs.to ?? '').toLowerCase(),
                streamError: ({ context, event }) => headerProblem(event.header, context.hosts),
              }),
              'sendStreamHeader',
            ],
          },
          {
            guard: 'authenticated',
            target: 'wait_for_bind',
            actions: ['sendStreamHeader', 'sendBindFeatures'],
          },
          {
            // `starttls_required`: the features offer STARTTLS only.
            guard: 'needsTls',
            target: 'wait_for_starttls',
            actions: [
              assign({ server: ({ event }) => String(event.header.attrs.to).toLowerCase() }),
              'sendStreamHeader',
              'sendAuthFeatures',
            ],
          },
          {
            target: 'wait_for_auth',
            actions: [
              assign({ server: ({ event }) => String(event.header.attrs.to).toLowerCase() }),
              'sendStreamHeader',
              'sendAuthFeatures',
            ],
          },
        ],
      },
    },
    wait_for_starttls: {
      on: {
        ...refuse(ELEMENT_EVENTS, tlsRequired),
        ...refuse(RESULT_EVENTS, internalError),
        AUTH: { actions: 'sendEncryptionRequired' },
        SASL_RESPONSE: { actions: 'sendEncryptionRequired' },
        STARTTLS: { target: 'wait_for_stream', actions: [assign({ encrypted: true }), 'startTls'] },
      },
    },
    wait_for_auth: {
      on: {
        ...refuse(ELEMENT_EVENTS, notAuthorized),
        ...refuse(RESULT_EVENTS, internalError),
        AUTH: { target: 'authenticating', actions: 'saslStart' },
        STARTTLS: [
          {
            guard: 'canStartTls',
            target: 'wait_for_stream',
            actions: [assign({ encrypted: true }), 'startTls'],
          },
          { target: 'closed', actions: 'sendStartTlsFailure' },
        ],
      },
    },
    authenticating: {
      on: {
        ...refuse(ELEMENT_EVENTS, internalError),
        ...refuse(RESULT_EVENTS, internalError),
        SASL_CHALLENGE: { target: 'wait_for_sasl_response', actions: 'sendSaslChallenge' },
        SASL_SUCCESS: {
          target: 'wait_for_stream',
          actions: [assign({ authenticated: true }), 'sendSaslSuccess'],
        },
        SASL_FAILURE: [
          {
            guard: 'tooManyFailures',
            target: 'closed',
            actions: ['sendSaslFailure', assign({ streamError: notAuthorized })],
          },
          {
            target: 'wait_for_auth',
            actions: ['sendSaslFailure', assign({ authFailures: ({ context }) => context.authFailures + 1 })],
          },
        ],
      },
    },
    wait_for_sasl_response: {
      on: {
        ...refuse(ELEMENT_EVENTS, notAuthorized),
        ...refuse(RESULT_EVENTS, internalError),
        SASL_RESPONSE: { target: 'authenticating', actions: 'saslContinue' },
        // An abort is a failed exchange (RFC 6120 §6.4.4, `xmpp_stream_in` counts it): the
        // `maxAuthFailures`-th closes the stream, however the failures came.
        SASL_ABORT: [
          {
            guard: 'tooManyFailures',
            target: 'closed',
            actions: ['sendSaslFailure', assign({ streamError: notAuthorized })],
          },
          {
            target: 'wait_for_auth',
            actions: ['sendSaslFailure', assign({ authFailures: ({ context }) => context.authFailures + 1 })],
          },
        ],
      },
    },
    wait_for_bind: {
      on: {
        ...refuse(ELEMENT_EVENTS, notAuthorized),
        ...refuse(RESULT_EVENTS, internalError),
        BIND: { target: 'binding', actions: 'bind' },
      },
    },
    binding: {
      on: {
        ...refuse(ELEMENT_EVENTS, internalError),
        ...refuse(RESULT_EVENTS, internalError),
        BOUND: {
          target: 'session_established',
          actions: 'sendBindResult',
        },
        BIND_FAILED: { target: 'wait_for_bind', actions: 'sendBindError' },
      },
    },
    session_established: {
      exit: 'closeSession',
      on: {
        ...refuse(['AUTH', 'SASL_RESPONSE', 'SASL_ABORT', 'BIND', 'STREAM_HEADER'] as const, {
          condition: 'policy-violation',
          text: 'negotiation element after the session was established',
        }),
        ...refuse(RESULT_EVENTS, internalError),
        STANZA: { actions: 'routeOut' },
        ROUTE: { actions: 'deliver' },
        TIMEOUT: {},
        CONTROL: [
          {
            guard: 'isKick',
            target: 'closed',
            actions: [
              assign({
                streamError: { condition: 'policy-violation', text: 'has been kicked' },
                kicked: true,
              }),
              'runKickHook',
            ],
          },
          {
            target: 'closed',
            actions: assign({
              streamError: ({ event }) => {
                const spec = streamErrorFor(event.message)!;
                return { condition: spec.condition, ...(spec.text === undefined ? {} : { text: spec.text }) };
              },
            }),
          },
        ],
      },
    },
    closed: {
      type: 'final',
      entry: 'closeStream',
    },
  },
});
