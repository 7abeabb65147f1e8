import type { ActorRef } from './ActorRef.ts';
import type { ExitReason } from './ExitReason.ts';

/**
 * Why a remote `call` failed on the callee's node: the target did not exist (`noproc`), ended
 * before answering (`exit`, with its reason), or answered with a value that could not be encoded
 * (`badreply`: the caller rejects with `UnencodableMessageError`).
 */
export type RemoteCallFailure =
  | { readonly kind: 'noproc' }
  | { readonly kind: 'exit'; readonly reason: ExitReason }
  | { readonly kind: 'badreply'; readonly path: string; readonly detail: string };

/**
 * One signal between two nodes: the control messages of Erlang's distribution protocol (`SEND`,
 * `LINK`, `UNLINK`, `EXIT`, `EXIT2`, `MONITOR_P`, `DEMONITOR_P`, `MONITOR_P_EXIT`), plus `call` and
 * its answer, which Erlang builds from a monitor, a send and a reply. Every ref of the sending node
 * is on that node and every target ref on the receiving one, so a carrier may send ids only.
 */
export type DistSignal =
  /** `Pid ! Msg`: for `handleInfo`. */
  | { readonly type: 'send'; readonly to: ActorRef; readonly message: unknown }
  /** `gen_server:cast`: for `handleCast`. */
  | { readonly type: 'cast'; readonly to: ActorRef; readonly message: unknown }
  /** `gen_server:call`: the callee answers with `reply` or `callFailed` carrying `callId`. */
  | { readonly type: 'call'; readonly to: ActorRef; readonly callId: number; readonly request: unknown }
  | { readonly type: 'reply'; readonly callId: number; readonly value: unknown }
  | { readonly type: 'callFailed'; readonly callId: number; readonly failure: RemoteCallFailure }
  /** `monitor(process, Pid)` held by `watcher` (on the sending node) on `target`. */
  | {
      readonly type: 'monitor';
      readonly watcher: ActorRef;
      readonly target: ActorRef;
      readonly monitorId: number;
    }
  | {
      readonly type: 'demonitor';
      readonly watcher: ActorRef;
      readonly target: ActorRef;
      readonly monitorId: number;
    }
  /** The monitored `target` (on the sending node) ended; for `watcher`'s monitor `monitorId`. */
  | {
      readonly type: 'down';
      readonly watcher: ActorRef;
      readonly monitorId: number;
      readonly target: ActorRef;
      readonly reason: ExitReason;
    }
  | { readonly type: 'link'; readonly from: ActorRef; readonly to: ActorRef }
  | { readonly type: 'unlink'; readonly from: ActorRef; readonly to: ActorRef }
  /**
   * An exit signal: through a link (`link: true`, `from` ended with `reason`) or `exit/2`
   * (`link: false`; `from` absent when sent from outside any actor).
   */
  | {
      readonly type: 'exit';
      readonly from: ActorRef | undefined;
      readonly to: ActorRef;
      readonly reason: ExitReason;
      readonly link: boolean;
    };

/**
 * The distribution carrier an `ActorSystem` hands every signal for another node to: what Erlang's
 * `net_kernel` and its distribution connections are to the VM. The actor package defines it and
 * keeps the semantics (monitors, links, calls, `noconnection`); a carrier only moves signals and
 * knows which nodes are up. `@otp-chat/cluster` implements it over Redis; attach one with
 * `system.attachDistribution(carrier)`.
 *
 * Contract:
 * - `deliver` never reorders the signals it is given for one destination node (Erlang orders
 *   signals per pair of processes; one queue per node pair is stronger), never duplicates one, and
 *   drops signals to a node that is down. It encodes payloads synchronously (through the
 *   system's `codecs`), so an unencodable message throws `UnencodableMessageError` to the sender.
 * - `isUp(node)` answers from the carrier's current knowledge, without I/O.
 * - When a node goes down (or the carrier loses it for any reason), the carrier calls
 *   `port.nodeDown(node)` once, before it delivers any later signal from that node's next
 *   incarnation.
 */
export interface Distribution {
  /** True when `node` is connected (up as far as this node knows). */
  isUp(node: string): boolean;
  /** The connected nodes, this one excluded (`nodes()`). */
  nodes(): string[];
  /** Sends `signal` to `node`; throws `UnencodableMessageError` when a payload cannot be encoded. */
  deliver(node: string, signal: DistSignal): void;
}

/** What `attachDistribution` gives the carrier: the system's inbound side. */
export interface DistributionPort {
  /** A signal from `fromNode` (decoded): handled as if that node's process had sent it here. */
  receive(fromNode: string, signal: DistSignal): void;
  /**
   * `node` is gone: every monitor on its processes fires `DOWN` with `noconnection`, every link to
   * them an exit signal `noconnection`, every call waiting for them fails with
   * `NoConnectionError`, and what its processes held on this node's processes is forgotten. Exactly
   * once per relation: a later `down` or `exit` signal for the same relation is ignored.
   */
  nodeDown(node: string): void;
  /**
   * Makes every actor id this system hands out from now on at least `floor` (Erlang's pid
   * `Creation`, folded into the id): a node restarted under the same name then never reuses an id of
   * its previous incarnation, which other nodes may still hold in refs.
   */
  reserveIds(floor: number): void;
  /** Detaches the carrier: every node counts as down (`nodeDown` for each relation). */
  detach(): void;
}
