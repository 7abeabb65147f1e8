// Which rows a node clean-up removes, when, and with which hooks: beyond ejabberd (only
// `ejabberd_sm_mnesia` removes a dead node's rows, without hooks; the Redis and SQL backends delete
// this node's rows at their init, also without hooks), every row removed runs
// sm_remove_connection_hook, at the session manager's first start (this node's leftovers) and
// through `sm.cleanNode(node)` (a dead node, run by one survivor in a cluster); a restart of the
// actor removes nothing.
import { ActorSystem, silentLogger } from '@otp-chat/actor';
import { Hooks } from '@otp-chat/event-bus';
import { Application, Supervisor } from '@otp-chat/supervisor';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../src/MemoryBackend.ts';
import { SessionManager } from '../src/SessionManager.ts';
import { makeRow } from '../src/testing/index.ts';
import { connect, HOST } from './harness.ts';

/** Rows of this node's previous run (connections long gone) and of another node, in one store. */
function store(): MemoryBackend {
  const backend = new MemoryBackend();
  backend.setSession(makeRow('old1', HOST, 'r', 9001, { node: 'node1' }));
  backend.setSession(makeRow('old2', HOST, 'r', 9002, { node: 'node1' }));
  backend.setSession(makeRow('far', HOST, 'r', 9003, { node: 'node2' }));
  return backend;
}

function recorder(): { hooks: Hooks; removed: string[]; closed: string[] } {
  const hooks = new Hooks({ logger: silentLogger });
  const removed: string[] = [];
  hooks.add('sm_remove_connection_hook', HOST, (_sid, j) => void removed.push(j.toString()), 50);
  return { hooks, removed, closed: [] };
}

describe('node clean-up: rows removed and hooks run', () => {
  it('the first start removes this node’s leftovers, one sm_remove_connection_hook each, and leaves other nodes’ rows', async () => {
    const backend = store();
    const { hooks, removed } = recorder();
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const closed: string[] = [];
    const sm = new SessionManager({ system, hosts: [HOST], backends: { [HOST]: backend }, hooks });
    sm.events.on('session_closed', (e) => void closed.push(`${e.user}:${e.reason}`));
    const app = await Application.start({ children: [sm.childSpec()] }, { system, handleSignals: false });
    expect(removed.sort()).toEqual([`old1@${HOST}/r`, `old2@${HOST}/r`]);
    expect(closed.sort()).toEqual(['old1:node_down', 'old2:node_down']);
    expect(await sm.connectedUsers()).toEqual([`far@${HOST}/r`]);

    // A restart of the actor (a crash) removes nothing: this node's rows are live sessions now.
    const alice = await connect(sm, 'alice', 'phone');
    removed.length = 0;
    system.exit(sm.ref!, 'kill');
    await Supervisor.whichChildren(system, sm.supervisor!);
    expect(removed).toEqual([]);
    expect(await sm.getUserResources('alice', HOST)).toEqual(['phone']);

    // A dead node's rows, through sm.cleanNode (what a cluster's survivor runs).
    expect(await sm.cleanNode('node2')).toBe(1);
    expect(removed).toEqual([`far@${HOST}/r`]);
    expect(await sm.connectedUsers()).toEqual([`alice@${HOST}/phone`]);
    await system.stop(alice.ref);
    await app.stop();
  });

  it('after an orderly stop, the next start cleans again (a new run of the node)', async () => {
    const backend = store();
    const { hooks, removed } = recorder();
    const system = new ActorSystem({ node: 'node1', logger: silentLogger });
    const sm = new SessionManager({ system, hosts: [HOST], backends: { [HOST]: backend }, hooks });
    const app = await Application.start({ children: [sm.childSpec()] }, { system, handleSignals: false });
    await app.stop();
    // The memory store stopped empty; write a leftover again and start the same object anew.
    backend.setSession(makeRow('old3', HOST, 'r', 9004, { node: 'node1' }));
    removed.length = 0;
    const again = await Application.start({ children: [sm.childSpec()] }, { system, handleSignals: false });
    expect(removed).toEqual([`old3@${HOST}/r`]);
    await again.stop();
  });
});
