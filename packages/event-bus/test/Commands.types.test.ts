// Type tests for commands, checked by `tsc -b` and run by vitest.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { type Caller, Commands, defineCommand, type InferCommand } from '../src/index.ts';

const connectedUsersNumber = defineCommand({
  name: 'test_connected_users_number',
  tags: ['session', 'statistics'],
  policy: 'admin',
  args: z.object({}),
  result: z.number().int(),
  handler: () => 2,
});

const userResources = defineCommand({
  name: 'test_user_resources',
  policy: 'user',
  args: z.object({ limit: z.number().int().optional() }),
  result: z.array(z.string()),
  handler: (args) => {
    expectTypeOf(args.user).toEqualTypeOf<string>();
    expectTypeOf(args.host).toEqualTypeOf<string>();
    expectTypeOf(args.limit).toEqualTypeOf<number | undefined>();
    return [`${args.user}@${args.host}/phone`];
  },
});

declare module '@otp-chat/event-bus' {
  interface CommandMap {
    test_connected_users_number: InferCommand<typeof connectedUsersNumber>;
    test_user_resources: InferCommand<typeof userResources>;
  }
}

function typeOnly(_body: () => unknown): void {}

describe('command typing', () => {
  it('infers handler arguments, execute arguments and results', async () => {
    const commands = new Commands();
    commands.register([connectedUsersNumber, userResources]);
    const admin: Caller = { kind: 'admin', user: 'root', host: 'example.com' };
    const alice: Caller = { kind: 'user', user: 'alice', host: 'example.com' };

    const n = await commands.execute('test_connected_users_number', {}, admin);
    expectTypeOf(n).toEqualTypeOf<number>();
    expect(n).toBe(2);

    const res = await commands.execute(userResources, {}, alice);
    expectTypeOf(res).toEqualTypeOf<string[]>();
    expect(res).toEqual(['alice@example.com/phone']);

    const byName = await commands.execute('test_user_resources', { limit: 1, user: 'bob', host: 'h' }, admin);
    expectTypeOf(byName).toEqualTypeOf<string[]>();

    const untyped = await commands.execute('not_in_the_map', {}, admin).catch(() => 'failed');
    expectTypeOf(untyped).toEqualTypeOf<unknown>();
    expect(untyped).toBe('failed');

    typeOnly(() => {
      // @ts-expect-error limit is a number
      void commands.execute('test_user_resources', { limit: 'x' }, admin);
    });
    typeOnly(() => {
      // @ts-expect-error limit is a number (spec overload)
      void commands.execute(userResources, { limit: 'x' }, alice);
    });
    typeOnly(() => {
      // @ts-expect-error a caller is required
      void commands.execute('test_connected_users_number', {});
    });
  });

  it('rejects handlers that do not match their schemas', () => {
    typeOnly(() =>
      defineCommand({
        name: 'bad_result',
        args: z.object({}),
        result: z.number(),
        // @ts-expect-error the result schema is a number
        handler: () => 'x',
      }),
    );
    typeOnly(() =>
      defineCommand({
        name: 'bad_args',
        args: z.object({ n: z.number() }),
        result: z.number(),
        // @ts-expect-error n is a number, not a string
        handler: (args: { n: string }) => args.n.length,
      }),
    );
    typeOnly(() =>
      defineCommand({
        name: 'no_user',
        policy: 'admin',
        args: z.object({}),
        result: z.string(),
        // @ts-expect-error only policy 'user' gets user and host
        handler: (args) => args.user,
      }),
    );
    expect(connectedUsersNumber.policy).toBe('admin');
  });
});
