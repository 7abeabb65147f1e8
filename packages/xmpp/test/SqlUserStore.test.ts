import { BackendUnavailableError, SqlBackend, SqlClient } from '@otp-chat/sql-backend';
import {
  canRunPostgresTests,
  dropSchema,
  freePort,
  startTestPostgres,
  type TestPostgres,
  uniqueSchema,
} from '@otp-chat/sql-backend/testing';
import xml from '@xmpp/xml';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegisterError } from '../src/errors.ts';
import { SqlUserStore } from '../src/SqlUserStore.ts';
import { connectClient } from '../src/testing/index.ts';
import type { PasswordFormat } from '../src/UserStore.ts';
import { PASSWORD, startServer, USERS } from './support/server.ts';

const S = 'localhost';

describe.runIf(canRunPostgresTests('SqlUserStore'))('SqlUserStore (ejabberd users table)', () => {
  let pg: TestPostgres;
  let client: SqlClient;
  let admin: postgres.Sql;
  const schemas: string[] = [];

  beforeAll(async () => {
    pg = await startTestPostgres();
    client = new SqlClient({ url: pg.url });
    admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  });
  afterEach(async () => {
    for (const s of schemas.splice(0)) await dropSchema(pg.url, s);
  });
  afterAll(async () => {
    await admin?.end({ timeout: 1 });
    await client?.end();
    await pg?.stop();
  });

  async function store(passwordFormat: PasswordFormat = 'plain'): Promise<SqlUserStore> {
    const schema = uniqueSchema('users');
    schemas.push(schema);
    return SqlUserStore.start(client, { schema, passwordFormat, scramIterations: 64 });
  }

  function schemaOf(s: SqlUserStore): string {
    return (s as unknown as { t: string }).t.split('.')[0]!.replaceAll('"', '');
  }

  describe.each(['plain', 'scram'] as const)('passwordFormat %s', (format) => {
    it('registers, checks, gives SCRAM keys, lists and removes', async () => {
      const users = await store(format);
      expect(await users.userExists('alice', S)).toBe(false);
      expect(await users.checkPassword('alice', S, 'pw')).toBe(false);
      expect(await users.scramCredentials('alice', S)).toBeUndefined();
      await users.register('alice', S, 'pässwörd');
      await users.register('bob', S, 'x');
      await expect(users.register('alice', S, 'again')).rejects.toBeInstanceOf(RegisterError);
      expect(await users.userExists('alice', S)).toBe(true);
      expect(await users.checkPassword('alice', S, 'pässwörd')).toBe(true);
      expect(await users.checkPassword('alice', S, 'passwörd')).toBe(false);
      expect(await users.checkPassword('alice', 'other.host', 'pässwörd')).toBe(false);
      const scram = await users.scramCredentials('alice', S);
      expect(scram?.iterations).toBe(64);
      expect(scram?.storedKey).toHaveLength(20);
      expect(await users.users(S)).toEqual(['alice', 'bob']);
      expect(await users.removeUser('alice', S)).toBe(true);
      expect(await users.removeUser('alice', S)).toBe(false);
      expect(await users.users(S)).toEqual(['bob']);
    });

    it('keeps the rows ejabberd keeps for that format', async () => {
      const users = await store(format);
      await users.register('alice', S, 'pw');
      const rows = await admin.unsafe(
        `SELECT "type", "password" = 'pw' AS plaintext, serverkey <> '' AS keys, iterationcount
         FROM "${schemaOf(users)}".users ORDER BY "type"`,
      );
      const expected = [{ type: 2, plaintext: false, keys: true, iterationcount: 64 }];
      if (format === 'plain') expected.unshift({ type: 1, plaintext: true, keys: false, iterationcount: 0 });
      expect(rows).toEqual(expected);
    });
  });

  it('reads accounts ejabberd wrote: a plain row (SCRAM keys derived once and stored) and legacy type 0 rows', async () => {
    const users = await store();
    const t = `"${schemaOf(users)}".users`;
    await admin.unsafe(
      `INSERT INTO ${t} (username, server_host, "type", "password") VALUES ('erl', $1, 1, 'secret')`,
      [S],
    );
    await admin.unsafe(
      `INSERT INTO ${t} (username, server_host, "type", "password") VALUES ('old', $1, 0, 'legacy')`,
      [S],
    );
    expect(await users.checkPassword('erl', S, 'secret')).toBe(true);
    expect(await users.checkPassword('old', S, 'legacy')).toBe(true);
    const first = await users.scramCredentials('erl', S);
    const again = await users.scramCredentials('erl', S);
    expect(again?.salt.equals(first!.salt)).toBe(true); // stored, not derived per login
    const [{ n }] = (await admin.unsafe(
      `SELECT count(*)::int AS n FROM ${t} WHERE username = 'erl'`,
    )) as unknown as [{ n: number }];
    expect(n).toBe(2);
  });

  it('user names and passwords are parameters: hostile strings are stored byte-exact and harm nothing', async () => {
    const users = await store();
    const names = ["x'; DROP TABLE users; --", 'a"b\\c', '$1', 'юзер', '📱'];
    const password = (i: number) => `'); DELETE FROM users; -- ${i}`;
    for (const [i, name] of names.entries()) await users.register(name, S, password(i));
    for (const [i, name] of names.entries())
      expect(await users.checkPassword(name, S, password(i))).toBe(true);
    expect(await users.users(S)).toEqual([...names].sort());
  });

  it('two registrations of one name at once: exactly one wins', async () => {
    const users = await store();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => users.register('race', S, `pw${i}`)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(RegisterError);
    }
  });

  it('an unreachable database is a BackendUnavailableError, never "no such user"', async () => {
    const dead = new SqlClient({
      url: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
      connectTimeoutMs: 500,
    });
    const users = new SqlUserStore(dead);
    await expect(users.checkPassword('alice', S, 'pw')).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(users.userExists('alice', S)).rejects.toBeInstanceOf(BackendUnavailableError);
    await dead.end();
  });

  it('a whole deployment in one database: @xmpp/client logs in (PLAIN and SCRAM-SHA-1) and chats, sessions in sm', async () => {
    const schema = uniqueSchema('deploy');
    schemas.push(schema);
    const users = await SqlUserStore.start(client, { schema });
    const { server, port } = await startServer({ users, backend: () => new SqlBackend({ client, schema }) });
    try {
      const alice = await connectClient({ port, username: USERS[0], password: PASSWORD, resource: 'laptop' });
      const bob = await connectClient({
        port,
        username: USERS[1],
        password: PASSWORD,
        resource: 'phone',
        mechanism: 'default',
      });
      const rows = await admin.unsafe(`SELECT username, resource FROM "${schema}".sm ORDER BY username`);
      expect(rows).toEqual([
        { username: 'alice', resource: 'laptop' },
        { username: 'bob', resource: 'phone' },
      ]);
      await bob.send(xml('presence'));
      await alice.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'hi from sql')));
      const got = await bob.waitFor((s) => s.getChildText('body') === 'hi from sql');
      expect(got.attrs.from).toBe('alice@localhost/laptop');
      await alice.stop();
      await bob.stop();
    } finally {
      await server.stop();
    }
    expect(await admin.unsafe(`SELECT * FROM "${schema}".sm`)).toEqual([]);
  });
});
