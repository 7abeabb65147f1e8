// Soak test: random crash injections into a three-level tree, checked after every step against a
// small reference model of OTP's restart intensity (`supervisor:add_restart/1`; escalation to the parent).
// After each step the tree is whole again, or the root has exited exactly when the model says;
// no actor and no timer is left behind.
import type { ActorRef, ActorSystem } from '@otp-chat/actor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dynamicWorker, Supervisor, supervisor, worker } from '../src/index.ts';
import { childrenInStartOrder, flush, okRef, testSystem, testWorker } from './helpers.ts';

const PERIOD = 5;
const ROOT_INTENSITY = 2;
const MID_INTENSITY = [1, 1, 2] as const; // mid1 one_for_all, mid2 rest_for_one, pool simple_one_for_one
const WORKERS = [2, 3] as const;

type Command =
  | {
      readonly kind: 'crashWorker';
      readonly mid: 0 | 1;
      readonly index: number;
      readonly reason: 'exit' | 'kill' | 'shutdown';
    }
  | { readonly kind: 'killMid'; readonly mid: 0 | 1 | 2 }
  | { readonly kind: 'addPool' }
  | { readonly kind: 'crashPool'; readonly index: number }
  | { readonly kind: 'advance'; readonly ms: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant('crashWorker' as const),
    mid: fc.constantFrom(0 as const, 1 as const),
    index: fc.nat(2),
    reason: fc.constantFrom('exit' as const, 'kill' as const, 'shutdown' as const),
  }),
  fc.record({
    kind: fc.constant('killMid' as const),
    mid: fc.constantFrom(0 as const, 1 as const, 2 as const),
  }),
  fc.record({ kind: fc.constant('addPool' as const) }),
  fc.record({ kind: fc.constant('crashPool' as const), index: fc.nat(20) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 7000 }) }),
);

/** The reference model: restart times per supervisor (whole seconds) and the pool's size. */
class Model {
  t = 0;
  rootDead = false;
  root: number[] = [];
  mids: number[][] = [[], [], []];
  pool = 0;

  private add(list: number[], intensity: number): [number[], boolean] {
    const now = Math.floor(this.t / 1000);
    const kept = [now, ...list.filter((r) => r >= now - PERIOD)];
    return [kept, kept.length <= intensity];
  }

  /** A child of mid `i` crashed (permanent: always restarted). */
  childCrashed(i: number): void {
    const [list, ok] = this.add(this.mids[i]!, MID_INTENSITY[i]!);
    this.mids[i] = list;
    if (!ok) this.midDied(i);
  }

  /** Mid `i` ended (gave up, or was killed): the root restarts it, fresh. */
  midDied(i: number): void {
    const [list, ok] = this.add(this.root, ROOT_INTENSITY);
    this.root = list;
    if (!ok) {
      this.rootDead = true;
      return;
    }
    this.mids[i] = [];
    if (i === 2) this.pool = 0; // dynamic children are lost when the pool restarts
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 6; i++) await flush();
}

async function refsOf(system: ActorSystem, sup: ActorRef): Promise<ActorRef[]> {
  return (await childrenInStartOrder(system, sup)).map((row) => row.ref as ActorRef);
}

describe('soak: random crashes in a three-level tree (fast-check)', () => {
  it('stays whole or escalates exactly as the intensity model says, leaking nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 30 }), async (commands) => {
        const { system, clock } = testSystem();
        const w = testWorker();
        const root = okRef(
          await Supervisor.start(system, {
            intensity: ROOT_INTENSITY,
            period: PERIOD,
            children: [
              supervisor('mid1', {
                strategy: 'one_for_all',
                intensity: MID_INTENSITY[0],
                period: PERIOD,
                children: [worker('w1', w, 1), worker('w2', w, 2)],
              }),
              supervisor('mid2', {
                strategy: 'rest_for_one',
                intensity: MID_INTENSITY[1],
                period: PERIOD,
                children: [worker('w3', w, 3), worker('w4', w, 4), worker('w5', w, 5)],
              }),
              supervisor('pool', {
                strategy: 'simple_one_for_one',
                intensity: MID_INTENSITY[2],
                period: PERIOD,
                children: [dynamicWorker('conn', w, (n) => n)],
              }),
            ],
          }),
        );
        const model = new Model();
        for (const cmd of commands) {
          if (model.rootDead) break;
          const mids = await refsOf(system, root);
          switch (cmd.kind) {
            case 'advance':
              clock.advance(cmd.ms);
              model.t += cmd.ms;
              break;
            case 'crashWorker': {
              const workers = await refsOf(system, mids[cmd.mid]!);
              const target = workers[cmd.index % WORKERS[cmd.mid]]!;
              if (cmd.reason === 'kill') system.exit(target, 'kill');
              else if (cmd.reason === 'shutdown') system.exit(target, 'shutdown');
              else system.exit(target, { exit: 'injected' });
              model.childCrashed(cmd.mid);
              break;
            }
            case 'killMid':
              system.exit(mids[cmd.mid]!, 'kill');
              model.midDied(cmd.mid);
              break;
            case 'addPool':
              okRef(await Supervisor.startChild(system, mids[2]!, model.pool));
              model.pool++;
              break;
            case 'crashPool': {
              if (model.pool === 0) break;
              const conns = await refsOf(system, mids[2]!);
              system.exit(conns[cmd.index % conns.length]!, { exit: 'injected' });
              model.childCrashed(2);
              break;
            }
          }
          await settle();
          if (model.rootDead) {
            expect(system.isAlive(root)).toBe(false);
            break;
          }
          expect(system.isAlive(root)).toBe(true);
          const now = await refsOf(system, root);
          expect(now.length).toBe(3);
          for (const ref of now) expect(system.isAlive(ref)).toBe(true);
          for (const [i, n] of WORKERS.entries()) {
            const workers = await refsOf(system, now[i]!);
            expect(workers.length).toBe(n);
            for (const ref of workers) expect(system.isAlive(ref)).toBe(true);
          }
          expect((await Supervisor.countChildren(system, now[2]!)).active).toBe(model.pool);
          expect(system.count()).toBe(1 + 3 + 2 + 3 + model.pool);
          expect(clock.pending()).toBe(0);
        }
        if (system.isAlive(root)) await system.stop(root, 'shutdown');
        expect(system.count()).toBe(0);
        expect(clock.pending()).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});
