// The soak, short (the full one, 200 sessions for 30 s with RSS figures, is `pnpm bench:soak`):
// sessions flood each other and a few sessions that do not read; every message is delivered,
// stored offline or bounced, none missing, and no reading session is closed.
import type { Element } from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import { MemoryUserStore } from '../src/MemoryUserStore.ts';
import { modOffline } from '../src/modOffline.ts';
import { modPing } from '../src/modPing.ts';
import { runSoak } from '../src/testing/index.ts';
import { PASSWORD, startServer } from './support/server.ts';

describe('soak (short)', () => {
  it('20 sessions, 2 not reading, 4000 messages of 4 KiB: every one delivered, stored offline or bounced', async () => {
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
    const store = new MemoryUserStore();
    for (const u of users) store.register(u, 'localhost', PASSWORD);
    const offline = modOffline({ maxMessages: 300 });
    const { server } = await startServer({
      users: store,
      modules: [modPing(), offline],
      maxSendQueueBytes: 64 * 1024,
      closeTimeoutMs: 300,
    });
    try {
      const report = await runSoak({
        port: server.address.port,
        users,
        password: () => PASSWORD,
        nonReading: 2,
        durationMs: 20_000,
        maxMessages: 4000,
        ratePerSender: Number.POSITIVE_INFINITY,
        bodyBytes: 4096,
        toNonReading: 0.8,
        offlineIds: () =>
          users.flatMap((u) =>
            (offline.store.peek(u, 'localhost') as Element[]).map((m) => String(m.attrs.id)),
          ),
      });
      expect(report.sent).toBe(4000);
      expect(report.missingIds).toEqual([]);
      expect(report.delivered + report.offline + report.bounced).toBeGreaterThanOrEqual(4000);
      expect(report.closedReading).toBe(0);
    } finally {
      await server.stop();
    }
  });
});
