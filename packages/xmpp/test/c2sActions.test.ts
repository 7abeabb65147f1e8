import xml from '@xmpp/xml';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type C2SActionEvents,
  type C2SActionName,
  type C2SEvent,
  c2sMachine,
  type StartTlsPolicy,
} from '../src/c2sMachine.ts';
import { type C2SActionHandlers, initialStep, step } from '../src/internal/machineStep.ts';

const HEADER = { version: '1.0', xmlns: 'jabber:client', 'xmlns:stream': 'http://etherx.jabber.org/streams' };
const stream = (to: string) => xml('stream:stream', { to, ...HEADER });
const iq = xml('iq', { type: 'set', id: 'b' });

/** Events of every type (a compile error when a type is missing), the ones tests feed the machine. */
const SAMPLES: { readonly [T in C2SEvent['type']]: readonly Extract<C2SEvent, { type: T }>[] } = {
  STREAM_HEADER: [
    { type: 'STREAM_HEADER', header: stream('localhost') },
    { type: 'STREAM_HEADER', header: stream('elsewhere') },
  ],
  AUTH: [{ type: 'AUTH', element: xml('auth') }],
  SASL_RESPONSE: [{ type: 'SASL_RESPONSE', element: xml('response') }],
  SASL_ABORT: [{ type: 'SASL_ABORT' }],
  SASL_CHALLENGE: [{ type: 'SASL_CHALLENGE', data: 'x' }],
  SASL_SUCCESS: [{ type: 'SASL_SUCCESS', user: 'alice', data: undefined }],
  SASL_FAILURE: [{ type: 'SASL_FAILURE', condition: 'not-authorized' }],
  BIND: [{ type: 'BIND', iq }],
  BOUND: [{ type: 'BOUND', iq, resource: 'r' }],
  BIND_FAILED: [{ type: 'BIND_FAILED', iq, condition: 'conflict' }],
  STANZA: [{ type: 'STANZA', element: xml('message') }],
  ROUTE: [{ type: 'ROUTE', stanza: xml('message') }],
  CONTROL: [
    { type: 'CONTROL', message: { type: 'replaced' } },
    { type: 'CONTROL', message: { type: 'kick' } },
  ],
  STREAM_END: [{ type: 'STREAM_END' }],
  STREAM_ERROR: [{ type: 'STREAM_ERROR', condition: 'not-well-formed' }],
  SOCKET_CLOSED: [{ type: 'SOCKET_CLOSED' }],
  TIMEOUT: [{ type: 'TIMEOUT' }],
  STARTTLS: [{ type: 'STARTTLS' }],
};
const ALL_EVENTS = Object.keys(SAMPLES) as C2SEvent['type'][];
const events: C2SEvent[] = Object.values(SAMPLES).flat();

/** The events each action may run on: the runtime copy of C2SActionEvents (typed against it). */
const ALLOWED: { readonly [A in C2SActionName]: readonly C2SActionEvents[A][] } = {
  sendStreamHeader: ['STREAM_HEADER'],
  sendAuthFeatures: ['STREAM_HEADER'],
  sendBindFeatures: ['STREAM_HEADER'],
  startTls: ['STARTTLS'],
  sendStartTlsFailure: ['STARTTLS'],
  sendEncryptionRequired: ['AUTH', 'SASL_RESPONSE'],
  saslStart: ['AUTH'],
  saslContinue: ['SASL_RESPONSE'],
  sendSaslChallenge: ['SASL_CHALLENGE'],
  sendSaslSuccess: ['SASL_SUCCESS'],
  sendSaslFailure: ['SASL_FAILURE', 'SASL_ABORT'],
  bind: ['BIND'],
  sendBindResult: ['BOUND'],
  sendBindError: ['BIND_FAILED'],
  routeOut: ['STANZA'],
  deliver: ['ROUTE'],
  closeSession: ALL_EVENTS,
  runKickHook: ['CONTROL'],
  closeStream: ALL_EVENTS,
};

