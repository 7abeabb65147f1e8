import type { ActorRef } from '../ActorRef.ts';
import type { Distribution, DistSignal, RemoteCallFailure } from '../Distribution.ts';
import type { ExitReason } from '../ExitReason.ts';
import { ExitError, NoConnectionError, NoProcError, UnencodableMessageError } from '../errors.ts';
import type { DownMessage, MonitorRef } from '../GenServer.ts';
import type { Kernel } from './Kernel.ts';
import { PendingCall } from './PendingCall.ts';
import type { Process } from './Process.ts';

/** What one local process holds with processes of other nodes (allocated on first use). */
export class RemoteRelations {
  /** Monitors this process holds on remote targets: monitor id → target. */
  monitors: Map<number, ActorRef> | null = null;
  /** Monitors remote watchers hold on this process: `node\0monitorId` → watcher. */
  watchers: Map<string, { readonly watcher: ActorRef; readonly monitorId: number }> | null = null;
  /** Links with remote processes: `node\0id` → the remote ref. */
  links: Map<string, ActorRef> | null = null;
}

/** A `call` waiting for a process of another node: answered by `reply`, `callFailed` or `nodeDown`. */
interface RemoteCall {
  readonly call: PendingCall;
  readonly callId: number;
  /** Rejects the caller's promise directly (for errors other than timeout and exit). */
  readonly reject: (error: Error) => void;
}

function key(node: string, id: number): string {
  return `${node}\0${id}`;
}

/**
 * The kernel's half of distribution, ERTS's part of it: the remote monitors, links and calls of
 * this node's processes, indexed by node so that `nodeDown` finds them, and the handling of the
 * signals other nodes send. The carrier ({@link Distribution}) only moves signals.
 */
export class RemoteTable {
  private nextCallId = 1;
  private readonly calls = new Map<string, Map<number, RemoteCall>>();
  /** Local processes with any relation (monitor, watcher, link) to a node's processes. */
  private readonly related = new Map<string, Set<Process>>();

  constructor(
    private readonly kernel: Kernel,
    readonly dist: Distribution,
  ) {}

  // ---- outbound ------------------------------------------------------------------------------

  /** `send` / `cast` to a remote ref: dropped when its node is down (as Erlang does). */
  send(to: ActorRef, message: unknown, type: 'send' | 'cast'): void {
    this.dist.deliver(to.node, { type, to, message });
  }

  call<Reply>(to: ActorRef, request: unknown, timeoutMs: number): Promise<Reply> {
    if (!this.dist.isUp(to.node)) return Promise.reject(new NoConnectionError(to));
    return new Promise<Reply>((resolve, reject) => {
      const callId = this.nextCallId++;
      const node = to.node;
      const call = new PendingCall(
        to,
        request,
        timeoutMs,
        (value) => {
          this.forget(node, callId);
          resolve(value as Reply);
        },
        (error) => {
          this.forget(node, callId);
          reject(error);
        },
      );
      try {
        this.dist.deliver(node, { type: 'call', to, callId, request });
      } catch (error) {
        reject(error as Error);
        return;
      }
      let byId = this.calls.get(node);
      if (byId === undefined) {
        byId = new Map();
        this.calls.set(node, byId);
      }
      byId.set(callId, { call, callId, reject });
      if (timeoutMs !== Number.POSITIVE_INFINITY) this.kernel.deadlines.add(call);
    });
  }

  private forget(node: string, callId: number): void {
    const byId = this.calls.get(node);
    if (byId === undefined) return;
    byId.delete(callId);
    if (byId.size === 0) this.calls.delete(node);
  }

  /** Fails a waiting remote call with `error` (a no-op once it is done). */
  private failCall(node: string, entry: RemoteCall, error: Error): void {
    const call = entry.call;
    if (call.done) return;
    call.done = true;
    call.deadlines?.release();
    this.forget(node, entry.callId);
    entry.reject(error);
  }

  monitor(watcher: Process, target: ActorRef, ref: MonitorRef): void {
    if (!this.dist.isUp(target.node)) {
      const down: DownMessage = { type: 'DOWN', ref, target, reason: 'noconnection' };
      watcher.deliverInfo(down);
      return;
    }
    const r = this.relations(watcher, target.node);
    r.monitors ??= new Map();
    r.monitors.set(ref.monitorId, target);
    this.dist.deliver(target.node, {
      type: 'monitor',
      watcher: watcher.self,
      target,
      monitorId: ref.monitorId,
    });
  }

