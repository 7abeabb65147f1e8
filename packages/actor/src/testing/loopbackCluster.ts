import type { ActorSystem } from '../ActorSystem.ts';
import type { Distribution, DistributionPort, DistSignal } from '../Distribution.ts';

/** Several `ActorSystem`s of one process joined by {@link loopbackCluster}. */
export interface LoopbackCluster {
  /**
   * Cuts `node` off: every other node sees it go down (`nodeDown`), it sees every other go down,
   * and signals still queued to or from it are dropped. `connect` joins it again.
   */
  disconnect(node: string): void;
  connect(node: string): void;
  /** Resolves once every signal queued so far (and those their delivery queued) was delivered. */
  settled(): Promise<void>;
  /** Detaches every carrier. */
  close(): void;
}

interface Queued {
  readonly from: string;
  readonly to: string;
  readonly text: string;
}

/**
 * A distribution carrier between systems of one process, for tests of cross-node semantics
 * without Redis: each signal is encoded at the sender with its system's codecs (so an unencodable
 * message throws there, as over a real carrier), serialised to JSON, and delivered in a later turn
 * of the event loop, in order, decoded with the receiver's codecs. `@otp-chat/cluster` is the
 * carrier between processes.
 */
export function loopbackCluster(systems: readonly ActorSystem[]): LoopbackCluster {
  const ports = new Map<string, DistributionPort>();
  const bySystem = new Map<string, ActorSystem>();
  const connected = new Set<string>();
  let queue: Queued[] = [];
  let scheduled = false;
  let waiters: Array<() => void> = [];

  const flush = (): void => {
    scheduled = false;
    const batch = queue;
    queue = [];
    for (const q of batch) {
      if (!connected.has(q.from) || !connected.has(q.to)) continue;
      const system = bySystem.get(q.to)!;
      ports.get(q.to)?.receive(q.from, decodeSignal(system, JSON.parse(q.text)));
    }
    if (queue.length > 0) schedule();
    else {
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve();
    }
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  for (const system of systems) {
    const self = system.node;
    bySystem.set(self, system);
    connected.add(self);
    const carrier: Distribution = {
      isUp: (node) => node !== self && connected.has(node) && connected.has(self) && bySystem.has(node),
      nodes: () => (connected.has(self) ? [...connected].filter((n) => n !== self) : []),
      deliver: (node, signal) => {
        const text = JSON.stringify(encodeSignal(system, signal));
        if (!carrier.isUp(node)) return;
        queue.push({ from: self, to: node, text });
        schedule();
      },
    };
    ports.set(self, system.attachDistribution(carrier));
  }

  return {
    disconnect(node) {
      if (!connected.delete(node)) return;
      for (const other of connected) {
        ports.get(other)?.nodeDown(node);
        ports.get(node)?.nodeDown(other);
      }
    },
    connect(node) {
      if (bySystem.has(node)) connected.add(node);
    },
    settled() {
      if (queue.length === 0 && !scheduled) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    close() {
      for (const port of ports.values()) port.detach();
      ports.clear();
    },
  };
}

function encodeSignal(system: ActorSystem, s: DistSignal): unknown {
  const c = system.codecs;
  switch (s.type) {
    case 'send':
    case 'cast':
      return { ...s, to: c.encode(s.to), message: c.encode(s.message) };
    case 'call':
      return { ...s, to: c.encode(s.to), request: c.encode(s.request) };
    case 'reply':
      return { ...s, value: c.encode(s.value) };
    case 'callFailed':
      return s.failure.kind === 'exit'
        ? { ...s, failure: { kind: 'exit', reason: c.encodeReason(s.failure.reason) } }
        : s;
    case 'down':
      return {
        ...s,
        watcher: c.encode(s.watcher),
        target: c.encode(s.target),
        reason: c.encodeReason(s.reason),
      };
    case 'exit':
      return { ...s, from: c.encode(s.from), to: c.encode(s.to), reason: c.encodeReason(s.reason) };
    default:
      return c.encode(s);
  }
}

function decodeSignal(system: ActorSystem, wire: unknown): DistSignal {
  const c = system.codecs;
  const w = wire as Record<string, unknown>;
  switch (w.type) {
    case 'callFailed':
      return (
        (w.failure as { kind: string }).kind === 'exit'
          ? { ...w, failure: { kind: 'exit', reason: c.decode((w.failure as { reason: unknown }).reason) } }
          : w
      ) as DistSignal;
    default: {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(w)) out[key] = c.decode(w[key]);
      return out as unknown as DistSignal;
    }
  }
}