/** Every action name the machine's configuration mentions (entry, exit, transitions). */
function actionsOfMachine(): Set<string> {
  const names = new Set<string>();
  const add = (actions: unknown): void => {
    for (const a of (Array.isArray(actions) ? actions : [actions]) as unknown[]) {
      if (typeof a === 'string') names.add(a);
      else if (typeof a === 'object' && a !== null && typeof (a as { type?: unknown }).type === 'string') {
        names.add((a as { type: string }).type);
      }
    }
  };
  const visit = (node: (typeof c2sMachine)['root']): void => {
    add(node.entry);
    add(node.exit);
    for (const transitions of node.transitions.values()) for (const t of transitions) add(t.actions);
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(c2sMachine.root);
  return names;
}

/** The login a client does, to reach the later states often. */
const login: C2SEvent[] = [
  SAMPLES.STREAM_HEADER[0]!,
  SAMPLES.AUTH[0]!,
  SAMPLES.SASL_SUCCESS[0]!,
  SAMPLES.STREAM_HEADER[0]!,
  { type: 'BIND', iq },
  { type: 'BOUND', iq, resource: 'r' },
];

describe('the c2s machine and its actions', () => {
  it('uses every action it declares, and declares every action it uses', () => {
    expect([...actionsOfMachine()].sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it('runs each action only on the events C2SActionEvents lists for it (property)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        fc.nat({ max: login.length }),
        fc.array(fc.constantFrom(...events), { maxLength: 20 }),
        fc.constantFrom<StartTlsPolicy>('none', 'optional', 'required'),
        (prefix, tail, starttls) => {
          let [snapshot] = initialStep({ hosts: ['localhost'], maxAuthFailures: 3, starttls });
          for (const event of [...login.slice(0, prefix), ...tail]) {
            if (snapshot.status === 'done') break;
            const [next, actions] = step(snapshot, event);
            for (const action of actions) {
              seen.add(action.type);
              if (!(ALLOWED[action.type] as readonly string[]).includes(event.type)) {
                throw new Error(`${action.type} ran on ${event.type}`);
              }
            }
            snapshot = next;
          }
        },
      ),
      {
        numRuns: 1000,
        // Each action at least once, whatever the random runs do.
        examples: [
          [1, [{ type: 'STARTTLS' }], 'optional'],
          [1, [SAMPLES.AUTH[0]!, { type: 'STARTTLS' }], 'required'],
          [
            2,
            [
              { type: 'SASL_CHALLENGE', data: 'c' },
              { type: 'SASL_RESPONSE', element: xml('response') },
            ],
            'none',
          ],
          [2, [{ type: 'SASL_CHALLENGE', data: 'c' }, { type: 'SASL_ABORT' }], 'none'],
          [2, [{ type: 'SASL_FAILURE', condition: 'not-authorized' }], 'none'],
          [5, [{ type: 'BIND_FAILED', iq, condition: 'conflict' }], 'none'],
          [
            6,
            [
              { type: 'STANZA', element: xml('message') },
              { type: 'ROUTE', stanza: xml('message') },
            ],
            'none',
          ],
          [6, [{ type: 'CONTROL', message: { type: 'kick' } }], 'none'],
        ],
      },
    );
    // Every action was exercised, so the check above covered each of them.
    expect([...seen].sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it('a handler map must name every action, and no other (checked when compiled)', () => {
    const noop = () => {};
    const complete: C2SActionHandlers<null> = {
      sendStreamHeader: noop,
      sendAuthFeatures: noop,
      sendBindFeatures: noop,
      startTls: noop,
      sendStartTlsFailure: noop,
      sendEncryptionRequired: (_t, e) => void e.element,
      saslStart: (_t, e) => void e.element,
      saslContinue: (_t, e) => void e.element,
      sendSaslChallenge: (_t, e) => void e.data,
      sendSaslSuccess: (_t, e) => void e.user,
      sendSaslFailure: (_t, e) => void (e.type === 'SASL_FAILURE' ? e.condition : e.type),
      bind: (_t, e) => void e.iq,
      sendBindResult: (_t, e) => void e.resource,
      sendBindError: (_t, e) => void e.condition,
      routeOut: (_t, e) => void e.element,
      deliver: (_t, e) => void e.stanza,
      closeSession: noop,
      runKickHook: (_t, e) => void e.message,
      closeStream: noop,
    };
    // @ts-expect-error an action without a handler does not compile
    const missing: C2SActionHandlers<null> = { ...complete, closeStream: undefined };
    const extra: C2SActionHandlers<null> = {
      ...complete,
      // @ts-expect-error a handler for an action the machine does not have does not compile
      sendStanzaError: noop,
    };
    // @ts-expect-error a handler reads only what its event carries (BIND has no element)
    const wrongEvent: C2SActionHandlers<null> = { ...complete, bind: (_t, e) => void e.element };
    expect([missing, extra, wrongEvent].length).toBe(3);
  });
});
