import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, parseConfig, workersOf } from '../src/config.ts';
import { workerNodeName } from '../src/workers.ts';

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

describe('--workers', () => {
  it.each<[string, string[], number, number]>([
    ['the memory backend: 1 (its sessions live in one process)', [], 8, 1],
    ['redis: one per core', ['--backend', 'redis'], 8, 8],
    ['redis on one core: 1', ['--backend', 'redis'], 1, 1],
    ['redis without a cluster: 1', ['--backend', 'redis', '--cluster-url', 'none'], 8, 1],
    ['postgres without a cluster: 1 (no way between nodes)', ['--backend', 'postgres'], 8, 1],
    ['postgres with a cluster: one per core', ['--backend', 'postgres', '--cluster-url', 'redis://r'], 4, 4],
    ['given: as given', ['--backend', 'redis', '--workers', '3'], 8, 3],
    ['given 1 on memory', ['--workers', '1'], 8, 1],
  ])('%s', (_what, argv, cores, expected) => {
    const config = parseConfig(argv);
    if (config === 'help') throw new Error('help');
    expect(workersOf(config, cores)).toBe(expected);
  });

  it.each<[string[], string]>([
    [['--workers', '2'], 'the memory backend'],
    [['--backend', 'postgres', '--workers', '2'], '--cluster-url'],
    [['--backend', 'redis', '--cluster-url', 'none', '--workers', '2'], '--cluster-url'],
    [['--backend', 'redis', '--workers', '0'], 'at least 1'],
    [['--backend', 'redis', '--workers', '1.5'], 'not an integer'],
    [['--backend', 'redis', '--workers', ''], ''],
  ])('%j → a ConfigError naming --workers', (argv, why) => {
    expect(() => parseConfig(argv)).toThrow(
      expect.objectContaining({
        name: 'ConfigError',
        option: '--workers',
        message: expect.stringContaining(why),
      }),
    );
  });

  it('the config file key', () => {
    const config = parseConfig(['--config', 'c.json'], () => '{"backend":"redis","workers":2}');
    expect(config).toEqual({ ...DEFAULT_CONFIG, backend: 'redis', workers: 2 });
  });

  it('worker node names: --node (or the unique default) with -w<i> in its name part', () => {
    expect(workerNodeName('chat@host-a', 2)).toBe('chat-w2@host-a');
    expect(workerNodeName('chat', 1)).toBe('chat-w1');
  });
});
