import type { Logger } from '@otp-chat/actor';
import xml from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionManager } from '../src/SessionManager.ts';
import { HOST, startSm } from './harness.ts';

type Line = { level: string; obj: Record<string, unknown>; msg: string | undefined };

function capturing(lines: Line[]): Logger {
  const at = (level: string) => (obj: object, msg?: string) =>
    void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

let sm: SessionManager | undefined;
afterEach(async () => {
  await sm?.stop();
  sm = undefined;
});

describe('the session manager logs to the logger it is given, naming its components', () => {
  it('its default Hooks logs a failing hook handler there, as module hooks', async () => {
    const lines: Line[] = [];
    ({ sm } = await startSm({ logger: capturing(lines) }));
    sm.hooks.add(
      'sm_kick_user',
      HOST,
      () => {
        throw new Error('handler failed');
      },
      50,
    );
    await sm.hooks.run('sm_kick_user', HOST, 'u', HOST);
    const failure = lines.find(
      (l) => l.level === 'error' && (l.obj.err as Error | undefined)?.message === 'handler failed',
    );
    expect(failure?.obj.module).toBe('hooks');
  });

  it('its own records are module session_manager (an IQ handler that throws)', async () => {
    const lines: Line[] = [];
    let replies: unknown[];
    ({ sm, replies } = await startSm({ logger: capturing(lines) }));
    sm.registerIqHandler(HOST, 'urn:example', () => {
      throw new Error('boom');
    });
    await sm.route(
      xml(
        'iq',
        { type: 'get', id: 'i', to: `u@${HOST}`, from: `v@${HOST}/r` },
        xml('q', { xmlns: 'urn:example' }),
      ),
    );
    expect(replies).toHaveLength(1);
    const failed = lines.find((l) => l.msg === 'IQ handler failed');
    expect(failed?.obj.module).toBe('session_manager');
  });
});
