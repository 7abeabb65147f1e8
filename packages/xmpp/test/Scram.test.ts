import { describe, expect, it } from 'vitest';
import { parsePlain } from '../src/SaslPlain.ts';
import { type ScramCredentials, type ScramHash, ScramServer, scramCredentials } from '../src/Scram.ts';
import { ScramClient } from './support/scramClient.ts';

// RFC 5802 §5: user "user", password "pencil".
const SALT = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
const CLIENT_FIRST = 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL';
const SERVER_FIRST = 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096';
const CLIENT_FINAL = 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=';
const SERVER_FINAL = 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=';

function server(creds: ScramCredentials | undefined = scramCredentials('pencil', SALT, 4096)) {
  return new ScramServer((u) => (u === 'user' ? creds : undefined), {
    nonce: () => '3rfcNHYJY1ZVvWVs7j',
  });
}

describe('ScramServer (RFC 5802 §5 test vector)', () => {
  it('produces the RFC server-first and server-final messages', async () => {
    const s = server();
    expect(await s.start(CLIENT_FIRST)).toEqual({ type: 'challenge', data: SERVER_FIRST });
    expect(s.finish(CLIENT_FINAL)).toEqual({ type: 'success', data: SERVER_FINAL, username: 'user' });
  });

  it('a wrong password (proof) → not-authorized', async () => {
    const s = server(scramCredentials('pencil2', SALT, 4096));
    await s.start(CLIENT_FIRST);
    expect(s.finish(CLIENT_FINAL)).toEqual({ type: 'failure', condition: 'not-authorized' });
  });

  it('an unknown user still gets a challenge, then not-authorized', async () => {
    const s = new ScramServer(() => undefined, { nonce: () => 'x' });
    const step = await s.start(CLIENT_FIRST);
    expect(step.type).toBe('challenge');
    expect(s.finish(CLIENT_FINAL)).toEqual({ type: 'failure', condition: 'not-authorized' });
  });

  const bad: Array<[string, string, string]> = [
    [
      'channel binding requested on a mechanism without -PLUS',
      'p=tls-unique,,n=user,r=abc',
      'malformed-request',
    ],
    ['no nonce', 'n,,n=user', 'malformed-request'],
    ['bad escape in name', 'n,,n=us=er,r=abc', 'malformed-request'],
    ['mandatory extension', 'n,,m=ext,n=user,r=abc', 'malformed-request'],
    ['authzid not allowed', 'n,a=admin,n=user,r=abc', 'invalid-authzid'],
  ];
  it.each(bad)('client-first %s → %s', async (_n, first, condition) => {
    expect(await server().start(first)).toEqual({ type: 'failure', condition });
  });

  it('a tampered nonce or channel-binding field → not-authorized', async () => {
    const s1 = server();
    await s1.start(CLIENT_FIRST);
    expect(s1.finish(CLIENT_FINAL.replace('r=fyko', 'r=fyk0')).type).toBe('failure');
    const s2 = server();
    await s2.start(CLIENT_FIRST);
    expect(s2.finish(CLIENT_FINAL.replace('c=biws', 'c=eSws'))).toEqual({
      type: 'failure',
      condition: 'not-authorized',
    });
  });

  it('unescapes =2C and =3D in the user name (RFC 5802 §5.1)', async () => {
    const seen: string[] = [];
    const s = new ScramServer((u) => {
      seen.push(u);
      return undefined;
    });
    await s.start('n,,n=a=2Cb=3Dc,r=abc');
    expect(seen).toEqual(['a,b=c']);
  });
});