  /** Returns false when `ref` is not a remote monitor of `watcher`. */
  demonitor(watcher: Process, ref: MonitorRef): boolean {
    const target = watcher.remote?.monitors?.get(ref.monitorId);
    if (target === undefined) return false;
    watcher.remote!.monitors!.delete(ref.monitorId);
    this.dist.deliver(target.node, {
      type: 'demonitor',
      watcher: watcher.self,
      target,
      monitorId: ref.monitorId,
    });
    return true;
  }

  link(process: Process, other: ActorRef): void {
    if (!this.dist.isUp(other.node)) {
      process.exitSignal(other, 'noconnection', true);
      return;
    }
    const r = this.relations(process, other.node);
    r.links ??= new Map();
    const k = key(other.node, other.id);
    if (r.links.has(k)) return;
    r.links.set(k, other);
    this.dist.deliver(other.node, { type: 'link', from: process.self, to: other });
  }

  unlink(process: Process, other: ActorRef): void {
    const links = process.remote?.links;
    if (links === undefined || links === null || !links.delete(key(other.node, other.id))) return;
    this.dist.deliver(other.node, { type: 'unlink', from: process.self, to: other });
  }

  /** `exit/2` to a remote process (`from` undefined: from outside any actor). */
  exit(from: ActorRef | undefined, to: ActorRef, reason: ExitReason): void {
    this.dist.deliver(to.node, { type: 'exit', from, to, reason, link: false });
  }

  /** A local process ended: tell its remote watchers and linked processes, drop its remote monitors. */
  processExited(process: Process, reason: ExitReason): void {
    const r = process.remote;
    if (r === null) return;
    process.remote = null;
    for (const set of this.related.values()) set.delete(process);
    const self = process.self;
    if (r.watchers) {
      for (const { watcher, monitorId } of r.watchers.values()) {
        this.safeDeliver(watcher.node, { type: 'down', watcher, monitorId, target: self, reason });
      }
    }
    if (r.links) {
      for (const other of r.links.values()) {
        this.safeDeliver(other.node, { type: 'exit', from: self, to: other, reason, link: true });
      }
    }
    if (r.monitors) {
      for (const [monitorId, target] of r.monitors) {
        this.safeDeliver(target.node, { type: 'demonitor', watcher: self, target, monitorId });
      }
    }
    this.prune();
  }

  // ---- inbound -------------------------------------------------------------------------------

  receive(fromNode: string, s: DistSignal): void {
    switch (s.type) {
      case 'send':
      case 'cast': {
        const p = this.local(s.to);
        if (p === undefined) return;
        if (s.type === 'send') p.deliverInfo(s.message);
        else p.deliverCast(s.message);
        return;
      }
      case 'call':
        this.serveCall(fromNode, s.callId, s.to, s.request);
        return;
      case 'reply': {
        this.calls.get(fromNode)?.get(s.callId)?.call.settle(s.value); // a late reply finds nothing: dropped
        return;
      }
      case 'callFailed': {
        const entry = this.calls.get(fromNode)?.get(s.callId);
        if (entry !== undefined) this.failCall(fromNode, entry, failureError(entry.call.target, s.failure));
        return;
      }
      case 'monitor': {
        const p = this.local(s.target);
        if (p === undefined || p.status === 'dead') {
          this.safeDeliver(fromNode, {
            type: 'down',
            watcher: s.watcher,
            monitorId: s.monitorId,
            target: s.target,
            reason: 'noproc',
          });
          return;
        }
        const r = this.relations(p, fromNode);
        r.watchers ??= new Map();
        r.watchers.set(key(fromNode, s.monitorId), { watcher: s.watcher, monitorId: s.monitorId });
        return;
      }
      case 'demonitor':
        this.local(s.target)?.remote?.watchers?.delete(key(fromNode, s.monitorId));
        return;
      case 'down': {
        const watcher = this.local(s.watcher);
        const monitors = watcher?.remote?.monitors;
        // Exactly once: a DOWN is delivered only while its monitor is still held.
        if (watcher === undefined || !monitors?.delete(s.monitorId)) return;
        const down: DownMessage = {
          type: 'DOWN',
          ref: { monitorId: s.monitorId },
          target: s.target,
          reason: s.reason,
        };
        watcher.deliverInfo(down);
        return;
      }
      case 'link': {
        const p = this.local(s.to);
        if (p === undefined || p.status === 'dead') {
          // Linking to a process that does not exist: the linker gets `noproc` (link/1).
          this.safeDeliver(fromNode, { type: 'exit', from: s.to, to: s.from, reason: 'noproc', link: true });
          return;
        }
        const r = this.relations(p, fromNode);
        r.links ??= new Map();
        r.links.set(key(fromNode, s.from.id), s.from);
        return;
      }
      case 'unlink':
        this.local(s.to)?.remote?.links?.delete(key(fromNode, s.from.id));
        return;
      case 'exit': {
        const p = this.local(s.to);
        if (p === undefined) return;
        if (s.link) {
          // Only while linked: an exit signal that crossed an unlink is dropped.
          const from = s.from!;
          if (!p.remote?.links?.delete(key(fromNode, from.id))) return;
          p.exitSignal(from, s.reason, true);
        } else {
          p.exitSignal(s.from, s.reason, false);
        }
        this.kernel.flushSignals();
        return;
      }
    }
  }

