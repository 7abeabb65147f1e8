// xml:lang as ejabberd handles it (xmpp_stream_in: select_lang/2, set_lang/2, process_stream/2):
// the stream's language is the client's header xml:lang, else the server's ("en"); the response
// header says it; every stanza from the client without an xml:lang gets it before it is routed,
// so its recipients see the sender's language; a header xml:lang longer than 35 bytes ends the
// stream with policy-violation. The server's own texts are English and marked so.
import { afterEach, describe, expect, it } from 'vitest';
import { plainAuth, RawClient, startTags } from '../src/testing/index.ts';
import type { XmppServer } from '../src/XmppServer.ts';
import { PASSWORD, startServer } from './support/server.ts';

function open(lang: string | undefined): string {
  return (
    "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' " +
    "xmlns:stream='http://etherx.jabber.org/streams'" +
    (lang === undefined ? '' : ` xml:lang='${lang}'`) +
    '>'
  );
}

/** Logs in with PLAIN and binds `resource`, on a stream whose header says `lang`. */
async function login(
  port: number,
  user: string,
  resource: string,
  lang: string | undefined,
): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.write(open(lang) + plainAuth(user, PASSWORD));
  await c.waitFor((t) => t.includes('<success'));
  c.write(
    `${open(lang)}<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
  );
  await c.waitFor((t) => /<jid>[^<]*<\/jid>/.test(t));
  return c;
}

describe('xml:lang (xmpp_stream_in: select_lang/2, set_lang/2)', () => {
  let server: XmppServer | undefined;
  let port = 0;
  const raws: RawClient[] = [];
  afterEach(async () => {
    for (const r of raws.splice(0)) r.destroy();
    await server?.stop();
    server = undefined;
  });
  async function start() {
    const s = await startServer();
    server = s.server;
    port = s.port;
  }
  async function client(user: string, resource: string, lang?: string) {
    const c = await login(port, user, resource, lang);
    raws.push(c);
    return c;
  }

  // [the sender's stream xml:lang, the message's own, what the recipient sees]
  const cases: [string | undefined, string | undefined, string][] = [
    [undefined, undefined, 'en'], // the server's language
    ['de', undefined, 'de'], // the sender's stream language
    ['de', 'fr', 'fr'], // a stanza's own language is kept
    ['de', '', 'de'], // an empty one counts as none
    ['', undefined, 'en'],
  ];
  it.each(cases)(
    'stream xml:lang %j, message xml:lang %j: the recipient sees %j',
    async (stream, own, seen) => {
      await start();
      const alice = await client('alice', 'a', stream);
      const bob = await client('bob', 'b');
      // The response header is in the stream's language.
      expect(startTags(alice.text, 'stream:stream')[0]?.['xml:lang']).toBe(
        stream === undefined || stream === '' ? 'en' : stream,
      );
      const lang = own === undefined ? '' : ` xml:lang='${own}'`;
      alice.write(`<message to='bob@localhost/b' type='chat' id='m1'${lang}><body>hallo</body></message>`);
      await bob.waitFor((t) => t.includes('hallo'));
      const [message] = startTags(bob.text, 'message');
      expect(message?.['xml:lang']).toBe(seen);
    },
  );

  it('presences and IQs get it too, and the answers the server builds keep the stanza’s', async () => {
    await start();
    const alice = await client('alice', 'a', 'de');
    // Self-presence: its echo carries the language.
    alice.write("<presence id='p1'/>");
    await alice.waitFor((t) => startTags(t, 'presence').some((p) => p.id === 'p1'));
    expect(startTags(alice.text, 'presence').find((p) => p.id === 'p1')?.['xml:lang']).toBe('de');
    // An IQ to a resource that does not exist: the error keeps the stanza's language; its text is English.
    alice.write("<iq type='get' id='q1' to='bob@localhost/none'><query xmlns='jabber:iq:version'/></iq>");
    await alice.waitFor((t) => t.includes('q1') && t.includes('service-unavailable'));
    expect(startTags(alice.text, 'iq').find((i) => i.id === 'q1')).toMatchObject({
      'xml:lang': 'de',
      type: 'error',
    });
    expect(startTags(alice.text, 'text').at(-1)?.['xml:lang']).toBe('en');
  });

  it('a header xml:lang over 35 bytes ends the stream: policy-violation "Too long value of \'xml:lang\' attribute"', async () => {
    await start();
    const c = await RawClient.connect(port);
    raws.push(c);
    c.write(open('x'.repeat(36)));
    await c.closed;
    expect(c.text).toContain('<policy-violation');
    expect(c.text).toContain(">Too long value of 'xml:lang' attribute</text>");
    expect(startTags(c.text, 'text')[0]?.['xml:lang']).toBe('en');
    // 35 bytes is fine.
    const ok = await RawClient.connect(port);
    raws.push(ok);
    ok.write(open('x'.repeat(35)));
    await ok.waitFor((t) => t.includes('<stream:features>'));
    expect(ok.text).not.toContain('policy-violation');
  });
});
