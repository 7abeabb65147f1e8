import { makeRow } from '@otp-chat/session-manager/testing';
import { describe, expect, it } from 'vitest';
import { SessionDecodeError } from '../src/errors.ts';
import { decodeSession, encodeSession } from '../src/sessionCodec.ts';

describe('sessionCodec (compact versioned JSON, as the values of ejabberd_sm_redis hashes)', () => {
  it.each([
    ['no priority, no info', makeRow('alice', 'a.example', 'r', 1)],
    [
      'negative priority and info',
      makeRow('bob', 'b.example', 'x||y', 2, { priority: -5, info: { ip: '::1' } }),
    ],
    ['odd strings', makeRow('é:|@', 'b.example', '\n"', 3, { priority: 0, node: 'n@host' })],
  ])('round-trips %s', (_label, row) => {
    const back = decodeSession(encodeSession(row));
    expect(back.sid.equals(row.sid)).toBe(true);
    expect(back.usr).toEqual(row.usr);
    expect(back.priority).toBe(row.priority);
    expect(back.info).toEqual(row.info);
  });

  it('starts with the version and omits empty info', () => {
    expect(encodeSession(makeRow('a', 'b', 'c', 1))).toBe(
      '[1,1700000000,1,"node1","node1",1,"a","b","c",null]',
    );
  });

  it.each([
    ['not JSON', '{nope'],
    ['not an array', '{"a":1}'],
    ['unknown version', '[2,1,1,"n","n",1,"a","b","c",null]'],
    ['bad priority', '[1,1,1,"n","n",1,"a","b","c","high"]'],
    ['missing fields', '[1,1,1]'],
    ['erlang term', '\u0083h\u0002'],
  ])('rejects %s with SessionDecodeError', (_label, value) => {
    expect(() => decodeSession(value)).toThrow(SessionDecodeError);
  });
});
