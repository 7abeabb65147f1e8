import { describe, expect, it } from 'vitest';
import { childLogger, type Logger, moduleLogger, silentLogger } from '../src/index.ts';

type Line = [level: string, obj: object, msg: string | undefined];

function plain(lines: Line[]): Logger {
  const at = (level: string) => (obj: object, msg?: string) => void lines.push([level, obj, msg]);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('childLogger', () => {
  it('binds fields for a logger without child (the record wins over a binding)', () => {
    const lines: Line[] = [];
    const log = childLogger(plain(lines), { module: 'm', a: 1 });
    log.info({ a: 2, b: 3 }, 'hello');
    log.child!({ c: 4 }).error({}, 'nested');
    expect(lines).toEqual([
      ['info', { module: 'm', a: 2, b: 3 }, 'hello'],
      ['error', { module: 'm', a: 1, c: 4 }, 'nested'],
    ]);
  });

  it("uses the logger's own child when it has one (pino)", () => {
    const bound: Record<string, unknown>[] = [];
    const child = plain([]);
    const logger: Logger = {
      ...plain([]),
      child: (b) => {
        bound.push(b);
        return child;
      },
    };
    expect(childLogger(logger, { module: 'm' })).toBe(child);
    expect(bound).toEqual([{ module: 'm' }]);
  });

  it('the silent logger stays silent', () => {
    expect(childLogger(silentLogger, { module: 'm' })).toBe(silentLogger);
  });
});

describe('moduleLogger', () => {
  it('is made once per logger and module', () => {
    const root = plain([]);
    expect(moduleLogger(root, 'a')).toBe(moduleLogger(root, 'a'));
    expect(moduleLogger(root, 'a')).not.toBe(moduleLogger(root, 'b'));
  });

  it("names the innermost component only: a module logger's module logger binds to the root", () => {
    const lines: Line[] = [];
    const root = plain(lines);
    const sm = moduleLogger(root, 'session_manager');
    const backend = moduleLogger(sm, 'redis_backend');
    expect(backend).toBe(moduleLogger(root, 'redis_backend'));
    sm.warn({ x: 1 }, 'one');
    backend.warn({ x: 2 }, 'two');
    expect(lines).toEqual([
      ['warn', { module: 'session_manager', x: 1 }, 'one'],
      ['warn', { module: 'redis_backend', x: 2 }, 'two'],
    ]);
  });
});
