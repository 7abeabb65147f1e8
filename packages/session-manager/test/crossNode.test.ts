// Two session managers on two nodes sharing one store, joined by the actor runtime's loopback
// carrier: routing (`ejabberd_sm:route/1`), replacement and max_user_sessions
// (`check_existing_resources/4`, `check_max_sessions/2`) across nodes, the wait for a replaced
// session's DOWN through a remote monitor (`wait_for_replaced_termination/2`), and the node-down
// clean-up (`cleanNode`).
// @otp-chat/cluster runs the same between processes over Redis.
import { ActorSystem, SimulatedClock, silentLogger } from '@otp-chat/actor';
import { type LoopbackCluster, loopbackCluster } from '@otp-chat/actor/testing';
import { Hooks } from '@otp-chat/event-bus';
import { jid } from '@otp-chat/jid';
import xml, { Element } from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend, CleanNodeResult } from '../src/Backend.ts';
import { receivedText } from '../src/codecs.ts';
import { MemoryBackend } from '../src/MemoryBackend.ts';
import type { Session } from '../src/Session.ts';
import { SessionManager } from '../src/SessionManager.ts';
import { makeRow } from '../src/testing/rows.ts';
import { chat, connect, HOST, presence, settle } from './harness.ts';

let net: LoopbackCluster | undefined;
afterEach(() => {
  net?.close();
  net = undefined;
});

async function twoNodes(options: { maxUserSessions?: number; replacedConnectionTimeoutMs?: number } = {}) {
  const store = new MemoryBackend();
  const clock = new SimulatedClock(0);
  const nodes = [];
  for (const node of ['node1', 'node2']) {
    const system = new ActorSystem({ node, clock, logger: silentLogger });
    const sm = await SessionManager.start({
      system,
      hosts: [HOST],
      backends: { [HOST]: store },
      router: () => {},
      ...options,
    });
    nodes.push({ system, sm });
  }
  net = loopbackCluster(nodes.map((n) => n.system));
  return { n1: nodes[0]!, n2: nodes[1]!, store, clock, net };
}

describe('the session manager across nodes', () => {
  it('routes to a full JID and to a bare JID by priority on another node; the stanza arrives as an Element', async () => {
    const { n1, n2, net } = await twoNodes();
    const phone = await connect(n2.sm, 'alice', 'phone', { priority: 5 });
    const laptop = await connect(n1.sm, 'alice', 'laptop', { priority: 1 });
    await n1.sm.route(chat('alice@example.com/phone', 'full'));
    await n1.sm.route(chat('alice@example.com', 'bare'));
    await net.settled();
    const got = await phone.routed();
    expect(got.map((m) => m.stanza.getChildText('body'))).toEqual(['full', 'bare']);
    expect(got[0]!.stanza).toBeInstanceOf(Element);
    expect(got[0]!.stanza.attrs.to).toBe('alice@example.com/phone');
    expect(got[1]!.smCopy).toBe(false);
    expect(await laptop.routed()).toEqual([]);
  });

  it('route/2 sends a raw term with a JID in it to a session on another node', async () => {
    const { n1, n2, net } = await twoNodes();
    const phone = await connect(n2.sm, 'alice', 'phone', { closeOnControl: false });
    await n1.sm.route(jid('alice', HOST, 'phone'), { type: 'custom', who: jid('bob', HOST) });
    await net.settled();
    expect(await phone.received()).toEqual([{ type: 'custom', who: jid('bob', HOST) }]);
  });

  it('replacement: the session on the other node gets `replaced`, and openSession waits for its DOWN', async () => {
    const { n1, n2, net } = await twoNodes({ replacedConnectionTimeoutMs: 60_000 });
    const old = await connect(n1.sm, 'alice', 'r');
    // The simulated clock never moves: openSession returns only because the remote DOWN arrived.
    const fresh = await connect(n2.sm, 'alice', 'r');
    await net.settled();
    expect(await old.received()).toEqual([{ type: 'replaced' }]);
    expect(n1.system.isAlive(old.ref)).toBe(false);
    expect(await n2.sm.getSessionRef('alice', HOST, 'r')).toEqual(fresh.ref);
  });

  it('replacement: a replaced session on a node that goes down ends the wait (DOWN noconnection)', async () => {
    const { n1, n2, net } = await twoNodes({ replacedConnectionTimeoutMs: 60_000 });
    await connect(n1.sm, 'alice', 'r', { closeOnControl: false });
    const opening = connect(n2.sm, 'alice', 'r');
    await settle();
    net.disconnect('node1');
    await opening;
  });

  it('maxUserSessions: the oldest session, on the other node, gets `replaced`', async () => {
    const { n1, n2, net } = await twoNodes({ maxUserSessions: 2 });
    const oldest = await connect(n1.sm, 'alice', 'a');
    await connect(n2.sm, 'alice', 'b');
    await connect(n2.sm, 'alice', 'c');
    await net.settled();
    await settle();
    expect(oldest.inbox).toEqual([{ type: 'replaced' }]);
    expect([...(await n2.sm.getUserResources('alice', HOST))].sort()).toEqual(['b', 'c']);
  });

  it('a session on a node that is down is not sent to (ejabberd_cluster:send answers false)', async () => {
    const { n1, n2, net } = await twoNodes();
    const phone = await connect(n2.sm, 'alice', 'phone', { priority: 1, closeOnControl: false });
    net.disconnect('node2');
    expect(await n1.sm.kickUser('alice', HOST, 'phone')).toBe(false);
    net.connect('node2');
    expect(await n1.sm.kickUser('alice', HOST, 'phone')).toBe(true);
    await net.settled();
    expect(await phone.received()).toEqual([{ type: 'kick' }]);
  });
});

