import { silentLogger } from '@otp-chat/actor';
import xml, { type Element } from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import {
  errorCondition,
  errorText,
  IqDecodeError,
  type IqHandler,
  IqHandlerTable,
  type IqRouting,
} from '../src/index.ts';

const NS = 'urn:example:q';

function recorder(): IqRouting & { routed: Element[]; logged: string[] } {
  const routed: Element[] = [];
  const logged: string[] = [];
  return {
    routed,
    logged,
    route: (stanza) => void routed.push(stanza),
    logger: { ...silentLogger, error: (_o, msg) => void logged.push(msg ?? '') },
  };
}

const iq = (type: string, ...children: Element[]) =>
  xml('iq', { type, id: 'i1', from: 'a@x/r', to: 'x' }, ...children);

describe('IqHandlerTable.handle (gen_iq_handler:handle/2)', () => {
  const handlers: Record<string, IqHandler> = {
    result: (q) => xml('iq', { type: 'result', id: q.attrs.id, to: q.attrs.from, from: q.attrs.to }),
    asyncResult: async (q) => xml('iq', { type: 'result', id: q.attrs.id, to: q.attrs.from }),
    ignore: () => 'ignore',
    decode: () => {
      throw new IqDecodeError(NS, 'Malformed query');
    },
    asyncDecode: () => Promise.reject(new IqDecodeError(NS, 'Malformed query')),
    crash: () => {
      throw new Error('boom');
    },
    asyncCrash: () => Promise.reject(new Error('boom')),
    garbage: () => 42 as unknown as Element,
  };

  // [case, handler registered for NS (or none), the IQ, expected [type, condition, text] routed, logged]
  const cases: [string, string | undefined, Element, [string, string, string][], number][] = [
    [
      'a result from the handler is routed',
      'result',
      iq('get', xml('q', { xmlns: NS })),
      [['result', '', '']],
      0,
    ],
    ['an async result too', 'asyncResult', iq('set', xml('q', { xmlns: NS })), [['result', '', '']], 0],
    ["'ignore' sends nothing", 'ignore', iq('get', xml('q', { xmlns: NS })), [], 0],
    [
      'no handler for the namespace',
      undefined,
      iq('get', xml('q', { xmlns: NS })),
      [['error', 'service-unavailable', 'No module is handling this query']],
      0,
    ],
    ['no child', 'result', iq('get'), [['error', 'bad-request', 'No child elements found']], 0],
    [
      'two children',
      'result',
      iq('get', xml('q', { xmlns: NS }), xml('q', { xmlns: NS })),
      [['error', 'bad-request', 'Too many child elements']],
      0,
    ],
    [
      'IqDecodeError thrown',
      'decode',
      iq('get', xml('q', { xmlns: NS })),
      [['error', 'bad-request', 'Malformed query']],
      0,
    ],
    [
      'IqDecodeError rejected',
      'asyncDecode',
      iq('get', xml('q', { xmlns: NS })),
      [['error', 'bad-request', 'Malformed query']],
      0,
    ],
    [
      'another throw: logged, internal-server-error',
      'crash',
      iq('get', xml('q', { xmlns: NS })),
      [['error', 'internal-server-error', 'Module failed to handle the query']],
      1,
    ],
    [
      'another rejection: logged, internal-server-error',
      'asyncCrash',
      iq('get', xml('q', { xmlns: NS })),
      [['error', 'internal-server-error', 'Module failed to handle the query']],
      1,
    ],
    ['neither a stanza nor ignore: logged, no reply', 'garbage', iq('get', xml('q', { xmlns: NS })), [], 1],
    ['an IQ result is never dispatched nor answered', 'result', iq('result', xml('q', { xmlns: NS })), [], 0],
    ['an IQ error neither', 'result', iq('error', xml('q', { xmlns: NS })), [], 0],
  ];

  it.each(cases)('%s', async (_what, handler, request, expected, logs) => {
    const table = new IqHandlerTable();
    if (handler !== undefined) table.register('x', NS, handlers[handler]!);
    const r = recorder();
    await table.handle(request, 'x', r);
    expect(r.routed.map((s) => [s.attrs.type, errorCondition(s) ?? '', errorText(s) ?? ''])).toEqual(
      expected,
    );
    for (const s of r.routed) expect(s.attrs.id).toBe('i1');
    expect(r.logged).toHaveLength(logs);
  });

  it('answers synchronously when the handler does (no promise on the memory path)', () => {
    const table = new IqHandlerTable();
    table.register('x', NS, handlers.result!);
    const r = recorder();
    expect(table.handle(iq('get', xml('q', { xmlns: NS })), 'x', r)).toBeUndefined();
    expect(r.routed).toHaveLength(1);
  });

  it('looks the handler up by the host given, not by the to attribute', async () => {
    const table = new IqHandlerTable();
    table.register('y', NS, handlers.result!);
    const r = recorder();
    await table.handle(iq('get', xml('q', { xmlns: NS })), 'y', r);
    expect(r.routed.map((s) => s.attrs.type)).toEqual(['result']);
  });
});
