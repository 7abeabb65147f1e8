import { capturingLogger, type LoggedLine } from '@otp-chat/actor/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient } from '../src/testing/index.ts';
import type { XmppServer } from '../src/XmppServer.ts';
import { startServer } from './support/server.ts';

let server: XmppServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('every record of the XMPP server names its component (module)', () => {
  it('a failed login is logged by module c2s, on the logger the server was given', async () => {
    const lines: LoggedLine[] = [];
    ({ server } = await startServer({ logger: capturingLogger(lines) }));
    await expect(
      connectClient({ port: server.address.port, username: 'alice', password: 'wrong' }),
    ).rejects.toMatchObject({ name: 'SASLError', condition: 'not-authorized' });
    const failed = lines.find((l) => l.msg === 'c2s: authentication failed');
    expect(failed?.obj).toMatchObject({ module: 'c2s', user: 'alice' });
    // Nothing is logged without a module.
    expect(lines.filter((l) => typeof l.obj.module !== 'string')).toEqual([]);
  });
});
