import xml from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import { errorCondition, errorText } from '../src/index.ts';
import {
  makeErrorReply,
  mayAnswerWithError,
  STANZA_ERROR_TYPES,
  type StanzaErrorCondition,
} from '../src/stanzaError.ts';

const NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

describe('makeErrorReply (xmpp:make_error/2 with xmpp:err_…(Text, Lang))', () => {
  it('keeps name, id and xml:lang, swaps from and to, keeps the children and appends <error/>', () => {
    const iq = xml(
      'iq',
      { type: 'get', id: 'q1', from: 'a@x/r', to: 'x', 'xml:lang': 'fr' },
      xml('query', { xmlns: 'urn:example' }, xml('item', { n: '1' })),
    );
    const reply = makeErrorReply(iq, 'service-unavailable', 'No module is handling this query')!;
    expect(reply.toString()).toBe(
      `<iq type="error" id="q1" xml:lang="fr" to="a@x/r" from="x">` +
        `<query xmlns="urn:example"><item n="1"/></query>` +
        `<error type="cancel"><service-unavailable xmlns="${NS}"/>` +
        `<text xmlns="${NS}" xml:lang="en">No module is handling this query</text></error></iq>`,
    );
    // The children are copies: the reply can be changed without touching the request.
    expect(reply.getChild('query')).not.toBe(iq.getChild('query'));
  });

  it('a stanza without from or to gets a reply without to or from', () => {
    const reply = makeErrorReply(xml('message', { id: 'm' }, xml('body', {}, 'hi')), 'jid-malformed')!;
    expect(reply.attrs).toEqual({ id: 'm', type: 'error' });
    expect(reply.getChildText('body')).toBe('hi');
    expect(errorText(reply)).toBeUndefined();
  });

  it.each<[string, Record<string, string>, boolean]>([
    ['iq get', { type: 'get' }, true],
    ['iq set', { type: 'set' }, true],
    ['iq result', { type: 'result' }, false],
    ['iq error', { type: 'error' }, false],
  ])('%s may be answered: %s', (_what, attrs, answerable) => {
    const iq = xml('iq', attrs);
    expect(mayAnswerWithError(iq)).toBe(answerable);
    expect(makeErrorReply(iq, 'bad-request') !== undefined).toBe(answerable);
  });

  it.each<[string, Record<string, string>, boolean]>([
    ['message chat', { type: 'chat' }, true],
    ['message without type', {}, true],
    ['message error', { type: 'error' }, false],
  ])('%s may be answered: %s', (_what, attrs, answerable) => {
    expect(mayAnswerWithError(xml('message', attrs))).toBe(answerable);
  });

  // ejabberd's xmpp library: err_bad_request → modify, err_forbidden → auth, … (one row each).
  it.each(Object.entries(STANZA_ERROR_TYPES) as [StanzaErrorCondition, string][])(
    '%s is of type %s',
    (condition, type) => {
      const reply = makeErrorReply(xml('message', { to: 'b@x', from: 'a@x' }), condition, 'why')!;
      expect(reply.getChild('error')!.attrs.type).toBe(type);
      expect(errorCondition(reply)).toBe(condition);
      expect(errorText(reply)).toBe('why');
    },
  );
});