/** A store whose cleanNode yields its rows in batches of `size`, counting the batches asked for. */
class BatchingBackend extends MemoryBackend {
  batchesAsked = 0;
  failAfter: number | undefined;
  constructor(private readonly batchSize: number) {
    super();
  }
  // @ts-expect-error MemoryBackend narrows cleanNode to an array; this store yields batches.
  override cleanNode(node: string): CleanNodeResult {
    const rows = super.getSessions().filter((s) => s.sid.ref.node === node);
    const self = this;
    return (async function* () {
      for (let i = 0; i < rows.length; i += self.batchSize) {
        if (self.failAfter !== undefined && self.batchesAsked >= self.failAfter)
          throw new Error('store down');
        self.batchesAsked++;
        const batch = rows.slice(i, i + self.batchSize);
        for (const s of batch) self.deleteSession(s);
        yield batch;
      }
    })();
  }
}

describe('cleanNode: batches, hooks, routing meanwhile', () => {
  async function start(backend: Backend) {
    const hooks = new Hooks();
    const removed: string[] = [];
    hooks.add('sm_remove_connection_hook', HOST, (_sid, j) => void removed.push(j.toString()), 50);
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const sm = await SessionManager.start({ system, hosts: [HOST], backends: { [HOST]: backend }, hooks });
    return { sm, system, removed };
  }

  function deadRows(n: number): Session[] {
    return Array.from({ length: n }, (_, i) => makeRow(`u${i}`, HOST, 'r', i + 1, { node: 'dead' }));
  }

  it('runs the hook once per removed row, batch by batch, and routing answers between batches', async () => {
    const backend = new BatchingBackend(100);
    const { sm, removed } = await start(backend);
    for (const row of deadRows(2000)) backend.setSession(row);
    const live = await connect(sm, 'bob', 'r', { priority: 0 });
    let routedDuring = -1;
    const cleaning = sm.cleanNode('dead');
    await settle();
    await sm.route(chat('bob@example.com/r', 'during'));
    routedDuring = removed.length;
    expect(await cleaning).toBe(2000);
    expect(removed.length).toBe(2000);
    expect(new Set(removed).size).toBe(2000);
    expect(routedDuring).toBeGreaterThan(0);
    expect(routedDuring).toBeLessThan(2000);
    expect((await live.routed()).map((m) => m.stanza.getChildText('body'))).toEqual(['during']);
    expect(await sm.connectedUsers()).toEqual(['bob@example.com/r']);
  });

  it('an aborted clean-up stops between batches; a failing store rejects after the rows it removed', async () => {
    const backend = new BatchingBackend(100);
    const { sm, removed } = await start(backend);
    for (const row of deadRows(1000)) backend.setSession(row);
    const abort = new AbortController();
    const cleaning = sm.cleanNode('dead', { signal: abort.signal });
    while (removed.length === 0) await settle();
    abort.abort();
    const n = await cleaning;
    expect(n).toBe(removed.length);
    expect(n).toBeLessThan(1000);
    expect(backend.size).toBe(1000 - n);
    backend.failAfter = backend.batchesAsked + 2;
    await expect(sm.cleanNode('dead')).rejects.toThrow('store down');
    expect(removed.length).toBe(n + 200);
  });

  it('a backend that answers rows at once is handled the same way (memory backend)', async () => {
    const backend = new MemoryBackend();
    const { sm, removed } = await start(backend);
    for (const row of deadRows(1200)) backend.setSession(row);
    expect(await sm.cleanNode('dead')).toBe(1200);
    expect(removed.length).toBe(1200);
  });
});

