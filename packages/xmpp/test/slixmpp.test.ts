// A second, non-JavaScript client: slixmpp (Debian's python3-slixmpp, run with /usr/bin/python3)
// logs in twice and does what a desktop client does after login: roster, presence, the
// subscription handshake (its auto_authorize and auto_subscribe), disco of the server, carbons,
// blocking. Skipped loudly without slixmpp; REQUIRE_SLIXMPP=1 makes that a failure.
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { describe, expect, it } from 'vitest';
import { MemoryUserStore } from '../src/MemoryUserStore.ts';
import { modBlocking } from '../src/modBlocking.ts';
import { modCarboncopy } from '../src/modCarboncopy.ts';
import { modDisco } from '../src/modDisco.ts';
import { modOffline } from '../src/modOffline.ts';
import { modPing } from '../src/modPing.ts';
import { modPresence } from '../src/modPresence.ts';
import { modRoster } from '../src/modRoster.ts';
import { XmppServer } from '../src/XmppServer.ts';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./support/slixmppScenario.py', import.meta.url));

function canRunSlixmpp(suite: string): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import slixmpp'], { stdio: 'ignore' });
  if (r.status === 0) return true;
  const why = `${PYTHON} cannot import slixmpp (apt-get install python3-slixmpp)`;
  if (process.env.REQUIRE_SLIXMPP === '1')
    throw new Error(`REQUIRE_SLIXMPP=1 but ${why}: ${suite} cannot run`);
  process.stderr.write(`\n!!! SKIPPING ${suite}: ${why}. Set REQUIRE_SLIXMPP=1 to make this a failure.\n\n`);
  return false;
}

describe.runIf(canRunSlixmpp('slixmpp interop'))('slixmpp interop', () => {
  it('roster, the subscription handshake, presence, disco, carbons and blocking, as slixmpp sees them', async () => {
    const system = new ActorSystem({ logger: silentLogger });
    const users = new MemoryUserStore();
    for (const u of ['alice', 'bob']) await users.register(u, 'localhost', u);
    const server = await XmppServer.start({
      system,
      port: 0,
      users,
      logger: silentLogger,
      modules: [
        modPing(),
        modOffline(),
        modRoster(),
        modPresence(),
        modDisco(),
        modBlocking(),
        modCarboncopy(),
      ],
    });
    try {
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(PYTHON, [SCRIPT, String(server.address.port)], { timeout: 90_000 }, (error, out, err) =>
          error ? reject(new Error(`${error.message}\n${out}\n${err}`)) : resolve(out),
        ),
      );
      const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      expect(seen).toMatchObject({
        rosterVersioning: true,
        subscription: 'both',
        aliceSeesBob: ['slix'],
        blocklist: ['alice@localhost'],
        blockedError: 'service-unavailable',
        bobGotBlocked: false,
        bobOfflineSeen: true,
      });
      expect(seen.carbons).toContainEqual(['received', 'to slix']);
      expect(seen.serverIdentities).toEqual([['server', 'im']]);
      expect(seen.serverFeatures).toEqual(
        expect.arrayContaining([
          'http://jabber.org/protocol/disco#info',
          'urn:xmpp:ping',
          'urn:xmpp:carbons:2',
          'urn:xmpp:blocking',
          'msgoffline',
        ]),
      );
    } finally {
      await server.stop();
    }
  }, 120_000);
});
