import { describe, expect, it } from 'vitest';
import { parsePlain } from '../src/SaslPlain.ts';
import { type ScramCredentials, ScramServer, scramCredentials } from '../src/Scram.ts';

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
    ['channel binding requested', 'p=tls-unique,,n=user,r=abc', 'malformed-request'],
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