describe('session-manager codecs', () => {
  it('stanzas and JIDs cross as text and come back equal', () => {
    const system = new ActorSystem({ node: 'x', logger: silentLogger });
    new SessionManager({ system, hosts: [HOST] });
    const stanza = xml(
      'message',
      { to: 'a@example.com/r', type: 'chat', 'xml:lang': 'en' },
      xml('body', {}, 'hi <&> "there"'),
      xml('x', { xmlns: 'urn:x' }, xml('y', {}), 'text'),
    );
    const message = { type: 'route', stanza, smCopy: true, who: jid('Bob', 'Example.com', 'R') };
    const back = system.codecs.decode(
      JSON.parse(JSON.stringify(system.codecs.encode(message))),
    ) as typeof message;
    expect(back.stanza.toString()).toBe(stanza.toString());
    expect(back.stanza).toBeInstanceOf(Element);
    expect(back.stanza.parent).toBeNull();
    expect(back.who).toEqual(jid('Bob', 'Example.com', 'R'));
    expect(back.who.lserver).toBe('example.com');
    expect(back.smCopy).toBe(true);
    // Parsed on first read: written out as received, without a parse, until then.
    const bad = system.codecs.decode({ $: 'c', t: 'xml', v: '<a><b></a>' }) as Element;
    expect(bad.toString()).toBe('<a><b></a>');
    expect(receivedText(bad)).toBe('<a><b></a>');
    expect(receivedText(stanza)).toBeUndefined();
    expect(() => bad.name).toThrow();
    expect(() => (system.codecs.decode({ $: 'c', t: 'xml', v: 'plain text' }) as Element).children).toThrow();
    expect(() => system.codecs.decode({ $: 'c', t: 'xml', v: 42 })).toThrow();
    // The reader survives bad texts and keeps working; a read element is an ordinary one.
    const p = system.codecs.decode({ $: 'c', t: 'xml', v: '<p a="1"><q>t</q></p>' }) as Element;
    expect([p.name, p.attrs.a, p.getChildText('q'), p.is('p')]).toEqual(['p', '1', 't', true]);
    expect(receivedText(p)).toBeUndefined(); // read: written by serialising it again
    expect((p.getChild('q') as Element).parent).toBe(p);
    p.c('r', { x: 'y' });
    expect(p.toString()).toBe('<p a="1"><q>t</q><r x="y"/></p>');
    // As a child of another element, it is written as part of it.
    const inner = system.codecs.decode({ $: 'c', t: 'xml', v: '<m><body>b</body></m>' }) as Element;
    expect(xml('forwarded', { xmlns: 'urn:xmpp:forward:0' }, inner).toString()).toBe(
      '<forwarded xmlns="urn:xmpp:forward:0"><m><body>b</body></m></forwarded>',
    );
    void presence;
  });
});
