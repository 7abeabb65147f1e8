import { ActorRef } from '@otp-chat/actor';
import { Session, Sid } from '@otp-chat/session-manager';
import { makeRow } from '@otp-chat/session-manager/testing';
import { describe, expect, it } from 'vitest';
import { SqlRowDecodeError, SqlValueError } from '../src/errors.ts';
import { isUnavailableError } from '../src/internal/classify.ts';
import { decodeSmRow, encodeSmRow, type SmRow, sidPid, sidUsec } from '../src/smRow.ts';

function toRow(s: Session): SmRow {
  const [usec, pid, node, username, server_host, resource, priority, info] = encodeSmRow(s);
  return { usec, pid, node, username, server_host, resource, priority, info };
}

describe('sm row codec (ejabberd_sm_sql columns)', () => {
  it.each([
    [
      'time and counter',
      new Sid(1_700_000_000, 42, 'n1', new ActorRef('n1', 7)),
      1_700_000_000_000_042,
      '["n1",7,42]',
    ],
    [
      'a counter past 10^6 keeps usec ordered as ejabberd (mod 10^6) and whole in pid',
      new Sid(1_700_000_000, 3_000_001, 'n1', new ActorRef('n1', 7)),
      1_700_000_000_000_001,
      '["n1",7,3000001]',
    ],
    [
      'a sid made on another node than its connection',
      new Sid(5, 1, 'maker', new ActorRef('conn-node', 9)),
      5_000_001,
      '["conn-node",9,1,"maker"]',
    ],
  ])('usec and pid: %s', (_name, sid, usec, pid) => {
    expect(sidUsec(sid)).toBe(usec);
    expect(sidPid(sid)).toBe(pid);
  });

  it.each([
    ['no priority, no info', makeRow('alice', 'a.example', 'r', 1)],
    ['priority 0', makeRow('alice', 'a.example', 'r', 2, { priority: 0 })],
    ['negative priority', makeRow('alice', 'a.example', 'r', 3, { priority: -128 })],
    ['info', makeRow('alice', 'a.example', 'r', 4, { info: { conn: 'c2s', ip: '::1', carboncopy: true } })],
    [
      'SQL in every string (it is a parameter, never text)',
      makeRow("a'); DROP TABLE sm;--", "b'.example", 'r"\'\\$1', 5),
    ],
    ['non-Latin scripts and astral characters', makeRow('юзер', 'пример.рф', '手机📱', 6)],
    ['a sid of another node', new Session(new Sid(9, 1, 'x', new ActorRef('y', 3)), 'u', 's', 'r', 1)],
  ])('round-trips %s', (_name, row) => {
    const back = decodeSmRow(toRow(row));
    expect(back.sid.equals(row.sid)).toBe(true);
    expect(back.usr).toEqual(row.usr);
    expect(back.priority).toBe(row.priority);
    expect(back.info).toEqual(row.info);
  });

  it('writes priority undefined as the empty string, as enc_priority/1', () => {
    expect(encodeSmRow(makeRow('a', 's', 'r', 1))[6]).toBe('');
    expect(encodeSmRow(makeRow('a', 's', 'r', 1, { priority: 5 }))[6]).toBe('5');
  });

  it.each([
    ['NUL in a user name', makeRow('a\u0000b', 's', 'r', 1)],
    ['an unpaired surrogate in a resource', makeRow('a', 's', 'r\ud800', 1)],
  ])('refuses what text cannot hold byte-exact: %s', (_name, row) => {
    expect(() => encodeSmRow(row)).toThrow(SqlValueError);
  });

  const good = toRow(makeRow('alice', 'a.example', 'r', 1, { priority: 1 }));
  it.each([
    ['an ejabberd pid (misc:encode_pid)', { ...good, pid: '<0.123.0>' }],
    ['a pid whose node is not the node column', { ...good, node: 'other' }],
    ['a pid whose counter does not match usec', { ...good, usec: '1700000000000009' }],
    ['a bad priority', { ...good, priority: 'high' }],
    ['info that is an Erlang term', { ...good, info: '[{conn,c2s}]' }],
    ['info that is a JSON array', { ...good, info: '[]' }],
    ['a negative usec', { ...good, usec: '-1' }],
  ])('rejects %s with SqlRowDecodeError', (_name, row) => {
    expect(() => decodeSmRow(row)).toThrow(SqlRowDecodeError);
  });
});

describe('driver failures: unavailable or command error', () => {
  const pgError = (code: string) => Object.assign(new Error('x'), { name: 'PostgresError', code });
  it.each([
    ['ECONNREFUSED', Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), true],
    ['CONNECTION_CLOSED', Object.assign(new Error('x'), { code: 'CONNECTION_CLOSED' }), true],
    ['CONNECT_TIMEOUT', Object.assign(new Error('x'), { code: 'CONNECT_TIMEOUT' }), true],
    ['08006 connection failure', pgError('08006'), true],
    ['57P01 admin shutdown', pgError('57P01'), true],
    ['57P03 starting up', pgError('57P03'), true],
    ['53300 too many connections', pgError('53300'), true],
    ['57014 statement cancelled (timeout)', pgError('57014'), true],
    ['23505 unique violation', pgError('23505'), false],
    ['42P01 undefined table', pgError('42P01'), false],
    ['22P02 bad input', pgError('22P02'), false],
    ['the driver refusing a value', Object.assign(new Error('x'), { code: 'UNDEFINED_VALUE' }), false],
    ['a plain error', new Error('x'), false],
  ])('%s', (_name, error, unavailable) => {
    expect(isUnavailableError(error)).toBe(unavailable);
  });
});
