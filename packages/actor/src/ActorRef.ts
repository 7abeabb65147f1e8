/**
 * The address of an actor: the otp-chat counterpart of an Erlang pid.
 *
 * Opaque to users (compare with {@link ActorRef.equals} or `===` for refs from one system) and
 * serialisable: `JSON.stringify(ref)` gives `{ node, id }` and {@link ActorRef.fromJSON} reads it back,
 * so a ref can travel inside a session row stored in Redis and be resolved on its node.
 */
export class ActorRef {
  /**
   * @internal The live actor behind this ref, on the node that made it: lets the runtime reach it
   * without a table lookup. Cleared when the actor ends; never serialised (see `toJSON`).
   */
  local: unknown = undefined;

  /** @internal use `ActorSystem.spawn`; a ref is never built by hand. */
  constructor(
    /** Name of the node (the `ActorSystem`) the actor lives on. */
    readonly node: string,
    /** Per-node, never reused, increasing id. */
    readonly id: number,
  ) {}

  /** True when both name the same actor (same node, same id). */
  equals(other: ActorRef): boolean {
    return this === other || (this.id === other.id && this.node === other.node);
  }

  /** `<node.id>`, in the spirit of Erlang's `<0.42.0>`. */
  toString(): string {
    return `<${this.node}.${this.id}>`;
  }

  toJSON(): { node: string; id: number } {
    return { node: this.node, id: this.id };
  }

  /** Reads back what `toJSON` wrote. */
  static fromJSON(json: { node: string; id: number }): ActorRef {
    return new ActorRef(json.node, json.id);
  }
}

/** True for an `ActorRef` (what `is_pid/1` is to Erlang). */
export function isActorRef(value: unknown): value is ActorRef {
  return value instanceof ActorRef;
}