  nodeDown(node: string): void {
    const calls = this.calls.get(node);
    if (calls !== undefined) {
      for (const entry of [...calls.values()]) {
        this.failCall(node, entry, new NoConnectionError(entry.call.target));
      }
      this.calls.delete(node);
    }
    const processes = this.related.get(node);
    if (processes === undefined) return;
    this.related.delete(node);
    for (const p of processes) {
      const r = p.remote;
      if (r === null) continue;
      if (r.watchers) {
        for (const [k, w] of r.watchers) if (w.watcher.node === node) r.watchers.delete(k);
      }
      if (r.monitors) {
        for (const [monitorId, target] of r.monitors) {
          if (target.node !== node) continue;
          r.monitors.delete(monitorId);
          const down: DownMessage = { type: 'DOWN', ref: { monitorId }, target, reason: 'noconnection' };
          p.deliverInfo(down);
        }
      }
      if (r.links) {
        for (const [k, other] of r.links) {
          if (other.node !== node) continue;
          r.links.delete(k);
          p.exitSignal(other, 'noconnection', true);
        }
      }
    }
    this.kernel.flushSignals();
  }

  /** Every node this node has relations or calls with (for `detach`). */
  knownNodes(): string[] {
    return [...new Set([...this.calls.keys(), ...this.related.keys()])];
  }

  // ---- helpers -------------------------------------------------------------------------------

  private local(ref: ActorRef): Process | undefined {
    return ref.node === this.kernel.node ? this.kernel.lookup(ref) : undefined;
  }

  private relations(p: Process, node: string): RemoteRelations {
    p.remote ??= new RemoteRelations();
    let set = this.related.get(node);
    if (set === undefined) {
      set = new Set();
      this.related.set(node, set);
    }
    set.add(p);
    return p.remote;
  }

  private prune(): void {
    for (const [node, set] of this.related) if (set.size === 0) this.related.delete(node);
  }

  /** A signal the runtime sends on its own behalf: an encoding failure is logged, never thrown. */
  private safeDeliver(node: string, signal: DistSignal): void {
    try {
      this.dist.deliver(node, signal);
    } catch (error) {
      this.kernel.log.error({ err: error, node, signal: signal.type }, 'distribution: signal not sent');
    }
  }

  private serveCall(fromNode: string, callId: number, to: ActorRef, request: unknown): void {
    const p = this.local(to);
    if (p === undefined || p.status === 'dead') {
      this.safeDeliver(fromNode, { type: 'callFailed', callId, failure: { kind: 'noproc' } });
      return;
    }
    const call = new PendingCall(
      to,
      request,
      Number.POSITIVE_INFINITY,
      (value) => {
        try {
          this.dist.deliver(fromNode, { type: 'reply', callId, value });
        } catch (error) {
          const e = error as UnencodableMessageError;
          this.kernel.log.error({ err: error, actor: to.toString() }, 'distribution: reply not encodable');
          this.safeDeliver(fromNode, {
            type: 'callFailed',
            callId,
            failure: { kind: 'badreply', path: String(e.path ?? '$'), detail: String(e.kind ?? e.message) },
          });
        }
      },
      (error) => {
        const reason: ExitReason = error instanceof ExitError ? error.reason : { error };
        this.safeDeliver(fromNode, { type: 'callFailed', callId, failure: { kind: 'exit', reason } });
      },
    );
    p.deliverCall(call);
  }
}

function failureError(target: ActorRef, failure: RemoteCallFailure): Error {
  switch (failure.kind) {
    case 'noproc':
      return new NoProcError(target);
    case 'exit':
      return new ExitError(target, failure.reason);
    case 'badreply':
      return new UnencodableMessageError(
        failure.path,
        `the reply of ${target.toString()} (${failure.detail})`,
      );
  }
}
