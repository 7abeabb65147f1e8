import { capturingLogger, type LoggedLine } from '@otp-chat/actor/testing';
import xml from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionManager } from '../src/SessionManager.ts';
import { HOST, startSm } from './harness.ts';

let sm: SessionManager | undefined;
afterEach(async () => {
  await sm?.stop();
  sm = undefined;
});

describe('the session manager logs to the logger it is given, naming its components', () => {
  it('its default Hooks logs a failing hook handler there, as module hooks', async () => {
    const lines: LoggedLine[] = [];
    ({ sm } = await startSm({ logger: capturingLogger(lines) }));
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
    const lines: LoggedLine[] = [];
    let replies: unknown[];
    ({ sm, replies } = await startSm({ logger: capturingLogger(lines) }));
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
