import type { ActorRef } from './ActorRef.ts';

/**
 * A registry reached through `{ via: registry, name }`, as `{via, Module, Name}` in OTP: the hook for
 * cluster-wide names. `registerName` returns false when the name is taken.
 */
export interface ViaRegistry<Name = unknown> {
  registerName(name: Name, ref: ActorRef): boolean;
  unregisterName(name: Name): void;
  whereisName(name: Name): ActorRef | undefined;
}

/** How an actor is named when it starts. */
export type ActorName = string | { readonly via: ViaRegistry; readonly name: unknown };

/**
 * Local names (`register/2`, `whereis/1`, `unregister/1`). Names are dropped automatically when the
 * actor ends, before anyone is told, so that an immediate restart does not hit `already_started`.
 */
export class Registry implements ViaRegistry<string> {
  private readonly names = new Map<string, ActorRef>();

  registerName(name: string, ref: ActorRef): boolean {
    if (this.names.has(name)) return false;
    this.names.set(name, ref);
    return true;
  }

  unregisterName(name: string): void {
    this.names.delete(name);
  }

  whereisName(name: string): ActorRef | undefined {
    return this.names.get(name);
  }

  /** Every registered name (`registered/0`). */
  registered(): string[] {
    return [...this.names.keys()];
  }
}