describe('ScramServer with SHA-256 (RFC 7677 §3 test vector) and SHA-512', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  it('produces the RFC 7677 server-first and server-final messages', async () => {
    const s = new ScramServer(
      (u) => (u === 'user' ? scramCredentials('pencil', salt, 4096, 'sha256') : undefined),
      { hash: 'sha256', nonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' },
    );
    expect(await s.start('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')).toEqual({
      type: 'challenge',
      data: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    });
    expect(
      s.finish(
        'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      ),
    ).toEqual({ type: 'success', data: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', username: 'user' });
  });

  it.each<ScramHash>(['sha1', 'sha256', 'sha512'])(
    '%s: a client written from RFC 5802 logs in and checks the server',
    async (hash) => {
      const s = new ScramServer(() => scramCredentials('pencil', salt, 4096, hash), { hash });
      const c = new ScramClient(hash, 'user', 'pencil', 'abcdef');
      const first = await s.start(c.first);
      if (first.type !== 'challenge') throw new Error('no challenge');
      const last = s.finish(c.final(first.data));
      expect(last.type).toBe('success');
      expect(last.type === 'success' && c.verify(last.data)).toBe(true);
    },
  );

  it('keys of another hash never verify (SHA-1 keys for a SHA-256 exchange)', async () => {
    const s = new ScramServer(() => scramCredentials('pencil', salt, 4096, 'sha1'), { hash: 'sha256' });
    const c = new ScramClient('sha256', 'user', 'pencil', 'abcdef');
    const first = await s.start(c.first);
    expect(first.type === 'challenge' && s.finish(c.final(first.data))).toEqual({
      type: 'failure',
      condition: 'not-authorized',
    });
  });
});

describe('ScramServer channel binding (RFC 5802 §6, RFC 5929, RFC 9266)', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const ours = Buffer.from('the channel of this connection');
  const bindings = (type: string) => (type === 'tls-server-end-point' ? ours : undefined);
  /** One exchange: the server's options, the client's GS2 header and binding data; the outcome. */
  async function exchange(
    options: { plus: boolean; bind: boolean },
    gs2: string,
    cbind: Buffer = Buffer.alloc(0),
  ): Promise<string> {
    const s = new ScramServer(() => scramCredentials('pencil', salt, 4096, 'sha256'), {
      hash: 'sha256',
      plus: options.plus,
      ...(options.bind ? { channelBinding: bindings } : {}),
    });
    const c = new ScramClient('sha256', 'user', 'pencil', 'abcdef', gs2, cbind);
    const first = await s.start(c.first);
    if (first.type !== 'challenge') return first.type === 'failure' ? first.condition : first.type;
    const last = s.finish(c.final(first.data));
    return last.type === 'failure' ? last.condition : last.type;
  }
  const cases: Array<[string, { plus: boolean; bind: boolean }, string, Buffer | undefined, string]> = [
    ['-PLUS bound to this channel', { plus: true, bind: true }, 'p=tls-server-end-point,,', ours, 'success'],
    [
      '-PLUS bound to another channel (a man in the middle)',
      { plus: true, bind: true },
      'p=tls-server-end-point,,',
      Buffer.from('another channel'),
      'not-authorized',
    ],
    [
      '-PLUS with a type this connection lacks',
      { plus: true, bind: true },
      'p=tls-unique,,',
      ours,
      'malformed-request',
    ],
    ['-PLUS without binding (n)', { plus: true, bind: true }, 'n,,', undefined, 'malformed-request'],
    [
      '-PLUS where there is no TLS',
      { plus: true, bind: false },
      'p=tls-server-end-point,,',
      ours,
      'malformed-request',
    ],
    [
      'plain mechanism, n, where binding is possible',
      { plus: false, bind: true },
      'n,,',
      undefined,
      'success',
    ],
    [
      'plain mechanism, y, where binding is possible (a downgrade)',
      { plus: false, bind: true },
      'y,,',
      undefined,
      'not-authorized',
    ],
    ['plain mechanism, y, without TLS', { plus: false, bind: false }, 'y,,', undefined, 'success'],
    [
      'plain mechanism, p=',
      { plus: false, bind: true },
      'p=tls-server-end-point,,',
      ours,
      'malformed-request',
    ],
  ];
  it.each(cases)('%s', async (_name, options, gs2, cbind, outcome) => {
    expect(await exchange(options, gs2, cbind)).toBe(outcome);
  });
});

describe('parsePlain (RFC 4616 §2)', () => {
  const enc = (s: string) => Buffer.from(s);
  const cases: Array<[string, string, ReturnType<typeof parsePlain>]> = [
    ['no authzid', '\0alice\0secret', { authzid: '', authcid: 'alice', password: 'secret' }],
    [
      'authzid',
      'alice@localhost\0alice\0secret',
      { authzid: 'alice@localhost', authcid: 'alice', password: 'secret' },
    ],
    [
      'SASLprep maps soft hyphen to nothing (RFC 4013 §2.2)',
      '\0al\u00adice\0pass\u00a0word',
      { authzid: '', authcid: 'alice', password: 'pass word' },
    ],
    ['one NUL', 'alice\0secret', undefined],
    ['three NULs', '\0a\0b\0c', undefined],
    ['empty password', '\0alice\0', undefined],
    ['prohibited character', '\0alice\0se\u0007cret', undefined],
  ];
  it.each(cases)('%s', (_n, input, expected) => {
    expect(parsePlain(enc(input))).toEqual(expected);
  });
});
