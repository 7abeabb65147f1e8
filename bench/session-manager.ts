// Benchmark of @otp-chat/session-manager against a bare Map keyed by full JID (same run).
// Run: pnpm bench:session-manager  (node --expose-gc gives a meaningful session-heap figure:
// `node --expose-gc --import tsx bench/session-manager.ts`).
// route-full / route-bare3 deliver into real connection actors' mailboxes. The flatness case uses
// refs on another node (delivery through a counting remoteSend) because a million actors would
// dominate the heap. `RATIO flat` routes to the same 1 k active users with 1 k and with 1 M sessions
// stored (how the structures scale with the table); `RATIO flat-uniform` routes to uniformly random
// users among 1 M (memory-bound: every lookup misses the CPU caches), printed with a bare Map's
// ratio on the same targets as the physical reference.
import { ActorRef, ActorSystem, silentLogger } from '@otp-chat/actor';
import { type Element, MemoryBackend, SessionManager, xml } from '@otp-chat/session-manager';
import { figure, header, heapUsed, type Measurement, measure, ratio, table } from './lib.ts';

const HOST = 'example.com';
const SETTLE = () => new Promise<void>((r) => setImmediate(r));

async function drain(): Promise<void> {
  for (let i = 0; i < 3; i++) await SETTLE();
}

/** Times `ops` synchronous calls of `op` (mailbox drained between rounds, untimed); median of rounds. */
async function measureSync(
  name: string,
  ops: number,
  rounds: number,
  op: (i: number) => void,
): Promise<Measurement> {
  const samples: number[] = [];
  for (let r = -1; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) op(i);
    const ns = Number(process.hrtime.bigint() - start);
    if (r >= 0) samples.push(ns / ops);
    await drain();
  }
  samples.sort((a, b) => a - b);
  const nsPerOp = samples[Math.floor(samples.length / 2)]!;
  return { name, nsPerOp, opsPerSec: 1e9 / nsPerOp };
}

