import { describe, expect, it } from 'vitest';
import { formatCodePoint, InvalidJidError, parseJid } from '../src/index.ts';

describe('InvalidJidError', () => {
  it('has a literal name, structured fields, a readable message and cause', () => {
    const cause = new RangeError('overflow');
    const e = new InvalidJidError('local', 'prohibited_character', 'a b', { codePoint: 0x20, cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('InvalidJidError');
    expect([e.part, e.reason, e.codePoint, e.input]).toEqual(['local', 'prohibited_character', 0x20, 'a b']);
    expect(e.message).toBe('invalid JID localpart "a b": prohibited character U+0020');
    expect(e.cause).toBe(cause);
    expect(new InvalidJidError('domain', 'empty', '').codePoint).toBeUndefined();
  });
  it('truncates long inputs in the message', () => {
    const e = new InvalidJidError('resource', 'too_long', 'r'.repeat(2000));
    expect(e.message.length).toBeLessThan(120);
    expect(e.input.length).toBe(2000);
  });
  it('formats code points as U+XXXX', () => {
    expect([formatCodePoint(0x20), formatCodePoint(0x1f600)]).toEqual(['U+0020', 'U+1F600']);
  });
  it('carries the raw part that failed', () => {
    try {
      parseJid('ok@Exa mple.com/r');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ part: 'domain', input: 'Exa mple.com', codePoint: 0x20 });
    }
  });
});
