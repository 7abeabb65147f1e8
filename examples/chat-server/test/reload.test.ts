// Reloading the configuration while the server runs (ejabberd_config:reload/0): virtual hosts
// come up and go down through the global host_up and host_down hooks, new users are registered,
// maxUserSessions applies to the next logins, config_reloaded runs, and what needs a restart is
// named and left as it is. In process through ChatServer.reload, and as a user does it: SIGHUP.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@otp-chat/actor';
import { eventually } from '@otp-chat/actor/testing';
import { connectClient, RawClient, streamOpen, type TestClient } from '@otp-chat/xmpp/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../src/config.ts';
import { type ChatServer, type ReloadReport, startChatServer } from '../src/startChatServer.ts';
import { ChatNode } from './support/ChatNode.ts';
import './support/trustCertificate.ts';

const VHOST = 'chat.example';

/** Whether a stream to `domain` is refused with host-unknown. */
async function hostUnknown(port: number, domain: string): Promise<boolean> {
  const c = await RawClient.connect(port);
  c.write(streamOpen(domain));
  await c.closed;
  return c.text.includes('<host-unknown');
}

describe('ChatServer.reload', () => {
  let server: ChatServer | undefined;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.stop();
    await server?.stop();
    server = undefined;
  });
  const login = async (port: number, username: string, domain = 'localhost', resource = 'r') => {
    const password = username;
    const c = await connectClient({ port, domain, username, password, resource });
    clients.push(c);
    return c;
  };

  it('adds and removes a virtual host, registers new users, applies maxUserSessions, runs config_reloaded', async () => {
    server = await startChatServer({ ...DEFAULT_CONFIG, port: 0 }, { logger: silentLogger });
    const { port } = server.address;
    let reloaded = 0;
    server.xmpp.hooks.add('config_reloaded', 'global', () => void reloaded++, 50);
    expect(await hostUnknown(port, VHOST)).toBe(true);
    const first = await login(port, 'alice', 'localhost', 'one');

    const report: ReloadReport = await server.reload({
      ...DEFAULT_CONFIG,
      port: 9999, // needs a restart: named, not applied
      vhosts: [VHOST],
      users: [...DEFAULT_CONFIG.users, { user: 'carol', password: 'carol' }],
      maxUserSessions: 1,
    });
    expect(report).toEqual({
      hostsUp: [VHOST],
      hostsDown: [],
      usersAdded: ['carol'],
      needsRestart: ['port'],
      certificate: 'reloaded',
    });
    expect(reloaded).toBe(1);
    expect(server.config.port).toBe(0);
    expect(server.config.vhosts).toEqual([VHOST]);
    expect(server.xmpp.hosts).toEqual(['localhost', VHOST]);
    // The new user exists on every host, the old users on the new host.
    await login(port, 'carol');
    const there = await login(port, 'alice', VHOST);
    expect(there.jid).toBe(`alice@${VHOST}/r`);
    // maxUserSessions 1 now: alice's second login on localhost replaces the first.
    await login(port, 'alice', 'localhost', 'two');
    await first.offline;
    expect(first.streamErrors.map((e) => e.condition)).toEqual(['conflict']);

    const down = await server.reload({ ...server.config, vhosts: [] });
    expect(down).toEqual({
      hostsUp: [],
      hostsDown: [VHOST],
      usersAdded: [],
      needsRestart: [],
      certificate: 'reloaded',
    });
    await there.offline;
    expect(there.streamErrors.map((e) => e.condition)).toEqual(['system-shutdown']);
    expect(await hostUnknown(port, VHOST)).toBe(true);
    expect(reloaded).toBe(2);
  });
});

describe('SIGHUP reloads the configuration file of a running chat server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'otp-chat-reload-'));
  afterAll(async () => {
    await ChatNode.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Resolves with what the node printed since `from` once it includes `text` (bounded). */
  function printed(node: ChatNode, text: string, from: number): Promise<string> {
    return eventually(
      `the node to print ${JSON.stringify(text)}`,
      () => node.output.join('').slice(from),
      (out) => out.includes(text) || node.proc.exitCode !== null,
    );
  }

  it('a vhost added to the file comes up; a bad file is refused and the running configuration stays', async () => {
    const file = join(dir, 'chat.json');
    writeFileSync(file, JSON.stringify({ vhosts: [] }));
    const node = await ChatNode.start(['--config', file]);
    expect(await hostUnknown(node.port, VHOST)).toBe(true);

    writeFileSync(file, JSON.stringify({ vhosts: [VHOST], users: [{ user: 'dora', password: 'dora' }] }));
    let from = node.output.join('').length;
    node.proc.kill('SIGHUP');
    const out = await printed(node, 'configuration reloaded', from);
    expect(out).toContain(`hosts up: ${VHOST}; hosts down: none; users added: dora`);
    const dora = await connectClient({
      port: node.port,
      domain: VHOST,
      username: 'dora',
      password: 'dora',
      resource: 'r',
    });
    expect(dora.jid).toBe(`dora@${VHOST}/r`);

    writeFileSync(file, JSON.stringify({ vhosts: ['not a domain'] }));
    from = node.output.join('').length;
    node.proc.kill('SIGHUP');
    expect(await printed(node, 'configuration not reloaded', from)).toContain('vhosts[0]');
    // Still served, still connected.
    expect(dora.streamErrors).toEqual([]);
    await dora.stop();
    await node.stop();
  });
});
