import xml from '@xmpp/xml';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { type C2SEvent, c2sMachine } from '../src/c2sMachine.ts';
import { initialStep, step } from '../src/internal/machineStep.ts';

const header = (to: string) =>
  xml('stream:stream', {
    to,
    version: '1.0',
    xmlns: 'jabber:client',
    'xmlns:stream': 'http://etherx.jabber.org/streams',
  });
const iq = xml('iq', { type: 'set', id: 'b' });
const events: C2SEvent[] = [
  { type: 'STREAM_HEADER', header: header('localhost') },
  { type: 'STREAM_HEADER', header: header('elsewhere') },
  { type: 'AUTH', element: xml('auth') },
  { type: 'SASL_SUCCESS', user: 'alice', data: undefined },
  { type: 'SASL_FAILURE', condition: 'not-authorized' },
  { type: 'SASL_CHALLENGE', data: 'x' },
  { type: 'SASL_RESPONSE', element: xml('response') },
  { type: 'SASL_ABORT' },
  { type: 'BIND', iq },
  { type: 'BOUND', iq, resource: 'r' },
  { type: 'BIND_FAILED', iq, condition: 'conflict' },
  { type: 'STANZA', element: xml('message') },
  { type: 'ROUTE', stanza: xml('message') },
  { type: 'CONTROL', message: { type: 'replaced' } },
  { type: 'CONTROL', message: { type: 'kick' } },
  { type: 'CONTROL', message: { type: 'system-shutdown' } },
  { type: 'CONTROL', message: { type: 'exit', reason: 'User removed' } },
  { type: 'CONTROL', message: { type: 'exit', reason: 'Bye' } },
  { type: 'STREAM_HEADER', header: header('LOCALHOST') },
  {
    type: 'STREAM_HEADER',
    header: xml('stream:stream', {
      to: 'localhost',
      version: '1.0',
      xmlns: 'jabber:server',
      'xmlns:stream': 'http://etherx.jabber.org/streams',
    }),
  },
  { type: 'STREAM_ERROR', condition: 'policy-violation', text: 'XML stanza is too big' },
  { type: 'STREAM_END' },
  { type: 'STREAM_ERROR', condition: 'not-well-formed' },
  { type: 'SOCKET_CLOSED' },
  { type: 'TIMEOUT' },
];

describe('machineStep: memoised steps on a shared inert scope behave as xstate transition()', () => {
  it('same states, contexts and action lists on random event sequences (property)', () => {
    const input = { hosts: ['localhost'], maxAuthFailures: 2 };
    const [shared] = initialStep(input);
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...events), { maxLength: 25 }), (seq) => {
        let [a] = initialTransition(c2sMachine, input);
        // One initial snapshot for every run: later runs hit what earlier runs memoised.
        let b = shared;
        for (const e of seq) {
          if (a.status === 'done') break;
          const [na, actsA] = transition(c2sMachine, a, e);
          const [nb, actsB] = step(b, e);
          a = na;
          b = nb;
          expect(nb.value).toEqual(na.value);
          expect(nb.status).toBe(na.status);
          expect(nb.context).toEqual(na.context);
          expect(actsB.map((x) => [x.type, x.params])).toEqual(actsA.map((x) => [x.type, x.params]));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('one shared initial snapshot serves interleaved connections (snapshots are immutable)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.constantFrom(...events)), { maxLength: 30 }), (seq) => {
        const input = { hosts: ['localhost'], maxAuthFailures: 2 };
        const [shared] = initialStep(input);
        const frozen = JSON.stringify({ v: shared.value, c: shared.context });
        let a = shared;
        let b = shared;
        let [refA] = initialTransition(c2sMachine, input);
        let [refB] = initialTransition(c2sMachine, input);
        for (const [which, e] of seq) {
          if (which && a.status !== 'done') {
            a = step(a, e)[0];
            refA = transition(c2sMachine, refA, e)[0];
          } else if (!which && b.status !== 'done') {
            b = step(b, e)[0];
            refB = transition(c2sMachine, refB, e)[0];
          }
        }
        expect([a.value, a.context]).toEqual([refA.value, refA.context]);
        expect([b.value, b.context]).toEqual([refB.value, refB.context]);
        expect(JSON.stringify({ v: shared.value, c: shared.context })).toBe(frozen);
      }),
      { numRuns: 200 },
    );
  });
});
