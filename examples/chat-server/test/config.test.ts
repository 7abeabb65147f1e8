import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, parseConfig } from '../src/config.ts';

describe('chat-server flags through node:util parseArgs', () => {
  it.each<[string, string[], Partial<typeof DEFAULT_CONFIG>]>([
    ['--flag=value', ['--port=7000', '--domain=chat.example'], { port: 7000, domain: 'chat.example' }],
    ['a -- before the flags (pnpm start -- …)', ['--', '--port', '7001'], { port: 7001 }],
    ['the last of a flag given twice', ['--port', '1', '--port', '7002'], { port: 7002 }],
    ['the admin listener off', ['--admin-port', 'off'], { adminPort: 'off' }],
    [
      'the admin listener on any port, on every address, with a token',
      ['--admin-port', '0', '--admin-host', '0.0.0.0', '--admin-token', 'a-long-enough-token'],
      { adminPort: 0, adminHost: '0.0.0.0', adminToken: 'a-long-enough-token' },
    ],
  ])('%s', (_what, argv, expected) => {
    expect(parseConfig(argv)).toEqual({ ...DEFAULT_CONFIG, ...expected });
  });

  it('-h is --help', () => {
    expect(parseConfig(['-h'])).toBe('help');
  });

  it.each<[string[], string, string]>([
    [['--port'], '--port', 'missing or invalid value'],
    [['--user'], '--user', 'missing or invalid value'],
    [['--help=yes'], '--help', 'missing or invalid value'],
    [['extra'], 'extra', 'unexpected argument'],
    [['--bogus', '1'], '--bogus', 'unknown option'],
    [['--port', '99999'], '--port', ''],
    [['--admin-port', 'on'], '--admin-port', ''],
    [['--admin-port', '70000'], '--admin-port', ''],
    [['--admin-token', 'short'], '--admin-token', 'at least 16 characters'],
  ])('%j → a ConfigError naming %s', (argv, option, why) => {
    expect(() => parseConfig(argv)).toThrow(
      expect.objectContaining({ name: 'ConfigError', option, message: expect.stringContaining(why) }),
    );
  });
});
