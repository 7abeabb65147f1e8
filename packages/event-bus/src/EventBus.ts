import { EventEmitter } from 'eventemitter3';
import type { EventMap } from './EventMap.ts';

/** eventemitter3's event-types form of an event map: one payload argument per event. */
export type EventArgsMap<M> = { [K in keyof M]: [payload: M[K]] };

/**
 * A typed event bus for observability and tests (not for control flow): an eventemitter3
 * `EventEmitter` whose event names and payloads come from `EventMap` (or an explicit map `M`).
 *
 * Listeners run synchronously inside `emit`; a listener that throws propagates to the emitter, as
 * with any EventEmitter, so listeners should not throw.
 */
export class EventBus<M extends object = EventMap> extends EventEmitter<EventArgsMap<M>> {
  /** True when at least one listener is registered for `event`; lets emitters skip building payloads. */
  has(event: keyof M & string): boolean {
    return this.listenerCount(event as never) > 0;
  }
}
