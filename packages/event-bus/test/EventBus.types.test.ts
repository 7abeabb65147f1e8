// EventBus: typed names and payloads (checked by `tsc -b`), and its runtime behaviour.
import { ActorRef } from '@otp-chat/actor';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { EventBus, type EventMap } from '../src/index.ts';

declare module '@otp-chat/event-bus' {
  interface EventMap {
    test_custom_event: { readonly n: number };
  }
}

function typeOnly(_body: () => unknown): void {}

describe('EventBus', () => {
  it('delivers typed payloads of built-in and augmented events, synchronously', () => {
    const bus = new EventBus();
    const seen: unknown[] = [];
    bus.on('session_opened', (e) => {
      expectTypeOf(e).toEqualTypeOf<EventMap['session_opened']>();
      seen.push(e.user);
    });
    bus.on('test_custom_event', (e) => {
      expectTypeOf(e.n).toEqualTypeOf<number>();
      seen.push(e.n);
    });
    expect(bus.has('session_opened')).toBe(true);
    expect(bus.has('session_closed')).toBe(false);
    bus.emit('session_opened', { sid: 1, user: 'alice', host: 'example.com', resource: 'phone' });
    bus.emit('test_custom_event', { n: 7 });
    expect(seen).toEqual(['alice', 7]);

    typeOnly(() => {
      // @ts-expect-error unknown event
      bus.emit('no_such_event', {});
    });
    typeOnly(() => {
      // @ts-expect-error wrong payload
      bus.emit('test_custom_event', { n: 'seven' });
    });
    typeOnly(() => {
      // @ts-expect-error the crashed actor is an ActorRef
      bus.emit('actor_crashed', { actor: 'a', reason: 'killed' });
    });
    typeOnly(() => {
      // @ts-expect-error payload is required
      bus.emit('backend_error');
    });
  });

  it('once and off', () => {
    const bus = new EventBus();
    // A ref built by hand only to fill the payloads; nothing is sent to it.
    const ref = new ActorRef('test@local', 1);
    let count = 0;
    const listener = () => {
      count++;
    };
    bus.once('actor_crashed', listener);
    bus.emit('actor_crashed', { actor: ref, reason: { error: 'x' } });
    bus.emit('actor_crashed', { actor: ref, reason: { error: 'x' } });
    bus.on('intensity_exceeded', listener);
    bus.off('intensity_exceeded', listener);
    bus.emit('intensity_exceeded', { supervisor: ref, intensity: 1, periodMs: 5000 });
    expect(count).toBe(1);
  });

  it('accepts an explicit event map', () => {
    const bus = new EventBus<{ tick: number }>();
    const ticks: number[] = [];
    bus.on('tick', (n) => ticks.push(n));
    bus.emit('tick', 3);
    expect(ticks).toEqual([3]);
  });
});
