// converse.js, served by this example, in headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a real XmppServer over WebSocket (RFC 7395): alice logs in through the
// login form, sends bob a message, and sees bob's reply rendered.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@otp-chat/actor';
import { connectClient } from '@otp-chat/xmpp/testing';
import xml from '@xmpp/xml';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../chat-server/src/config.ts';
import { startChatServer } from '../../chat-server/src/startChatServer.ts';
import { startWebChat } from '../src/webChat.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where the screenshot goes (gitignored): the test's artifact. */
const ARTIFACTS = fileURLToPath(new URL('../artifacts', import.meta.url));

function canRunBrowserTests(suite: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (process.env.REQUIRE_BROWSER === '1')
    throw new Error(`REQUIRE_BROWSER=1 but ${why}: ${suite} cannot run`);
  process.stderr.write(`\n!!! SKIPPING ${suite}: ${why}. Set REQUIRE_BROWSER=1 to make this a failure.\n\n`);
  return false;
}

describe('the web chat server', () => {
  it('serves the page and converse.js from npm, nothing outside its dist folder', async () => {
    const chat = await startWebChat({
      port: 0,
      websocketUrl: 'ws://127.0.0.1:1/xmpp-websocket',
      domain: 'localhost',
    });
    try {
      const page = await (await fetch(chat.url)).text();
      expect(page).toContain('"websocket_url":"ws://127.0.0.1:1/xmpp-websocket"');
      expect(page).toContain('<script type="module" src="/converse/converse.min.js"></script>');
      const js = await fetch(`${chat.url}converse/converse.min.js`);
      expect(js.status).toBe(200);
      expect(js.headers.get('content-type')).toContain('text/javascript');
      expect((await fetch(`${chat.url}converse/%2e%2e/package.json`)).status).toBe(404);
      expect((await fetch(`${chat.url}converse/nothing-here.js`)).status).toBe(404);
    } finally {
      await chat.close();
    }
  });
});

const browserOk = canRunBrowserTests('the web chat in Chromium');
describe.skipIf(!browserOk)(browserOk ? 'converse.js in Chromium' : 'skipped: no Chromium', () => {
  it('alice logs in, sends bob a message and sees his reply', async () => {
    // The chat server as `pnpm start` runs it (demo users alice and bob), on free ports, no TLS:
    // converse.js asks for what a chat server has (roster, disco) before it opens a chat.
    const chatServer = await startChatServer(
      { ...DEFAULT_CONFIG, port: 0, tls: false },
      { logger: silentLogger },
    );
    const server = chatServer.xmpp;
    const ws = server.addresses.websocket!;
    const chat = await startWebChat({
      port: 0,
      websocketUrl: `ws://127.0.0.1:${ws.port}/xmpp-websocket`,
      domain: 'localhost',
    });
    const bob = await connectClient({
      port: server.address.port,
      username: 'bob',
      password: 'bob',
      resource: 'desk',
      mechanism: 'default',
    });
    // Available (a message to his bare JID reaches available resources only, RFC 6121 §8.5.2).
    await bob.send(xml('presence'));
    // Bob answers the first chat message from alice.
    let answered = false;
    bob.onStanza((s) => {
      if (answered || !s.is('message') || s.getChildText('body') === null) return;
      if (!String(s.attrs.from).startsWith('alice@localhost/')) return;
      answered = true;
      void bob.send(
        xml('message', { to: s.attrs.from, type: 'chat' }, xml('body', {}, 'hello alice, bob here')),
      );
    });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox'],
    });
    try {
      // converse.js fetches the roster before it opens a chat: the chat server must answer it.
      const roster = await bob.xmpp.iqCaller
        .request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })), 5000)
        .then(
          () => true,
          () => false,
        );
      if (!roster)
        throw new Error(
          'the chat server answers no roster get (mod_roster, issue 17): converse.js cannot open a chat',
        );
      const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(chat.url);
      await page.fill('#converse-login-jid', 'alice');
      await page.fill('#converse-login-password', 'alice');
      await page.click('#converse-login button[type=submit]');
      // Logged in: the session exists on the server, over the WebSocket transport.
      await expect
        .poll(
          async () => {
            const r = await server.sm.userResources('alice', 'localhost');
            return r.length;
          },
          { timeout: 20_000 },
        )
        .toBe(1);
      const [resource] = await server.sm.userResources('alice', 'localhost');
      const info = await server.sm.getUserInfo('alice', 'localhost', resource!);
      expect(info !== 'offline' && info.info.conn).toBe('websocket');
      // Open a chat with bob (converse.js's own route) and send.
      await page.click('converse-dropdown.dropdown--contacts button');
      await page.click('a.new-chat');
      await page.fill('converse-new-chat-modal input[name=jid]', 'bob@localhost');
      await page.click('converse-new-chat-modal button[type=submit]');
      const textarea = page.locator('textarea.chat-textarea');
      await textarea.waitFor({ timeout: 20_000 });
      await textarea.fill('hi bob, from a browser');
      await textarea.press('Enter');
      const got = await bob.waitFor((s) => s.getChildText('body') === 'hi bob, from a browser', 20_000);
      expect(String(got.attrs.from)).toMatch(/^alice@localhost\//);
      // Bob's reply rendered in alice's chat.
      await page.getByText('hello alice, bob here').waitFor({ timeout: 20_000 });
      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'web-chat.png');
      await page.screenshot({ path: shot });
      process.stdout.write(`web chat screenshot: ${shot}\n`);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await bob.stop();
      await chat.close();
      await chatServer.stop();
    }
  }, 90_000);
});
