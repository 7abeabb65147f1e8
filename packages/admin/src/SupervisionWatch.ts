import type { ActorRef, ActorSystem } from '@otp-chat/actor';
import { Supervisor, type SupervisorEvent } from '@otp-chat/supervisor';

/** One node of the supervision tree as the observer shows it. */
export interface SupervisionNode {
  /** The child id in its supervisor (`undefined` for `simple_one_for_one` children), or the root's label. */
  readonly id: string | undefined;
  /** `<node.id>`, or `restarting` / `undefined` (a stopped child) as `which_children` says. */
  readonly ref: string;
  readonly type: 'worker' | 'supervisor';
  readonly name: string | undefined;
  readonly mailbox: number;
  /** Restarts of this child id seen since the watch started (its supervisor's `child_restarted` events). */
  readonly restarts: number;
  readonly children: readonly SupervisionNode[];
  /** Children left out past the per-supervisor limit (a `simple_one_for_one` with thousands of connections). */
  readonly more: number;
}

/** A root of the tree: a supervisor and a label for it. */
export interface SupervisionRoot {
  readonly label: string;
  readonly ref: () => ActorRef | undefined;
}

/**
 * The live supervision tree (`observer`'s applications tab, `supervisor:which_children/1` walked
 * down) and a count of restarts per child, from a listener added to every supervisor found. The
 * walk asks each supervisor once per call, so callers bound how often they call it.
 */
export class SupervisionWatch {
  /** `<supervisor ref> <child id>` → restarts. */
  private readonly restartCounts = new Map<string, number>();
  private readonly watched = new Map<string, () => Promise<void>>();
  private readonly listeners = new Set<(event: RestartEvent) => void>();

  constructor(
    private readonly system: ActorSystem,
    private readonly roots: readonly SupervisionRoot[],
  ) {}

  /** Calls `listener` on every restart seen; returns a function that removes it. */
  onRestart(listener: (event: RestartEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Restarts of each child so far. */
  restarts(): readonly RestartEvent[] {
    return [...this.restartCounts].map(([key, count]) => {
      const [supervisor, child] = key.split(' ', 2) as [string, string];
      return { supervisor, child, count };
    });
  }

  /** Walks the tree from each root, at most `maxChildren` children listed per supervisor. */
  async tree(maxChildren = 50): Promise<SupervisionNode[]> {
    const out: SupervisionNode[] = [];
    for (const root of this.roots) {
      const ref = root.ref();
      if (ref === undefined || !this.system.isAlive(ref)) continue;
      out.push(await this.walk(ref, root.label, 'supervisor', 0, maxChildren));
    }
    return out;
  }

  /** Removes every listener this watch added. */
  async stop(): Promise<void> {
    const removers = [...this.watched.values()];
    this.watched.clear();
    await Promise.allSettled(removers.map((remove) => remove()));
  }

  private async walk(
    ref: ActorRef,
    id: string | undefined,
    type: 'worker' | 'supervisor',
    restarts: number,
    maxChildren: number,
  ): Promise<SupervisionNode> {
    const info = this.system.processInfo(ref);
    const base = {
      id,
      ref: ref.toString(),
      type,
      name: info?.registeredName,
      mailbox: info?.messageQueueLength ?? 0,
      restarts,
    };
    if (type === 'worker' || info === undefined) return { ...base, children: [], more: 0 };
    await this.watch(ref);
    let children: Awaited<ReturnType<typeof Supervisor.whichChildren>>;
    try {
      children = await Supervisor.whichChildren(this.system, ref);
    } catch {
      return { ...base, children: [], more: 0 }; // it ended while walking
    }
    const shown = children.slice(0, maxChildren);
    const nodes = await Promise.all(
      shown.map((c) => {
        const count = c.id === undefined ? 0 : (this.restartCounts.get(`${ref} ${c.id}`) ?? 0);
        if (typeof c.ref !== 'object') {
          return {
            id: c.id,
            ref: String(c.ref),
            type: c.type,
            name: undefined,
            mailbox: 0,
            restarts: count,
            children: [],
            more: 0,
          };
        }
        return this.walk(c.ref, c.id, c.type, count, maxChildren);
      }),
    );
    return { ...base, children: nodes, more: children.length - shown.length };
  }

  private async watch(ref: ActorRef): Promise<void> {
    const key = ref.toString();
    if (this.watched.has(key)) return;
    this.watched.set(key, async () => {}); // claimed before the call: a concurrent walk does not add twice
    try {
      const remove = await Supervisor.addListener(this.system, ref, (event: SupervisorEvent) => {
        if (event.type !== 'child_restarted') return;
        const countKey = `${key} ${event.id}`;
        const count = (this.restartCounts.get(countKey) ?? 0) + 1;
        this.restartCounts.set(countKey, count);
        for (const l of this.listeners) l({ supervisor: key, child: event.id, count });
      });
      this.watched.set(key, remove);
    } catch {
      this.watched.delete(key);
    }
  }
}

/** A restart seen by {@link SupervisionWatch}: the supervisor, the child id, its restarts so far. */
export interface RestartEvent {
  readonly supervisor: string;
  readonly child: string;
  readonly count: number;
}
