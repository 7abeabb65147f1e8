// The chat server's transports: TCP with STARTTLS, direct TLS, ws and wss out of the box, a
// self-signed certificate generated once into the data folder, certificate files reloaded.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@otp-chat/actor';
import { selfSignedCertificate } from '@otp-chat/xmpp';
import {
  type ClientTransport,
  connectClient,
  type TestClient,
  trustCertificate,
} from '@otp-chat/xmpp/testing';
import xml from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChatServerConfig, DEFAULT_CONFIG, parseConfig } from '../src/config.ts';
import { type ChatServer, startChatServer } from '../src/startChatServer.ts';

let dir: string | undefined;
const servers: ChatServer[] = [];
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop();
  for (const s of servers.splice(0)) await s.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start(config: Partial<ChatServerConfig> = {}): Promise<ChatServer> {
  dir ??= mkdtempSync(join(tmpdir(), 'otp-chat-server-'));
  const s = await startChatServer(
    { ...DEFAULT_CONFIG, port: 0, dataDir: dir, ...config },
    { logger: silentLogger },
  );
  servers.push(s);
  return s;
}

describe('chat-server transports', () => {
  it('serves TCP with STARTTLS, direct TLS, ws and wss out of the box; alice and bob chat across them', async () => {
    const s = await start();
    const cert = s.certificate!;
    expect(cert).toMatchObject({ selfSigned: true, created: true });
    expect(cert.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    trustCertificate(readFileSync(cert.files.certFile, 'utf8'));
    const a = s.addresses;
    const endpoints: Array<[ClientTransport, number]> = [
      ['xmpp', a.tcp.port],
      ['xmpps', a.directTls!.port],
      ['ws', a.websocket!.port],
      ['wss', a.websocketSecure!.port],
    ];
    const logins = await Promise.all(
      endpoints.map(async ([transport, port], i) => {
        const c = await connectClient({
          transport,
          port,
          username: i % 2 === 0 ? 'alice' : 'bob',
          password: i % 2 === 0 ? 'alice' : 'bob',
          resource: transport,
          mechanism: 'default',
        });
        clients.push(c);
        return c;
      }),
    );
    for (const from of logins) {
      for (const to of logins) {
        if (from === to) continue;
        await from.send(
          xml('message', { to: to.jid, type: 'chat' }, xml('body', {}, `${from.jid}>${to.jid}`)),
        );
      }
    }
    for (const to of logins) {
      for (const from of logins) {
        if (from !== to) await to.waitFor((st) => st.getChildText('body') === `${from.jid}>${to.jid}`);
      }
    }
    const info = await s.xmpp.sm.getUserInfo('alice', 'localhost', 'xmpp');
    expect(info !== 'offline' && info.info.conn).toBe('c2s_tls'); // @xmpp/client took STARTTLS
  });

  it('keeps the generated certificate: the next start serves the same one', async () => {
    const first = await start({ tls: true });
    const fingerprint = first.certificate!.fingerprint256;
    await first.stop();
    servers.splice(0);
    const second = await start();
    expect(second.certificate).toMatchObject({ created: false, fingerprint256: fingerprint });
  });

  it('reloads certificate files on a reload (SIGHUP), and says why when they are bad', async () => {
    dir = mkdtempSync(join(tmpdir(), 'otp-chat-server-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    const one = await selfSignedCertificate('localhost');
    const two = await selfSignedCertificate('localhost');
    writeFileSync(certFile, one.cert);
    writeFileSync(keyFile, one.key);
    const s = await start({ tlsCert: certFile, tlsKey: keyFile });
    const before = s.certificate!.fingerprint256;
    expect(s.certificate!.selfSigned).toBe(false);
    writeFileSync(certFile, two.cert);
    writeFileSync(keyFile, two.key);
    expect((await s.reload(s.config)).certificate).toBe('reloaded');
    expect(s.certificate!.fingerprint256).not.toBe(before);
    writeFileSync(keyFile, one.key); // a key that does not match
    const report = await s.reload(s.config);
    expect(report.certificate).toMatchObject({ error: expect.stringContaining('tls') });
  });

  it('--tls off: plain TCP and ws only; off ports are not opened', async () => {
    const s = await start({ tls: false, websocketPort: 'off' });
    expect(s.certificate).toBeUndefined();
    expect(s.addresses).toEqual({ tcp: s.address });
  });
});

describe('chat-server transport flags', () => {
  it.each<[string[], Partial<ChatServerConfig>]>([
    [['--tls', 'off'], { tls: false }],
    [['--tls-cert', 'c.pem', '--tls-key', 'k.pem'], { tlsCert: 'c.pem', tlsKey: 'k.pem' }],
    [['--data-dir', '/var/lib/chat'], { dataDir: '/var/lib/chat' }],
    [['--starttls-required', 'on'], { starttlsRequired: true }],
    [['--plain-without-tls', 'off'], { allowPlainWithoutTls: false }],
    [
      ['--tls-port', '15223', '--ws-port', 'off', '--wss-port', '0'],
      { directTlsPort: 15223, websocketPort: 'off', websocketSecurePort: 0 },
    ],
  ])('%j', (argv, expected) => {
    expect(parseConfig(argv)).toEqual({ ...DEFAULT_CONFIG, ...expected });
  });

  it.each([
    [['--tls', 'maybe'], '--tls'],
    [['--tls-port', 'x'], '--tls-port'],
    [['--tls-cert', 'c.pem'], '--tls-key'],
  ])('%j → a ConfigError naming %s', (argv, option) => {
    expect(() => parseConfig(argv)).toThrow(expect.objectContaining({ name: 'ConfigError', option }));
  });

  it('the same keys from a JSON file', () => {
    const file = JSON.stringify({
      tls: true,
      starttlsRequired: true,
      directTlsPort: 'off',
      websocketPort: 8080,
    });
    expect(parseConfig(['--config', 'c.json'], () => file)).toMatchObject({
      tls: true,
      starttlsRequired: true,
      directTlsPort: 'off',
      websocketPort: 8080,
    });
  });
});