async function main(): Promise<void> {
  header('session-manager: ejabberd_sm port, memory backend, vs a bare Map keyed by full JID');
  const system = new ActorSystem({ node: 'bench', logger: silentLogger });
  const sm = await SessionManager.start({ system, hosts: [HOST] });
  let delivered = 0;
  const conn = () =>
    system.spawn<null, void, never, unknown, never, unknown>(
      {
        init: () => ({ ok: null }),
        handleInfo: (_m, state) => {
          delivered++;
          return { noreply: true, state };
        },
      },
      undefined,
    );
  const rows: Measurement[] = [];

  // ---- open-close vs Map set + delete ----
  const N = 100_000;
  const users = Array.from({ length: N }, (_, i) => `user${i}`);
  const fulls = users.map((u) => `${u}@${HOST}/r`);
  const ref = await conn();
  const map = new Map<string, ActorRef>();
  const baseOC = await measure('bare Map set+delete (full JID key)', { ops: N, rounds: 7 }, (ops) => {
    for (let i = 0; i < ops; i++) {
      const k = fulls[i]!;
      map.set(k, ref);
      map.delete(k);
    }
  });
  const smOC = await measure('openSession+closeSession (memory)', { ops: N, rounds: 7 }, (ops) => {
    for (let i = 0; i < ops; i++) {
      const u = users[i]!;
      const sid = sm.makeSid(ref);
      sm.openSession(sid, u, HOST, 'r');
      sm.closeSession(sid, u, HOST, 'r');
    }
  });
  rows.push(baseOC, smOC);

  // ---- route to a full JID / to a bare JID with 3 resources ----
  const targets = 1000;
  const fullStanzas: Element[] = [];
  const bareStanzas: Element[] = [];
  for (let i = 0; i < targets; i++) {
    const r = await conn();
    const u = `target${i}`;
    const sid = sm.makeSid(r);
    await sm.openSession(sid, u, HOST, 'main');
    await sm.setPresence(sid, u, HOST, 'main', 5, xml('presence'));
    fullStanzas.push(
      xml(
        'message',
        { to: `${u}@${HOST}/main`, from: 'bob@x.example/r', type: 'chat' },
        xml('body', {}, 'hi'),
      ),
    );
    const b = `multi${i}`;
    for (let k = 0; k < 3; k++) {
      const rk = await conn();
      const sk = sm.makeSid(rk);
      await sm.openSession(sk, b, HOST, `res${k}`);
      await sm.setPresence(sk, b, HOST, `res${k}`, k, xml('presence'));
    }
    bareStanzas.push(
      xml('message', { to: `${b}@${HOST}`, from: 'bob@x.example/r', type: 'chat' }, xml('body', {}, 'hi')),
    );
  }
  const baseRoute = await measureSync('bare Map get + system.send', 200_000, 7, (i) => {
    const r = map.get(fulls[i % targets]!) ?? ref;
    system.send(r, { type: 'route', stanza: fullStanzas[i % targets], smCopy: false });
  });
  delivered = 0;
  const routeFull = await measureSync('route chat to full JID', 200_000, 7, (i) => {
    sm.route(fullStanzas[i % targets]!);
  });
  await drain();
  if (delivered === 0) throw new Error('route-full delivered nothing');
  delivered = 0;
  const routeBare = await measureSync('route chat to bare JID, 3 resources', 200_000, 7, (i) => {
    sm.route(bareStanzas[i % targets]!);
  });
  await drain();
  if (delivered === 0) throw new Error('route-bare3 delivered nothing');
  rows.push(baseRoute, routeFull, routeBare);
  await sm.stop();

  // ---- heap per session at 1 M sessions, and flatness 1 k vs 1 M ----
  const M = 1_000_000;
  const backend = new MemoryBackend();
  let remoteDelivered = 0;
  const big = await SessionManager.start({
    system,
    hosts: [HOST],
    backends: { [HOST]: backend },
    name: 'sm_big',
    // Connections live on another node (refs built without actors): deliveries go through remoteSend.
    remoteSend: () => {
      remoteDelivered++;
      return true;
    },
  });
  const bigUsers = Array.from({ length: M }, (_, i) => `member${i}`);
  const refs = Array.from({ length: M }, (_, i) => new ActorRef('conn-node', i + 1));
  const probe = Array.from({ length: 50_000 }, (_, i) =>
    xml('message', { to: `member${(i * 7919) % 1000}@${HOST}/r`, type: 'chat' }, xml('body', {}, 'x')),
  );
  const probeBig = Array.from({ length: 50_000 }, (_, i) =>
    xml('message', { to: `member${(i * 7919) % M}@${HOST}/r`, type: 'chat' }, xml('body', {}, 'x')),
  );
  // The physics reference for flatness: a bare Map keyed by full JID, same targets, same pattern.
  const flatMap = new Map<string, ActorRef>();
  const probeTo = probe.map((p) => String(p.attrs.to));
  const probeBigTo = probeBig.map((p) => String(p.attrs.to));
  const mapLookup = (to: string) => {
    const r = flatMap.get(to);
    if (r !== undefined) remoteDelivered++;
  };
  for (let i = 0; i < 1000; i++) {
    big.openSession(big.makeSid(refs[i]!), bigUsers[i]!, HOST, 'r', 1);
    flatMap.set(`${bigUsers[i]}@${HOST}/r`, refs[i]!);
  }
  const mapSmall = await measureSync('bare Map get, 1 k entries', 50_000, 5, (i) => mapLookup(probeTo[i]!));
  const opSmall = await measureSync('route full JID, 1 k sessions', 50_000, 5, (i) => {
    big.route(probe[i]!);
  });
  const before = heapUsed();
  for (let i = 1000; i < M; i++) big.openSession(big.makeSid(refs[i]!), bigUsers[i]!, HOST, 'r', 1);
  const after = heapUsed();
  const perSession = (after - before) / (M - 1000);
  // Same 1 k active users as the small case, now among 1 M stored sessions: isolates how the
  // session manager's own structures scale with the table size (the "flat").
  const opBigHot = await measureSync('route full JID, 1 M sessions, same 1 k targets', 50_000, 5, (i) => {
    big.route(probe[i]!);
  });
  // Uniformly random targets among 1 M: memory-bound (cache misses), shown with its bare-Map twin.
  const opBig = await measureSync('route full JID, 1 M sessions, random targets', 50_000, 5, (i) => {
    big.route(probeBig[i]!);
  });
  for (let i = 1000; i < M; i++) flatMap.set(`${bigUsers[i]}@${HOST}/r`, refs[i]!);
  const mapBigHot = await measureSync('bare Map get, 1 M entries, same 1 k targets', 50_000, 5, (i) =>
    mapLookup(probeTo[i]!),
  );
  const mapBig = await measureSync('bare Map get, 1 M entries', 50_000, 5, (i) => mapLookup(probeBigTo[i]!));
  if (remoteDelivered === 0 || backend.size !== M) throw new Error('1 M sessions not in place');
  rows.push(mapSmall, opSmall, mapBigHot, opBigHot, mapBig, opBig);
  await big.stop();

  table(rows);
  process.stdout.write(
    `sessions stored: ${M.toLocaleString('en-US')}, heap per session ${perSession.toFixed(1)} B` +
      ` (rows + indexes + sids; connection refs and user-name strings are allocated before the baseline)\n` +
      `flatness of the bare Map itself with the same random targets (not an issue figure, the physics` +
      ` reference): ${(mapSmall.nsPerOp / mapBig.nsPerOp).toFixed(3)}\n\n`,
  );
  ratio('open-close', baseOC.nsPerOp / smOC.nsPerOp);
  figure('route-full', routeFull.opsPerSec, 'per_s');
  figure('route-bare3', routeBare.opsPerSec, 'per_s');
  figure('session-heap', perSession, 'bytes');
  ratio('flat', opSmall.nsPerOp / opBigHot.nsPerOp);
  // The same ratio for a bare Map on the same hot targets: a V8 Map of 1 M entries is itself several
  // times slower per get than one of 1 k, even for 1 k hot keys (bucket array and TLB misses).
  ratio('flat-bare-map', mapSmall.nsPerOp / mapBigHot.nsPerOp);
  ratio('flat-uniform', opSmall.nsPerOp / opBig.nsPerOp);
  ratio('flat-uniform-bare-map', mapSmall.nsPerOp / mapBig.nsPerOp);
}

await main();
