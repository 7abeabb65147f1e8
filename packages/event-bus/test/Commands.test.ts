import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Caller, CommandPolicy } from '../src/Caller.ts';
import {
  AccessDeniedError,
  DuplicateCommandError,
  InvalidArgumentsError,
  InvalidResultError,
  UnknownCommandError,
} from '../src/CommandError.ts';
import { type AnyCommandSpec, defineCommand } from '../src/CommandSpec.ts';
import { Commands } from '../src/Commands.ts';
import { EventBus } from '../src/EventBus.ts';
import type { EventMap } from '../src/EventMap.ts';
import { Hooks } from '../src/Hooks.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function setup() {
  const events = new EventBus();
  const executed: EventMap['command_executed'][] = [];
  events.on('command_executed', (e) => executed.push(e));
  const hooks = new Hooks({ logger: silent, events });
  const apiCalls: unknown[][] = [];
  hooks.add('api_call', 'global', (...args) => void apiCalls.push(args), 50);
  const commands = new Commands({ hooks, events });
  return { commands, executed, apiCalls, hooks };
}

const kickUser = (version: number, result: number) =>
  defineCommand({
    name: 'kick_user',
    tags: ['session'],
    description: "Disconnect user's active sessions",
    version,
    args: z.object({ user: z.string(), host: z.string() }),
    result: z.number().int(),
    handler: () => result,
  });

describe('Commands registry (ejabberd_commands:register_commands/2, unregister_commands/1)', () => {
  it('get picks the highest version ≤ the asked one; version ≠ 0 adds the tag v<N>', () => {
    const { commands } = setup();
    commands.register([kickUser(0, 0), kickUser(2, 2)]);
    expect(commands.get('kick_user').version).toBe(2);
    expect(commands.get('kick_user', 1).version).toBe(0);
    expect(commands.get('kick_user', 2).tags).toEqual(['session', 'v2']);
    expect(commands.get('kick_user', 0).tags).toEqual(['session']);
    expect(() => commands.get('kick_user', -1)).toThrow(UnknownCommandError);
    expect(() => commands.get('nope')).toThrow(UnknownCommandError);
  });

  it('applies ejabberd defaults: version 0, policy restricted, definer unknown', () => {
    const { commands } = setup();
    commands.register(
      defineCommand({ name: 'c', args: z.object({}), result: z.null(), handler: () => null }),
    );
    expect(commands.get('c')).toMatchObject({
      version: 0,
      policy: 'restricted',
      definer: 'unknown',
      description: '',
      tags: [],
    });
  });

  it('refuses a name already registered with DuplicateCommandError, registering nothing of that call', () => {
    const { commands } = setup();
    commands.register(kickUser(0, 0));
    const other = defineCommand({ name: 'other', args: z.object({}), result: z.null(), handler: () => null });
    const attempt = () => commands.register([other, kickUser(2, 2)]);
    expect(attempt).toThrow(DuplicateCommandError);
    expect(() => commands.get('other')).toThrow(UnknownCommandError);
    expect(commands.get('kick_user').version).toBe(0);
    expect(() => commands.register([other, other])).toThrow(DuplicateCommandError);
  });

  it('unregister removes every version; list is sorted by name then version', () => {
    const { commands } = setup();
    const a = defineCommand({ name: 'a', args: z.object({}), result: z.null(), handler: () => null });
    commands.register([kickUser(2, 2), a, kickUser(0, 0)], { definer: 'ejabberd_sm' });
    expect(commands.list().map((c) => `${c.name}@${c.version}:${c.definer}`)).toEqual([
      'a@0:ejabberd_sm',
      'kick_user@0:ejabberd_sm',
      'kick_user@2:ejabberd_sm',
    ]);
    expect(commands.unregister('kick_user')).toBe(true);
    expect(commands.unregister('kick_user')).toBe(false);
    expect(commands.list().map((c) => c.name)).toEqual(['a']);
  });
});

const callers: Record<Caller['kind'], Caller> = {
  local: { kind: 'local' },
  admin: { kind: 'admin', user: 'root', host: 'example.com' },
  user: { kind: 'user', user: 'alice', host: 'example.com' },
  anonymous: { kind: 'anonymous' },
};

describe('Commands.execute policy (ejabberd_access_permissions:can_access/2; table in Caller.ts)', () => {
  const table: { policy: CommandPolicy; allowed: Caller['kind'][] }[] = [
    { policy: 'open', allowed: ['local', 'admin', 'user', 'anonymous'] },
    { policy: 'restricted', allowed: ['local'] },
    { policy: 'admin', allowed: ['local', 'admin'] },
    { policy: 'user', allowed: ['local', 'admin', 'user'] },
  ];
  for (const { policy, allowed } of table) {
    for (const kind of Object.keys(callers) as Caller['kind'][]) {
      const ok = allowed.includes(kind);
      it(`policy ${policy}, caller ${kind}: ${ok ? 'executes' : 'AccessDeniedError, nothing executed'}`, async () => {
        const { commands, apiCalls, executed } = setup();
        const calls: unknown[] = [];
        const spec: AnyCommandSpec = {
          name: 'cmd',
          policy,
          args: z.object({}),
          result: z.string(),
          handler: (args) => {
            calls.push(args);
            return 'done';
          },
        };
        commands.register(spec);
        const args = policy === 'user' && kind !== 'user' ? { user: 'bob', host: 'example.com' } : {};
        const run = commands.execute('cmd', args, callers[kind]);
        if (ok) {
          await expect(run).resolves.toBe('done');
          expect(calls).toHaveLength(1);
          expect(apiCalls).toHaveLength(1);
        } else {
          await expect(run).rejects.toBeInstanceOf(AccessDeniedError);
          expect(calls).toEqual([]);
          expect(apiCalls).toEqual([]);
        }
        expect(executed).toMatchObject([{ command: 'cmd', ok }]);
      });
    }
  }
});

describe('Commands.execute', () => {
  const userCmd = () => {
    const seen: { user: string; host: string; n: number }[] = [];
    const spec = defineCommand({
      name: 'set_count',
      policy: 'user',
      args: z.object({ n: z.number().int() }),
      result: z.string(),
      handler: (args) => {
        seen.push(args);
        return `${args.user}@${args.host}:${args.n}`;
      },
    });
    return { spec, seen };
  };

  it('policy user: injects the caller user and host (ejabberd_commands: policy = user)', async () => {
    const { commands } = setup();
    const { spec, seen } = userCmd();
    commands.register(spec);
    await expect(commands.execute(spec, { n: 3 }, callers.user)).resolves.toBe('alice@example.com:3');
    expect(seen).toEqual([{ n: 3, user: 'alice', host: 'example.com' }]);
  });

  it('policy user: a user caller naming another account is denied', async () => {
    const { commands } = setup();
    const { spec, seen } = userCmd();
    commands.register(spec);
    await expect(commands.execute(spec, { n: 1, user: 'bob' }, callers.user)).rejects.toBeInstanceOf(
      AccessDeniedError,
    );
    expect(seen).toEqual([]);
  });

  it('policy user: local and admin callers must pass user and host', async () => {
    const { commands } = setup();
    const { spec } = userCmd();
    commands.register(spec);
    const err = await commands.execute(spec, { n: 1 }, callers.admin).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentsError);
    expect((err as InvalidArgumentsError).issues.map((i) => i.path)).toEqual(['user', 'host']);
    await expect(commands.execute(spec, { n: 1, user: 'bob', host: 'h' }, callers.local)).resolves.toBe(
      'bob@h:1',
    );
  });

  it('invalid arguments: an error naming the bad field, handler and api_call not run', async () => {
    const { commands, apiCalls } = setup();
    const { spec, seen } = userCmd();
    commands.register(spec);
    const err = await commands
      .execute('set_count', { n: 'three', user: 'a', host: 'h' }, callers.local)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentsError);
    expect((err as Error).message).toMatch(/set_count.*\bn\b: Invalid input: expected number/);
    expect((err as InvalidArgumentsError).cause).toBeInstanceOf(z.ZodError);
    expect(seen).toEqual([]);
    expect(apiCalls).toEqual([]);
  });

  it('unknown command: UnknownCommandError', async () => {
    const { commands, executed } = setup();
    await expect(commands.execute('nope', {}, callers.local)).rejects.toBeInstanceOf(UnknownCommandError);
    expect(executed).toMatchObject([{ command: 'nope', ok: false }]);
  });

  it('runs the global api_call hook with (name, validated args, caller) before the handler', async () => {
    const { commands, hooks } = setup();
    const order: string[] = [];
    hooks.add(
      'api_call',
      'global',
      (name, args, caller) => {
        order.push(`hook:${name}:${JSON.stringify(args)}:${caller.kind}`);
      },
      10,
    );
    commands.register(
      defineCommand({
        name: 'echo',
        policy: 'open',
        args: z.object({ text: z.string().default('hi') }),
        result: z.string(),
        handler: ({ text }) => {
          order.push('handler');
          return text;
        },
      }),
    );
    await expect(commands.execute('echo', {}, callers.anonymous)).resolves.toBe('hi');
    expect(order).toEqual(['hook:echo:{"text":"hi"}:anonymous', 'handler']);
  });

  it('executes the version asked for, and the spec overload runs the spec own version', async () => {
    const { commands } = setup();
    const v0 = kickUser(0, 10);
    const v2 = kickUser(2, 20);
    commands.register([v0, v2]);
    const args = { user: 'a', host: 'h' };
    await expect(commands.execute('kick_user', args, callers.local)).resolves.toBe(20);
    await expect(commands.execute('kick_user', args, callers.local, 1)).resolves.toBe(10);
    await expect(commands.execute(v0, args, callers.local)).resolves.toBe(10);
  });

  it('a result that does not match the schema is an InvalidResultError; handler errors propagate', async () => {
    const { commands, executed } = setup();
    const boom = new Error('backend down');
    commands.register([
      { name: 'bad', args: z.object({}), result: z.number(), handler: () => 'x' } as AnyCommandSpec,
      defineCommand({
        name: 'fails',
        args: z.object({}),
        result: z.number(),
        handler: async () => {
          throw boom;
        },
      }),
    ]);
    await expect(commands.execute('bad', {}, callers.local)).rejects.toBeInstanceOf(InvalidResultError);
    await expect(commands.execute('fails', {}, callers.local)).rejects.toBe(boom);
    expect(executed.map((e) => [e.command, e.ok, e.error === boom])).toEqual([
      ['bad', false, false],
      ['fails', false, true],
    ]);
  });
});
